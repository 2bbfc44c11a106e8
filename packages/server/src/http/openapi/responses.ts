// The response schemas of the OpenAPI document. Objects are open (other fields may follow): a
// client reads the fields named here; new fields are added beside them, never renamed.

import { z } from '@hono/zod-openapi';

const int = z.int();
const index = z.int().min(0);
const nullableInt = z.int().nullable();

/** The error shape of every 4xx/5xx (components/schemas/Error). */
export const ErrorBody = z
  .looseObject({
    error: z.looseObject({
      code: z.string().openapi({ description: 'what went wrong, for programs' }),
      message: z.string().openapi({ description: 'what went wrong, for people' }),
      field: z.string().optional().openapi({ description: 'the field, parameter or header at fault' }),
    }),
  })
  .openapi('Error');

/** The error shape with `code` one of `codes`, as JSON Schema over components/schemas/Error. */
export function errorSchema(codes: readonly string[]): Record<string, unknown> {
  if (codes.length === 0) throw new Error('invariant: an error answer names its codes');
  return { allOf: [{ $ref: '#/components/schemas/Error' }, { type: 'object', properties: { error: { type: 'object', properties: { code: { enum: [...codes] } } } } }] };
}

export const Written = z.looseObject({ id: z.string(), index, etag: z.string() }).openapi('Written');

export const BulkWritten = z
  .looseObject({
    added: int,
    ids: z.array(z.string()),
    etags: z.array(z.string().nullable()),
    errors: z.array(z.looseObject({ item: int, error: z.looseObject({ code: z.string(), message: z.string(), field: z.string().optional() }) })),
    total: int,
    index,
  })
  .openapi('BulkWritten');

const documentFields = {
  id: z.string(),
  workspace: z.string(),
  path: z.string().nullable(),
  language: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()).nullable(),
  tokens: int,
  content_hash: z.string(),
  bytes: int,
  created_at: z.number(),
  updated_at: z.number(),
};

export const StoredDocument = z.looseObject({ ...documentFields, content: z.string(), etag: z.string() }).openapi('Document');

export const DocumentPage = z
  .looseObject({ documents: z.array(z.looseObject(documentFields)), next_cursor: z.string().nullable() })
  .openapi('DocumentPage');

export const Deleted = z.looseObject({ id: z.string(), deleted: z.literal(true), index }).openapi('Deleted');

export const PreconditionFailed = z
  .looseObject({
    error: z.looseObject({ code: z.literal('precondition_failed'), message: z.string(), field: z.enum(['If-Match', 'If-None-Match']) }),
    current_etag: z.string().nullable(),
  })
  .openapi('PreconditionFailed');

export const BulkRefused = z
  .looseObject({
    error: z.looseObject({ code: z.literal('no_valid_documents'), message: z.string(), field: z.string().optional() }),
    errors: BulkWritten.shape.errors,
  })
  .openapi('BulkRefused');

const SearchHit = z
  .looseObject({ id: z.string(), score: z.number(), path: z.string().nullable(), language: z.string().nullable(), tokens: int, preview: z.string() })
  .openapi('SearchHit');

export const SearchAnswer = z
  .looseObject({ query: z.string(), mode: z.enum(['lexical', 'vector', 'hybrid']), k: int.optional(), results: z.array(SearchHit), total: int })
  .openapi('SearchAnswer');

export const AssembleAnswer = z
  .looseObject({
    context: z.string(),
    documents: z.array(
      z.looseObject({
        id: z.string(),
        path: z.string().nullable(),
        content: z.string(),
        language: z.string().nullable(),
        relevance_score: z.number(),
        tokens: int,
        inclusion_reason: z.string(),
      }),
    ),
    total_tokens: int,
    processing_time_ms: z.number(),
  })
  .openapi('AssembleAnswer');

const Condition = z.looseObject({ code: z.string(), message: z.string(), since: z.string() });

export const Health = z
  .looseObject({
    status: z.string().openapi({ description: 'healthy, degraded (out of sync) or unhealthy (a condition is set: 503)' }),
    node_id: z.string(),
    cluster: z.looseObject({
      enabled: z.boolean(),
      node_id: z.string(),
      cluster_size: int,
      leader_node: z.string(),
      load_factor: z.number(),
      discovery_method: z.string(),
      load_balancing: z.string(),
    }),
    workspaces: z
      .looseObject({ total_workspaces: int, active_workspaces: int, workspaces: z.record(z.string(), z.looseObject({ document_count: int, resource_tier: z.string(), last_access: int, access_pattern: z.string(), active_requests: int, queued_requests: int, storage_bytes: int })) })
      .optional()
      .openapi({ description: 'only with server.auth_token sent (or none configured)' }),
    applied_index: index,
    conditions: z.array(Condition),
  })
  .openapi('Health');

