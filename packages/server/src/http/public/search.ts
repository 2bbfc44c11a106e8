// Search and assembly routes (reads, served by any node).

import type { Context, Hono } from 'hono';
import { LimitError } from '../../limits/workspace-limiter.ts';
import { parseAssembleRequest, parseBoundedQuery } from '../../store/assemble.ts';
import { search_k_max } from '../../store/document-store.ts';
import { InputError } from '../../store/errors.ts';
import { search_modes } from '../../store/search.ts';
import type { SearchMode } from '../../store/search.ts';
import { isPlainObject, parseCount, parseVector } from '../../store/validate.ts';
import type { ApiEnv, RouteDeps } from './context.ts';
import { checkRequest } from '../openapi/validate.ts';

export const search_k_default = 10;

function parseMode(v: unknown): SearchMode {
  if (v === undefined || v === null) return 'hybrid';
  if (typeof v !== 'string' || !(search_modes as readonly string[]).includes(v)) {
    throw new InputError('invalid_value', `mode must be one of ${search_modes.join(', ')}`, 'mode');
  }
  return v as SearchMode;
}

export function registerSearchRoutes(api: Hono<ApiEnv>, deps: RouteDeps): void {
  const { query_chars_max } = deps.config.server;
  const kMax = (ws: string): number => Math.min(search_k_max, deps.limiter.limits(ws).max_documents_per_query);

  api.get('/documents/search', async (c) => {
    const ws = c.get('ws');
    checkRequest(deps.schemas.lexicalQuery, c.req.query(), 'query');
    const query = parseBoundedQuery(c.req.query('q'), 'q', query_chars_max);
    const k = parseCount(c.req.query('limit'), 'limit', search_k_default, kMax(ws));
    const results = await deps.store().search(ws, { query, k, mode: 'lexical' });
    return c.json({ query, mode: 'lexical', results, total: results.length });
  });

  api.post('/search', async (c) => {
    const ws = c.get('ws');
    const body = c.get('body');
    const { granularity } = checkRequest(deps.schemas.search, body);
    if (!isPlainObject(body)) throw new InputError('invalid_type', 'body must be a JSON object', 'body');
    const query = parseBoundedQuery(body.query, 'query', query_chars_max);
    const k = parseCount(body.k, 'k', search_k_default, kMax(ws));
    const mode = parseMode(body.mode);
    const store = deps.store();
    let vector: Float32Array | undefined;
    if (body.vector !== undefined && body.vector !== null) {
      vector = parseVector(body.vector, 'vector');
      const dim = store.workspaceDim(ws);
      if (dim !== null && dim !== vector.length) {
        throw new InputError('dimension_mismatch', `vector has ${vector.length} dimensions; workspace ${ws} holds ${dim}`, 'vector');
      }
    }
    // granularity is passed on as sent; a store that does not know it answers whole documents.
    const options = { query, k, mode, ...(vector === undefined ? {} : { vector }), ...(granularity == null ? {} : { granularity }) };
    const results = await store.search(ws, options);
    return c.json({ query, mode, k, results, total: results.length });
  });

  const assembleHandler = async (c: Context<ApiEnv>): Promise<Response> => {
    const ws = c.get('ws');
    const limits = deps.limiter.limits(ws);
    const { granularity } = checkRequest(deps.schemas.assemble, c.get('body'));
    const req = parseAssembleRequest(c.get('body'), limits.max_documents_per_query, deps.config.server);
    const budget = deps.limiter.reserveTokens(ws, req.max_tokens);
    let used = 0;
    try {
      const result = await deps.store().assemble(ws, { ...req, max_tokens: budget.granted, ...(granularity == null ? {} : { granularity }) });
      used = result.total_tokens;
      if (result.documents.length === 0 && budget.granted < req.max_tokens) {
        // What is left of the minute's budget was too small for any candidate: that is a rate limit.
        throw new LimitError(429, 'token_rate_exceeded', `workspace ${ws}: only ${budget.granted} of max_tokens_per_minute ${limits.max_tokens_per_minute} left, not enough for a document`, deps.limiter.tokenRetryAfter(ws));
      }
      if (budget.granted < req.max_tokens) c.header('X-Cairn-Token-Budget', String(budget.granted));
      return c.json(result);
    } finally {
      budget.settle(used);
    }
  };
  api.post('/assemble', assembleHandler);
  api.post('/context/assemble', assembleHandler);
}
