// Document routes: create, bulk create, get, delete, list.
// Write handlers run on the leader only (followers forward writes before these routes):
// resolve workspace -> validate -> store.prepare -> storage limit -> replicator.propose -> 201.

import type { Context, Hono } from 'hono';
import type { WriteConcern } from '../../config/types.ts';
import { list_limit_max } from '../../store/document-store.ts';
import type { Op } from '../../store/op.ts';
import { assertDocumentId, parseCount } from '../../store/validate.ts';
import { ApiError, errorBody } from './errors.ts';
import type { ApiEnv, RouteDeps } from './context.ts';
import { writeConcern } from './request.ts';

export const list_limit_default = 100;

function docId(c: Context<ApiEnv>): string {
  const id = c.req.param('id') ?? '';
  assertDocumentId(id, 'id');
  return id;
}

export function registerDocumentRoutes(api: Hono<ApiEnv>, deps: RouteDeps): void {
  const propose = async (c: Context<ApiEnv>, op: Op, concern: WriteConcern | undefined): Promise<number> => {
    const { index } = await deps.replicator.propose(op, concern === undefined ? {} : { writeConcern: concern });
    c.header('X-Cairn-Index', String(index));
    return index;
  };

  api.post('/documents', async (c) => {
    const ws = c.get('ws');
    const concern = writeConcern(c);
    const store = deps.store();
    const op = await store.preparePut(ws, c.get('body'));
    deps.limiter.checkStorage(ws, store.storageBytes(ws), store.storageDelta(op));
    const index = await propose(c, op, concern);
    const skipped = store.skippedDocuments(op)[0];
    if (skipped !== undefined) {
      return c.json(errorBody('dimension_conflict', `not stored: ${skipped.reason} (set by a concurrent write)`, 'vector'), 409);
    }
    return c.json({ id: op.docs[0]?.id, index }, 201);
  });

  api.post('/documents/bulk', async (c) => {
    const ws = c.get('ws');
    const concern = writeConcern(c);
    const body = c.get('body');
    const items: unknown = Array.isArray(body) ? body : (body as { documents?: unknown } | null)?.documents;
    if (!Array.isArray(items)) throw new ApiError(400, 'invalid_type', 'bulk body must be a JSON array of documents (or {"documents": [...]})', 'body');
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
    const errors = [...prepared.errors];
    prepared.ids.forEach((id, i) => {
      const reason = skipped.get(id);
      const item = prepared.items[i];
      if (reason !== undefined && item !== undefined) {
        errors.push({ item, error: { code: 'dimension_conflict', message: `not stored: ${reason}`, field: `[${item}].vector` } });
      }
    });
    errors.sort((a, b) => a.item - b.item);
    return c.json({ added: ids.length, ids, errors, total: items.length, index }, 201);
  });

  api.get('/documents', (c) => {
    const limit = parseCount(c.req.query('limit'), 'limit', list_limit_default, list_limit_max);
    const page = deps.store().list(c.get('ws'), { limit, cursor: c.req.query('cursor') ?? null });
    return c.json(page);
  });

  api.get('/documents/:id', (c) => {
    const id = docId(c);
    const doc = deps.store().get(c.get('ws'), id);
    if (doc === null) return c.json(errorBody('not_found', `no document ${JSON.stringify(id)} in workspace ${c.get('ws')}`, 'id'), 404);
    return c.json(doc);
  });

  api.delete('/documents/:id', async (c) => {
    const ws = c.get('ws');
    const id = docId(c);
    const concern = writeConcern(c);
    const store = deps.store();
    if (store.get(ws, id) === null) return c.json(errorBody('not_found', `no document ${JSON.stringify(id)} in workspace ${ws}`, 'id'), 404);
    const index = await propose(c, store.prepareDelete(ws, [id]), concern);
    return c.json({ id, deleted: true, index });
  });
}
