// The keys Cairn knows, their checks and their defaults. configs/README.md documents each one;
// keep the two together when adding a key.

import type { FieldSpec } from './fields.ts';
import type { EmbeddingConfig, ReplicationConfig, ServerConfig, WorkspaceLimits } from './types.ts';

export const NODE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NODE_ID_TEXT = 'a node id of letters, digits, ".", "_" or "-" (at most 64)';

type Scalars<T> = { [K in keyof T as T[K] extends number | string | boolean ? K : never]: T[K] };

export interface Section<T> {
  specs: Record<keyof T & string, FieldSpec>;
  defaults: T;
}

export const REPLICATION: Section<Omit<Scalars<ReplicationConfig>, 'leader'>> = {
  specs: {
    cluster_id: { kind: 'string', non_empty: true },
    batch_size: { kind: 'int', min: 1, max: 10_000 },
    flush_interval_ms: { kind: 'int', min: 0, max: 1_000 },
    resync_threshold: { kind: 'int', min: 1, max: 1_000_000_000 },
    snapshot_timeout_s: { kind: 'int', min: 1, max: 86_400 },
    write_concern: { kind: 'enum', values: ['leader', 'quorum', 'all'] },
    inflight_batches_max: { kind: 'int', min: 1, max: 64 },
    failures_lagging: { kind: 'int', min: 1, max: 1_000 },
    silence_lagging_ms: { kind: 'int', min: 1, max: 600_000 },
    lag_healthy_max: { kind: 'int', min: 0, max: 1_000_000_000 },
    append_timeout_ms: { kind: 'int', min: 1, max: 600_000 },
    heartbeat_ms: { kind: 'int', min: 1, max: 60_000 },
    log_retain_entries: { kind: 'int', min: 1, max: 1_000_000_000 },
    snapshots_inflight_max: { kind: 'int', min: 1, max: 16 },
    commit_timeout_ms: { kind: 'int', min: 1, max: 600_000 },
    state_compare_interval_ms: { kind: 'int', min: 0, max: 86_400_000 },
    secret: { kind: 'string' },
    operator_token: { kind: 'string' },
  },
  defaults: {
    cluster_id: 'cairn',
    batch_size: 100,
    flush_interval_ms: 5,
    resync_threshold: 1_000,
    snapshot_timeout_s: 60,
    write_concern: 'quorum',
    inflight_batches_max: 4,
    failures_lagging: 3,
    silence_lagging_ms: 3_000,
    lag_healthy_max: 100,
    append_timeout_ms: 2_000,
    heartbeat_ms: 100,
    log_retain_entries: 10_000,
    snapshots_inflight_max: 1,
    commit_timeout_ms: 5_000,
    state_compare_interval_ms: 30_000,
    secret: '',
    operator_token: '',
  },
};

