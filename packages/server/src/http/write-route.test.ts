import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { openOneNode } from '../testing/one-node.ts';
import { isDeclaredWrite, isWriteRequest, writeRoute } from './write-route.ts';

/** Nested the way a node's app holds the public API: sub-apps with their own error handlers. */
function nestedApp(): { app: Hono; seen: Array<[string, boolean]> } {
  const seen: Array<[string, boolean]> = [];
  const api = new Hono();
  api.post('/documents', writeRoute, (c) => c.json({ wrote: true }, 201));
  api.get('/documents', (c) => c.json({ read: true }));
  api.post('/search', (c) => c.json({ read: true }));
  api.onError((_err, c) => c.json({ error: 'api' }, 500));
  const outer = new Hono();
  outer.route('/api/v1', api);
  outer.route('/workspace/:workspace/api/v1', api);
  outer.onError((_err, c) => c.json({ error: 'outer' }, 500));
  const app = new Hono();
  // Runs before any route, as write forwarding does.
  app.use(async function before(c, next) {
    seen.push([`${c.req.method} ${c.req.path}`, isWriteRequest(c)]);
    await next();
  });
  app.route('/', outer);
  app.onError((_err, c) => c.json({ error: 'app' }, 500));
  return { app, seen };
}

describe('isWriteRequest', () => {
  it('sees a declared write from a middleware that runs before the routes, under every prefix', async () => {
    const { app, seen } = nestedApp();
    expect((await app.request('/api/v1/documents', { method: 'POST' })).status).toBe(201);
    expect((await app.request('/workspace/ws-a/api/v1/documents', { method: 'POST' })).status).toBe(201);
    expect(seen).toEqual([
      ['POST /api/v1/documents', true],
      ['POST /workspace/ws-a/api/v1/documents', true],
    ]);
  });

  it('is false for a route not declared a write, another method on a write path and a path no route matches', async () => {
    const { app, seen } = nestedApp();
    await app.request('/api/v1/documents');
    await app.request('/api/v1/search', { method: 'POST' });
    await app.request('/api/v1/documents', { method: 'DELETE' });
    await app.request('/api/v1/documents/', { method: 'POST' });
    await app.request('/api/v2/documents', { method: 'POST' });
    expect(seen.map(([, write]) => write)).toEqual([false, false, false, false, false]);
  });
});

describe("a node's route table", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  function routesOfNode(): Array<{ key: string; method: string; path: string; write: boolean }> {
    const node = openOneNode();
    cleanups.push(() => node.close());
    const byKey = new Map<string, { key: string; method: string; path: string; write: boolean }>();
    for (const r of node.app.routes) {
      if (r.method === 'ALL') continue;
      const key = `${r.method} ${r.path}`;
      const entry = byKey.get(key) ?? { key, method: r.method, path: r.path, write: false };
      entry.write ||= isDeclaredWrite(r);
      byKey.set(key, entry);
    }
    return [...byKey.values()];
  }

  it('declares every POST and DELETE under /api/v1/documents a write, with and without the /workspace/:workspace prefix', () => {
    const documents = routesOfNode().filter((r) => /^(\/workspace\/:workspace)?\/api\/v1\/documents(\/|$)/.test(r.path));
    const changing = documents.filter((r) => r.method === 'POST' || r.method === 'DELETE');
    expect(changing.length).toBeGreaterThan(0);
    for (const r of changing) expect(r, r.key).toMatchObject({ write: true });
    for (const r of documents.filter((d) => d.method === 'GET')) expect(r, r.key).toMatchObject({ write: false });
  });

  it('declares exactly the document writes, nothing else', () => {
    const writes = routesOfNode().filter((r) => r.write).map((r) => r.key).sort();
    expect(writes).toEqual([
      'DELETE /api/v1/documents/:id',
      'DELETE /workspace/:workspace/api/v1/documents/:id',
      'POST /api/v1/documents',
      'POST /api/v1/documents/bulk',
      'POST /workspace/:workspace/api/v1/documents',
      'POST /workspace/:workspace/api/v1/documents/bulk',
    ]);
  });
});
