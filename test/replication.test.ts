// Replication on real processes: three `cairn serve` nodes on loopback, real SQLite files,
// real HTTP between them. Each test states what it shows.
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { waitFor } from './helpers/wait.ts';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

interface Checksum {
  node_id: string;
  applied_index: number;
  state_checksum: string;
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  const body = (await res.json()) as T;
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** One write; a 503 (overloaded, quorum not yet reached) is retried as a client would: by id, harmlessly. */
async function put(base: string, ws: string, id: string, content: string, concern = 'quorum'): Promise<{ id: string; index: number }> {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${base}/api/v1/documents?write_concern=${concern}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-workspace-id': ws },
      body: JSON.stringify({ id, content }),
    });
    const body = (await res.json()) as { id: string; index: number };
    if (res.status === 201) return body;
    if (res.status !== 503 || attempt >= 5) throw new Error(`POST ${id}: ${res.status} ${JSON.stringify(body)}`);
  }
}

/** Runs `total` writes with `concurrency` in flight; returns the ids acknowledged. */
async function writeMany(base: string, ws: string, total: number, concurrency: number, prefix: string): Promise<string[]> {
  const acked: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const id = `${prefix}-${i}`;
        await put(base, ws, id, `${prefix} document ${i} mentions topic ${i % 13} and colour ${i % 7}`);
        acked.push(id);
      }
    }),
  );
  return acked;
}

