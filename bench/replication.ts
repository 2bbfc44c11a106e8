// Replication figures on a running bench cluster: lag under a fixed write rate, catch-up of a
// follower 900 entries behind, bulk loading, and the snapshot resync of an empty follower.

import { rmSync } from 'node:fs';
import type { BenchCluster } from './cairn.ts';
import { load1, percentile, round, sleep } from './stats.ts';

interface SyncStatus {
  commit_index: number;
  last_log_index: number;
  followers: Array<{ node_id: string; health: string; last_replicated_index: number; lag: number }>;
}

async function syncStatus(url: string): Promise<SyncStatus> {
  const res = await fetch(`${url}/_raft/sync-status`, { signal: AbortSignal.timeout(5_000) });
  return (await res.json()) as SyncStatus;
}

const CONTENT = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor '.repeat(14).slice(0, 1024);

export async function writeOne(url: string, ws: string, id: string, concern: string, content = CONTENT): Promise<number> {
  const res = await fetch(`${url}/api/v1/documents?write_concern=${concern}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-workspace-id': ws },
    body: JSON.stringify({ id, content }),
  });
  const body = (await res.json()) as { index?: number };
  if (res.status !== 201) throw new Error(`write ${id}: ${res.status} ${JSON.stringify(body)}`);
  return body.index as number;
}

export interface LagResult {
  target_rate: number;
  achieved_rate: number;
  seconds: number;
  samples: number;
  lag_entries_p50: number;
  lag_entries_p99: number;
  lag_ms_p50: number;
  lag_ms_p99: number;
  write_p50_ms: number;
  write_p99_ms: number;
  load: number;
}

/**
 * Writes at `rate` per second (open loop, at most 256 in flight) with write concern `leader`
 * and samples /_raft/sync-status every 20 ms. Lag in entries: last_log_index minus the
 * follower's last_replicated_index. Lag in ms: how long ago the leader's log first reached the
 * oldest entry the follower still lacks (0 when it lacks none).
 */
export async function measureLag(cluster: BenchCluster, rate: number, seconds: number): Promise<LagResult> {
  const url = cluster.leader.url;
  // Warm-up (tokenizer and embedder loaded, connections open), not measured.
  await Promise.all(Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; i < 40; i++) await writeOne(url, 'bench-lag', `warm-${w}-${i}`, 'leader');
  }));
  let stop = false;
  let sent = 0;
  let inflight = 0;
  const latencies: number[] = [];
  const started = Date.now();
  const writer = (async (): Promise<void> => {
    while (!stop) {
      const due = Math.floor(((Date.now() - started) / 1000) * rate);
      while (sent < due && inflight < 256) {
        const id = `lag-${sent++}`;
        inflight++;
        const t = performance.now();
        writeOne(url, 'bench-lag', id, 'leader')
          .then(() => latencies.push(performance.now() - t))
          .catch(() => undefined)
          .finally(() => inflight--);
      }
      await sleep(2);
    }
  })();
  // Leader log growth: [time, last_log_index], to date the entries a follower lacks.
  const growth: Array<[number, number]> = [];
  const lagEntries: number[] = [];
  const lagMs: number[] = [];
  while (Date.now() - started < seconds * 1000) {
    const t = Date.now();
    try {
      const s = await syncStatus(url);
      growth.push([t, s.last_log_index]);
      for (const f of s.followers) {
        const behind = s.last_log_index - f.last_replicated_index;
        lagEntries.push(Math.max(0, behind));
        if (behind <= 0) {
          lagMs.push(0);
        } else {
          const firstMissing = f.last_replicated_index + 1;
          const when = growth.find(([, idx]) => idx >= firstMissing)?.[0] ?? t;
          lagMs.push(t - when);
        }
      }
    } catch {
      /* a sample lost */
    }
    await sleep(20 - Math.min(20, Date.now() - t));
  }
  stop = true;
  await writer;
  while (inflight > 0) await sleep(10);
  const elapsed = (Date.now() - started) / 1000;
  return {
    target_rate: round(rate, 0),
    achieved_rate: round(latencies.length / elapsed, 0),
    seconds: round(elapsed),
    samples: lagEntries.length,
    lag_entries_p50: percentile(lagEntries, 50),
    lag_entries_p99: percentile(lagEntries, 99),
    lag_ms_p50: percentile(lagMs, 50),
    lag_ms_p99: percentile(lagMs, 99),
    write_p50_ms: round(percentile(latencies, 50)),
    write_p99_ms: round(percentile(latencies, 99)),
    load: load1(),
  };
}

export interface CatchUpResult {
  entries_behind: number;
  seconds: number;
  entries_per_s: number;
  snapshot_used: boolean;
  load: number;
}

/** SIGSTOP node-3, write `entries` single-document writes, SIGCONT, time until it has them all. */
export async function measureCatchUp(cluster: BenchCluster, entries: number): Promise<CatchUpResult> {
  const follower = cluster.node('node-3');
  const statsBefore = await resyncStats(follower.url);
  follower.process.pause();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < entries) {
        const i = next++;
        await writeOne(cluster.leader.url, 'bench-catchup', `cu-${i}`, 'quorum');
      }
    }),
  );
  const before = (await syncStatus(cluster.leader.url)).followers.find((f) => f.node_id === 'node-3');
  const target = (await syncStatus(cluster.leader.url)).last_log_index;
  const behind = target - (before?.last_replicated_index ?? 0);
  const t0 = performance.now();
  follower.process.resume();
  for (;;) {
    const res = await fetch(`${follower.url}/_raft/checksum`).catch(() => undefined);
    if (res !== undefined) {
      const c = (await res.json()) as { last_log_index: number };
      if (c.last_log_index >= target) break;
    }
    await sleep(5);
  }
  const seconds = (performance.now() - t0) / 1000;
  const statsAfter = await resyncStats(follower.url);
  return {
    entries_behind: behind,
    seconds: round(seconds, 2),
    entries_per_s: round(behind / seconds, 0),
    snapshot_used: statsAfter.snapshots_applied > statsBefore.snapshots_applied,
    load: load1(),
  };
}

interface ResyncStats {
  snapshots_created: number;
  snapshots_applied: number;
  snapshot_send_successes: number;
  [key: string]: unknown;
}

async function resyncStats(url: string): Promise<ResyncStats> {
  const body = (await (await fetch(`${url}/_raft/resync_stats`)).json()) as { resync_stats: ResyncStats };
  return body.resync_stats;
}

const WORDS = ('alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega ' +
  'raft log snapshot follower leader commit index term vector search context assemble token budget document workspace cluster ' +
  'latency throughput replica quorum fsync sqlite journal checksum resync heartbeat').split(' ');

/** A deterministic ~300-byte document: words chosen by the document number. */
export function syntheticDoc(i: number): string {
  const out: string[] = [`document ${i}`];
  let x = (i * 2654435761) >>> 0;
  for (let w = 0; w < 40; w++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out.push(WORDS[x % WORDS.length] as string);
  }
  return out.join(' ');
}

export interface LoadResult {
  /** Size of client-supplied vectors (0 or absent: the built-in 384-dim embedder). */
  vector_dim?: number;
  /** Seconds from the last acknowledged bulk write until every node held the same state. */
  converged_after_s?: number;
  documents: number;
  seconds: number;
  docs_per_s: number;
  log_entries: number;
  load: number;
}

/** Loads `total` documents into `ws` with bulk writes of `perBulk`, `concurrency` in flight. */
export async function bulkLoad(cluster: BenchCluster, ws: string, total: number, perBulk: number, concurrency: number, vectorDim = 0): Promise<LoadResult> {
  const t0 = performance.now();
  const logBefore = (await syncStatus(cluster.leader.url)).last_log_index;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const from = next;
        next += perBulk;
        const docs = Array.from({ length: Math.min(perBulk, total - from) }, (_, k) => ({
          id: `d-${from + k}`,
          content: syntheticDoc(from + k),
          path: `src/mod${(from + k) % 97}/file${from + k}.md`,
          // With vectorDim > 0 the client supplies a small vector instead of the built-in 384-dim embedding.
          ...(vectorDim > 0 ? { vector: Array.from({ length: vectorDim }, (_, d) => Math.sin((from + k + 1) * (d + 1))) } : {}),
        }));
        const res = await fetch(`${cluster.leader.url}/api/v1/documents/bulk?write_concern=leader`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-workspace-id': ws },
          body: JSON.stringify(docs),
        });
        const body = (await res.json()) as { added?: number };
        if (res.status !== 201 || body.added !== docs.length) throw new Error(`bulk at ${from}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const logAfter = (await syncStatus(cluster.leader.url)).last_log_index;
  return { documents: total, seconds: round(seconds), docs_per_s: round(total / seconds, 0), log_entries: logAfter - logBefore, load: load1() };
}

export interface ResyncResult {
  documents: number;
  seconds: number;
  bytes: number;
  mb_per_s: number;
  snapshot_used: boolean;
  /**
   * Seconds from the start of the empty follower's process to: its HTTP port answering
   * (started), the first snapshot chunk received (receiving), the snapshot installed
   * (installed), holding every entry of the leader's log as the leader sees it (caught_up);
   * `seconds` adds the final state checksum comparison of all three nodes.
   */
  phases_s?: { started: number; receiving: number; installed: number; caught_up: number };
  /** The leader's and the follower's own timings of that transfer (ms): the leader's last_snapshot_phases. */
  transfer_phases_ms?: Record<string, unknown>;
  force_resync_message: string;
  force_resync_seconds: number;
  force_resync_mb_per_s: number;
  load: number;
}

interface Milestones {
  started?: number;
  receiving?: number;
  installed?: number;
  caught_up?: number;
}

/** Polls the empty follower every 20 ms and notes when it reaches each milestone of its resync. */
function watchResync(cluster: BenchCluster, follower: BenchCluster['nodes'][number], t0: number): { stop(): Promise<Milestones> } {
  const seen: Milestones = {};
  let stopped = false;
  const loop = (async (): Promise<void> => {
    while (!stopped && seen.caught_up === undefined) {
      try {
        const stats = await resyncStats(follower.url);
        const at = (performance.now() - t0) / 1000;
        seen.started ??= at;
        if (Number(stats['snapshots_received'] ?? 0) > 0) seen.receiving ??= at;
        if (stats.snapshots_applied > 0) {
          seen.installed ??= at;
          // As the leader sees it: the follower holds every entry of the leader's log. (The
          // follower's own /_raft/health can be held up by the checksum waitConverged asks it for.)
          const s = await syncStatus(cluster.leader.url);
          const f = s.followers.find((x) => x.node_id === follower.id);
          if (f !== undefined && f.last_replicated_index >= s.last_log_index) seen.caught_up ??= (performance.now() - t0) / 1000;
        }
      } catch {
        /* not up yet, or busy */
      }
      await sleep(20);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return seen;
    },
  };
}

/**
 * Stops node-3, deletes its data directory, starts it empty, and times until it holds the
 * leader's applied index with the same state checksum (end to end: start-up included), with
 * the milestones on the way. Then a force-resync of node-2 for the transfer alone (the leader's
 * message gives bytes and ms).
 */
export async function measureResync(cluster: BenchCluster, documents: number): Promise<ResyncResult> {
  const follower = cluster.node('node-3');
  await waitConverged(cluster, 300_000);
  await follower.process.stop(30_000);
  rmSync(follower.dataDir, { recursive: true, force: true });
  const leaderStatsBefore = await resyncStats(cluster.leader.url);
  const t0 = performance.now();
  follower.process.start();
  const watch = watchResync(cluster, follower, t0);
  await waitConverged(cluster, 420_000);
  const seconds = (performance.now() - t0) / 1000;
  const seen = await watch.stop();
  const after = await resyncStats(follower.url);
  const leaderStats = await resyncStats(cluster.leader.url);
  const bytes = Number(after['snapshot_bytes_received'] ?? 0);
  const transferPhases = leaderStats['last_snapshot_phases'] as Record<string, unknown> | null | undefined;
  const f0 = performance.now();
  const fr = await fetch(`${cluster.leader.url}/_raft/force-resync?target=node-2`, { method: 'POST', signal: AbortSignal.timeout(600_000) });
  const frBody = (await fr.json()) as { message?: string };
  const frSeconds = (performance.now() - f0) / 1000;
  const m = /index \d+, (\d+) bytes, (\d+) ms/.exec(frBody.message ?? '');
  const frBytes = m === null ? 0 : Number(m[1]);
  const used = after.snapshots_applied > 0 || leaderStats.snapshot_send_successes > leaderStatsBefore.snapshot_send_successes;
  const bytesUsed = bytes > 0 ? bytes : frBytes;
  const phase = (v: number | undefined): number => (v === undefined ? -1 : round(v, 2));
  return {
    documents,
    seconds: round(seconds, 2),
    bytes: bytesUsed,
    mb_per_s: round(bytesUsed / 1e6 / seconds, 1),
    snapshot_used: used,
    phases_s: { started: phase(seen.started), receiving: phase(seen.receiving), installed: phase(seen.installed), caught_up: phase(seen.caught_up) },
    ...(transferPhases == null ? {} : { transfer_phases_ms: transferPhases }),
    force_resync_message: frBody.message ?? JSON.stringify(frBody),
    force_resync_seconds: round(frSeconds, 2),
    force_resync_mb_per_s: round(frBytes / 1e6 / frSeconds, 1),
    load: load1(),
  };
}

interface RaftHealth {
  last_applied: number;
  commit_index: number;
  last_log_index: number;
}

/**
 * Waits until every node has applied everything the leader has in its log, polling the cheap
 * /_raft/health (GET /_raft/checksum hashes the whole state: at 100k documents one call keeps a
 * node busy for seconds, so it is asked once, at the end, to confirm identical state).
 */
export async function waitConverged(cluster: BenchCluster, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const health = async (url: string): Promise<RaftHealth> =>
    (await (await fetch(`${url}/_raft/health`, { signal: AbortSignal.timeout(10_000) })).json()) as RaftHealth;
  for (;;) {
    try {
      const leader = await health(cluster.leader.url);
      const all = await Promise.all(cluster.nodes.map((n) => health(n.url)));
      if (leader.last_applied === leader.last_log_index && all.every((h) => h.last_applied === leader.last_applied)) {
        const sums = await Promise.all(
          cluster.nodes.map(async (n) => (await (await fetch(`${n.url}/_raft/checksum`, { signal: AbortSignal.timeout(120_000) })).json()) as { applied_index: number; state_checksum: string }),
        );
        const first = sums[0] as { applied_index: number; state_checksum: string };
        if (sums.every((s) => s.applied_index === first.applied_index && s.state_checksum === first.state_checksum)) return;
        if (sums.every((s) => s.applied_index === first.applied_index)) {
          throw new Error(`same applied index but different state: ${JSON.stringify(sums)}`);
        }
      }
    } catch (error) {
      if ((error as Error).message.startsWith('same applied index')) throw error;
      /* starting or busy */
    }
    if (Date.now() > deadline) throw new Error(`nodes did not reach the same applied index within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}
