// A planned handover of leadership on three real node processes: POST /_raft/transfer-leadership
// (through a follower, which passes it on to the leader) while a client writes at a steady rate.
// Every acknowledged write is on every node afterwards, the old leader forwards writes to the new
// one, writes stopped for well under a second, the new leader leads after every node restarts,
// leadership goes back the same way, and a follower that is down is refused as a target.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { waitFor } from './helpers/wait.ts';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const ws = 'handover';

interface Health {
  node_id: string;
  role: string;
  leader_id: string;
  term: number;
  last_log_index: number;
}

async function health(url: string): Promise<Health> {
  const res = await fetch(`${url}/_raft/health`, { signal: AbortSignal.timeout(5_000) });
  return (await res.json()) as Health;
}

async function put(url: string, id: string): Promise<{ status: number; index: number; leader: string | null; retryAfter: string | null }> {
  try {
    const res = await fetch(`${url}/api/v1/documents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-workspace-id': ws },
      body: JSON.stringify({ id, content: `document ${id} written around a handover` }),
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return { status: res.status, index: Number(res.headers.get('x-cairn-index') ?? '0'), leader: res.headers.get('x-cairn-leader'), retryAfter: res.headers.get('retry-after') };
  } catch {
    return { status: 0, index: 0, leader: null, retryAfter: null };
  }
}

async function transfer(url: string, target: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/_raft/transfer-leadership?target=${encodeURIComponent(target)}`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('leader handover', () => {
  it('hands leadership over under writes without losing one, durably, and back', async () => {
    cluster = await startCluster({ nodes: 3 });
    const [n1, n2, n3] = cluster.nodes as [NonNullable<TestCluster['nodes'][number]>, NonNullable<TestCluster['nodes'][number]>, NonNullable<TestCluster['nodes'][number]>];
    const before = await health(n1.url);
    expect(before).toMatchObject({ role: 'leader', leader_id: 'node-1' });

    // A writer at a steady rate through node-1, the leader at first, a follower afterwards.
    const acked = new Map<string, number>();
    const failures: Array<{ at: number; status: number; retryAfter: string | null }> = [];
    let writing = true;
    let n = 0;
    const started = performance.now();
    const writer = (async () => {
      while (writing) {
        const id = `w${n++}`;
        const r = await put(n1.url, id);
        if (r.status === 201) acked.set(id, r.index);
        else failures.push({ at: performance.now() - started, status: r.status, retryAfter: r.retryAfter });
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    await waitFor(async () => acked.size >= 30, { what: '30 writes before the handover', timeoutMs: 20_000 });

    // Through a follower that is not the target: it passes the request on to the leader.
    const handed = await transfer(n3.url, 'node-2');
    expect(handed.status, JSON.stringify(handed.body)).toBe(200);
    expect(handed.body).toMatchObject({ leader: 'node-2', confirmed: true });
    const ackedAtHandover = acked.size;
    await waitFor(async () => acked.size >= ackedAtHandover + 30, { what: '30 writes after the handover', timeoutMs: 20_000 });
    writing = false;
    await writer;

    for (const node of [n1, n2, n3]) {
      const h = await health(node.url);
      expect(h.leader_id, node.id).toBe('node-2');
      expect(h.role, node.id).toBe(node.id === 'node-2' ? 'leader' : 'follower');
    }
    const after = await health(n2.url);
    expect(after.term).toBeGreaterThan(before.term);
    // Writes stopped for well under a second, and what failed said to retry.
    for (const f of failures) expect([503], JSON.stringify(f)).toContain(f.status);
    for (const f of failures) expect(f.retryAfter).not.toBeNull();
    const span = failures.length === 0 ? 0 : (failures.at(-1)?.at ?? 0) - (failures[0]?.at ?? 0);
    expect(span, JSON.stringify(failures)).toBeLessThan(2_000);
    // The old leader forwards: a write sent to it is answered by the new one.
    const forwarded = await put(n1.url, 'through-the-old-leader');
    expect(forwarded).toMatchObject({ status: 201, leader: 'node-2' });
    acked.set('through-the-old-leader', forwarded.index);

    // Every acknowledged write is on every node.
    const last = Math.max(...acked.values());
    for (const node of [n1, n2, n3]) {
      const res = await fetch(`${node.url}/api/v1/documents?limit=1000&min_index=${last}`, { headers: { 'x-workspace-id': ws } });
      expect(res.status).toBe(200);
      const ids = new Set(((await res.json()) as { documents: Array<{ id: string }> }).documents.map((d) => d.id));
      const missing = [...acked.keys()].filter((id) => !ids.has(id));
      expect(missing, `${node.id} lacks acknowledged writes`).toEqual([]);
    }

    // Durable: after every node is killed and started again, node-2 still leads.
    for (const node of [n1, n2, n3]) await node.kill9();
    for (const node of [n1, n2, n3]) node.start();
    for (const node of [n1, n2, n3]) await node.waitReady('answering');
    await waitFor(async () => (await put(n3.url, 'after-restart')).status === 201, { what: 'a write after the restart', timeoutMs: 30_000 });
    for (const node of [n1, n2, n3]) expect((await health(node.url)).leader_id, node.id).toBe('node-2');

    // A follower that is down is refused as a target, with the reason.
    await n3.kill9();
    await waitFor(
      async () => {
        const s = (await (await fetch(`${n2.url}/_raft/sync-status`)).json()) as { followers: Array<{ node_id: string; health: string }> };
        return s.followers.find((f) => f.node_id === 'node-3')?.health !== 'healthy';
      },
      { what: 'node-3 seen as not healthy', timeoutMs: 30_000 },
    );
    const refused = await transfer(n2.url, 'node-3');
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { code: 'target_unhealthy' } });
    expect((await put(n1.url, 'still-writable')).status).toBe(201);

    // And back to node-1, through the leader itself.
    const back = await transfer(n2.url, 'node-1');
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect(back.body).toMatchObject({ leader: 'node-1', confirmed: true });
    await waitFor(async () => (await put(n1.url, 'back-on-node-1')).status === 201, { what: 'a write on node-1 leading again', timeoutMs: 10_000 });
    expect((await health(n1.url))).toMatchObject({ role: 'leader', leader_id: 'node-1' });
    expect((await health(n2.url))).toMatchObject({ role: 'follower', leader_id: 'node-1' });
  }, 180_000);

  it('a configured leader whose data directory is gone follows the node that leads instead of leading', async () => {
    cluster = await startCluster({ nodes: 3 });
    const [n1, n2, n3] = cluster.nodes as [NonNullable<TestCluster['nodes'][number]>, NonNullable<TestCluster['nodes'][number]>, NonNullable<TestCluster['nodes'][number]>];
    const acked: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await put(n1.url, `before-${i}`);
      expect(r.status).toBe(201);
      acked.push(`before-${i}`);
    }
    const handed = await transfer(n1.url, 'node-2');
    expect(handed.status, JSON.stringify(handed.body)).toBe(200);
    await waitFor(async () => (await put(n3.url, 'after-handover')).status === 201, { what: 'a write after the handover', timeoutMs: 10_000 });
    acked.push('after-handover');

    // node-1 (replication.leader in the config) loses its whole data directory, handover record included.
    await n1.kill9();
    rmSync(join(cluster.dir, 'data', 'node-1'), { recursive: true, force: true });
    n1.start();
    await n1.waitReady('answering');
    await waitFor(async () => (await health(n1.url)).role === 'follower', { what: 'node-1 to follow', timeoutMs: 30_000 });
    expect((await health(n1.url)).leader_id).toBe('node-2');
    expect((await health(n2.url))).toMatchObject({ role: 'leader', leader_id: 'node-2' });
    // It takes writes by forwarding them, and holds every acknowledged write once resynced.
    const forwarded = await put(n1.url, 'through-the-wiped-node');
    expect(forwarded).toMatchObject({ status: 201, leader: 'node-2' });
    acked.push('through-the-wiped-node');
    await waitFor(
      async () => {
        const res = await fetch(`${n1.url}/api/v1/documents?limit=1000&min_index=${forwarded.index}`, { headers: { 'x-workspace-id': ws } });
        if (res.status !== 200) return false;
        const ids = new Set(((await res.json()) as { documents: Array<{ id: string }> }).documents.map((d) => d.id));
        return acked.every((id) => ids.has(id));
      },
      { what: 'node-1 to hold every acknowledged write', timeoutMs: 60_000 },
    );
  }, 180_000);
});