/** `server` keys; host, port and data_dir defaults depend on the node and are filled later. */
export const SERVER: Section<ServerConfig> = {
  specs: {
    host: { kind: 'string', non_empty: true },
    port: { kind: 'int', min: 1, max: 65_535 },
    data_dir: { kind: 'string', non_empty: true },
    auth_token: { kind: 'string' },
    allowed_origins: { kind: 'strings' },
    body_bytes_max: { kind: 'int', min: 1_024, max: 1_073_741_824 },
    bulk_documents_max: { kind: 'int', min: 1, max: 100_000 },
    document_bytes_max: { kind: 'int', min: 1, max: 1_073_741_824 },
    metadata_bytes_max: { kind: 'int', min: 2, max: 16_777_216 },
    metadata_depth_max: { kind: 'int', min: 1, max: 1_000 },
    query_chars_max: { kind: 'int', min: 1, max: 1_048_576 },
    patterns_max: { kind: 'int', min: 0, max: 10_000 },
    pattern_chars_max: { kind: 'int', min: 1, max: 65_536 },
    read_wait_ms_max: { kind: 'int', min: 0, max: 600_000 },
    passage_tokens_target: { kind: 'int', min: 16, max: 8_192 },
    log_level: { kind: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
  },
  defaults: {
    host: '127.0.0.1',
    port: 8080,
    data_dir: './data/{node_id}',
    auth_token: '',
    allowed_origins: [],
    body_bytes_max: 524_288,
    bulk_documents_max: 1_000,
    document_bytes_max: 262_144,
    metadata_bytes_max: 64 * 1024,
    metadata_depth_max: 32,
    query_chars_max: 8_192,
    patterns_max: 64,
    pattern_chars_max: 512,
    read_wait_ms_max: 5_000,
    passage_tokens_target: 256,
    log_level: 'info',
  },
};

export const EMBEDDING: Section<EmbeddingConfig> = {
  specs: {
    provider: { kind: 'enum', values: ['hashing', 'openai'] },
    dim: { kind: 'int', min: 8, max: 8_192 },
    url: { kind: 'string' },
    model: { kind: 'string' },
    api_key: { kind: 'string' },
    timeout_ms: { kind: 'int', min: 1, max: 600_000 },
  },
  defaults: { provider: 'hashing', dim: 384, url: '', model: '', api_key: '', timeout_ms: 10_000 },
};

export const LIMITS: Section<WorkspaceLimits> = {
  specs: {
    max_concurrent_requests: { kind: 'int', min: 1, max: 100_000 },
    max_tokens_per_minute: { kind: 'int', min: 1, max: 1_000_000_000 },
    max_documents_per_query: { kind: 'int', min: 1, max: 10_000 },
    max_storage_mb: { kind: 'int', min: 1, max: 100_000_000 },
    max_memory_mb: { kind: 'int', min: 1, max: 10_000_000 },
    priority: { kind: 'int', min: 1, max: 10 },
  },
  defaults: {
    max_concurrent_requests: 32,
    max_tokens_per_minute: 1_000_000,
    max_documents_per_query: 50,
    max_storage_mb: 10_240,
    max_memory_mb: 512,
    priority: 5,
  },
};

export const LOAD_BALANCING: Section<{
  strategy: string;
  health_check_interval: number;
  max_load_factor: number;
  enable_circuit_breaker: boolean;
}> = {
  specs: {
    strategy: { kind: 'enum', values: ['workspace_hash', 'resource_based', 'least_connections'] },
    health_check_interval: { kind: 'int', min: 1, max: 3_600 },
    max_load_factor: { kind: 'number', min: 0, max: 1, min_exclusive: true },
    enable_circuit_breaker: { kind: 'bool' },
  },
  defaults: { strategy: 'workspace_hash', health_check_interval: 30, max_load_factor: 0.85, enable_circuit_breaker: true },
};

export const AFFINITY: Section<{ workspace_routing: boolean; sticky_sessions: boolean; default_tier: string }> = {
  specs: {
    workspace_routing: { kind: 'bool' },
    sticky_sessions: { kind: 'bool' },
    default_tier: { kind: 'string', non_empty: true },
  },
  defaults: { workspace_routing: true, sticky_sessions: true, default_tier: 'medium' },
};

export const NODE_ID_SPEC: FieldSpec = { kind: 'string', pattern: NODE_ID_PATTERN, pattern_text: NODE_ID_TEXT };
export const ADDRESS_SPEC: FieldSpec = {
  kind: 'string',
  pattern: /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):\d{1,5}$/,
  pattern_text: 'an address "host:port"',
};

/** The guide also shows discovery, affinity and load_balancing as top-level fragments. */
export const CLUSTER_FRAGMENT_KEYS = ['discovery', 'affinity', 'load_balancing'] as const;
export const TOP_LEVEL_KEYS = ['node_id', 'cluster', 'resource_limits', 'replication', 'server', 'embedding', ...CLUSTER_FRAGMENT_KEYS];
export const CLUSTER_KEYS = ['enabled', 'node_id', 'discovery', 'affinity', 'load_balancing', 'resource_limits'] as const;
export const DISCOVERY_KEYS = ['method', 'endpoints'] as const;
export const AFFINITY_KEYS = ['workspace_routing', 'sticky_sessions', 'default_tier', 'rules'] as const;
export const RULE_KEYS = ['preferred_nodes', 'avoid_nodes', 'resource_tier', 'sticky_session', 'locality'] as const;
export const REPLICATION_KEYS = [...Object.keys(REPLICATION.specs), 'nodes', 'leader'];
export const NODE_KEYS = ['id', 'address'] as const;

/** Ports of the default single-machine layout: node-1..node-3 on 127.0.0.1:8080-8082. */
export const DEFAULT_BASE_PORT = 8080;
export const DEFAULT_NODE_COUNT = 3;
