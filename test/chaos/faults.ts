// The fault schedule: a seeded sequence of faults, each injected, held and healed in turn while
// the workload runs. Kinds: kill -9 and restart of any node (the leader included), SIGSTOP of a
// follower until the leader reports it desynced (or a time limit) then SIGCONT, a cut link between
// the leader and one follower (both directions), a slow link, a full restart of the cluster, and a
// force-resync of a follower under load. Storage faults: kill -9 of any node with its log.db WAL
// (and -shm) deleted before the restart, so its log is behind its state; kill -9 of a follower
// with its whole data directory removed, so it starts from nothing and must be resynced; and a
// full disk on one node (its own tmpfs filled to a few hundred KB) for a few seconds under load.
// Leader faults: SIGSTOP of the leader for a few seconds then SIGCONT (pause_leader); one-way cuts
// between the leader and one follower (cut_leader_to_follower, cut_follower_to_leader). Time:
// a step of one node's wall clock, forward or backward, for a few seconds, under libfaketime
// (clock_jump; skipped without it). Load: many clients writing one document id at once
// (hot_key, run by the shared-key workload; skipped without it), and documents of 64 KB to 1 MB
// written through the leader while its health is polled (large_documents).
// Each fault also checks what the product promises for it (see FaultRecord.problems).
//
// A one-way cut is per TCP connection direction: cluster.proxy(from, to) carries the connections
// `from` opens towards `to`, and cutting it stalls both byte directions of those connections
// (requests and their answers) while the connections the other node opens still pass. That is
// the split the product's traffic makes meaningful: the leader opens the connections that carry
// appends, heartbeats and snapshots (the follower's acknowledgement is the answer on the same
// connection), and a follower opens the connections that carry the writes it forwards. So
// cut_leader_to_follower stalls replication to that follower while its forwarded writes still
// reach the leader, and cut_follower_to_leader stalls its forwarded writes while replication goes on.

import { closeSync, openSync, readFileSync, rmSync, statSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ChaosCluster } from './cluster.ts';
import type { LinkProxy } from './proxy.ts';
import { getJson } from './checker.ts';
import type { WriteOp } from './history.ts';
import type { Prng } from './prng.ts';
import { sleep } from './workload.ts';

export const FAULT_KINDS = [
  'kill_restart', 'pause_resume', 'cut_link', 'slow_link', 'full_restart', 'force_resync', 'lose_wal', 'wipe_follower', 'disk_full',
  'pause_leader', 'cut_leader_to_follower', 'cut_follower_to_leader', 'clock_jump', 'hot_key', 'large_documents', 'handover',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultRecord {
  n: number;
  kind: FaultKind;
  target: string;
  started_ms: number;
  held_ms: number;
  detail: string;
  /** Set when the fault could not be injected on this machine (why); it is not counted as injected. */
  skipped?: string;
  /**
   * What the product promises for this fault and did not do: a leader still recovering long after
   * its followers are back, a wiped follower with its old storage id or never resynced, a read
   * refused on a node whose disk is full, a full disk not noticed as freed. Any fails the run.
   */
  problems?: string[];
  /**
   * lose_wal on the leader: when it was killed and the highest log index a follower held then.
   * A write acknowledged with write concern `leader` above that index, before the kill, was on the
   * deleted WAL only: losing it is beyond what that concern promises (kill -9, not a lost disk).
   */
  leader_wal_lost?: { killed_ms: number; followers_last_index: number | null };
  /** handover: what was asked, what it answered, and who led before and after. */
  handover?: HandoverRecord;
}

export const HANDOVER_VARIANTS = ['healthy', 'unhealthy_target', 'unknown_target', 'kill_old_leader', 'kill_target'] as const;
export type HandoverVariant = (typeof HANDOVER_VARIANTS)[number];

export interface HandoverRecord {
  variant: HandoverVariant;
  from: string;
  to: string;
  term_before: number;
  /** The transfer's answer: its status (or the request's error) and error code. */
  status: string;
  code?: string;
  answered_ms: number;
  /** The node killed -9 during or right after the handover, and when (ms after the request). */
  killed?: { node: string; after_ms: number };
  leader_after: string | null;
  term_after: number | null;
}

/** Extra writes through the leader, recorded in the history; resolves with how many were acknowledged. */
export type Pump = (count: number, contentBytes?: number) => Promise<number>;

/** Many clients writing one document id at once for `durationMs`; resolves with how many writes were tried and acknowledged. */
export type HotKey = (durationMs: number) => Promise<{ attempted: number; ok: number }>;

/** Why hot_key is skipped when the run gives no HotKey callback. */
export const NO_SHARED_KEY_WORKLOAD = 'no shared-key workload';

/** A leader resumed after SIGSTOP must answer /_raft/health within this long, ms. */
const RESUME_ANSWER_MS_MAX = 5_000;
/** The leader's /_raft/health must answer within this long at every poll while large documents are written, ms. */
const HEALTH_ANSWER_MS_MAX = 2_000;
const HEALTH_POLL_MS = 200;
/** server.body_bytes_max of the chaos cluster (the default): a large document's body stays under it. */
const BODY_BYTES_MAX = 524_288;
/** Room in a write's body for the JSON around its content, bytes. */
const BODY_OVERHEAD_BYTES_MAX = 1_024;
/** How long followers must stay healthy in the leader's sync-status to count as back, ms. */
const HEALTHY_STABLE_MS = 1_000;
/** How far a node's Date header may be from the offset it was given, s (the header has whole seconds). */
const CLOCK_SKEW_SLACK_S = 5;
const CLOCK_JUMP_MS_MIN = 1_500;

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
  /** How long a node's disk is kept full, ms. */
  diskFullMs: [number, number];
  /** Space left on the filled tmpfs, KB. */
  diskFullLeaveKb: [number, number];
  /** Bytes of content in the writes pushed while a disk is full. */
  diskFullContentBytes: number;
  /** How long a node may take to leave a condition (recovering, disk_full) or a wiped follower to be resynced, ms. */
  settleMaxMs: number;
  /** How long the leader stays SIGSTOPped, ms. */
  pauseLeaderMs: [number, number];
  /** How long one node's wall clock stays stepped, ms: at least CLOCK_JUMP_MS_MIN (node refreshes its Date header, which shows the step, once a second). */
  clockJumpMs: [number, number];
  /** Size of the step, s (forward or backward, drawn). */
  clockJumpS: [number, number];
  /** How long many clients write one document id, ms. */
  hotKeyMs: [number, number];
  /** Bytes of content in each large document. */
  largeDocBytes: [number, number];
  /** handover with a kill: how long after the transfer request the node is killed -9, ms. */
  handoverKillMs: [number, number];
  /** How many large documents are written. */
  largeDocCount: [number, number];
}

