// Vector index retraining on real processes: the leader trains in a worker thread while writes
// keep flowing and /_raft/health keeps being answered, and every node installs the same centroids
// (same state checksum). Training on the event loop would leave nothing answered between the start
// and the end of the retrain (it takes seconds). How fast the answers are is a benchmark's
// question, not this test's: packages/server/bench/retrain-cluster.ts (BENCHMARKS.md, "Retraining
// off the event loop") measures the health and write latencies during a retrain.
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { waitFor } from './helpers/wait.ts';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const ws = 'retrain';
/** Past the engine's exact-scan crossover (4,096 vectors): the untrained index asks for training. */
const threshold = 4096;
interface Checksum {
  applied_index: number;
  state_checksum: string;
}

interface LogLine {
  time: number;
  msg: string;
  vectors?: number;
  train_ms?: number;
  op_bytes?: number;
}

async function bulk(base: string, from: number, count: number): Promise<void> {
  const docs = Array.from({ length: count }, (_, i) => ({
    id: `doc-${from + i}`,
    content: `document ${from + i} about topic ${(from + i) % 17} with colour ${(from + i) % 7} and shape ${(from + i) % 5}`,
  }));
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(`${base}/api/v1/documents/bulk?write_concern=leader`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-workspace-id': ws },
      body: JSON.stringify(docs),
    });
    const body = await res.text();
    if (res.status === 201 || res.status === 200) return;
    if (res.status !== 503 || attempt >= 5) throw new Error(`bulk ${from}: ${res.status} ${body}`);
  }
}

function leaderLog(c: TestCluster): LogLine[] {
  return c.leader
    .logTail(1_000_000)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

describe('vector index retraining', () => {
  it('trains off the leader\'s event loop: writes acknowledged and health answered while it trains; all nodes converge', async () => {
    cluster = await startCluster({ nodes: 3 });
    const c = cluster;
    const base = c.leader.url;

    // /_raft/health on the leader, polled from the start to the end.
    const healthMs: number[] = [];
    const healthAt: number[] = [];
    let polling = true;
    let pollError: unknown = null;
    const poller = (async () => {
      while (polling) {
        const t = performance.now();
        try {
          const res = await fetch(`${base}/_raft/health`, { signal: AbortSignal.timeout(10_000) });
          await res.arrayBuffer();
        } catch (error) {
          // Kept for the assertion below, not thrown: a failed test stops the cluster while this runs.
          pollError = error;
          return;
        }
        healthMs.push(performance.now() - t);
        healthAt.push(Date.now());
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    // Writes in batches of 50, one at a time, until told to stop; each acknowledgement is timed.
    const ackedAt: number[] = [];
    let next = 0;
    let writing = true;
    const writer = Promise.all(
      [0].map(async () => {
        while (writing) {
          const from = next;
          next += 50;
          await bulk(base, from, 50);
          ackedAt.push(Date.now());
        }
      }),
    );

    // Liveness bounds, not speed: first the writes past the threshold (about 80 bulks, one at a
    // time: tens of seconds on a 2-core machine running other suites), then the retrain itself.
    await waitFor(() => ackedAt.length * 50 > threshold, { what: `more than ${threshold} documents acknowledged`, timeoutMs: 150_000, intervalMs: 200 });
    const retrained = await waitFor(
      () => leaderLog(c).find((l) => l.msg === 'vector index retrained'),
      { what: 'the leader to log a retrain', timeoutMs: 60_000, intervalMs: 200 },
    );
    // A few more writes after the install, routed with the new centroids.
    const after = ackedAt.length;
    await waitFor(() => ackedAt.length >= after + 4, { what: 'writes after the retrain', timeoutMs: 20_000 });
    writing = false;
    await writer;
    polling = false;
    await poller;

    const started = leaderLog(c).find((l) => l.msg === 'vector index retrain started');
    if (started === undefined) throw new Error('the leader logged a retrain without logging its start');
    expect(retrained.vectors).toBeGreaterThan(threshold);
    expect(retrained.time).toBeGreaterThan(started.time);
    const whileTraining = (t: number): boolean => t > started.time && t < retrained.time;
    const slowest = healthMs.map((ms, i) => ({ ms: Math.round(ms), at: (healthAt[i] ?? 0) - started.time })).sort((a, b) => b.ms - a.ms).slice(0, 3);
    const facts = `slowest polls (at: ms after the retrain started): ${JSON.stringify(slowest)}; retrain: ${JSON.stringify(retrained)}`;
    // Writes were acknowledged, and health polls answered, while the worker trained.
    expect(ackedAt.filter(whileTraining).length, facts).toBeGreaterThan(0);
    expect(healthAt.filter(whileTraining).length, facts).toBeGreaterThanOrEqual(2);
    // Every poll was answered (none timed out or failed).
    expect(pollError).toBeNull();
    expect(healthMs.length).toBe(healthAt.length);
    expect(healthMs.length).toBeGreaterThan(10);

    // Every node ends with the same state (same centroids, same lists).
    const sums = await waitFor(
      async () => {
        const all = await Promise.all(c.nodes.map(async (n) => (await fetch(`${n.url}/_raft/checksum`)).json() as Promise<Checksum>));
        const first = all[0] as Checksum;
        return all.every((s) => s.applied_index === first.applied_index && s.state_checksum === first.state_checksum) ? all : undefined;
      },
      { what: 'all nodes at the same applied index and state checksum', timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(sums).toHaveLength(3);
    for (const n of c.nodes) {
      const metrics = await (await fetch(`${n.url}/metrics`)).text();
      const lists = Number(/^cairn_ivf_lists\{workspace="retrain"[^}]*\} (\d+)$/m.exec(metrics)?.[1] ?? '0');
      expect(lists, `${n.id} lists`).toBeGreaterThan(1);
    }
  }, 300_000);
});
