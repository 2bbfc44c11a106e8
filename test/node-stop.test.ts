// A node stopping on SIGTERM answers every request it has, then exits 0 (node.ts close(),
// http/drain.ts), on real processes: three nodes, nginx in front.
// - A write in flight on a follower is answered with the leader's 201 as soon as the leader has it
//   (the follower does not wait for its own apply, which no longer comes: the leader cannot reach a
//   stopping node), with Connection: close; meanwhile nginx sends that follower's workspace to
//   another node.
// - A read in flight through nginx that the stopping node cannot answer gets 503 shutting_down by
//   the drain deadline, and nginx passes it to another node, which answers it.
// - A write whose leader does not answer (SIGSTOPped) gets 503 shutting_down with Retry-After by
//   the deadline, not a connection cut without an answer.
// A request is known to be in flight when the node has answered its `Expect: 100-continue`.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from './helpers/cluster.ts';
import type { TestCluster, TestNode } from './helpers/cluster.ts';
import { startNginx } from './helpers/nginx.ts';
import type { TestNginx } from './helpers/nginx.ts';
import { freePort } from './helpers/ports.ts';
import { httpStatus, waitFor } from './helpers/wait.ts';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * A POST sent in two parts over one connection: the head with `Expect: 100-continue` (resolves
 * once the node answers 100 Continue: it is handling the request), then `send()` the body and
 * `answer` is the node's answer, or status 0 when the connection ended without one.
 */
