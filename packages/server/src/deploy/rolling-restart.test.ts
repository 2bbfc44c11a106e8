// The rolling restart's order and stops, against stand-in nodes on loopback that answer
// /_raft/health and /_raft/transfer-leadership as nodes do: a restarted node is away for a while,
// then back as a follower, and seen healthy by the leader a little later.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { hookCommand, rollingRestart, RollingRestartError } from './rolling-restart.ts';
import type { NodeRef } from './rolling-restart.ts';

interface FakeNode {
  id: string;
  url: string;
  /** Answers nothing while down (connection kept open until it is back). */
  down: boolean;
  /** Health as the leader reports it for this node. */
  health: string;
  leader: string;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

async function fakeCluster(): Promise<{ nodes: FakeNode[]; refs: NodeRef[]; transfers: string[] }> {
  const nodes: FakeNode[] = [];
  const transfers: string[] = [];
  for (const id of ['node-1', 'node-2', 'node-3']) {
    const node: FakeNode = { id, url: '', down: false, health: 'healthy', leader: 'node-1' };
    const server = createServer((req, res) => {
      req.resume();
      if (node.down) {
        res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'starting' }));
        return;
      }
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname === '/_raft/health') {
        const leading = node.leader === node.id;
        const body = {
          node_id: node.id,
          role: leading ? 'leader' : 'follower',
          leader_id: node.leader,
          status: 'in sync',
          follower_details: leading ? nodes.filter((n) => n.id !== node.id).map((n) => ({ node_id: n.id, address: n.url.slice(7), health: n.down ? 'lagging' : n.health, lag: 0 })) : [],
        };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        return;
      }
      if (url.pathname === '/_raft/transfer-leadership' && req.method === 'POST') {
        const target = url.searchParams.get('target') ?? '';
        transfers.push(`${node.id}->${target}`);
        for (const n of nodes) n.leader = target;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ leader: target }));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    servers.push(server);
    node.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    nodes.push(node);
  }
  return { nodes, refs: nodes.map((n) => ({ id: n.id, url: n.url })), transfers };
}

/** Restarts a stand-in node: away for awayMs, then back, seen healthy by the leader healthyAfterMs later. */
function restarterFor(nodes: FakeNode[], calls: Array<{ id: string; othersAway: string[] }>, opts: { awayMs?: number; healthyAfterMs?: number; never?: string } = {}) {
  return {
    async restart(ref: NodeRef): Promise<void> {
      const node = nodes.find((n) => n.id === ref.id) as FakeNode;
      calls.push({ id: ref.id, othersAway: nodes.filter((n) => n.id !== ref.id && (n.down || n.health !== 'healthy')).map((n) => n.id) });
      node.down = true;
      node.health = 'unknown';
      if (opts.never === ref.id) return;
      setTimeout(() => {
        node.down = false;
        setTimeout(() => (node.health = 'healthy'), opts.healthyAfterMs ?? 150);
      }, opts.awayMs ?? 150);
    },
  };
}

