// The production shape on loopback: the machine's nginx, with the config `cairn nginx-config`
// renders, in front of three real `cairn serve` processes. Workspaces stick to one node and
// spread over all three; a write through nginx to a follower is readable at once and everywhere;
// when a follower that a workspace hashes to is gone, its reads and writes move to another node.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { requireNginx, startNginx } from './helpers/nginx.ts';
import type { TestNginx } from './helpers/nginx.ts';
import { freePort } from './helpers/ports.ts';
import { waitFor } from './helpers/wait.ts';

let cluster: TestCluster;
let lb: TestNginx;

interface Answer {
  status: number;
  node: string | null;
  index: number | undefined;
  body: Record<string, unknown>;
}

async function call(base: string, workspace: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'X-Workspace-ID': workspace, ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  const index = response.headers.get('x-cairn-index');
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: response.status, node: response.headers.get('x-served-by'), index: index === null ? undefined : Number(index), body };
}

const viaNginx = (workspace: string, path: string, init?: { method?: string; body?: unknown }): Promise<Answer> =>
  call(lb.url, workspace, path, init);

/** The node nginx sends `workspace` to now. */
async function nodeOf(workspace: string): Promise<string> {
  const answer = await viaNginx(workspace, '/health');
  expect(answer.status).toBe(200);
  if (answer.node === null) throw new Error(`no X-Served-By for ${workspace}: ${JSON.stringify(answer.body)}`);
  return answer.node;
}

/** A workspace that nginx hashes to a follower, and that follower. */
async function workspaceOnFollower(prefix: string, exclude: string[] = []): Promise<{ workspace: string; node: string }> {
  const leader = cluster.config.replication.leader;
  for (let i = 0; i < 200; i++) {
    const workspace = `${prefix}-${i}`;
    const node = await nodeOf(workspace);
    if (node !== leader && !exclude.includes(node)) return { workspace, node };
  }
  throw new Error(`no workspace ${prefix}-* hashes to a follower`);
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

describe('nginx in front of three nodes', () => {
  it('sends every request of one workspace to the same node', async () => {
    const first = await nodeOf('sticky-ws');
    for (let i = 0; i < 15; i++) {
      const path = i % 3 === 0 ? '/health' : i % 3 === 1 ? '/api/v1/documents?limit=1' : '/api/v1/documents/absent-doc';
      const answer = await viaNginx('sticky-ws', path);
      expect(answer.node).toBe(first);
    }
  });

  it('spreads 30 workspaces over all three nodes', async () => {
    // With the guide's weights 3/2/1 node-3 owns about 1/6 of the hash ring (which depends on
    // the nodes' random ports): 30 workspaces all miss it with probability about 0.5 %.
    const counts = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const node = await nodeOf(`spread-${i}`);
      counts.set(node, (counts.get(node) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual(['node-1', 'node-2', 'node-3']);
  });

  it('serves /health per workspace and /_raft/* from the leader', async () => {
    const health = await viaNginx('sticky-ws', '/health');
    expect(health.status).toBe(200);
    expect(health.body['status'], JSON.stringify(health.body)).toBe('healthy');
    expect(health.body['node_id']).toBe(health.node);
    expect(health.body['conditions']).toEqual([]);
    for (const path of ['/_raft/sync-status', '/_raft/health', '/_raft/resync_stats']) {
      const answer = await viaNginx('any-ws', path);
      expect(answer.status, `${path}: ${JSON.stringify(answer.body)}`).toBe(200);
      expect(answer.node).toBe(cluster.config.replication.leader);
    }
  });

  it('makes a write through nginx to a follower readable at once, and on every node afterwards', async () => {
    const { workspace, node } = await workspaceOnFollower('rw');
    const write = await viaNginx(workspace, '/api/v1/documents', {
      method: 'POST',
      body: { id: 'doc-rw', content: 'Cairn keeps a workspace on one node through nginx.', path: 'notes/rw.md' },
    });
    expect(write.status, JSON.stringify(write.body)).toBe(201);
    expect(write.node).toBe(node);
    expect(write.index).toBeGreaterThan(0);

    const read = await viaNginx(workspace, '/api/v1/documents/doc-rw');
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    expect(read.node).toBe(node);
    expect(read.body['content']).toBe('Cairn keeps a workspace on one node through nginx.');

    for (const direct of cluster.nodes) {
      const answer = await waitFor(
        async () => {
          const a = await call(direct.url, workspace, '/api/v1/documents/doc-rw');
          return a.status === 200 ? a : undefined;
        },
        { what: `doc-rw on ${direct.id}`, timeoutMs: 10_000 },
      );
      expect(answer.node).toBe(direct.id);
      expect(answer.body['content']).toBe('Cairn keeps a workspace on one node through nginx.');
    }
  });

  it('moves reads and writes of a workspace to another node when its follower is down', async () => {
    const { workspace, node } = await workspaceOnFollower('failover');
    const before = await viaNginx(workspace, '/api/v1/documents', { method: 'POST', body: { id: 'before', content: 'written before the node went down' } });
    expect(before.status, JSON.stringify(before.body)).toBe(201);
    // Every node has it before the one serving the workspace goes away.
    for (const direct of cluster.nodes) {
      await waitFor(async () => (await call(direct.url, workspace, `/api/v1/documents/before?min_index=${before.index}`)).status === 200, {
        what: `"before" on ${direct.id}`,
        timeoutMs: 10_000,
      });
    }

    await cluster.node(node).kill9();

    for (let i = 0; i < 5; i++) {
      const write = await viaNginx(workspace, '/api/v1/documents', { method: 'POST', body: { id: `after-${i}`, content: `written with ${node} down, ${i}` } });
      expect(write.status, `${JSON.stringify(write.body)}\n${cluster.logs(10)}`).toBe(201);
      expect(write.node).not.toBe(node);
      const read = await viaNginx(workspace, `/api/v1/documents/after-${i}`);
      expect(read.status, JSON.stringify(read.body)).toBe(200);
      expect(read.node).not.toBe(node);
      expect(read.body['content']).toBe(`written with ${node} down, ${i}`);
    }
    const old = await viaNginx(workspace, '/api/v1/documents/before');
    expect(old.status).toBe(200);
    expect(old.body['content']).toBe('written before the node went down');
    // The workspace settled on one other node.
    const nodes = new Set<string | null>();
    for (let i = 0; i < 5; i++) nodes.add((await viaNginx(workspace, '/health')).node);
    expect(nodes.size).toBe(1);
    expect(nodes.has(node)).toBe(false);
  });
});
