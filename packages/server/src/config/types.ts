// The resolved configuration of one node. `loadConfig` turns cluster.yaml (the clustering
// guide's schema plus Cairn's `replication`, `server`, `storage`, `embedding` sections),
// environment variables and CLI flags into this shape; everything downstream reads only this.

export type WriteConcern = 'leader' | 'quorum' | 'all';

export interface NodeSpec {
  /** Stable node id, e.g. "node-1". */
  id: string;
  /** host:port other nodes and nginx use to reach this node (never rewritten to 127.0.0.1). */
  address: string;
}

export interface WorkspaceLimits {
  max_concurrent_requests: number;
  max_tokens_per_minute: number;
  max_documents_per_query: number;
  max_storage_mb: number;
  max_memory_mb: number;
  /** 1..10, higher is scheduled first when requests queue. */
  priority: number;
}

export interface AffinityRule {
  preferred_nodes: string[];
  avoid_nodes: string[];
  resource_tier: string;
  sticky_session: boolean;
  /** The guide's `locality` hint ("same-rack"); informational, "" when unset. */
  locality: string;
}

export interface ReplicationConfig {
  /** Cluster id: a request from another cluster is refused with 409. */
  cluster_id: string;
  nodes: NodeSpec[];
  /** Id of the statically chosen leader. */
  leader: string;
  batch_size: number;
  flush_interval_ms: number;
  resync_threshold: number;
  snapshot_timeout_s: number;
  write_concern: WriteConcern;
  /** Appends in flight per follower. */
  inflight_batches_max: number;
  /** Consecutive failed appends before a follower is reported lagging. */
  failures_lagging: number;
  /** Milliseconds without a successful append before a follower is reported lagging. */
  silence_lagging_ms: number;
  /** Lag in entries above which a follower that is answering is reported lagging, not healthy. */
  lag_healthy_max: number;
  /** Timeout of one append request, ms. */
  append_timeout_ms: number;
  /** Heartbeat (empty append) interval, ms. */
  heartbeat_ms: number;
  /** Log entries kept after compaction (well above resync_threshold). */
  log_retain_entries: number;
  /** Snapshots in transfer at once, over all followers. */
  snapshots_inflight_max: number;
  /** How long a write waits for its write concern before 503, ms. */
  commit_timeout_ms: number;
  /** How often the leader compares each follower's state checksum with its own, ms (0: never; always after a snapshot). */
  state_compare_interval_ms: number;
  /** Shared secret for /_raft/append and /_raft/snapshot. Empty = none configured. */
  secret: string;
  /** Token for /_raft/force-resync; empty = open (local cluster). */
  operator_token: string;
}

export interface ServerConfig {
  host: string;
  port: number;
  data_dir: string;
  /** Optional bearer token for the public API; empty = open. */
  auth_token: string;
  /** Browser origins (`https://app.example`) allowed to write; others get 403 `cross_site`. */
  allowed_origins: string[];
  body_bytes_max: number;
  bulk_documents_max: number;
  /** Largest document content, UTF-8 bytes (413 above). */
  document_bytes_max: number;
  /** Largest metadata object, bytes of its canonical JSON (413 above). */
  metadata_bytes_max: number;
  /** Deepest nesting of objects and arrays in metadata (400 above). */
  metadata_depth_max: number;
  /** Longest query text of a search or assemble, characters (400 above). */
  query_chars_max: number;
  /** Most include/exclude patterns in one request (400 above). */
  patterns_max: number;
  /** Longest include/exclude pattern, characters (400 above). */
  pattern_chars_max: number;
  /** How long a read waits for ?min_index, and a forwarded write for local apply, ms. */
  read_wait_ms_max: number;
  /** Target size of a document's passages, tokens (cl100k_base); applied when a document is written. */
  passage_tokens_target: number;
  log_level: string;
}

export interface EmbeddingConfig {
  /** "hashing" (built in, no network) or "openai" (OpenAI-compatible /v1/embeddings). */
  provider: 'hashing' | 'openai';
  dim: number;
  url: string;
  model: string;
  api_key: string;
  timeout_ms: number;
}

export interface CairnConfig {
  /** The file it was loaded from, or "" for defaults only. */
  source: string;
  node_id: string;
  cluster: {
    enabled: boolean;
    discovery_method: string;
    endpoints: string[];
    load_balancing: {
      strategy: string;
      /** The guide's seconds between health checks: accepted; nginx's checks are passive and ignore it (deploy/nginx.ts). */
      health_check_interval: number;
      max_load_factor: number;
      /** The guide's `enable_circuit_breaker`; nginx's passive health (max_fails) is the breaker. */
      enable_circuit_breaker: boolean;
    };
    affinity: {
      workspace_routing: boolean;
      sticky_sessions: boolean;
      default_tier: string;
      rules: Record<string, AffinityRule>;
    };
  };
  /** Per-workspace limits; `default` applies to every workspace not listed. */
  resource_limits: Record<string, WorkspaceLimits>;
  replication: ReplicationConfig;
  server: ServerConfig;
  embedding: EmbeddingConfig;
}