export const ResyncStats = z
  .looseObject({
    snapshots_created: int,
    send_attempts: int.openapi({ description: 'snapshot transfers the leader started' }),
    send_successes: int.openapi({ description: 'snapshot transfers that ended installed on the follower' }),
    send_failures: int.openapi({ description: 'snapshot transfers that failed' }),
    snapshot_send_attempts: int,
    snapshot_send_successes: int,
    snapshot_send_failures: int,
    snapshots_received: int,
    snapshots_applied: int,
    snapshot_bytes_sent: int,
    snapshot_bytes_received: int,
    last_snapshot_index: nullableInt,
    last_snapshot_at: z.string().nullable(),
    last_snapshot_ms: z.number().nullable(),
    last_snapshot_target: z.string().nullable(),
    last_failure: z.string().nullable(),
    last_failure_at: z.string().nullable(),
  })
  .openapi('ResyncStats');

export const ResyncStatsAnswer = z.looseObject({ node_id: z.string(), is_leader: z.boolean(), resync_stats: ResyncStats }).openapi('ResyncStatsAnswer');

const Follower = z.looseObject({ node_id: z.string(), address: z.string(), health: z.enum(['unknown', 'healthy', 'lagging', 'desynced']) });

export const RaftHealth = z
  .looseObject({
    node_id: z.string(),
    address: z.string(),
    state: z.string(),
    role: z.string(),
    leading: z.boolean().openapi({ description: 'true while this node orders writes (not while it recovers or asks which node leads)' }),
    leader_id: z.string(),
    term: index,
    commit_index: index,
    last_applied: index,
    last_log_index: index,
    in_sync: z.boolean(),
    status: z.string(),
    conditions: z.array(Condition),
    followers: z.record(z.string(), z.string()),
    follower_details: z.array(Follower),
  })
  .openapi('RaftHealth');

export const SyncStatus = z
  .looseObject({
    node_id: z.string(),
    is_leader: z.boolean(),
    leader_id: z.string(),
    term: index,
    commit_index: index,
    last_log_index: index,
    last_applied: index,
    followers: z.array(Follower.extend({ last_replicated_index: index, lag: int, last_latency_ms: z.number().nullable(), consecutive_failures: int })),
  })
  .openapi('SyncStatus');

export const Checksum = z
  .looseObject({ node_id: z.string(), applied_index: index, state_checksum: z.string(), log_first_index: index, last_log_index: index, log: z.unknown().optional() })
  .openapi('Checksum');

export const ForceResyncAnswer = z.looseObject({ target: z.string(), success: z.boolean(), message: z.string() }).openapi('ForceResyncAnswer');

export const TransferAnswer = z
  .looseObject({ leader: z.string(), term: index, last_index: index, confirmed: z.boolean(), message: z.string() })
  .openapi('TransferAnswer');

export const TimeoutNowAnswer = z.looseObject({}).openapi('TimeoutNowAnswer');

export const RollingRestart = z.looseObject({}).openapi('RollingRestart');

export const LogPosition = z.looseObject({}).openapi('LogPosition');

export const NodeSelf = z
  .looseObject({
    node_id: z.string(),
    cluster_id: z.string(),
    address: z.string(),
    role: z.enum(['leader', 'follower']),
    leader_id: z.string(),
    term: index,
    commit_index: index,
    applied_index: index,
    last_log_index: index,
    in_sync: z.boolean(),
    status: z.string(),
    db_size_bytes: int.optional(),
    version: z.string(),
    started_at: z.string(),
    uptime_s: z.number(),
    followers: z.array(Follower),
    resync_stats: z.looseObject({}),
    events: z.array(z.looseObject({ at: z.string(), kind: z.string(), detail: z.string() })),
  })
  .openapi('NodeSelf');

const NodeRow = z
  .looseObject({
    id: z.string(),
    address: z.string(),
    role: z.enum(['leader', 'follower']),
    reachable: z.boolean(),
    state: z.enum(['leader', 'healthy', 'lagging', 'desynced', 'unknown', 'unreachable']),
    applied_index: nullableInt,
    lag: nullableInt,
  })
  .openapi('NodeRow');

export const ClusterOverview = z
  .looseObject({ observed_by: z.string(), at: z.string(), nodes_reachable: z.array(z.string()), workspaces_listed: int })
  .openapi('ClusterOverview');

export const ClusterNodes = z.looseObject({ observed_by: z.string(), at: z.string(), leader: z.string(), nodes: z.array(NodeRow) }).openapi('ClusterNodes');

const RateHistory = z.looseObject({ start_s: z.number(), write: z.array(z.number()), query: z.array(z.number()) });

export const ClusterHistory = z.looseObject({ write: RateHistory, query: RateHistory }).openapi('ClusterHistory');

export const OpenApiDocument = z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.looseObject({}) });
