// Every route a node serves, as the OpenAPI document describes it: what it takes (the request
// schemas of requests.ts, which the routes check requests against), what it answers, and every
// error code it answers, per status. document.ts turns this table into OpenAPI 3.1; the spec's
// tests enumerate the node's registered routes and fail on one missing here.

import { z } from '@hono/zod-openapi';
import { MSGPACK } from '../../replication/wire.ts';
import { CROSS_SITE_CODE } from '../cross-site.ts';
import { MinIndexParam, WorkspaceId, WriteConcernParam } from './requests.ts';
import type { RequestSchemas } from './requests.ts';
import * as R from './responses.ts';

export type Auth = 'none' | 'token' | 'operator' | 'secret';

export interface Media {
  type: string;
  schema: z.ZodType;
}

export interface RouteDoc {
  method: 'get' | 'post' | 'delete';
  /** As hono writes it (`/api/v1/documents/:id`). */
  path: string;
  summary: string;
  tag: string;
  auth: Auth;
  /** Also served under /workspace/{workspace}/api/v1/... */
  workspacePrefix?: boolean;
  body?: Media & { required?: boolean };
  query?: z.ZodObject;
  headers?: z.ZodObject;
  /** Success answers by status. */
  ok: Record<number, Media & { description: string }>;
  /** Error codes by status (the JSON error shape), besides any special bodies in `special`. */
  errors: Record<number, readonly string[]>;
  /** Error answers with their own body shape (412 precondition_failed, ...). */
  special?: Record<number, Media & { description: string }>;
}

/** The supervisor's status of a rolling restart (deploy/cluster-control.ts RollingStatus). */
const RollingStatus = z
  .object({
    state: z.enum(['idle', 'running', 'done', 'failed']),
    started_at: z.string().nullable(),
    steps: z.array(z.string()),
    message: z.string().nullable(),
    restarted: z.array(z.string()),
    leader: z.string().nullable(),
  })
  .openapi('RollingRestartStatus');

const json = (schema: z.ZodType, description: string): Media & { description: string } => ({ type: 'application/json', schema, description });
const binary = z.string().openapi({ format: 'binary' });

/** 503 answers of a write: the leader cannot take it now (Retry-After says when to retry). */
export const write_unavailable_codes = [
  'leader_unavailable', 'leader_changing', 'leader_transfer', 'not_leader', 'not_ready', 'not_replicated', 'overloaded',
  'recovering', 'shutting_down', 'stopping', 'installing_snapshot', 'log_sync_failed', 'log_write_failed', 'term_not_open',
] as const;

/** Merges error tables: the codes of one status from each, once. */
function errors(...tables: Array<Record<number, readonly string[]>>): Record<number, readonly string[]> {
  const out: Record<number, string[]> = {};
  for (const t of tables) {
    for (const [status, codes] of Object.entries(t)) {
      const list = (out[Number(status)] ??= []);
      for (const c of codes) if (!list.includes(c)) list.push(c);
    }
  }
  return out;
}

const internal = { 500: ['internal'] };
/** Every /api/v1 request: token, workspace, per-workspace concurrency. */
const api = errors(internal, { 401: ['unauthorized'], 400: ['invalid_workspace'], 429: ['too_many_requests'] });
const withBody = { 400: ['invalid_json', 'invalid_type'], 413: ['body_too_large'] };
// 503 leader_catching_up: the leader has not applied what earlier leaders committed yet (its read index).
const read = { 400: ['invalid_value'], 503: ['leader_catching_up'], 504: ['min_index_timeout'] };
const write = { 400: ['invalid_value'], 403: [CROSS_SITE_CODE], 503: write_unavailable_codes, 507: ['disk_full'] };
const documentWrite = errors(withBody, {
  400: ['missing_field', 'invalid_type', 'invalid_value', 'invalid_text', 'metadata_too_deep', 'dimension_mismatch'],
  413: ['document_too_large', 'metadata_too_large'],
  415: ['unsupported_media_type'],
  502: ['embedding_failed'],
  507: ['storage_exceeded'],
});
const queryErrors = { 400: ['missing_field', 'invalid_type', 'invalid_value', 'empty_query', 'query_too_long'], 502: ['embedding_failed'] };
const conditional = { 503: ['outcome_pending', 'outcome_unknown'] };
const crossSite = { 403: [CROSS_SITE_CODE] };
const operator = errors(internal, crossSite, { 401: ['unauthorized'], 400: ['missing_target'], 404: ['unknown_target'] });
const peer = errors(internal, crossSite, { 401: ['unauthorized'] });

