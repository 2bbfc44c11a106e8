// /metrics and /api/v1/cluster/* on a real three-node cluster: with a follower paused
// (SIGSTOP) and writes going on, the leader's /metrics reports the same lag and state for it as
// /_raft/sync-status, and a follower's overview and node list show it unreachable and lagging.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePrometheusText, sampleValue } from '../packages/server/src/metrics/prom-text.ts';
import type { ClusterSnapshot, NodeRow } from '../packages/server/src/cluster/types.ts';
import { startCluster } from './helpers/cluster.ts';
import { startVerified } from '../packages/server/src/cluster/testing.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { waitFor } from './helpers/wait.ts';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startVerified(() =>
    startCluster({
      nodes: 3,
      configOverrides: { replication: { silence_lagging_ms: 600, failures_lagging: 2, append_timeout_ms: 1000, heartbeat_ms: 100 } },
    }),
  );
});
afterAll(async () => {
  await cluster.stop();
});

async function json<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return (await res.json()) as T;
}

async function writeDocs(base: string, ws: string, n: number, prefix: string): Promise<void> {
  for (let i = 0; i < n; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, async (_, j) => {
        const res = await fetch(`${base}/api/v1/documents`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-workspace-id': ws },
          body: JSON.stringify({ id: `${prefix}-${i + j}`, content: `${prefix} document ${i + j} about replication metrics` }),
        });
        if (!res.ok) throw new Error(`write ${prefix}-${i + j}: ${res.status} ${await res.text()}`);
      }),
    );
  }
}

/**
 * Reads `snapshot` events with node:http until `until` holds for the last of at least two (or
 * the time is up), then closes the connection. (Node's fetch
 * opens a spare connection when a streamed body is aborted, which keeps a server's close waiting.)
 */
function readEvents(url: string, until: (s: ClusterSnapshot) => boolean, timeoutMs: number): Promise<{ status: number; contentType: string; events: ClusterSnapshot[] }> {
  return new Promise((resolve, reject) => {
    const events: ClusterSnapshot[] = [];
    const req = http.get(url, (res) => {
      let text = '';
      const finish = (): void => {
        clearTimeout(timer);
        req.destroy();
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), events });
      };
      const timer = setTimeout(finish, timeoutMs);
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        let end: number;
        while ((end = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
          if (block.includes('event: snapshot') && data !== '') events.push(JSON.parse(data) as ClusterSnapshot);
        }
        const last = events.at(-1);
        if (events.length >= 2 && last !== undefined && until(last)) finish();
      });
    });
    req.on('error', reject);
  });
}

interface SyncStatus {
  followers: Array<{ node_id: string; health: string; lag: number; last_replicated_index: number }>;
}