export const CI_TIMINGS: FaultTimings = {
  downMs: [200, 1200],
  pauseMaxMs: 6_000,
  pauseMinMs: 500,
  cutMs: [800, 3_000],
  slowMs: [1_000, 3_000],
  slowDelayMs: [20, 150],
  gapMs: [200, 800],
  diskFullMs: [2_000, 5_000],
  diskFullLeaveKb: [128, 512],
  diskFullContentBytes: 4_096,
  settleMaxMs: 60_000,
  pauseLeaderMs: [500, 3_000],
  clockJumpMs: [1_500, 3_000],
  clockJumpS: [600, 86_400],
  hotKeyMs: [1_000, 3_000],
  largeDocBytes: [64 * 1024, 256 * 1024],
  largeDocCount: [8, 16],
  handoverKillMs: [0, 400],
};

/** n faults: every kind (of `kinds`, default all) appears round-robin-ish, order and targets from the seed. */
/** kill_restart faults run so far per cluster: they alternate between the leader and a follower. */
const killsSoFar = new WeakMap<object, number>();

export function planFaults(rng: Prng, count: number, kinds: readonly FaultKind[] = FAULT_KINDS): FaultKind[] {
  if (kinds.length === 0) throw new Error('planFaults: no fault kind');
  const plan: FaultKind[] = [];
  while (plan.length < count) {
    const round = [...kinds];
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

/**
 * Waits until the leader reports every one of `ids` healthy in its sync-status, and goes on
 * reporting it for HEALTHY_STABLE_MS (a leader just resumed may still show what it saw before).
 * Resolves with how long it took and, when it timed out, what was not healthy.
 */
async function waitHealthy(cluster: ChaosCluster, ids: string[], timeoutMs: number): Promise<{ ms: number; left: string[] }> {
  const started = Date.now();
  let healthySince: number | undefined;
  for (;;) {
    const s = await getJson<SyncStatus>(`${cluster.leader.url}/_raft/sync-status`, 2_000).catch(() => undefined);
    const left = s === undefined ? ['(sync-status not answering)'] : ids.flatMap((id) => {
      const health = s.followers.find((f) => f.node_id === id)?.health;
      return health === 'healthy' ? [] : [`${id} ${health ?? 'not listed'}`];
    });
    const now = Date.now();
    if (left.length > 0) healthySince = undefined;
    else healthySince ??= now;
    if (healthySince !== undefined && now - healthySince >= HEALTHY_STABLE_MS) return { ms: healthySince - started, left: [] };
    if (now - started >= timeoutMs) return { ms: now - started, left: left.length > 0 ? left : ids.map((id) => `${id} healthy only just now`) };
    await sleep(100);
  }
}

/** Polls /_raft/health until the node answers; resolves with how long it took, or undefined past `timeoutMs`. */
async function waitAnswering(url: string, timeoutMs: number): Promise<number | undefined> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if ((await raftHealth(url, Math.max(1, timeoutMs - (Date.now() - started)))) !== undefined) return Date.now() - started;
    await sleep(100);
  }
  return undefined;
}

