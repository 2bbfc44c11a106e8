// A follower whose state.db was changed behind replication's back (a damaged disk, a hand edit):
// the leader's state comparison at equal applied indexes finds it, marks the follower desynced with
// the reason, and a repair snapshot puts the leader's state back, without an operator. Real
// processes, real SQLite files.
import { join } from 'node:path';
import Database from 'better-sqlite3';
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
  applied_index: number;
  state_checksum: string;
}

interface FollowerView {
  node_id: string;
  health: string;
  desync_reason: string | null;
  state_check: { result: string; detail: string; leader_index: number } | null;
}

async function json<T>(url: string, init?: RequestInit): Promise<T> {
  const res = await fetch(url, init);
  return (await res.json()) as T;
}

async function put(base: string, id: string, content: string): Promise<void> {
  const res = await fetch(`${base}/api/v1/documents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-workspace-id': 'ledger' },
    body: JSON.stringify({ id, content }),
  });
  expect(res.status).toBe(201);
}

describe('state divergence on a follower', () => {
  it('is found by the state comparison and repaired by a snapshot, with the reason in sync-status and events', async () => {
    cluster = await startCluster({ nodes: 3, configOverrides: { replication: { state_compare_interval_ms: 500 } } });
    const c = cluster;
    for (let i = 0; i < 20; i++) await put(c.leader.url, `doc-${i}`, `entry ${i} of the ledger`);
    const target = c.node('node-3');
    // Converged and compared once: the check reports a match.
    await waitFor(
      async () => {
        const s = await json<{ followers: FollowerView[] }>(`${c.leader.url}/_raft/sync-status`);
        return s.followers.find((f) => f.node_id === 'node-3')?.state_check?.result === 'match' ? true : undefined;
      },
      { what: 'a matching state check of node-3', timeoutMs: 20_000, intervalMs: 100 },
    );
    await target.kill9();
    const db = new Database(join(c.dataDir('node-3'), 'state.db'));
    const changed = db.prepare("UPDATE documents SET content = 'tampered' WHERE id = 'doc-7'").run().changes;
    db.close();
    expect(changed).toBe(1);
    await target.restart('answering');

    const seen = await waitFor(
      async () => {
        const s = await json<{ followers: FollowerView[] }>(`${c.leader.url}/_raft/sync-status`);
        const f = s.followers.find((x) => x.node_id === 'node-3');
        return f?.state_check?.result === 'mismatch' ? f : undefined;
      },
      { what: 'the leader to find node-3 diverged', timeoutMs: 20_000, intervalMs: 50 },
    );
    expect(seen.state_check?.detail).toMatch(/state checksum differs at index \d+/);

    // Repaired: the same state everywhere, doc-7 as written.
    const leaderSum = await json<Checksum>(`${c.leader.url}/_raft/checksum`);
    await waitFor(
      async () => {
        const mine = await json<Checksum>(`${target.url}/_raft/checksum`);
        return mine.state_checksum === leaderSum.state_checksum && mine.applied_index === leaderSum.applied_index ? true : undefined;
      },
      { what: 'node-3 repaired to the leader state', timeoutMs: 30_000, intervalMs: 100 },
    );
    const doc = await json<{ content: string }>(`${target.url}/api/v1/documents/doc-7?workspace=ledger`);
    expect(doc.content).toBe('entry 7 of the ledger');
    const stats = await json<{ resync_stats: { snapshot_send_successes: number } }>(`${c.leader.url}/_raft/resync_stats`);
    expect(stats.resync_stats.snapshot_send_successes).toBeGreaterThanOrEqual(1);
    const self = await json<{ events: Array<{ kind: string; follower?: string; detail: string }> }>(`${c.leader.url}/api/v1/cluster/self`);
    expect(self.events.some((e) => e.kind === 'diverged' && e.follower === 'node-3' && /state checksum differs/.test(e.detail))).toBe(true);
    const metrics = await (await fetch(`${c.leader.url}/metrics`)).text();
    expect(metrics).toMatch(/cairn_raft_events_total\{[^}]*kind="diverged"[^}]*\} [1-9]/);
  }, 120_000);
});