async function halfSentPost(url: string, path: string, headers: Record<string, string>, body: string): Promise<{ send(): void; answer: Promise<RawAnswer> }> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect(Number(port), hostname);
  const bytes = Buffer.from(body, 'utf8');
  const head = [`POST ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, 'Content-Type: application/json', `Content-Length: ${bytes.length}`, 'Expect: 100-continue', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''].join('\r\n');
  let received = '';
  let continued: () => void = () => undefined;
  const continuedP = new Promise<void>((resolve) => (continued = resolve));
  const answer = new Promise<RawAnswer>((resolve) => {
    socket.on('data', (d: Buffer) => {
      received += d.toString('utf8');
      if (/^HTTP\/1\.1 100 /.test(received) && received.includes('\r\n\r\n')) {
        received = received.slice(received.indexOf('\r\n\r\n') + 4);
        continued();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const at = received.indexOf('\r\n\r\n');
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(received);
      if (at < 0 || status === null) {
        resolve({ status: 0, headers: {}, body: received });
        return;
      }
      const lines = received.slice(0, at).split('\r\n').slice(1);
      const hs: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        hs[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({ status: Number(status[1]), headers: hs, body: received.slice(at + 4) });
    });
  });
  socket.write(head);
  await Promise.race([
    continuedP,
    answer.then((a) => {
      throw new Error(`the node answered before 100 Continue: ${a.status} ${a.body}`);
    }),
  ]);
  return {
    send: () => socket.write(bytes),
    answer,
  };
}

/** A workspace nginx sends to `node` (by its X-Served-By). */
async function workspaceOn(lb: TestNginx, node: string, prefix: string): Promise<string> {
  for (let i = 0; i < 500; i++) {
    const workspace = `${prefix}-${i}`;
    const res = await fetch(`${lb.url}/health`, { headers: { 'x-workspace-id': workspace } });
    await res.arrayBuffer();
    if (res.headers.get('x-served-by') === node) return workspace;
  }
  throw new Error(`no workspace of 500 goes to ${node}`);
}

/** SIGTERM, then wait until the node's port refuses connections (it is draining or gone). */
async function sigterm(node: TestNode): Promise<void> {
  node.process.signal('SIGTERM');
  await waitFor(async () => (await httpStatus(`${node.url}/_raft/health`, 500)) === undefined, { what: `${node.id} to stop listening` });
}

async function startAgain(node: TestNode): Promise<void> {
  await node.process.waitExit(20_000);
  expect(node.process.exitCode, node.logTail()).toBe(0);
  node.start();
  await node.waitReady('in-sync', 60_000);
}

async function write(url: string, workspace: string, id: string): Promise<{ status: number; servedBy: string | null; index: number }> {
  const res = await fetch(`${url}/api/v1/documents?write_concern=quorum`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-workspace-id': workspace },
    body: JSON.stringify({ id, content: `stop test ${id}` }),
    signal: AbortSignal.timeout(15_000),
  });
  const body = (await res.json()) as { index?: number };
  return { status: res.status, servedBy: res.headers.get('x-served-by'), index: body.index ?? 0 };
}

describe('a node stopping on SIGTERM (three real nodes, nginx in front)', () => {
  let cluster: TestCluster;
  let lb: TestNginx;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3, startTimeoutMs: 120_000 });
    lb = await startNginx(cluster.config, await freePort());
  }, 180_000);
  afterAll(async () => {
    await lb?.stop();
    await cluster?.stop();
  });

  it("answers a write in flight on a follower with the leader's 201, while nginx sends the follower's workspace to another node", async () => {
    const node2 = cluster.node('node-2');
    const workspace = await workspaceOn(lb, 'node-2', 'stop-write');
    const held = await halfSentPost(node2.url, '/api/v1/documents?write_concern=quorum', { 'X-Workspace-ID': workspace }, JSON.stringify({ id: 'in-flight', content: 'sent as node-2 stops' }));
    await sigterm(node2);

    // node-2 still has the write; nginx reaches it no more and takes its workspace elsewhere.
    const viaNginx = await write(lb.url, workspace, 'via-nginx');
    expect(viaNginx.status).toBe(201);
    expect(viaNginx.servedBy).not.toBe('node-2');

    held.send();
    const answer = await held.answer;
    expect(answer.status, `${answer.body}\n${cluster.logs()}`).toBe(201);
    expect(answer.headers['connection']).toBe('close');
    expect(answer.headers['x-served-by']).toBe('node-2');
    const doc = await fetch(`${cluster.leader.url}/api/v1/documents/in-flight`, { headers: { 'x-workspace-id': workspace } });
    expect(doc.status).toBe(200);
    await startAgain(node2);
  }, 120_000);

  it('answers a read it cannot serve 503 shutting_down by the deadline, and nginx passes it to another node', async () => {
    const node2 = cluster.node('node-2');
    const workspace = await workspaceOn(lb, 'node-2', 'stop-read');
    const first = await write(cluster.leader.url, workspace, 'before');
    expect(first.status).toBe(201);
    // A read of an index that does not exist yet waits on node-2 (read_wait_ms_max, 5 s).
    const read = fetch(`${lb.url}/api/v1/documents/after?min_index=${first.index + 1}`, { headers: { 'x-workspace-id': workspace }, signal: AbortSignal.timeout(30_000) }).then(async (res) => ({
      status: res.status,
      servedBy: res.headers.get('x-served-by'),
      body: await res.text(),
    }));
    await waitFor(
      async () => {
        const res = await fetch(`${node2.url}/health`, { headers: { 'x-workspace-id': workspace } });
        const health = (await res.json()) as { workspaces?: { workspaces?: Record<string, { active_requests?: number }> } };
        return (health.workspaces?.workspaces?.[workspace]?.active_requests ?? 0) >= 1;
      },
      { what: 'the read to wait on node-2' },
    );
    await sigterm(node2);
    // The index comes now, on the nodes that still take appends.
    expect((await write(cluster.leader.url, workspace, 'after')).status).toBe(201);
    const answer = await read;
    expect(answer.status, answer.body).toBe(200);
    expect(answer.servedBy).not.toBe('node-2');
    expect(lb.accessLog()).toMatch(/GET \/api\/v1\/documents\/after\?min_index=\d+ HTTP\/1\.1" 200 .*upstream=127\.0\.0\.1:\d+, 127\.0\.0\.1:\d+/);
    expect(node2.logTail(200)).toMatch(/"path":"\/api\/v1\/documents\/after","status":503/);
    await startAgain(node2);
  }, 120_000);

  it('answers a write whose leader does not answer 503 shutting_down with Retry-After by the deadline, not a cut connection', async () => {
    const node3 = cluster.node('node-3');
    const held = await halfSentPost(node3.url, '/api/v1/documents?write_concern=quorum', { 'X-Workspace-ID': 'stop-stuck' }, JSON.stringify({ id: 'stuck', content: 'the leader is paused' }));
    cluster.leader.pause();
    try {
      held.send();
      await sigterm(node3);
      const answer = await held.answer;
      expect(answer.status, `${answer.body}\n${cluster.logs()}`).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'shutting_down' } });
      expect(answer.headers['retry-after']).toBe('1');
      expect(answer.headers['connection']).toBe('close');
    } finally {
      cluster.leader.resume();
    }
    await startAgain(node3);
  }, 120_000);
});
