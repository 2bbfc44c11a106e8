// The fault schedule: a seeded sequence of faults, each injected, held and healed in turn while
// the workload runs. Kinds: kill -9 and restart of any node (the leader included), SIGSTOP of a
// follower until the leader reports it desynced (or a time limit) then SIGCONT, a cut link between
// the leader and one follower (both directions), a slow link, a full restart of the cluster, and a
// force-resync of a follower under load.

import type { ChaosCluster } from './cluster.ts';
import { getJson } from './checker.ts';
import type { Prng } from './prng.ts';
import { sleep } from './workload.ts';

export const FAULT_KINDS = ['kill_restart', 'pause_resume', 'cut_link', 'slow_link', 'full_restart', 'force_resync'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRecord {
  n: number;
  kind: FaultKind;
  target: string;
  started_ms: number;
  held_ms: number;
  detail: string;
}

/** Extra writes through the leader, recorded in the history; resolves with how many were acknowledged. */
export type Pump = (count: number) => Promise<number>;

export interface FaultTimings {
  /** How long a killed node stays down, ms. */
  downMs: [number, number];
  /** A SIGSTOPped follower is resumed after it is reported desynced, or after this long. */
  pauseMaxMs: number;
  pauseMinMs: number;
  cutMs: [number, number];
  slowMs: [number, number];
  slowDelayMs: [number, number];
  gapMs: [number, number];
}

export const CI_TIMINGS: FaultTimings = {
  downMs: [200, 1200],
  pauseMaxMs: 6_000,
  pauseMinMs: 500,
  cutMs: [800, 3_000],
  slowMs: [1_000, 3_000],
  slowDelayMs: [20, 150],
  gapMs: [200, 800],
};

/** n faults: every kind appears round-robin-ish, order and targets from the seed. */
export function planFaults(rng: Prng, count: number): FaultKind[] {
  const plan: FaultKind[] = [];
  while (plan.length < count) {
    const round = [...FAULT_KINDS];
    // Fisher-Yates with the seeded source.
    for (let i = round.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [round[i], round[j]] = [round[j] as FaultKind, round[i] as FaultKind];
    }
    plan.push(...round);
  }
  return plan.slice(0, count);
}

interface SyncStatus {
  followers: Array<{ node_id: string; health: string; lag: number }>;
}

async function follower(cluster: ChaosCluster, id: string): Promise<{ health: string; lag: number } | undefined> {
  try {
    const s = await getJson<SyncStatus>(`${cluster.leader.url}/_raft/sync-status`, 2_000);
    return s.followers.find((f) => f.node_id === id);
  } catch {
    return undefined;
  }
}

async function followerHealth(cluster: ChaosCluster, id: string): Promise<string | undefined> {
  return (await follower(cluster, id))?.health;
}

export interface FaultContext {
  cluster: ChaosCluster;
  rng: Prng;
  timings: FaultTimings;
  /** The cluster's resync_threshold: a paused follower is pushed past it. */
  resyncThreshold: number;
  pump: Pump;
}

export async function injectFault(ctx: FaultContext, kind: FaultKind, n: number): Promise<FaultRecord> {
  const { cluster, rng, timings: t } = ctx;
  const started = Date.now();
  const record = (target: string, detail: string): FaultRecord => ({ n, kind, target, started_ms: started, held_ms: Date.now() - started, detail });
  const nodeIds = cluster.nodes.map((x) => x.id);
  const followerIds = cluster.followers.map((x) => x.id);
  switch (kind) {
    case 'kill_restart': {
      const id = rng.pick(nodeIds);
      const node = cluster.node(id);
      const down = rng.int(...t.downMs);
      await node.kill9();
      await sleep(down);
      await node.restart('answering');
      return record(id, `kill -9, down ${down} ms, restarted`);
    }
    case 'pause_resume': {
      // SIGSTOP, then push writes through the leader until the follower is past the resync
      // threshold and the leader reports it desynced (or the time limit), then SIGCONT.
      const id = rng.pick(followerIds);
      const node = cluster.node(id);
      node.pause();
      const pausedAt = Date.now();
      let seen: { health: string; lag: number } | undefined;
      let pumped = 0;
      while (Date.now() - pausedAt < t.pauseMaxMs) {
        seen = await follower(cluster, id);
        if (seen?.health === 'desynced' && Date.now() - pausedAt >= t.pauseMinMs) break;
        if (seen !== undefined && seen.lag <= ctx.resyncThreshold + 10) pumped += await ctx.pump(20);
        else await sleep(100);
      }
      node.resume();
      return record(id, `SIGSTOP ${Date.now() - pausedAt} ms, ${pumped} writes pushed, leader saw ${seen?.health ?? 'nothing'} (lag ${seen?.lag ?? '?'}) before SIGCONT`);
    }
    case 'cut_link': {
      const id = rng.pick(followerIds);
      const hold = rng.int(...t.cutMs);
      const links = cluster.link('node-1', id);
      for (const p of links) p.cut();
      await sleep(hold);
      const health = await followerHealth(cluster, id);
      for (const p of links) p.heal();
      return record(id, `link node-1<->${id} cut ${hold} ms, leader saw ${health ?? 'nothing'}`);
    }
    case 'slow_link': {
      const both = rng.chance(0.3);
      const ids = both ? followerIds : [rng.pick(followerIds)];
      const hold = rng.int(...t.slowMs);
      const delay = rng.int(...t.slowDelayMs);
      const links = ids.flatMap((id) => cluster.link('node-1', id));
      for (const p of links) p.setDelay(delay);
      await sleep(hold);
      for (const p of links) p.setDelay(0);
      return record(ids.join('+'), `links node-1<->${ids.join(',')} delayed ${delay} ms per chunk for ${hold} ms`);
    }
    case 'full_restart': {
      const hard = rng.chance(0.5);
      if (hard) await Promise.all(cluster.nodes.map((x) => x.kill9()));
      else await Promise.all(cluster.nodes.map((x) => x.stop()));
      // Followers first sometimes, the leader first other times.
      const order = rng.chance(0.5) ? [...cluster.nodes] : [...cluster.nodes].reverse();
      for (const x of order) x.start();
      await Promise.all(cluster.nodes.map((x) => x.waitReady('answering', 60_000)));
      return record('all', `${hard ? 'kill -9' : 'SIGTERM'} of all three, restarted ${order.map((x) => x.id).join(', ')}`);
    }
    case 'force_resync': {
      const id = rng.pick(followerIds);
      let detail: string;
      try {
        const res = await fetch(`${cluster.leader.url}/_raft/force-resync?target=${id}`, { method: 'POST', signal: AbortSignal.timeout(90_000) });
        const body = (await res.json()) as { success?: boolean; message?: string; error?: { message?: string } };
        detail = `${res.status} success=${String(body.success)} ${body.message ?? body.error?.message ?? ''}`;
      } catch (error) {
        detail = `request failed: ${(error as Error).message}`;
      }
      return record(id, detail.slice(0, 200));
    }
  }
}