/** Every document id a node holds in `ws`, by pages of the list. */
async function idsOn(url: string, ws: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | null = null;
  do {
    const page: { documents: Array<{ id: string }>; next_cursor: string | null } = await json(
      `${url}/api/v1/documents?limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      { headers: { 'x-workspace-id': ws } },
    );
    for (const d of page.documents) ids.add(d.id);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return ids;
}

async function checksums(c: TestCluster): Promise<Checksum[]> {
  return Promise.all(c.nodes.map((n) => json<Checksum>(`${n.url}/_raft/checksum`)));
}

async function converged(c: TestCluster): Promise<Checksum[]> {
  return waitFor(
    async () => {
      const all = await checksums(c);
      const first = all[0] as Checksum;
      return all.every((s) => s.applied_index === first.applied_index && s.state_checksum === first.state_checksum) ? all : undefined;
    },
    { what: 'all nodes at the same applied index and state checksum', timeoutMs: 30_000, intervalMs: 100 },
  );
}

async function syncStatus(c: TestCluster): Promise<{ followers: Array<{ node_id: string; address: string; health: string; lag: number }> }> {
  return json(`${c.leader.url}/_raft/sync-status`);
}

describe('replication on three real nodes', () => {
  it('10,000 writes leave all three nodes at the same applied index with the same state checksum', async () => {
    cluster = await startCluster({ nodes: 3 });
    const acked = await writeMany(cluster.leader.url, 'bulkload', 10_000, 32, 'w');
    expect(acked).toHaveLength(10_000);
    const sums = await converged(cluster);
    expect(sums.map((s) => s.node_id).sort()).toEqual(['node-1', 'node-2', 'node-3']);
    // 10,000 writes + the leader's opening entry.
    expect(sums[0]?.applied_index).toBeGreaterThanOrEqual(10_001);
    const sample = await json<{ id: string }>(`${cluster.node('node-3').url}/api/v1/documents/w-9999`, { headers: { 'x-workspace-id': 'bulkload' } });
    expect(sample.id).toBe('w-9999');
  }, 240_000);

  it('a follower paused past the resync threshold is desynced, gets a snapshot, and matches the leader again, deletions included', async () => {
    cluster = await startCluster({
      nodes: 3,
      configOverrides: { replication: { resync_threshold: 200, silence_lagging_ms: 1000, append_timeout_ms: 500, failures_lagging: 2 } },
    });
    const leader = cluster.leader;
    const paused = cluster.node('node-3');
    await writeMany(leader.url, 'ws', 50, 8, 'before');
    await converged(cluster);

    paused.pause();
    await writeMany(leader.url, 'ws', 400, 16, 'during');
    // Deleted while the follower is away: a snapshot installed as upserts would resurrect these.
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${leader.url}/api/v1/documents/before-${i}`, { method: 'DELETE', headers: { 'x-workspace-id': 'ws' } });
      expect(res.status).toBe(200);
    }
    await waitFor(async () => (await syncStatus(cluster as TestCluster)).followers.find((f) => f.node_id === 'node-3')?.health === 'desynced', {
      what: 'node-3 reported desynced',
      timeoutMs: 15_000,
    });

    paused.resume();
    await waitFor(async () => (await syncStatus(cluster as TestCluster)).followers.every((f) => f.health === 'healthy'), {
      what: 'all followers healthy after the resync',
      timeoutMs: 30_000,
    });
    await converged(cluster);
    const gone = await fetch(`${paused.url}/api/v1/documents/before-3`, { headers: { 'x-workspace-id': 'ws' } });
    expect(gone.status).toBe(404);
    const kept = await fetch(`${paused.url}/api/v1/documents/during-399`, { headers: { 'x-workspace-id': 'ws' } });
    expect(kept.status).toBe(200);
    const stats = await json<{ resync_stats: { snapshots_created: number; snapshot_send_successes: number } }>(`${leader.url}/_raft/resync_stats`);
    expect(stats.resync_stats.snapshot_send_successes).toBeGreaterThanOrEqual(1);
    const followerStats = await json<{ resync_stats: { snapshots_applied: number } }>(`${paused.url}/_raft/resync_stats`);
    expect(followerStats.resync_stats.snapshots_applied).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('kill -9 of the leader under load loses no acknowledged write; followers catch up without a snapshot', async () => {
    cluster = await startCluster({ nodes: 3 });
    const leader = cluster.leader;
    const acked: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; !stop && i < 100_000; i++) {
        const id = `k-${w}-${i}`;
        try {
          await put(leader.url, 'crash', id, `write ${i} of writer ${w}`);
          acked.push(id);
        } catch {
          return; // the leader died: this writer's outcome for its last write is unknown
        }
      }
    });
    await waitFor(() => acked.length >= 1500, { what: '1500 acknowledged writes', timeoutMs: 60_000 });
    await leader.kill9();
    stop = true;
    await Promise.all(writers);
    await leader.restart('answering');
    const sums = await converged(cluster);
    expect(sums[0]?.applied_index).toBeGreaterThan(acked.length);
    // Listed, not read one by one: ~1,500 reads a node took a minute of the test's time at load 20.
    for (const node of cluster.nodes) {
      const held = await idsOn(node.url, 'crash');
      const missing = acked.filter((id) => !held.has(id));
      expect(missing, `${node.id} is missing acknowledged writes`).toEqual([]);
    }
    for (const f of cluster.followers) {
      const s = await json<{ resync_stats: { snapshots_applied: number } }>(`${f.url}/_raft/resync_stats`);
      expect(s.resync_stats.snapshots_applied).toBe(0);
    }
  }, 300_000);

  it('force-resync by curl with a follower given as host:port installs a fresh snapshot and is counted; every node holds the same passages', async () => {
    cluster = await startCluster({ nodes: 3 });
    await writeMany(cluster.leader.url, 'fr', 30, 4, 'f');
    // A long page, split into passages by the leader: the snapshot and the checksum carry them.
    const page = Array.from({ length: 12 }, (_, s) => `## Part ${s}\n\n${`Part ${s} of the heron survey counts nests by the reed marsh. `.repeat(20)}`).join('\n\n');
    await put(cluster.leader.url, 'fr', 'survey', page);
    const target = cluster.node('node-2').address;
    const res = await json<{ target: string; success: boolean; message: string }>(`${cluster.leader.url}/_raft/force-resync?target=${target}`, { method: 'POST' });
    expect(res).toMatchObject({ target, success: true });
    expect(res.message).toContain('completed successfully');
    const stats = await json<{ resync_stats: { snapshots_created: number; snapshot_send_attempts: number; snapshot_send_successes: number } }>(`${cluster.leader.url}/_raft/resync_stats`);
    expect(stats.resync_stats).toMatchObject({ snapshots_created: 1, snapshot_send_attempts: 1, snapshot_send_successes: 1 });
    const applied = await json<{ resync_stats: { snapshots_applied: number } }>(`${cluster.node('node-2').url}/_raft/resync_stats`);
    expect(applied.resync_stats.snapshots_applied).toBe(1);
    await converged(cluster);
    const passagesOn = async (url: string): Promise<unknown> => {
      const r = await json<{ results: { id: string; passages: unknown[] }[] }>(`${url}/api/v1/search`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'x-workspace-id': 'fr' }, body: JSON.stringify({ query: 'Part 7 heron survey', k: 1, mode: 'lexical' }),
      });
      return r.results.map((x) => [x.id, x.passages]);
    };
    const onLeader = await passagesOn(cluster.leader.url);
    expect(JSON.stringify(onLeader)).toMatch(/"survey",\[\{"n":\d+/);
    for (const n of cluster.nodes) expect(await passagesOn(n.url), n.id).toEqual(onLeader);
    const unknown = await fetch(`${cluster.leader.url}/_raft/force-resync?target=10.9.9.9:1`, { method: 'POST' });
    expect(unknown.status).toBe(404);
  }, 60_000);
});
