// nginx in front of three real `cairn serve` processes when nodes die and come back: reads of a
// workspace whose node was killed are passed to the next node from the first request on, and
// after kill -9 of all three nodes and a restart, writes through nginx succeed again within a
// second of the nodes' own first successful write (nginx no longer keeps the nodes out of
// rotation for fail_timeout after they answer).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { requireNginx, startNginx } from './helpers/nginx.ts';
import type { TestNginx } from './helpers/nginx.ts';
import { freePort } from './helpers/ports.ts';
import { httpStatus, waitFor } from './helpers/wait.ts';

let cluster: TestCluster;
let lb: TestNginx;

interface Answer {
  status: number;
  node: string | null;
  body: Record<string, unknown>;
}

async function call(base: string, workspace: string, path: string, init: { method?: string; body?: unknown; timeoutMs?: number } = {}): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'X-Workspace-ID': workspace, ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(init.timeoutMs ?? 20_000),
  });
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: response.status, node: response.headers.get('x-served-by'), body };
}

/** A workspace that nginx sends to `node`. */
async function workspaceOn(node: string, prefix: string): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const workspace = `${prefix}-${i}`;
    if ((await call(lb.url, workspace, '/health')).node === node) return workspace;
  }
  throw new Error(`no workspace ${prefix}-* hashes to ${node}`);
}

/** Calls `attempt` every `intervalMs` until it returns true; the time of that success. */
async function firstSuccess(attempt: () => Promise<boolean>, what: string, intervalMs = 20, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const started = Date.now();
    const ok = await attempt().catch(() => false);
    if (ok) return started;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - (Date.now() - started))));
  }
}

beforeAll(async () => {
  requireNginx();
  cluster = await startCluster({ nodes: 3 });
  lb = await startNginx(cluster.config, await freePort());
}, 120_000);

afterAll(async () => {
  await lb?.stop();
  await cluster?.stop();
});

describe('nginx when nodes die and come back', () => {
  it('passes every read of a workspace whose node was killed to the next node, from the first request', async () => {
    const leader = cluster.leader.id;
    const workspace = await workspaceOn(leader, 'reads');
    const write = await call(lb.url, workspace, '/api/v1/documents', { method: 'POST', body: { id: 'kept', content: 'enforcement patterns for reviews' } });
    expect(write.status, JSON.stringify(write.body)).toBe(201);
    for (const node of cluster.nodes) {
      await waitFor(async () => (await call(node.url, workspace, `/api/v1/documents/kept?min_index=${String(write.body['index'])}`)).status === 200, {
        what: `"kept" on ${node.id}`,
      });
    }

    await cluster.node(leader).kill9();
    const reads = [
      () => call(lb.url, workspace, '/api/v1/documents/kept'),
      () => call(lb.url, workspace, '/api/v1/documents?limit=5'),
      () => call(lb.url, workspace, '/api/v1/documents/search?q=enforcement'),
      () => call(lb.url, workspace, '/api/v1/search', { method: 'POST', body: { query: 'enforcement patterns', k: 3 } }),
      () => call(lb.url, workspace, '/api/v1/assemble', { method: 'POST', body: { query: 'enforcement patterns' } }),
    ];
    for (let round = 0; round < 3; round++) {
      for (const read of reads) {
        const answer = await read();
        expect(answer.status, `${JSON.stringify(answer.body)}\n${lb.errorLog()}`).toBe(200);
        expect(answer.node).not.toBe(leader);
      }
    }
    // A write cannot be committed without the leader: the follower's own fast 503, not nginx's.
    const refused = await call(lb.url, workspace, '/api/v1/documents', { method: 'POST', body: { id: 'refused', content: 'x' } });
    expect(refused.status).toBe(503);
    expect(refused.node).not.toBe(leader);
    await cluster.node(leader).restart('in-sync');
  });

  it('takes writes again within a second of the nodes after kill -9 of all three and a restart', async () => {
    const workspace = 'full-restart';
    const first = await call(lb.url, workspace, '/api/v1/documents', { method: 'POST', body: { id: 'before', content: 'before the restart' } });
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    const target = first.node as string;
    let seq = 0;
    const writeVia = async (base: string): Promise<boolean> => {
      const answer = await call(base, workspace, '/api/v1/documents', { method: 'POST', body: { id: `w-${seq++}`, content: 'after' }, timeoutMs: 5_000 });
      return answer.status === 201;
    };

    await Promise.all(cluster.nodes.map((n) => n.kill9()));
    // Writes fail on nginx while the nodes are down, so nginx has marked every node failed.
    for (let i = 0; i < 10; i++) expect(await writeVia(lb.url)).toBe(false);
    for (const node of cluster.nodes) node.start();
    const answering = cluster.nodes.map((node) => firstSuccess(async () => (await httpStatus(`${node.url}/_raft/health`, 500)) !== undefined, `${node.id} answering`));
    const direct = firstSuccess(() => writeVia(cluster.node(target).url), `a write on ${target}`);
    const viaNginx = firstSuccess(() => writeVia(lb.url), 'a write through nginx');
    const [answeredAt, directAt, nginxAt] = [Math.max(...(await Promise.all(answering))), await direct, await viaNginx];

    const sinceAnswering = nginxAt - answeredAt;
    const sinceDirect = nginxAt - directAt;
    process.stdout.write(`full restart: all nodes answering -> first write through nginx ${sinceAnswering} ms; first write on ${target} directly -> through nginx ${sinceDirect} ms\n`);
    // nginx skips a failed node until the end of the second it failed in; the rest is polling.
    expect(sinceDirect, lb.errorLog()).toBeLessThan(1_500);
    // Generous: the nodes themselves take writes a while after their port answers.
    expect(sinceAnswering, cluster.logs(10)).toBeLessThan(5_000);
    const read = await call(lb.url, workspace, '/api/v1/documents/before');
    expect(read.status).toBe(200);
  });
});