describe('rollingRestart', () => {
  it('restarts the followers one at a time, each once the one before is healthy, then the leader after a handover, and hands back with keepLeader', async () => {
    const { nodes, refs, transfers } = await fakeCluster();
    const calls: Array<{ id: string; othersAway: string[] }> = [];
    const lines: string[] = [];
    const r = await rollingRestart({ nodes: refs, restarter: restarterFor(nodes, calls), operatorToken: '', authToken: '', timeoutMs: 5_000, keepLeader: true, progress: (l) => lines.push(l), pollMs: 20 });
    expect(calls.map((c) => c.id)).toEqual(['node-2', 'node-3', 'node-1']);
    for (const c of calls) expect(c.othersAway, `when ${c.id} was restarted`).toEqual([]);
    expect(transfers).toEqual(['node-1->node-2', 'node-2->node-1']);
    expect(r).toEqual({ restarted: ['node-2', 'node-3', 'node-1'], from: 'node-1', leader: 'node-1' });
    expect(lines.filter((l) => !l.includes('back and healthy'))).toEqual([
      'node-1 leads; restarting node-2, node-3, then node-1 once node-2 leads',
      'node-2: restarting',
      'node-3: restarting',
      'leadership: node-1 -> node-2',
      'node-1: restarting',
      'leadership: node-2 -> node-1',
    ]);
  });

  it('leaves leadership with the follower named in to without keepLeader', async () => {
    const { nodes, refs, transfers } = await fakeCluster();
    const r = await rollingRestart({ nodes: refs, restarter: restarterFor(nodes, []), operatorToken: '', authToken: '', timeoutMs: 5_000, keepLeader: false, to: 'node-3', progress: () => undefined, pollMs: 20 });
    expect(transfers).toEqual(['node-1->node-3']);
    expect(r.leader).toBe('node-3');
  });

  it('stops at a node that does not come back, naming it and why, and restarts nothing after it', async () => {
    const { nodes, refs, transfers } = await fakeCluster();
    const calls: Array<{ id: string; othersAway: string[] }> = [];
    const run = rollingRestart({ nodes: refs, restarter: restarterFor(nodes, calls, { never: 'node-3' }), operatorToken: '', authToken: '', timeoutMs: 800, keepLeader: true, progress: () => undefined, pollMs: 20 });
    const err = (await run.catch((e: unknown) => e)) as RollingRestartError;
    expect(err).toBeInstanceOf(RollingRestartError);
    expect(err.message).toBe('node-3 did not come back within 800 ms: /_raft/health 503 (starting)');
    expect(err.restarted).toEqual(['node-2']);
    expect(err.leader).toBe('node-1');
    expect(calls.map((c) => c.id)).toEqual(['node-2', 'node-3']);
    expect(transfers).toEqual([]);
  });

  it('waits for the leader to see a restarted follower healthy, not only for it to answer', async () => {
    const { nodes, refs } = await fakeCluster();
    const calls: Array<{ id: string; othersAway: string[] }> = [];
    // Answers at once, healthy in the leader's view only 600 ms later.
    await rollingRestart({ nodes: refs, restarter: restarterFor(nodes, calls, { awayMs: 10, healthyAfterMs: 600 }), operatorToken: '', authToken: '', timeoutMs: 5_000, keepLeader: false, progress: () => undefined, pollMs: 20 });
    for (const c of calls) expect(c.othersAway, `when ${c.id} was restarted`).toEqual([]);
  });

  it('refuses to start on a cluster that is not healthy, restarting nothing', async () => {
    const { nodes, refs } = await fakeCluster();
    (nodes[2] as FakeNode).health = 'lagging';
    const calls: Array<{ id: string; othersAway: string[] }> = [];
    const err = (await rollingRestart({ nodes: refs, restarter: restarterFor(nodes, calls), operatorToken: '', authToken: '', timeoutMs: 300, keepLeader: false, progress: () => undefined, pollMs: 20 }).catch((e: unknown) => e)) as Error;
    expect(err.message).toBe('node-3 is not healthy before the restart: it did not become healthy within 300 ms: node-1 sees it lagging (lag 0)');
    expect(calls).toEqual([]);
  });

  it('stops with the reason when the restarter fails', async () => {
    const { refs } = await fakeCluster();
    const err = (await rollingRestart({
      nodes: refs,
      restarter: { restart: () => Promise.reject(new Error('the restart command exited with code 3')) },
      operatorToken: '',
      authToken: '',
      timeoutMs: 1_000,
      keepLeader: false,
      progress: () => undefined,
      pollMs: 20,
    }).catch((e: unknown) => e)) as RollingRestartError;
    expect(err.message).toBe('node-2: the restart command exited with code 3');
    expect(err.restarted).toEqual([]);
  });
});

describe('hookCommand', () => {
  it('fills in {node}, {url} and {address}', () => {
    expect(hookCommand('restart {node} at {address} ({url})', { id: 'node-2', url: 'http://10.0.0.2:8080' })).toBe('restart node-2 at 10.0.0.2:8080 (http://10.0.0.2:8080)');
  });

  it('refuses a value a shell would read as syntax', () => {
    expect(() => hookCommand('restart {node}', { id: 'node-2;rm -rf /', url: 'http://x' })).toThrow(/cannot go into a shell command/);
  });
});
