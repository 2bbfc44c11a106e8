// POST/GET /_raft/rolling-restart in memory (app.request), with a stand-in supervisor on
// loopback: the operator token, the cross-site refusal, bad input, no supervisor, and what is
// passed on to the supervisor (its token, the query) and back.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { CairnConfig } from '../config/types.ts';
import { testConfig } from './public/testing.ts';
import { createRollingRoutes } from './rolling-routes.ts';

const OPERATOR = 'operator-token';
const SUPERVISOR_TOKEN = 'supervisor-token';
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function configWith(operator_token: string): CairnConfig {
  const base = testConfig();
  return {
    ...base,
    replication: {
      ...base.replication,
      operator_token,
      nodes: [
        { id: 'node-1', address: '127.0.0.1:8080' },
        { id: 'node-2', address: '127.0.0.1:8081' },
        { id: 'node-3', address: '127.0.0.1:8082' },
      ],
    },
  };
}

interface Seen {
  method: string;
  url: string;
  authorization: string | undefined;
}

/** A supervisor that records what it was sent and answers as cluster-control.ts does. */
async function standInSupervisor(): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization });
    req.resume();
    const ok = req.headers.authorization === `Bearer ${SUPERVISOR_TOKEN}`;
    const status = !ok ? 401 : req.method === 'POST' ? 202 : 200;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(ok ? { state: req.method === 'POST' ? 'running' : 'done', steps: ['node-2: restarting'] } : { error: { code: 'unauthorized', message: 'no' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function post(app: ReturnType<typeof createRollingRoutes>, query: string, headers: Record<string, string> = {}): Promise<Response> {
  return Promise.resolve(app.request(`/rolling-restart${query}`, { method: 'POST', headers }));
}

describe('POST /_raft/rolling-restart', () => {
  it('answers 401 JSON without the operator token or with the wrong one, and never reaches the supervisor', async () => {
    const s = await standInSupervisor();
    const app = createRollingRoutes({ config: configWith(OPERATOR), env: { CAIRN_SUPERVISOR_URL: s.url, CAIRN_SUPERVISOR_TOKEN: SUPERVISOR_TOKEN } });
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { 'x-cairn-secret': OPERATOR }] as Array<Record<string, string>>) {
      const res = await post(app, '', headers);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
    expect(s.seen).toEqual([]);
  });

  it('refuses a cross-site browser request with 403 cross_site, token or not', async () => {
    const s = await standInSupervisor();
    const app = createRollingRoutes({ config: configWith(''), env: { CAIRN_SUPERVISOR_URL: s.url, CAIRN_SUPERVISOR_TOKEN: SUPERVISOR_TOKEN } });
    for (const headers of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }] as Array<Record<string, string>>) {
      const res = await post(app, '', headers);
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('cross_site');
    }
    expect(s.seen).toEqual([]);
  });

  it('answers 400 naming the parameter for a keep_leader that is not a boolean and an unknown node in to', async () => {
    const s = await standInSupervisor();
    const app = createRollingRoutes({ config: configWith(''), env: { CAIRN_SUPERVISOR_URL: s.url, CAIRN_SUPERVISOR_TOKEN: SUPERVISOR_TOKEN } });
    const bad = await post(app, '?keep_leader=maybe');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 'bad_request', field: 'keep_leader' } });
    const unknown = await post(app, '?to=node-9');
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: { code: 'unknown_node', field: 'to' } });
    expect(s.seen).toEqual([]);
  });

  it('answers 501 no_supervisor where no supervisor is named (a deployment not run by cairn cluster)', async () => {
    const app = createRollingRoutes({ config: configWith(''), env: {} });
    const res = await post(app, '');
    expect(res.status).toBe(501);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('no_supervisor');
    expect(body.error.message).toContain('--restart-command');
    expect((await app.request('/rolling-restart')).status).toBe(501);
  });

  it('passes a request with the operator token on to the supervisor with the supervisor token, and its 202 back', async () => {
    const s = await standInSupervisor();
    const app = createRollingRoutes({ config: configWith(OPERATOR), env: { CAIRN_SUPERVISOR_URL: s.url, CAIRN_SUPERVISOR_TOKEN: SUPERVISOR_TOKEN } });
    const res = await post(app, '?keep_leader=1&to=node-3', { authorization: `Bearer ${OPERATOR}`, origin: 'http://localhost', host: 'localhost' });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ state: 'running' });
    const status = await app.request('/rolling-restart');
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ state: 'done', steps: ['node-2: restarting'] });
    expect(s.seen).toEqual([
      { method: 'POST', url: '/rolling-restart?keep_leader=true&to=node-3', authorization: `Bearer ${SUPERVISOR_TOKEN}` },
      { method: 'GET', url: '/rolling-restart', authorization: `Bearer ${SUPERVISOR_TOKEN}` },
    ]);
  });

  it('answers 502 when the supervisor refuses the node\'s token, and 503 with Retry-After when it does not answer', async () => {
    const s = await standInSupervisor();
    const wrong = createRollingRoutes({ config: configWith(''), env: { CAIRN_SUPERVISOR_URL: s.url, CAIRN_SUPERVISOR_TOKEN: 'stale' } });
    const refused = await post(wrong, '');
    expect(refused.status).toBe(502);
    expect(await refused.json()).toMatchObject({ error: { code: 'supervisor_refused' } });
    const gone = createRollingRoutes({ config: configWith(''), env: { CAIRN_SUPERVISOR_URL: 'http://127.0.0.1:1', CAIRN_SUPERVISOR_TOKEN: SUPERVISOR_TOKEN } });
    const down = await post(gone, '');
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBe('1');
    expect(await down.json()).toMatchObject({ error: { code: 'supervisor_unavailable' } });
  });
});
