// Document routes: create, bulk create, get, delete, list.
// The write routes are declared so with `writeRoute` (../write-route.ts), which is what forwarding,
// the cross-site guard and the metrics key on. They run on the leader only (followers forward them
// before these routes): resolve workspace -> validate -> store.prepare -> storage limit ->
// replicator.propose -> 201.
// A conditional write (If-Match / If-None-Match, see precondition.ts) is one log entry whose
// outcome apply decides; the handler reads that outcome after propose resolved (412 or 201).

import type { Context, Hono } from 'hono';
import type { WriteConcern } from '../../config/types.ts';
import type { DocumentStore } from '../../store/document-store.ts';
import { list_limit_max } from '../../store/document-store.ts';
import { checkPrecondition, documentEtag } from '../../store/etag.ts';
import type { Precondition, PreconditionFailure } from '../../store/etag.ts';
import type { DeleteOp, Op, PutOp } from '../../store/op.ts';
import { assertDocumentId, parseCount } from '../../store/validate.ts';
import { ApiError, errorBody } from './errors.ts';
import type { ApiEnv, RouteDeps } from './context.ts';
import { assertNoPrecondition, deletePrecondition, etagHeader, preconditionFailedBody, putPrecondition } from './precondition.ts';
import { writeConcern } from './request.ts';
import { checkRequest } from '../openapi/validate.ts';
import { writeRoute } from '../write-route.ts';
import { untilReadable } from './readable.ts';
import { planted } from '../../testing/planted-defects.ts';

export const list_limit_default = 100;

function docId(c: Context<ApiEnv>): string {
  const id = c.req.param('id') ?? '';
  assertDocumentId(id, 'id');
  return id;
}

/**
 * The failed precondition of a conditional op, or null when it held. Its outcome is decided when
 * it is applied, so this waits for the local apply whatever the write concern (a `leader`
 * acknowledgement comes before it).
 */
async function preconditionFailure(deps: RouteDeps, op: PutOp | DeleteOp, index: number): Promise<PreconditionFailure | null> {
  const wait = deps.config.server.read_wait_ms_max;
  if (!(await deps.replicator.waitApplied(index, wait))) {
    throw new ApiError(503, 'outcome_pending', `the conditional write is in the log at index ${index} but was not applied within ${wait} ms, so its outcome is not known yet; read the document to learn it`);
  }
  const outcome = deps.store().conditionalOutcome(op);
  if (outcome === undefined) {
    throw new ApiError(503, 'outcome_unknown', `the conditional write was logged at index ${index} but its outcome is no longer known here; read the document to learn it`);
  }
  return outcome.failed[0] ?? null;
}

/**
 * The planted defect cas_on_leader_only (test only): the precondition checked against the
 * leader's state when the write is prepared, the write then logged without it.
 */
function checkedOnLeaderOnly(store: DocumentStore, ws: string, id: unknown, pre: Precondition | null): { pre: Precondition | null; failure: PreconditionFailure | null } {
  if (pre === null || !planted('cas_on_leader_only') || typeof id !== 'string') return { pre, failure: null };
  return { pre: null, failure: checkPrecondition(id, pre, store.etag(ws, id)) };
}

function preconditionFailed(c: Context<ApiEnv>, pre: Precondition, failure: PreconditionFailure): Response {
  if (failure.current_etag !== null) c.header('ETag', etagHeader(failure.current_etag));
  return c.json(preconditionFailedBody(pre, failure), 412);
}

