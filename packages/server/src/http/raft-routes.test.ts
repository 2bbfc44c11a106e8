// Which credential each /_raft route takes, and the cross-site check on its POST routes, on
// in-memory replicas (the real Replica and routes, no socket except the stand-in leader that a
// follower forwards force-resync to).
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { CairnConfig } from '../config/types.ts';
import { createEmbedder } from '../embed/index.ts';
import { Replica } from '../replication/replica.ts';
import { documentStateFactory } from '../state-machine.ts';
import type { DocumentStore } from '../store/document-store.ts';
import { testConfig } from './public/testing.ts';
import { createRaftRoutes } from './raft-routes.ts';
import { openOneNode } from '../testing/one-node.ts';

/** Header sets to try in turn. */
function headerSets(...sets: Array<Record<string, string>>): Array<Record<string, string>> {
  return sets;
}

const SECRET = 'cluster-secret';
const OPERATOR = 'operator-token';
const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function routesOf(opts: { nodeId?: string; leaderAddress?: string; operator_token?: string; allowed_origins?: string[] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-raft-routes-'));
  const base = testConfig({ server: { data_dir: dir, allowed_origins: opts.allowed_origins ?? [] } });
  const config: CairnConfig = {
    ...base,
    node_id: opts.nodeId ?? 'node-1',
    replication: {
      ...base.replication,
      secret: SECRET,
      operator_token: opts.operator_token ?? OPERATOR,
      leader: 'node-1',
      nodes: [
        { id: 'node-1', address: opts.leaderAddress ?? '127.0.0.1:1' },
        { id: 'node-2', address: '127.0.0.1:2' },
      ],
    },
  };
  const replica = new Replica<DocumentStore>(config, documentStateFactory(createEmbedder(config.embedding)), pino({ level: 'silent' }));
  if (config.node_id === 'node-1') replica.start();
  cleanups.push(() => {
    replica.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return createRaftRoutes({ replica, stateChecksum: () => '' });
}

const resync = (app: Hono, headers: Record<string, string>) => app.request('/force-resync?target=nobody', { method: 'POST', headers });

describe('POST /_raft/force-resync credentials', () => {
  it('takes the operator token, as Bearer or X-Cairn-Operator-Token', async () => {
    const app = routesOf();
    for (const headers of headerSets({ authorization: `Bearer ${OPERATOR}` }, { 'x-cairn-operator-token': OPERATOR })) {
      const res = await resync(app, headers);
      // Past the credential check: the leader answers about the target (unknown, or recovering).
      expect([404, 503]).toContain(res.status);
    }
  });

  it('refuses the cluster secret, in any header, and no credential at all', async () => {
    const app = routesOf();
    for (const headers of headerSets({}, { 'x-cairn-secret': SECRET }, { authorization: `Bearer ${SECRET}` }, { 'x-cairn-operator-token': SECRET }, { authorization: 'Bearer wrong' })) {
      const res = await resync(app, headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
    }
  });

  it('is open without an operator token (a local cluster)', async () => {
    const res = await resync(routesOf({ operator_token: '' }), {});
    expect([404, 503]).toContain(res.status);
  });
});

describe('replication routes take the cluster secret only', () => {
  it.each(['/log-position', '/log-entries?from=1&to=1', '/state-snapshot'])('GET %s refuses the operator token', async (path) => {
    const app = routesOf();
    for (const headers of headerSets({ 'x-cairn-secret': OPERATOR }, { authorization: `Bearer ${OPERATOR}` }, { authorization: `Bearer ${SECRET}` })) {
      expect((await app.request(path, { headers })).status).toBe(401);
    }
    expect((await app.request('/log-position', { headers: { 'x-cairn-secret': SECRET } })).status).toBe(200);
  });

  it.each(['/append', '/digest', '/snapshot'])('POST %s refuses the operator token', async (path) => {
    const app = routesOf();
    for (const headers of headerSets({ 'x-cairn-secret': OPERATOR }, { authorization: `Bearer ${OPERATOR}` })) {
      expect((await app.request(path, { method: 'POST', headers, body: new Uint8Array([0x80]) })).status).toBe(401);
    }
  });
});

describe('a follower passes force-resync on to the leader', () => {
  async function standInLeader() {
    const seen: Array<Record<string, string>> = [];
    const leader = new Hono();
    leader.post('/_raft/force-resync', (c) => {
      seen.push(Object.fromEntries(c.req.raw.headers.entries()));
      return c.json({ target: c.req.query('target'), success: true, message: 'done' });
    });
    const server = await new Promise<Server>((resolve) => {
      const s = serve({ fetch: leader.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s as Server));
    });
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  }

  it('with the caller\'s credential, not its own cluster secret', async () => {
    const leader = await standInLeader();
    const follower = routesOf({ nodeId: 'node-2', leaderAddress: leader.address });
    const res = await follower.request('/force-resync?target=node-2', { method: 'POST', headers: { authorization: `Bearer ${OPERATOR}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ target: 'node-2', success: true });
    expect(leader.seen).toHaveLength(1);
    expect(leader.seen[0]?.['authorization']).toBe(`Bearer ${OPERATOR}`);
    expect(leader.seen[0]).not.toHaveProperty('x-cairn-secret');
    expect(Object.values(leader.seen[0] ?? {})).not.toContain(SECRET);

    const viaHeader = await follower.request('/force-resync?target=node-2', { method: 'POST', headers: { 'x-cairn-operator-token': OPERATOR } });
    expect(viaHeader.status).toBe(200);
    expect(leader.seen[1]?.['x-cairn-operator-token']).toBe(OPERATOR);
    expect(leader.seen[1]).not.toHaveProperty('authorization');
  });

  it('refuses a caller without the operator token before asking the leader', async () => {
    const leader = await standInLeader();
    const follower = routesOf({ nodeId: 'node-2', leaderAddress: leader.address });
    expect((await follower.request('/force-resync?target=node-2', { method: 'POST', headers: { 'x-cairn-secret': SECRET } })).status).toBe(401);
    expect(leader.seen).toHaveLength(0);
  });
});

describe('POST /_raft/* refuses cross-site browser requests', () => {
  it.each(['/force-resync?target=nobody', '/append', '/digest', '/snapshot'])('POST %s: 403 cross_site for a foreign Origin or Sec-Fetch-Site: cross-site', async (path) => {
    const app = routesOf({ operator_token: '' });
    for (const headers of headerSets({ origin: 'http://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { origin: 'null' })) {
      const res = await app.request(path, { method: 'POST', headers: { ...headers, 'x-cairn-secret': SECRET, authorization: `Bearer ${OPERATOR}` }, body: new Uint8Array([0x80]) });
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ error: { code: 'cross_site' } });
    }
  });

  it('passes the node\'s own page, an allowed origin, and requests with neither header', async () => {
    const app = routesOf({ operator_token: '', allowed_origins: ['https://ops.example'] });
    const own = await app.request('http://127.0.0.1:8080/force-resync?target=nobody', { method: 'POST', headers: { origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-origin', host: '127.0.0.1:8080' } });
    expect([404, 503]).toContain(own.status);
    const allowed = await app.request('/force-resync?target=nobody', { method: 'POST', headers: { origin: 'https://ops.example', 'sec-fetch-site': 'cross-site' } });
    expect([404, 503]).toContain(allowed.status);
    expect([404, 503]).toContain((await app.request('/force-resync?target=nobody', { method: 'POST' })).status);
  });

  it('leaves the GET routes to anyone', async () => {
    const app = routesOf();
    expect((await app.request('/sync-status', { headers: { origin: 'http://evil.example' } })).status).toBe(200);
  });
});

describe('GET /_raft/resync_stats', () => {
  it("answers the replication overview's keys beside the counters' own names, with the same values", async () => {
    const node = openOneNode();
    cleanups.push(() => node.close());
    Object.assign(node.replica.stats, { snapshots_created: 2, snapshot_send_attempts: 3, snapshot_send_successes: 2, snapshot_send_failures: 1 });
    const res = await node.app.request('/_raft/resync_stats');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { node_id: string; is_leader: boolean; resync_stats: Record<string, unknown> };
    expect(body).toMatchObject({ node_id: 'node-1', is_leader: true });
    expect(body.resync_stats).toMatchObject({
      snapshots_created: 2, send_attempts: 3, send_successes: 2, send_failures: 1,
      snapshot_send_attempts: 3, snapshot_send_successes: 2, snapshot_send_failures: 1,
    });
  });
});