describe('metrics and cluster views on three real nodes', () => {
  it('reports a paused follower\'s lag in /metrics exactly as /_raft/sync-status does', async () => {
    const leader = cluster.leader;
    await writeDocs(leader.url, 'ws-metrics', 5, 'warm');
    // Both followers answered the leader (not merely started) before one is paused.
    await waitFor(
      async () => (await json<SyncStatus>(`${leader.url}/_raft/sync-status`)).followers.every((f) => f.health === 'healthy' && f.lag === 0),
      { what: 'both followers healthy before the pause', timeoutMs: 15_000 },
    );
    const paused = cluster.node('node-3');
    paused.pause();
    try {
      await writeDocs(leader.url, 'ws-metrics', 20, 'while-paused');
      // Lag of a silent follower stops moving once the writes are done: read both until they agree
      // twice in a row on a lagging follower (no fixed sleep; nothing else writes).
      let seen = '';
      const agreed = await waitFor(
        async () => {
          const sync = await json<SyncStatus>(`${leader.url}/_raft/sync-status`);
          const metrics = parsePrometheusText(await (await fetch(`${leader.url}/metrics`)).text());
          const f3 = sync.followers.find((f) => f.node_id === 'node-3');
          const f2 = sync.followers.find((f) => f.node_id === 'node-2');
          seen = JSON.stringify(sync.followers);
          if (f3 === undefined || f2 === undefined || f3.health !== 'lagging' || f3.lag < 20) return false;
          const lag3 = sampleValue(metrics, 'cairn_raft_follower_lag_entries', { follower: 'node-3' });
          const lag2 = sampleValue(metrics, 'cairn_raft_follower_lag_entries', { follower: 'node-2' });
          const lagging3 = sampleValue(metrics, 'cairn_raft_follower_state', { follower: 'node-3', state: 'lagging' });
          const again = await json<SyncStatus>(`${leader.url}/_raft/sync-status`);
          const stable = again.followers.find((f) => f.node_id === 'node-3')?.lag === f3.lag;
          seen = JSON.stringify({ sync: sync.followers, metrics: { lag3, lag2, lagging3 }, again: again.followers.map((f) => f.lag) });
          return stable && lag3 === f3.lag && lag2 === f2.lag && lagging3 === 1 ? { lag: f3.lag, metrics } : false;
        },
        { what: 'node-3 lagging with the same lag in /metrics and /_raft/sync-status', timeoutMs: 15_000 },
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; last seen ${seen}\n${cluster.logs(10)}`);
      });
      expect(agreed.lag).toBeGreaterThanOrEqual(20);
      expect(sampleValue(agreed.metrics, 'cairn_raft_follower_state', { follower: 'node-3', state: 'healthy' })).toBe(0);
      expect(sampleValue(agreed.metrics, 'cairn_workspace_documents', { workspace: 'ws-metrics' })).toBe(25);
      expect(sampleValue(agreed.metrics, 'cairn_raft_append_duration_seconds_count', { follower: 'node-3', result: 'ok' })).toBeGreaterThan(0);

      // The same picture from a follower: it asks its peers and merges the leader's view.
      const follower = cluster.node('node-2').url;
      const nodes = await json<{ observed_by: string; nodes: NodeRow[] }>(`${follower}/api/v1/cluster/nodes`);
      expect(nodes.observed_by).toBe('node-2');
      expect(nodes.nodes.map((n) => n.id)).toEqual(['node-1', 'node-2', 'node-3']);
      const byId = new Map(nodes.nodes.map((n) => [n.id, n]));
      expect(byId.get('node-1')).toMatchObject({ role: 'leader', state: 'leader', reachable: true, lag: 0, version: '0.1.0' });
      expect(byId.get('node-2')).toMatchObject({ role: 'follower', state: 'healthy', reachable: true, lag: 0 });
      expect(byId.get('node-3')).toMatchObject({ role: 'follower', state: 'lagging', reachable: false });
      expect(byId.get('node-3')?.lag).toBeGreaterThanOrEqual(20);
      expect(byId.get('node-2')?.uptime_s).toBeGreaterThanOrEqual(0);

      const overview = await json<Omit<ClusterSnapshot, 'nodes'>>(`${follower}/api/v1/cluster/overview`);
      expect(overview).toMatchObject({ total_nodes: 3, reachable_nodes: 2, leader: { id: 'node-1', reachable: true }, followers: { healthy: 1, lagging: 1 } });
      expect(overview.commit_index).toBeGreaterThanOrEqual(26);
      expect(overview.term).toBeGreaterThanOrEqual(1);
      expect(typeof overview.write_rate_per_s).toBe('number');
      const change = overview.events.find((e) => e.follower === 'node-3' && e.kind === 'health_changed');
      expect(change?.detail).toMatch(/healthy -> lagging/);
      expect(Date.parse(change?.at ?? '')).toBeGreaterThan(Date.now() - 60_000);
    } finally {
      paused.resume();
    }
    await waitFor(
      async () => (await json<SyncStatus>(`${leader.url}/_raft/sync-status`)).followers.every((f) => f.health === 'healthy' && f.lag === 0),
      { what: 'node-3 healthy again after SIGCONT', timeoutMs: 15_000 },
    );
  });

  it('streams cluster snapshots as Server-Sent Events from any node', async () => {
    // node-3 was paused in the test before: its stream reports it caught up within a few events.
    const caughtUp = (s: ClusterSnapshot): boolean => s.reachable_nodes === 3 && s.workspaces.find((w) => w.workspace === 'ws-metrics')?.documents === 25;
    const { status, contentType, events } = await readEvents(`${cluster.node('node-3').url}/api/v1/cluster/events`, caughtUp, 15_000);
    expect(status).toBe(200);
    expect(contentType).toMatch(/^text\/event-stream/);
    expect(events.length).toBeGreaterThanOrEqual(2);
    const last = events.at(-1) as ClusterSnapshot;
    expect(last.observed_by).toBe('node-3');
    expect(last.nodes).toHaveLength(3);
    expect(last.reachable_nodes).toBe(3);
    expect(last.workspaces.find((w) => w.workspace === 'ws-metrics')?.documents).toBe(25);
  });
});