export function registerDocumentRoutes(api: Hono<ApiEnv>, deps: RouteDeps): void {
  const propose = async (c: Context<ApiEnv>, op: Op, concern: WriteConcern | undefined): Promise<number> => {
    const { index } = await deps.replicator.propose(op, concern === undefined ? {} : { writeConcern: concern });
    c.header('X-Cairn-Index', String(index));
    return index;
  };

  api.post('/documents', writeRoute, async (c) => {
    const ws = c.get('ws');
    const concern = writeConcern(c);
    checkRequest(deps.schemas.document, c.get('body'));
    const asked = putPrecondition(c, c.get('body'));
    const store = deps.store();
    if (asked !== null) await untilReadable(deps, undefined);
    const early = checkedOnLeaderOnly(store, ws, (c.get('body') as { id?: unknown } | null)?.id, asked);
    if (asked !== null && early.failure !== null) return preconditionFailed(c, asked, early.failure);
    const pre = early.pre;
    const op = await store.preparePut(ws, c.get('body'), pre);
    deps.limiter.checkStorage(ws, store.storageBytes(ws), store.storageDelta(op));
    const index = await propose(c, op, concern);
    const failure = pre === null ? null : await preconditionFailure(deps, op, index);
    if (pre !== null && failure !== null) return preconditionFailed(c, pre, failure);
    const skipped = store.skippedDocuments(op)[0];
    if (skipped !== undefined) {
      return c.json(errorBody('dimension_conflict', `not stored: ${skipped.reason} (set by a concurrent write)`, 'vector'), 409);
    }
    const doc = op.docs[0];
    if (doc === undefined) throw new Error('invariant: a single put holds no document');
    const etag = documentEtag(doc);
    c.header('ETag', etagHeader(etag));
    return c.json({ id: doc.id, index, etag }, 201);
  });

  api.post('/documents/bulk', writeRoute, async (c) => {
    const ws = c.get('ws');
    const concern = writeConcern(c);
    const body = c.get('body');
    const items: unknown = Array.isArray(body) ? body : (body as { documents?: unknown } | null)?.documents;
    if (!Array.isArray(items)) throw new ApiError(400, 'invalid_type', 'bulk body must be a JSON array of documents (or {"documents": [...]})', 'body');
    assertNoPrecondition(c, body);
    if (items.length === 0) throw new ApiError(400, 'invalid_value', 'bulk body holds no documents', 'body');
    const max = deps.config.server.bulk_documents_max;
    if (items.length > max) throw new ApiError(413, 'too_many_documents', `bulk body holds ${items.length} documents; bulk_documents_max is ${max}`, 'body');
    const store = deps.store();
    const prepared = await store.preparePutMany(ws, items);
    if (prepared.op === null) {
      return c.json({ ...errorBody('no_valid_documents', 'no document in the bulk body is valid; nothing was written', 'body'), errors: prepared.errors }, 400);
    }
    deps.limiter.checkStorage(ws, store.storageBytes(ws), store.storageDelta(prepared.op));
    const index = await propose(c, prepared.op, concern);
    const skipped = new Map(store.skippedDocuments(prepared.op).map((s) => [s.id, s.reason]));
    const ids = prepared.ids.filter((id) => !skipped.has(id));
    // A later document of the same id in this op is the one stored.
    const stored = new Map(prepared.op.docs.filter((d) => !skipped.has(d.id)).map((d) => [d.id, documentEtag(d)]));
    const etags = ids.map((id) => stored.get(id) ?? null);
    const errors = [...prepared.errors];
    prepared.ids.forEach((id, i) => {
      const reason = skipped.get(id);
      const item = prepared.items[i];
      if (reason !== undefined && item !== undefined) {
        errors.push({ item, error: { code: 'dimension_conflict', message: `not stored: ${reason}`, field: `[${item}].vector` } });
      }
    });
    errors.sort((a, b) => a.item - b.item);
    return c.json({ added: ids.length, ids, etags, errors, total: items.length, index }, 201);
  });

  api.get('/documents', (c) => {
    checkRequest(deps.schemas.listQuery, c.req.query(), 'query');
    const limit = parseCount(c.req.query('limit'), 'limit', list_limit_default, list_limit_max);
    const page = deps.store().list(c.get('ws'), { limit, cursor: c.req.query('cursor') ?? null });
    return c.json(page);
  });

  api.get('/documents/:id', (c) => {
    const id = docId(c);
    const store = deps.store();
    const doc = store.get(c.get('ws'), id);
    if (doc === null) return c.json(errorBody('not_found', `no document ${JSON.stringify(id)} in workspace ${c.get('ws')}`, 'id'), 404);
    const etag = store.etag(c.get('ws'), id);
    if (etag === null) throw new Error(`invariant: document ${id} read without an ETag`);
    c.header('ETag', etagHeader(etag));
    return c.json({ ...doc, etag });
  });

  api.delete('/documents/:id', writeRoute, async (c) => {
    const ws = c.get('ws');
    const id = docId(c);
    const concern = writeConcern(c);
    const store = deps.store();
    const asked = deletePrecondition(c);
    // The 404 and a precondition below are answered from this node's state: a read.
    await untilReadable(deps, undefined);
    const early = checkedOnLeaderOnly(store, ws, id, asked);
    if (asked !== null && early.failure !== null) return preconditionFailed(c, asked, early.failure);
    const pre = early.pre;
    if (pre === null && store.get(ws, id) === null) return c.json(errorBody('not_found', `no document ${JSON.stringify(id)} in workspace ${ws}`, 'id'), 404);
    const op = store.prepareDelete(ws, [id], pre);
    const index = await propose(c, op, concern);
    const failure = pre === null ? null : await preconditionFailure(deps, op, index);
    if (pre !== null && failure !== null) return preconditionFailed(c, pre, failure);
    return c.json({ id, deleted: true, index });
  });
}