const writeHeaders = z.object({
  'X-Write-Concern': WriteConcernParam.optional(),
  'X-Workspace-ID': WorkspaceId.optional(),
});
const readHeaders = z.object({
  'X-Min-Index': MinIndexParam.optional(),
  'X-Workspace-ID': WorkspaceId.optional(),
  'X-Resource-Tier': z.enum(['high', 'medium', 'low']).optional().openapi({ description: "the request's scheduling priority within its workspace" }),
});
const workspaceQuery = { workspace: WorkspaceId.optional().openapi({ description: 'the workspace, when no X-Workspace-ID header names it' }) };
const writeQuery = { ...workspaceQuery, write_concern: WriteConcernParam.optional() };
const readQuery = { ...workspaceQuery, min_index: MinIndexParam.optional() };
const ifMatch = z.string().optional().openapi({ description: 'write only if the document has one of these ETags ("*": exists)' });
const target = z.object({ target: z.string().openapi({ description: 'a node id or host:port (from sync-status)', example: 'node-3' }) });

const msgpack = (description: string): Media & { description: string } => ({ type: MSGPACK, schema: binary, description });

/** The routes of a node with the request schemas of its limits. */
export function routeDocs(s: RequestSchemas): RouteDoc[] {
  const assemble = (path: string, summary: string): RouteDoc => ({
    method: 'post', path, summary, tag: 'context', auth: 'token', workspacePrefix: true,
    body: { type: 'application/json', schema: s.assemble, required: true },
    query: z.object(readQuery), headers: readHeaders,
    ok: { 200: json(R.AssembleAnswer, 'the best documents for the query within max_tokens (X-Cairn-Token-Budget when the minute budget cut it)') },
    errors: errors(api, withBody, read, queryErrors, { 400: ['too_many_patterns', 'pattern_too_long', 'invalid_pattern'], 429: ['token_rate_exceeded'] }),
  });
  return [
    {
      method: 'get', path: '/health', summary: 'Node health in the clustering guide shape', tag: 'health', auth: 'none',
      query: z.object(workspaceQuery), headers: z.object({ 'X-Workspace-ID': WorkspaceId.optional() }),
      ok: { 200: json(R.Health, 'serving') },
      special: { 503: json(R.Health, 'a condition is set (disk full, fsync failed, recovering): status unhealthy') },
      errors: errors(internal, { 400: ['invalid_workspace'] }),
    },
    {
      method: 'get', path: '/openapi.json', summary: 'This document', tag: 'health', auth: 'none',
      ok: { 200: json(R.OpenApiDocument, 'OpenAPI 3.1') }, errors: internal,
    },
    {
      method: 'post', path: '/api/v1/documents', summary: 'Add or replace a document (conditional with If-Match / If-None-Match)', tag: 'documents', auth: 'token', workspacePrefix: true,
      body: { type: 'application/json', schema: s.document, required: true },
      query: z.object(writeQuery), headers: writeHeaders.extend({ 'If-Match': ifMatch, 'If-None-Match': z.literal('*').optional().openapi({ description: 'create only if absent' }) }),
      ok: { 201: json(R.Written, 'written: its log index (also X-Cairn-Index) and ETag') },
      special: { 412: { type: 'application/json', schema: R.PreconditionFailed, description: 'the precondition did not hold when the write was applied' } },
      errors: errors(api, write, documentWrite, conditional, { 409: ['dimension_conflict'] }),
    },
    {
      method: 'post', path: '/api/v1/documents/bulk', summary: 'Add or replace many documents in one log entry', tag: 'documents', auth: 'token', workspacePrefix: true,
      body: { type: 'application/json', schema: s.bulk, required: true },
      query: z.object(writeQuery), headers: writeHeaders,
      ok: { 201: json(R.BulkWritten, 'the valid items written; the others listed in errors') },
      errors: errors(api, write, documentWrite, { 400: ['no_valid_documents'], 413: ['too_many_documents'] }),
    },
    {
      method: 'get', path: '/api/v1/documents', summary: 'List documents (without content), a page at a time', tag: 'documents', auth: 'token', workspacePrefix: true,
      query: s.listQuery.extend(readQuery), headers: readHeaders,
      ok: { 200: json(R.DocumentPage, 'a page; next_cursor is null on the last') },
      errors: errors(api, read, { 400: ['invalid_cursor'] }),
    },
    {
      method: 'get', path: '/api/v1/documents/search', summary: 'Lexical search (FTS5)', tag: 'search', auth: 'token', workspacePrefix: true,
      query: s.lexicalQuery.extend(readQuery), headers: readHeaders,
      ok: { 200: json(R.SearchAnswer, 'hits, best first') },
      errors: errors(api, read, queryErrors),
    },
    {
      method: 'get', path: '/api/v1/documents/:id', summary: 'Read a document', tag: 'documents', auth: 'token', workspacePrefix: true,
      query: z.object(readQuery), headers: readHeaders,
      ok: { 200: json(R.StoredDocument, 'the document, with its ETag (also the ETag header)') },
      errors: errors(api, read, { 400: ['invalid_type'], 404: ['not_found'] }),
    },
    {
      method: 'delete', path: '/api/v1/documents/:id', summary: 'Delete a document (conditional with If-Match)', tag: 'documents', auth: 'token', workspacePrefix: true,
      query: z.object({ ...writeQuery, if_match: z.string().optional().openapi({ description: 'as the If-Match header' }) }), headers: writeHeaders.extend({ 'If-Match': ifMatch }),
      ok: { 200: json(R.Deleted, 'deleted') },
      special: { 412: { type: 'application/json', schema: R.PreconditionFailed, description: 'the precondition did not hold when the delete was applied' } },
      errors: errors(api, write, conditional, { 400: ['invalid_type'], 404: ['not_found'] }),
    },
    {
      method: 'post', path: '/api/v1/search', summary: 'Lexical, vector or hybrid search', tag: 'search', auth: 'token', workspacePrefix: true,
      body: { type: 'application/json', schema: s.search, required: true },
      query: z.object(readQuery), headers: readHeaders,
      ok: { 200: json(R.SearchAnswer, 'hits, best first') },
      errors: errors(api, withBody, read, queryErrors, { 400: ['dimension_mismatch'] }),
    },
    assemble('/api/v1/assemble', 'Assemble the best documents for a query within a token budget'),
    assemble('/api/v1/context/assemble', 'The same as /api/v1/assemble (the clustering guide path)'),
    {
      method: 'get', path: '/metrics', summary: 'Prometheus metrics', tag: 'operations', auth: 'token',
      ok: { 200: { type: 'text/plain', schema: z.string(), description: 'Prometheus text format' } }, errors: errors(internal, { 401: ['unauthorized'] }),
    },
    ...(['self', 'overview', 'nodes', 'history'] as const).map((name): RouteDoc => ({
      method: 'get', path: `/api/v1/cluster/${name}`, summary: `The cluster ${name}`, tag: 'operations', auth: 'token',
      ...(name === 'self' ? { query: z.object({ history: z.enum(['1']).optional().openapi({ description: '1 adds the per-second rates' }) }) } : {}),
      ok: { 200: json({ self: R.NodeSelf, overview: R.ClusterOverview, nodes: R.ClusterNodes, history: R.ClusterHistory }[name], `the cluster ${name}`) },
      errors: errors(internal, { 401: ['unauthorized'] }),
    })),
    {
      method: 'get', path: '/api/v1/cluster/events', summary: 'The overview as Server-Sent Events', tag: 'operations', auth: 'token',
      ok: { 200: { type: 'text/event-stream', schema: z.string(), description: 'a snapshot event every second and on change' } }, errors: errors(internal, { 401: ['unauthorized'] }),
    },
    {
      method: 'get', path: '/dashboard', summary: 'The live dashboard page', tag: 'operations', auth: 'token',
      ok: { 200: { type: 'text/html', schema: z.string(), description: 'HTML' } }, errors: errors(internal, { 401: ['unauthorized'] }),
    },
    {
      method: 'get', path: '/dashboard/events', summary: "The dashboard's Server-Sent Events", tag: 'operations', auth: 'token',
      ok: { 200: { type: 'text/event-stream', schema: z.string(), description: 'snapshot events' } }, errors: errors(internal, { 401: ['unauthorized'] }),
    },
    {
      method: 'get', path: '/_raft/health', summary: 'Replication health (503 when not in sync)', tag: 'replication', auth: 'none',
      ok: { 200: json(R.RaftHealth, 'in sync') }, special: { 503: json(R.RaftHealth, 'not in sync: status says why') }, errors: internal,
    },
    {
      method: 'get', path: '/_raft/sync-status', summary: 'Per follower: health, last replicated index, lag, latency, failures', tag: 'replication', auth: 'none',
      ok: { 200: json(R.SyncStatus, 'the leader view of its followers (none on a follower)') }, errors: internal,
    },
    {
      method: 'get', path: '/_raft/resync_stats', summary: 'Snapshot resync counters', tag: 'replication', auth: 'none',
      ok: { 200: json(R.ResyncStatsAnswer, 'counters since the node started') }, errors: internal,
    },
    {
      method: 'get', path: '/_raft/checksum', summary: 'Applied index, state checksum and log checksums', tag: 'replication', auth: 'none',
      query: z.object({ log_from: z.string().optional(), log_to: z.string().optional().openapi({ description: 'with log_from: per-entry checksums of [log_from, log_to), at most 100000' }) }),
      ok: { 200: json(R.Checksum, 'checksums') }, errors: internal,
    },
    {
      method: 'post', path: '/_raft/force-resync', summary: 'Send a follower a snapshot now', tag: 'replication', auth: 'operator', query: target,
      ok: { 200: json(R.ForceResyncAnswer, 'the follower installed the snapshot') },
      special: { 502: json(R.ForceResyncAnswer, 'the snapshot transfer failed (success false)') },
      errors: errors(operator, { 409: ['not_leader'], 503: ['leader_unavailable', 'recovering'] }),
    },
    {
      method: 'post', path: '/_raft/transfer-leadership', summary: 'Hand leadership to a healthy follower', tag: 'replication', auth: 'operator', query: target,
      ok: { 200: json(R.TransferAnswer, 'handed over') },
      errors: errors(operator, { 409: ['not_leader', 'target_unhealthy', 'transfer_in_progress'], 503: ['leader_unavailable', 'leader_transfer', 'not_ready', 'transfer_timeout', 'recovering'] }),
    },
    {
      method: 'post', path: '/_raft/rolling-restart', summary: 'Start a rolling restart, run by the supervisor named in CAIRN_SUPERVISOR_URL (cairn cluster)', tag: 'replication', auth: 'operator',
      query: z.object({
        keep_leader: z.enum(['true', 'false', '1', '0']).optional().openapi({ description: 'hand leadership back to the node that led at the start (default false)' }),
        to: z.string().optional().openapi({ description: 'the follower to hand leadership to (default the first)' }),
      }),
      ok: { 202: json(RollingStatus, 'started; the supervisor status') },
      errors: errors(internal, crossSite, { 401: ['unauthorized'], 400: ['bad_request', 'unknown_node'], 409: ['busy'], 501: ['no_supervisor'], 502: ['supervisor_refused'], 503: ['supervisor_unavailable'] }),
    },
    {
      method: 'get', path: '/_raft/rolling-restart', summary: 'The steps of the last rolling restart the supervisor ran', tag: 'replication', auth: 'none',
      ok: { 200: json(RollingStatus, 'the supervisor status') },
      errors: errors(internal, { 501: ['no_supervisor'], 502: ['supervisor_refused'], 503: ['supervisor_unavailable'] }),
    },
    {
      method: 'post', path: '/_raft/append', summary: 'Leader to follower: a batch of log entries (msgpack)', tag: 'replication', auth: 'secret',
      body: { type: MSGPACK, schema: binary, required: true }, ok: { 200: msgpack('the follower answer') },
      errors: errors(peer, { 400: ['body_too_large', 'empty_body', 'bad_append'], 409: ['wrong_cluster', 'wrong_leader', 'stale_term', 'is_leader'], 503: ['log_sync_failed', 'log_write_failed', 'installing_snapshot', 'recovering', 'shutting_down'], 507: ['disk_full'] }),
    },
    {
      method: 'post', path: '/_raft/digest', summary: 'Leader to follower: compare state digests (msgpack)', tag: 'replication', auth: 'secret',
      body: { type: MSGPACK, schema: binary, required: true }, ok: { 200: msgpack('the follower digests') },
      errors: errors(peer, { 400: ['body_too_large', 'empty_body', 'bad_digest_request'], 404: ['no_digest'], 409: ['wrong_cluster', 'wrong_leader', 'stale_term'], 503: ['digest_failed', 'installing_snapshot', 'recovering'] }),
    },
    {
      method: 'post', path: '/_raft/snapshot', summary: 'Leader to follower: one checksummed chunk of a state snapshot (msgpack)', tag: 'replication', auth: 'secret',
      body: { type: MSGPACK, schema: binary, required: true }, ok: { 200: msgpack('chunk taken') },
      errors: errors(peer, { 400: ['body_too_large', 'empty_body', 'bad_snapshot', 'bad_chunk_checksum'], 409: ['wrong_cluster', 'wrong_leader', 'stale_term', 'snapshot_out_of_order', 'is_leader'], 503: ['recovering', 'shutting_down'], 507: ['disk_full'] }),
    },
    {
      method: 'post', path: '/_raft/timeout-now', summary: 'Old leader to its designated successor: take over now (msgpack or JSON)', tag: 'replication', auth: 'secret',
      body: { type: MSGPACK, schema: binary, required: true }, ok: { 200: json(R.TimeoutNowAnswer, 'taken over') },
      errors: errors(peer, { 400: ['bad_request'], 409: ['wrong_cluster', 'wrong_leader', 'stale_term', 'not_caught_up', 'is_leader'], 503: ['recovering', 'not_ready'] }),
    },
    {
      method: 'get', path: '/_raft/log-position', summary: "Where this node's log is (for a leader recovering what it lost)", tag: 'replication', auth: 'secret',
      ok: { 200: json(R.LogPosition, 'first and last index and term') }, errors: errors(internal, { 401: ['unauthorized'] }),
    },
    {
      method: 'get', path: '/_raft/log-entries', summary: 'A page of log entries (msgpack)', tag: 'replication', auth: 'secret',
      query: z.object({ from: z.string().optional(), to: z.string().optional() }),
      ok: { 200: msgpack('the entries of [from, to)') }, errors: errors(internal, { 401: ['unauthorized'], 400: ['bad_range'], 410: ['compacted'] }),
    },
    {
      method: 'get', path: '/_raft/backup', summary: "A consistent, checksummed copy of the leader's state (cairn backup)", tag: 'replication', auth: 'operator',
      ok: { 200: { type: 'application/vnd.sqlite3', schema: binary, description: 'the SQLite file; index, term, bytes, sha256, state checksum, cluster and node in X-Cairn-* headers' } },
      errors: errors(internal, crossSite, { 401: ['unauthorized'], 409: ['not_leader'], 503: ['busy', 'recovering'] }),
    },
    {
      method: 'post', path: '/_raft/rolling-restart', summary: 'Restart every node once, followers first (through the supervisor that runs the nodes)', tag: 'replication', auth: 'operator',
      query: z.object({
        keep_leader: z.enum(['true', 'false', '1', '0']).optional().openapi({ description: 'hand leadership back to the first leader at the end; default false' }),
        to: z.string().optional().openapi({ description: 'the node to hand leadership to before the leader restarts' }),
      }),
      ok: { 202: json(R.RollingRestart, 'started: the run as the supervisor reports it') },
      errors: errors(internal, crossSite, { 400: ['bad_request', 'unknown_node'], 401: ['unauthorized'], 409: ['busy'], 501: ['no_supervisor'], 502: ['supervisor_refused'], 503: ['supervisor_unavailable'] }),
    },
    {
      method: 'get', path: '/_raft/rolling-restart', summary: 'The progress of the rolling restart', tag: 'replication', auth: 'none',
      ok: { 200: json(R.RollingRestart, 'the last run as the supervisor reports it') },
      errors: errors(internal, { 501: ['no_supervisor'], 502: ['supervisor_refused'], 503: ['supervisor_unavailable'] }),
    },
    {
      method: 'get', path: '/_raft/state-snapshot', summary: 'A consistent copy of the state database', tag: 'replication', auth: 'secret',
      ok: { 200: { type: 'application/vnd.sqlite3', schema: binary, description: 'the SQLite file; index, term, bytes and sha256 in X-Cairn-State-* headers' } },
      errors: errors(internal, { 401: ['unauthorized'], 503: ['busy'] }),
    },
  ];
}
