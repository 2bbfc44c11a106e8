// A follower in process (the real Replica and app, no socket of its own) whose leader is a
// recording HTTP server: every route declared a write is forwarded to the leader and counted as a
// write by the follower's metrics; reads are served where they arrive.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbedder } from '../embed/index.ts';
import { buildApp } from '../node.ts';
import type { NodeApp } from '../node.ts';
import { Replica } from '../replication/replica.ts';
import { documentStateFactory } from '../state-machine.ts';
import type { DocumentStore } from '../store/document-store.ts';
import { testConfig } from './public/testing.ts';
import { isDeclaredWrite } from './write-route.ts';

interface Seen {
  method: string;
  url: string;
  forwardedBy: string | undefined;
  requestId: string | undefined;
  body: string;
}

let leader: http.Server;
const seen: Seen[] = [];
let follower: NodeApp;
let replica: Replica<DocumentStore>;
let dir: string;

beforeAll(async () => {
  leader = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/_raft/health') {
        // A node with a new data directory asks who leads before it follows (roleAtStart 'ask').
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ node_id: 'node-1', role: 'leader', leading: true, leader_id: 'node-1', term: 1 }));
        return;
      }
      const header = (name: string): string | undefined => {
        const v = req.headers[name];
        return typeof v === 'string' ? v : undefined;
      };
      seen.push({ method: req.method ?? '', url: req.url ?? '', forwardedBy: header('x-cairn-forwarded-by'), requestId: header('x-request-id'), body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(201, { 'content-type': 'application/json', 'x-cairn-index': '0' });
      res.end(JSON.stringify({ answered_by: 'leader' }));
    });
  });
  await new Promise<void>((resolve) => leader.listen(0, '127.0.0.1', resolve));
  const leaderAddress = `127.0.0.1:${(leader.address() as AddressInfo).port}`;

  dir = mkdtempSync(join(tmpdir(), 'cairn-forward-'));
  const base = testConfig({ server: { data_dir: dir } });
  const config = {
    ...base,
    node_id: 'node-2',
    replication: { ...base.replication, nodes: [{ id: 'node-1', address: leaderAddress }, { id: 'node-2', address: '127.0.0.1:1' }], leader: 'node-1' },
  };
  const logger = pino({ level: 'silent' });
  replica = new Replica<DocumentStore>(config, documentStateFactory(createEmbedder(config.embedding)), logger);
  follower = buildApp(config, replica, logger);
  replica.start();
});

afterAll(async () => {
  follower.close();
  replica.close();
  await new Promise<void>((resolve) => leader.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

/** The declared write routes of the follower's app, one concrete request path each. */
function declaredWrites(): Array<{ method: string; path: string }> {
  const keys = new Set<string>();
  const out: Array<{ method: string; path: string }> = [];
  for (const r of follower.app.routes) {
    if (!isDeclaredWrite(r) || keys.has(`${r.method} ${r.path}`)) continue;
    keys.add(`${r.method} ${r.path}`);
    out.push({ method: r.method, path: r.path.replace(':workspace', 'ws-a').replace(':id', 'doc-1') });
  }
  return out;
}

describe('a follower', () => {
  it('forwards every declared write route to the leader and counts each as a write', async () => {
    expect(replica.isLeader()).toBe(false);
    const writes = declaredWrites();
    expect(writes.length).toBe(6);
    const counts = follower.operations.metrics.http.counts;
    const before = { ...counts };
    seen.length = 0;
    for (const w of writes) {
      const body = w.method === 'POST' ? JSON.stringify(w.path.endsWith('/bulk') ? [{ content: 'x' }] : { content: 'x' }) : undefined;
      const res = await follower.app.request(w.path, { method: w.method, headers: { 'content-type': 'application/json', 'x-workspace-id': 'ws-a' }, ...(body === undefined ? {} : { body }) });
      expect(res.status, `${w.method} ${w.path}`).toBe(201);
      expect(res.headers.get('x-cairn-leader')).toBe('node-1');
      expect(await res.json()).toEqual({ answered_by: 'leader' });
    }
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(writes.map((w) => `${w.method} ${w.path}`));
    expect(seen.every((s) => s.forwardedBy === 'node-2')).toBe(true);
    expect(seen.filter((s) => s.method === 'POST').every((s) => s.body.includes('"content":"x"'))).toBe(true);
    expect(counts.writes - before.writes).toBe(writes.length);
    expect(counts.queries - before.queries).toBe(0);
  });

  it('sends the leader the request id it answers, a new one when the client sent an unusable one', async () => {
    for (const given of ['client-id.1', 'not usable']) {
      seen.length = 0;
      const res = await follower.app.request('/api/v1/documents', { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': given }, body: '{"content":"x"}' });
      expect(res.status).toBe(201);
      const answered = res.headers.get('x-request-id');
      expect(answered).not.toBeNull();
      if (given === 'client-id.1') expect(answered).toBe(given);
      else expect(answered).not.toBe(given);
      expect(seen.map((s) => s.requestId)).toEqual([answered]);
    }
  });

  it('serves reads itself and does not count them as writes', async () => {
    const counts = follower.operations.metrics.http.counts;
    const before = { ...counts };
    seen.length = 0;
    const get = await follower.app.request('/api/v1/documents/doc-1', { headers: { 'x-workspace-id': 'ws-a' } });
    expect(get.status).toBe(404);
    const search = await follower.app.request('/workspace/ws-a/api/v1/search', { method: 'POST', body: JSON.stringify({ query: 'x' }) });
    expect(search.status).toBe(200);
    expect(seen).toEqual([]);
    expect(counts.writes - before.writes).toBe(0);
    expect(counts.queries - before.queries).toBe(2);
  });
});