/** How far the node's wall clock is from this process's, s, from its Date header; undefined when it does not answer. */
async function clockSkewS(url: string): Promise<number | undefined> {
  try {
    const res = await fetch(`${url}/_raft/health`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    const date = res.headers.get('date');
    return date === null ? undefined : Math.round((Date.parse(date) - Date.now()) / 1_000);
  } catch {
    return undefined;
  }
}

interface RaftHealth {
  status?: string;
  last_applied?: number;
  conditions?: Array<{ code: string; message?: string }>;
}

/** /_raft/health of a node (200 or 503 alike), or undefined when it does not answer within `timeoutMs`. */
async function raftHealth(url: string, timeoutMs = 2_000): Promise<RaftHealth | undefined> {
  try {
    const res = await fetch(`${url}/_raft/health`, { signal: AbortSignal.timeout(timeoutMs) });
    return (await res.json()) as RaftHealth;
  } catch {
    return undefined;
  }
}

/** The condition codes a node reports now, or undefined when it does not answer. */
export async function nodeConditions(url: string): Promise<string[] | undefined> {
  const h = await raftHealth(url);
  return h === undefined ? undefined : (h.conditions ?? []).map((c) => c.code);
}

/**
 * Waits until the node answers without any of `codes` among its conditions. Resolves with whether
 * one was seen meanwhile, how long it took, and the codes still set when it timed out.
 */
async function waitCleared(url: string, codes: string[], timeoutMs: number): Promise<{ seen: boolean; ms: number; left: string[] | undefined }> {
  const started = Date.now();
  let seen = false;
  let last: string[] | undefined;
  for (;;) {
    last = await nodeConditions(url);
    const set = last?.filter((c) => codes.includes(c));
    if (set !== undefined && set.length > 0) seen = true;
    if (set !== undefined && set.length === 0) return { seen, ms: Date.now() - started, left: undefined };
    if (Date.now() - started >= timeoutMs) return { seen, ms: Date.now() - started, left: set ?? ['(no answer)'] };
    await sleep(100);
  }
}

function appliedIndex(url: string): Promise<number | undefined> {
  return getJson<{ applied_index: number }>(`${url}/_raft/checksum`, 5_000).then(
    (c) => c.applied_index,
    () => undefined,
  );
}

/** The highest last_log_index among the followers that answer, or null when none does. */
async function followersLastIndex(cluster: ChaosCluster, leaderId: string): Promise<number | null> {
  const lasts = await Promise.all(
    cluster.nodes.filter((n) => n.id !== leaderId).map((f) =>
      getJson<{ last_log_index: number }>(`${f.url}/_raft/checksum`, 5_000).then(
        (c) => c.last_log_index,
        () => undefined,
      ),
    ),
  );
  const known = lasts.filter((x): x is number => x !== undefined);
  return known.length === 0 ? null : Math.max(...known);
}

/**
 * Waits until a restarted node has applied at least `minApplied` and reports no condition: it
 * holds again what it held, and serves. Resolves with the conditions seen meanwhile, how long it
 * took, and what was wrong when it timed out.
 */
async function settle(id: string, url: string, minApplied: number, timeoutMs: number, after = 'its restart'): Promise<{ seen: string[]; ms: number; problem?: string }> {
  const started = Date.now();
  const seen = new Set<string>();
  for (;;) {
    const h = await raftHealth(url);
    const codes = h === undefined ? undefined : (h.conditions ?? []).map((c) => c.code);
    for (const c of codes ?? []) seen.add(c);
    const applied = h?.last_applied;
    if (codes !== undefined && codes.length === 0 && applied !== undefined && applied >= minApplied) return { seen: [...seen], ms: Date.now() - started };
    if (Date.now() - started >= timeoutMs) {
      const now = h === undefined ? 'not answering' : `applied ${applied ?? '?'} of ${minApplied}, conditions ${codes?.join(',') || 'none'} (${h.status ?? ''})`;
      return { seen: [...seen], ms: Date.now() - started, problem: `${id} not settled ${timeoutMs} ms after ${after}: ${now}` };
    }
    await sleep(100);
  }
}

function fileBytes(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

function storageId(dataDir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dataDir, 'identity.json'), 'utf8')) as { storage_id?: string }).storage_id;
  } catch {
    return undefined;
  }
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Writes `file` on the file system of `dir` until about `leaveBytes` remain; resolves with what is left. */
function fillUp(dir: string, file: string, leaveBytes: number): number {
  const chunk = Buffer.alloc(1024 * 1024, 0x5a);
  const fd = openSync(file, 'w');
  try {
    for (;;) {
      const want = Math.min(chunk.length, freeBytes(dir) - leaveBytes);
      if (want < 4096) break;
      try {
        writeSync(fd, chunk, 0, want);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
  return freeBytes(dir);
}

/** GET of one document on one node (no min_index): the status, or the error's name. */
async function readStatus(url: string, w: WriteOp): Promise<string> {
  try {
    const res = await fetch(`${url}/api/v1/documents/${w.id}`, { headers: { 'x-workspace-id': w.workspace }, signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    return String(res.status);
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    return e.cause?.code ?? e.name;
  }
}

export interface FaultContext {
  cluster: ChaosCluster;
  rng: Prng;
  timings: FaultTimings;
  /** The cluster's resync_threshold: a paused follower is pushed past it. */
  resyncThreshold: number;
  pump: Pump;
  /** The writes acknowledged so far, oldest first. */
  acked: () => readonly WriteOp[];
  /** The shared-key workload's hot key (hot_key is skipped without it). */
  hotKey?: HotKey;
  /** replication.operator_token of the cluster (force-resync, transfer-leadership), when set. */
  operatorToken?: string;
  /** The handover variants still to deal this round (kept by the run across faults; see handoverVariant). */
  handoverDeck?: HandoverVariant[];
}

/**
 * The next handover variant: dealt in rounds, each starting with a handover to a healthy follower
 * and then the others in a seeded order, so that a run's first handover really hands over and
 * every variant comes within five handovers.
 */
export function handoverVariant(rng: Prng, deck: HandoverVariant[]): HandoverVariant {
  if (deck.length === 0) {
    const rest: HandoverVariant[] = HANDOVER_VARIANTS.filter((v) => v !== 'healthy');
    for (let i = rest.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [rest[i], rest[j]] = [rest[j] as HandoverVariant, rest[i] as HandoverVariant];
    }
    deck.push('healthy', ...rest);
  }
  return deck.shift() as HandoverVariant;
}

function operatorHeaders(ctx: FaultContext): Record<string, string> {
  return ctx.operatorToken === undefined || ctx.operatorToken === '' ? {} : { authorization: `Bearer ${ctx.operatorToken}` };
}

/** How long a refused transfer may keep the leader from acknowledging a write, ms. */
const HANDOVER_REFUSED_WRITE_MS_MAX = 15_000;
/** How long a follower is given to show as not healthy once its link from the leader is cut, ms. */
const UNHEALTHY_WAIT_MS = 10_000;

/** POST /_raft/transfer-leadership on `url`: the status (or the request's error), the error code, the body. */
async function transferLeadership(ctx: FaultContext, url: string, target: string): Promise<{ status: string; code?: string; leader?: string; json: boolean; ms: number }> {
  const started = Date.now();
  try {
    const res = await fetch(`${url}/_raft/transfer-leadership?target=${encodeURIComponent(target)}`, { method: 'POST', headers: operatorHeaders(ctx), signal: AbortSignal.timeout(40_000) });
    const text = await res.text();
    let body: { leader?: string; error?: { code?: string } } | undefined;
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      body = undefined;
    }
    return { status: String(res.status), code: body?.error?.code, leader: body?.leader, json: body !== undefined, ms: Date.now() - started };
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    return { status: e.cause?.code ?? (e.name === 'TimeoutError' ? 'timeout' : e.name), json: false, ms: Date.now() - started };
  }
}

/** A refusal as promised: a 4xx or a 503 with a JSON error naming its code. */
function cleanRefusal(a: { status: string; code?: string; json: boolean }): boolean {
  const s = Number(a.status);
  return a.json && typeof a.code === 'string' && a.code !== '' && ((s >= 400 && s < 500) || s === 503 || s === 507);
}

export async function injectFault(ctx: FaultContext, kind: FaultKind, n: number): Promise<FaultRecord> {
  const { cluster, rng, timings: t } = ctx;
  const started = Date.now();
  const problems: string[] = [];
  const record = (target: string, detail: string): FaultRecord => ({
    n, kind, target, started_ms: started, held_ms: Date.now() - started, detail, ...(problems.length > 0 ? { problems } : {}),
  });
  // Whichever node leads now (a fresh round of /_raft/health), and the others.
  const leaderId = await cluster.leaders.current();
  const nodeIds = cluster.nodes.map((x) => x.id);
  const followerIds = nodeIds.filter((x) => x !== leaderId);
  switch (kind) {
    case 'kill_restart': {
      // The leader and a follower in turn (the leader first): any schedule with two kills (CI's
      // has two of each kind) kills the leader once, whatever the seed.
      const kills = killsSoFar.get(cluster) ?? 0;
      killsSoFar.set(cluster, kills + 1);
      const ofLeader = kills % 2 === 0;
      const id = ofLeader ? leaderId : rng.pick(followerIds);
      const node = cluster.node(id);
      const down = rng.int(...t.downMs);
      await node.kill9();
      await sleep(down);
      await node.restart('answering');
      return record(id, `kill -9 of ${ofLeader ? 'the leader' : 'a follower'}, down ${down} ms, restarted`);
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
      const links = cluster.link(leaderId, id);
      for (const p of links) p.cut();
      await sleep(hold);
      const health = await followerHealth(cluster, id);
      for (const p of links) p.heal();
      return record(id, `link ${leaderId}<->${id} cut ${hold} ms, leader saw ${health ?? 'nothing'}`);
    }
    case 'slow_link': {
      const both = rng.chance(0.3);
      const ids = both ? followerIds : [rng.pick(followerIds)];
      const hold = rng.int(...t.slowMs);
      const delay = rng.int(...t.slowDelayMs);
      const links = ids.flatMap((id) => cluster.link(leaderId, id));
      for (const p of links) p.setDelay(delay);
      await sleep(hold);
      for (const p of links) p.setDelay(0);
      return record(ids.join('+'), `links ${leaderId}<->${ids.join(',')} delayed ${delay} ms per chunk for ${hold} ms`);
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
        const res = await fetch(`${cluster.leader.url}/_raft/force-resync?target=${id}`, { method: 'POST', headers: operatorHeaders(ctx), signal: AbortSignal.timeout(90_000) });
        const body = (await res.json()) as { success?: boolean; message?: string; error?: { message?: string } };
        detail = `${res.status} success=${String(body.success)} ${body.message ?? body.error?.message ?? ''}`;
      } catch (error) {
        detail = `request failed: ${(error as Error).message}`;
      }
      return record(id, detail.slice(0, 200));
    }
    case 'lose_wal': {
      // The log loses what only its WAL held: the node restarts with a log behind its state. The
      // leader must recover what the followers hold before it takes a write (recovering meanwhile).
      const id = rng.pick(nodeIds);
      const node = cluster.node(id);
      const down = rng.int(...t.downMs);
      const dir = cluster.dataDir(id);
      const leaderApplied = (await appliedIndex(cluster.leader.url)) ?? 0;
      await node.kill9();
      const killedAt = Date.now();
      // What the followers hold: a write acknowledged by the leader alone (write concern leader)
      // above this was on the deleted WAL only, beyond what that concern promises to survive.
      const followersLast = id === leaderId ? await followersLastIndex(cluster, leaderId) : undefined;
      const walBytes = fileBytes(join(dir, 'log.db-wal'));
      rmSync(join(dir, 'log.db-wal'), { force: true });
      rmSync(join(dir, 'log.db-shm'), { force: true });
      await sleep(down);
      await node.restart('answering');
      const s = await settle(node.id, node.url, leaderApplied, t.settleMaxMs);
      if (s.problem !== undefined) problems.push(s.problem);
      const wal = walBytes === undefined ? 'no log.db-wal' : `log.db-wal of ${Math.round(walBytes / 1024)} KB`;
      const rec = record(
        id,
        `kill -9, ${wal} and log.db-shm deleted, down ${down} ms, restarted; conditions seen: ${s.seen.join(',') || 'none'}; ` +
          `settled (applied >= ${leaderApplied}, no condition) ${s.ms} ms after answering` +
          (followersLast === undefined ? '' : `; followers held up to index ${followersLast ?? '?'}`),
      );
      if (id === leaderId) rec.leader_wal_lost = { killed_ms: killedAt, followers_last_index: followersLast ?? null };
      return rec;
    }
    case 'wipe_follower': {
      // The follower starts from nothing: a new storage id, then the leader resyncs it.
      const id = rng.pick(followerIds);
      const node = cluster.node(id);
      const down = rng.int(...t.downMs);
      const dir = cluster.dataDir(id);
      const before = storageId(dir);
      await node.kill9();
      const leaderApplied = (await appliedIndex(cluster.leader.url)) ?? 0;
      rmSync(dir, { recursive: true, force: true });
      await sleep(down);
      await node.restart('answering');
      const after = storageId(dir);
      const first = await appliedIndex(node.url);
      if (after === undefined || after === before) problems.push(`${id} restarted on a wiped directory with storage id ${after ?? 'none'} (was ${before ?? 'none'})`);
      // Resynced: it holds at least what the leader had applied when it was killed, and no condition.
      const s = await settle(node.id, node.url, leaderApplied, t.settleMaxMs);
      if (s.problem !== undefined) problems.push(s.problem);
      return record(
        id,
        `kill -9, data directory removed, down ${down} ms, restarted with storage id ${after?.slice(0, 8) ?? 'none'} (was ${before?.slice(0, 8) ?? 'none'}), ` +
          `applied ${first ?? '?'} at first look, resynced to >= ${leaderApplied} ${s.ms} ms after answering; conditions seen: ${s.seen.join(',') || 'none'}`,
      );
    }
    case 'disk_full': {
      // One node's tmpfs filled to a few hundred KB for a few seconds while writes are pushed:
      // writes may be refused (507 disk_full), reads on that node must go on, and once the filler
      // is deleted the node must notice by itself (no restart).
      const id = rng.pick(nodeIds);
      const hold = rng.int(...t.diskFullMs);
      const leaveKb = rng.int(...t.diskFullLeaveKb);
      const mount = cluster.mountDir(id);
      if (mount === undefined) return { ...record(id, 'not injected'), skipped: cluster.storage.reason ?? 'no tmpfs' };
      const node = cluster.node(id);
      // Documents this node holds now, read back while its disk is full.
      const applied = (await appliedIndex(node.url)) ?? 0;
      const sample = ctx.acked().filter((w) => w.index !== undefined && w.index <= applied).slice(-8);
      const filler = join(mount, 'filler');
      const left = fillUp(mount, filler, leaveKb * 1024);
      const deadline = Date.now() + hold;
      let pumped = 0;
      const pushing = (async (): Promise<void> => {
        while (Date.now() < deadline) {
          pumped += await ctx.pump(16, t.diskFullContentBytes);
          await sleep(50);
        }
      })();
      let seen = false;
      let reads = 0;
      const refused = new Map<string, number>();
      try {
        while (Date.now() < deadline) {
          if ((await nodeConditions(node.url))?.includes('disk_full') === true) seen = true;
          const w = sample[reads % Math.max(1, sample.length)];
          if (w !== undefined) {
            reads++;
            const status = await readStatus(node.url, w);
            if (status !== '200') refused.set(status, (refused.get(status) ?? 0) + 1);
          }
          await sleep(200);
        }
      } finally {
        await pushing;
        rmSync(filler, { force: true });
      }
      const failedReads = [...refused.values()].reduce((a, b) => a + b, 0);
      if (failedReads > 0) problems.push(`${failedReads} of ${reads} reads on ${id} failed while its disk was full: ${[...refused].map(([s, c]) => `${s} x${c}`).join(', ')}`);
      // Writes resume by themselves: the condition clears, and the node catches up with the leader.
      const r = await waitCleared(node.url, ['disk_full'], t.settleMaxMs);
      seen ||= r.seen;
      if (r.left !== undefined) problems.push(`${id} still ${r.left.join(',')} ${r.ms} ms after the filler was deleted`);
      const s = await settle(id, node.url, (await appliedIndex(cluster.leader.url)) ?? 0, t.settleMaxMs);
      if (s.problem !== undefined && r.left === undefined) problems.push(s.problem);
      return record(
        id,
        `tmpfs filled to ${Math.round(left / 1024)} KB free for ${hold} ms, ${pumped} pushed writes acknowledged; ` +
          `${seen ? `disk_full reported, clear ${r.ms} ms after freeing` : 'disk_full never reported'}; ${reads - failedReads}/${reads} reads on ${id} answered 200; ` +
          `caught up ${s.ms} ms later`,
      );
    }
    case 'pause_leader': {
      // Nothing is replicated and forwarded writes stall meanwhile. After SIGCONT the leader must
      // answer at once, and every follower be healthy again (stably) within settleMaxMs.
      const node = cluster.leader;
      const hold = rng.int(...t.pauseLeaderMs);
      node.pause();
      await sleep(hold);
      node.resume();
      const answered = await waitAnswering(node.url, RESUME_ANSWER_MS_MAX);
      if (answered === undefined) problems.push(`${node.id} did not answer /_raft/health within ${RESUME_ANSWER_MS_MAX} ms of its SIGCONT`);
      const h = await waitHealthy(cluster, followerIds, t.settleMaxMs);
      if (h.left.length > 0) problems.push(`followers not healthy ${h.ms} ms after the leader's SIGCONT: ${h.left.join(', ')}`);
      return record(node.id, `SIGSTOP ${hold} ms, then SIGCONT; answered ${answered ?? '-'} ms later, followers healthy ${h.ms} ms later`);
    }
    case 'cut_leader_to_follower':
    case 'cut_follower_to_leader': {
      // One direction of connections only (see the header): the leader's appends and snapshots to
      // the follower, or the follower's forwarded writes to the leader.
      const id = rng.pick(followerIds);
      const hold = rng.int(...t.cutMs);
      const fromLeader = kind === 'cut_leader_to_follower';
      const from = fromLeader ? leaderId : id;
      const to = fromLeader ? id : leaderId;
      const p = cluster.proxy(from, to);
      p.cut();
      await sleep(hold);
      const seen = await follower(cluster, id);
      p.heal();
      return record(id, `connections ${from} -> ${to} cut ${hold} ms (${to} -> ${from} open), leader saw ${id} ${seen?.health ?? 'nothing'} (lag ${seen?.lag ?? '?'})`);
    }
    case 'clock_jump': {
      // A step of one node's wall clock (its monotonic clock keeps its pace), then back to the real
      // time: the node must answer and be in sync again within settleMaxMs.
      const id = rng.pick(nodeIds);
      const hold = rng.int(...t.clockJumpMs);
      if (hold < CLOCK_JUMP_MS_MIN) throw new Error(`clock_jump: a hold of ${hold} ms is too short to see the step (at least ${CLOCK_JUMP_MS_MIN} ms)`);
      const offsetS = (rng.chance(0.5) ? 1 : -1) * rng.int(...t.clockJumpS);
      const spec = offsetS > 0 ? `+${offsetS}` : String(offsetS);
      if (!cluster.clock.faketime) return { ...record(id, 'not injected'), skipped: cluster.clock.reason ?? 'no libfaketime' };
      const node = cluster.node(id);
      const deadline = Date.now() + hold;
      // The node's own answers say what its wall clock reads (node caches its Date header for up
      // to a second): the step took.
      let skew: number | undefined;
      let tookMs: number | undefined;
      cluster.setClockOffset(id, spec);
      try {
        while (Date.now() < deadline) {
          if (tookMs === undefined) {
            skew = await clockSkewS(node.url);
            if (skew !== undefined && Math.abs(skew - offsetS) <= CLOCK_SKEW_SLACK_S) tookMs = Date.now() - (deadline - hold);
          }
          await sleep(Math.min(250, Math.max(0, deadline - Date.now())));
        }
      } finally {
        cluster.setClockOffset(id, '+0');
      }
      if (tookMs === undefined) problems.push(`${id}'s Date header was ${skew ?? '?'} s off the real time until the end of ${hold} ms under offset ${spec}: the step did not take`);
      const leaderApplied = (await appliedIndex(cluster.leader.url)) ?? 0;
      const s = await settle(id, node.url, leaderApplied, t.settleMaxMs, 'its clock was set back to the real time');
      if (s.problem !== undefined) problems.push(s.problem);
      const h = await waitHealthy(cluster, id === leaderId ? followerIds : [id], t.settleMaxMs);
      if (h.left.length > 0) problems.push(`not healthy in the leader's sync-status ${h.ms} ms after ${id}'s clock was set back: ${h.left.join(', ')}`);
      return record(
        id,
        `wall clock ${spec} s for ${hold} ms (its Date header said ${skew ?? '?'} s after ${tookMs ?? '-'} ms), then +0; settled (applied >= ${leaderApplied}, no condition) ${s.ms} ms later, ` +
          `healthy in sync-status ${h.ms} ms later; conditions seen: ${s.seen.join(',') || 'none'}`,
      );
    }
    case 'hot_key': {
      const hold = rng.int(...t.hotKeyMs);
      if (ctx.hotKey === undefined) return { ...record('one id', 'not injected'), skipped: NO_SHARED_KEY_WORKLOAD };
      const r = await ctx.hotKey(hold);
      return record('one id', `${r.attempted} writes of one document id by many clients in ${hold} ms, ${r.ok} acknowledged`);
    }
    case 'handover': {
      // A planned handover (POST /_raft/transfer-leadership) under the writes, in one of these
      // variants (dealt by handoverVariant): to a healthy follower; to a follower made unhealthy first (the
      // connections the leader opens to it cut until its sync-status says so) or to a node that
      // does not exist, which must be refused with a clean 4xx/503 JSON error and change nothing;
      // to a healthy follower with kill -9 of the old leader or of the target 0-400 ms into it,
      // restarted after 0.2-1.2 s. Then one node must lead (a term not below the one before), the
      // others be healthy in its sync-status, and writes be acknowledged again; later faults hit
      // whichever node leads then.
      const variant = handoverVariant(rng, ctx.handoverDeck ?? []);
      const to = variant === 'unknown_target' ? 'node-9' : rng.pick(followerIds);
      const killDelay = rng.int(...t.handoverKillMs);
      const down = rng.int(...t.downMs);
      const before = await cluster.leaders.waitLeader(t.settleMaxMs);
      if (before === undefined) {
        problems.push(`no node said it leads within ${t.settleMaxMs} ms before the handover`);
        return record(to, 'not asked: no leader');
      }
      const from = before.id;
      const fromUrl = cluster.node(from).url;
      const notes: string[] = [];
      if (variant !== 'unknown_target' && variant !== 'unhealthy_target') {
        // Healthy first, so that the transfer can go ahead (earlier faults may have left it lagging).
        const h = await waitHealthy(cluster, [to], t.settleMaxMs);
        if (h.left.length > 0) notes.push(`${to} not healthy before: ${h.left.join(', ')}`);
      }
      let cut: LinkProxy | undefined;
      if (variant === 'unhealthy_target') {
        cut = cluster.proxy(from, to);
        cut.cut();
        const since = Date.now();
        let seen = await followerHealth(cluster, to);
        while (seen === 'healthy' && Date.now() - since < UNHEALTHY_WAIT_MS) {
          await sleep(100);
          seen = await followerHealth(cluster, to);
        }
        notes.push(`${from} saw ${to} ${seen ?? 'nothing'} ${Date.now() - since} ms after the cut`);
      }
      cluster.leaders.changeBegins();
      const asked = Date.now();
      const answering = transferLeadership(ctx, fromUrl, to);
      let killed: HandoverRecord['killed'];
      if (variant === 'kill_old_leader' || variant === 'kill_target') {
        const victim = cluster.node(variant === 'kill_old_leader' ? from : to);
        await sleep(killDelay);
        await victim.kill9();
        killed = { node: victim.id, after_ms: Date.now() - asked };
        await sleep(down);
        await victim.restart('answering');
      }
      const answer = await answering;
      cut?.heal();
      const refused = cleanRefusal(answer);
      const accepted = answer.status === '200';
      const mustRefuse = variant === 'unknown_target' || variant === 'unhealthy_target';
      if (killed === undefined) {
        if (mustRefuse && !refused) problems.push(`transfer to ${variant === 'unknown_target' ? 'a node that does not exist' : `${to}, not healthy,`} answered ${answer.status}${answer.code === undefined ? '' : ` ${answer.code}`}: expected a 4xx or 503 JSON error`);
        if (!mustRefuse && !accepted && !refused) problems.push(`transfer to ${to} answered ${answer.status}${answer.code === undefined ? '' : ` ${answer.code}`}${answer.json ? '' : ' (no JSON error)'}: neither done nor cleanly refused`);
        if (accepted && answer.leader !== to) problems.push(`transfer to ${to} answered 200 naming ${answer.leader ?? 'no leader'}`);
      }
      // Settled: one node leads, the others are healthy in its sync-status.
      const after = await cluster.leaders.waitLeader(t.settleMaxMs);
      if (after === undefined) problems.push(`no node said it leads within ${t.settleMaxMs} ms of the handover`);
      else {
        if (after.term < before.term) problems.push(`${after.id} leads in term ${after.term}, below term ${before.term} before the handover`);
        if (killed === undefined && accepted && (after.id !== to || after.term <= before.term)) problems.push(`transfer to ${to} answered 200 but ${after.id} leads in term ${after.term} (term ${before.term} before)`);
        if (killed === undefined && refused && (after.id !== from || after.term !== before.term)) problems.push(`refused transfer (${answer.status} ${answer.code ?? ''}) changed the leader: ${after.id} in term ${after.term}, was ${from} in term ${before.term}`);
        const h = await waitHealthy(cluster, nodeIds.filter((x) => x !== after.id), t.settleMaxMs);
        if (h.left.length > 0) problems.push(`not healthy in ${after.id}'s sync-status ${h.ms} ms after the handover: ${h.left.join(', ')}`);
      }
      await cluster.leaders.round();
      cluster.leaders.changeSettled();
      // Writes go on through whichever node leads.
      const writeStarted = Date.now();
      let pushed = 0;
      while (pushed === 0 && Date.now() - writeStarted < HANDOVER_REFUSED_WRITE_MS_MAX) {
        pushed = await ctx.pump(2);
        if (pushed === 0) await sleep(200);
      }
      if (pushed === 0) problems.push(`no write through the leader acknowledged within ${HANDOVER_REFUSED_WRITE_MS_MAX} ms of the handover`);
      const rec = record(
        to,
        `${variant}: ${from} (term ${before.term}) -> ${to} answered ${answer.status}${answer.code === undefined ? '' : ` ${answer.code}`} in ${answer.ms} ms` +
          (killed === undefined ? '' : `; ${killed.node} killed -9 ${killed.after_ms} ms in, down ${down} ms`) +
          `; ${after === undefined ? 'no leader after' : `${after.id} leads in term ${after.term}`}; a write acknowledged ${Date.now() - writeStarted} ms later` +
          (notes.length === 0 ? '' : `; ${notes.join('; ')}`),
      );
      rec.handover = {
        variant, from, to, term_before: before.term, status: answer.status, ...(answer.code === undefined ? {} : { code: answer.code }), answered_ms: answer.ms,
        ...(killed === undefined ? {} : { killed }), leader_after: after?.id ?? null, term_after: after?.term ?? null,
      };
      return rec;
    }
    case 'large_documents': {
      // Documents of up to 256 KiB (document_bytes_max) through the leader; its health must keep answering meanwhile.
      const bytes = rng.int(...t.largeDocBytes);
      const count = rng.int(...t.largeDocCount);
      if (bytes + BODY_OVERHEAD_BYTES_MAX > BODY_BYTES_MAX) throw new Error(`large_documents: ${bytes} bytes of content would not fit body_bytes_max ${BODY_BYTES_MAX}`);
      const leader = cluster.leader;
      const state = { done: false };
      const pumping = ctx.pump(count, bytes).finally(() => {
        state.done = true;
      });
      let polls = 0;
      let late = 0;
      let worstMs = 0;
      while (!state.done) {
        const at = Date.now();
        const answer = await raftHealth(leader.url, HEALTH_ANSWER_MS_MAX);
        const ms = Date.now() - at;
        polls++;
        worstMs = Math.max(worstMs, ms);
        if (answer === undefined) late++;
        await sleep(HEALTH_POLL_MS);
      }
      const ok = await pumping;
      if (late > 0) problems.push(`${leader.id}'s /_raft/health did not answer within ${HEALTH_ANSWER_MS_MAX} ms at ${late} of ${polls} polls while large documents were written`);
      return record(
        leader.id,
        `${count} documents of ${Math.round(bytes / 1024)} KB through the leader, ${ok} acknowledged in ${Date.now() - started} ms; ` +
          `/_raft/health polled ${polls} times, slowest answer ${worstMs} ms`,
      );
    }
  }
}
