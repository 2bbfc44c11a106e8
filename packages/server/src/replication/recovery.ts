// A leader that lost part of its storage recovers what the followers hold before it takes a
// write. The follower side answers three GETs (raft-routes.ts, guarded by the cluster secret):
// its log position, a page of its log entries, and a consistent copy of its state. The leader
// side (recoverLeaderLog) asks the followers where their logs are, picks the longest one, and
// rebuilds its log (and, when its state is gone or too old, its state) from it.
//
// The leader side reaches its world through ports (ports.ts): the log and state (ReplicaLog,
// ReplicaState), the recovery marker, the followers (RecoveryPeers) and a clock. The daemon hands
// it log.db, state.db and the HTTP routes (fileRecoveryPorts, HttpRecoveryPeers); the seeded
// simulation (packages/server/test/sim) hands it simulated disks and network, so it runs this code.
//
// Why the longest follower log is enough: the leader applies only committed entries and
// acknowledges a quorum write only once it applied it, so every quorum-acknowledged write is at
// or below the leader's applied index, or (with the state gone too) in the log or state of at
// least one follower. Followers' logs are prefixes of the leader's (same index, same entry), so
// the longest one holds every entry any follower holds, and what it compacted is in its state.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { RaftInvariantError, entryIsIntact } from '@cairn/raft';
import type { Entry } from '@cairn/raft';
import type { Logger } from 'pino';
import type { NodeSpec } from '../config/types.ts';
import { applySlice } from './apply-slice.ts';
import { RECOVERY_PENDING_KEY } from './identity.ts';
import type { Identity, StorageCheck } from './identity.ts';
import { systemClock } from './ports.ts';
import type { Clock, FetchedState, LogEntriesPage, LogPosition, RecoveryMarker, RecoveryPeers, ReplicaLog, ReplicaState, TermRecord } from './ports.ts';
import type { SqliteLog } from './sqlite-log.ts';
import { quickCheck } from './sqlite-worker.ts';
import { readApplied, removeDbFiles } from './state.ts';
import type { StateHolder, StateMachine } from './state.ts';
import type { HttpResult, Transport } from './transport.ts';
import { decode, encode } from './wire.ts';

export type { LogEntriesPage, LogPosition } from './ports.ts';

// ---------------------------------------------------------------------------------------------
// Follower side

/** GET /_raft/log-position: where a node's log and state are. */
export function logPosition(
  log: Pick<ReplicaLog, 'firstIndex' | 'lastIndex' | 'lastLogTerm' | 'meta'>,
  state: Pick<ReplicaState, 'appliedIndex' | 'appliedTerm'>,
  identity: Pick<Identity, 'node_id' | 'cluster_id' | 'storage_id'>,
  term: number,
): LogPosition {
  return {
    node_id: identity.node_id,
    cluster_id: identity.cluster_id,
    storage_id: identity.storage_id,
    first_index: log.firstIndex(),
    last_index: log.lastIndex(),
    last_term: log.lastLogTerm(),
    applied_index: state.appliedIndex(),
    applied_term: state.appliedTerm(),
    commit_index: log.meta('commit_index'),
    // With the term it claimed for a leader: a recovering leader opens a term above both.
    term: Math.max(term, log.meta('claimed_term')),
  };
}

/** At most this many entries, and about this many payload bytes, per GET /_raft/log-entries. */
export const LOG_ENTRIES_PER_CALL_MAX = 1000;
export const LOG_ENTRIES_BYTES_MAX = 8 * 1024 * 1024;

export type LogEntriesAnswer =
  | { status: 200; page: LogEntriesPage }
  | { status: 400 | 410; error: { code: string; message: string; first_index?: number } };

/**
 * GET /_raft/log-entries?from=N&to=M: entries N..M (both included; `to` defaults to, and is
 * capped at, N + LOG_ENTRIES_PER_CALL_MAX - 1 and the last index), at most
 * LOG_ENTRIES_BYTES_MAX of payload (at least one entry). Entries past the end: an empty page.
 * 410 `compacted` when N is below the first index the log holds.
 */
export function readLogEntries(log: Pick<ReplicaLog, 'firstIndex' | 'lastIndex' | 'entries'>, from: string | undefined, to: string | undefined): LogEntriesAnswer {
  const lo = parseIndex(from);
  const hiAsked = to === undefined || to === '' ? lo : parseIndex(to);
  if (lo === null || lo < 1) return { status: 400, error: { code: 'bad_range', message: 'from must be an integer >= 1' } };
  if (hiAsked === null || hiAsked < lo) return { status: 400, error: { code: 'bad_range', message: 'to must be an integer >= from' } };
  const first = log.firstIndex();
  if (lo < first) return { status: 410, error: { code: 'compacted', message: `entries before ${first} were compacted into the state`, first_index: first } };
  const hi = Math.min(to === undefined || to === '' ? Number.MAX_SAFE_INTEGER : hiAsked, lo + LOG_ENTRIES_PER_CALL_MAX - 1, log.lastIndex());
  const entries = hi < lo ? [] : log.entries(lo, hi + 1, LOG_ENTRIES_BYTES_MAX);
  return { status: 200, page: { entries, first_index: first, last_index: log.lastIndex() } };
}

function parseIndex(s: string | undefined): number | null {
  if (s === undefined || !/^\d{1,15}$/.test(s)) return null;
  return Number(s);
}

export function encodeLogEntriesPage(page: LogEntriesPage): Buffer {
  return encode(page);
}

/** Decodes and checks a page: every entry well formed and intact (its checksum), indexes contiguous. */
export function decodeLogEntriesPage(body: Uint8Array): LogEntriesPage {
  const o = decode(body) as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object' || Array.isArray(o) || !Array.isArray(o.entries)) throw new Error('log entries page: not a map with entries');
  const nat = (v: unknown, what: string): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`log entries page: ${what} must be a non-negative integer`);
    return v;
  };
  if (o.entries.length > LOG_ENTRIES_PER_CALL_MAX) throw new Error(`log entries page: more than ${LOG_ENTRIES_PER_CALL_MAX} entries`);
  const entries = o.entries.map((raw: unknown, i: number): Entry => {
    const e = raw as Record<string, unknown> | null;
    if (e === null || typeof e !== 'object') throw new Error(`log entries page: entries[${i}] is not a map`);
    if (!(e.payload instanceof Uint8Array)) throw new Error(`log entries page: entries[${i}].payload is not bytes`);
    const entry = { index: nat(e.index, 'index'), term: nat(e.term, 'term'), type: nat(e.type, 'type'), payload: e.payload, checksum: nat(e.checksum, 'checksum') };
    if (!entryIsIntact(entry)) throw new Error(`log entries page: entry ${entry.index} fails its checksum`);
    return entry;
  });
  for (let i = 1; i < entries.length; i++) {
    const prev = entries[i - 1] as Entry;
    const e = entries[i] as Entry;
    if (e.index !== prev.index + 1) throw new Error(`log entries page: entry ${e.index} follows ${prev.index}`);
    if (e.term < prev.term) throw new Error(`log entries page: entry ${e.index} has an older term than ${prev.index}`);
  }
  return { entries, first_index: nat(o.first_index, 'first_index'), last_index: nat(o.last_index, 'last_index') };
}

/** A consistent copy of a node's state, for GET /_raft/state-snapshot. */
export interface StateCopy {
  file: string;
  index: number;
  term: number;
  bytes: number;
  sha256: string;
  /** Deletes the copy (once sent, or when the request ends otherwise). */
  release(): void;
}

const STATE_COPY_PREFIX = 'state-copy-';
const copying = new Set<string>();

export class StateCopyBusy extends Error {
  override readonly name = 'StateCopyBusy';
}

/**
 * Copies the state (SQLite online backup in a worker: one read transaction, so consistent while
 * the node keeps applying) into dir, and hashes the copy. One copy at a time per directory
 * (StateCopyBusy otherwise); copies left by an earlier run are removed first.
 */
export async function makeStateCopy<S extends StateMachine>(state: StateHolder<S>, dir: string): Promise<StateCopy> {
  if (copying.has(dir)) throw new StateCopyBusy('a state copy is already being made or sent');
  copying.add(dir);
  let file: string | null = null;
  try {
    for (const name of fs.readdirSync(dir)) if (name.startsWith(STATE_COPY_PREFIX)) fs.rmSync(path.join(dir, name), { force: true });
    file = path.join(dir, `${STATE_COPY_PREFIX}${crypto.randomUUID()}.db`);
    const at = await state.snapshotTo(file);
    const sha256 = await hashFile(file);
    const copied = file;
    let released = false;
    return {
      file,
      index: at.index,
      term: at.term,
      bytes: at.bytes,
      sha256,
      release: () => {
        if (released) return;
        released = true;
        removeDbFiles(copied);
        copying.delete(dir);
      },
    };
  } catch (err) {
    if (file !== null) removeDbFiles(file);
    copying.delete(dir);
    throw err;
  }
}

async function hashFile(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Response headers of GET /_raft/state-snapshot. */
export const STATE_COPY_HEADERS = {
  index: 'x-cairn-snapshot-index',
  term: 'x-cairn-snapshot-term',
  bytes: 'x-cairn-snapshot-bytes',
  sha256: 'x-cairn-snapshot-sha256',
} as const;

// ---------------------------------------------------------------------------------------------
// Leader side

export type RecoveryReason = 'log_behind_state' | 'data_gone';

export interface RecoveryOptions {
  log: ReplicaLog;
  state: ReplicaState;
  /** Records durably that this recovery has not finished (a restart recovers again). */
  marker: RecoveryMarker;
  /** Asks the followers what they hold. */
  peers: RecoveryPeers;
  /** The highest term this node opened, kept outside the log (identity.json): the recovered log's term is not below it. */
  terms?: Pick<TermRecord, 'recorded'>;
  followers: NodeSpec[];
  cluster_id: string;
  reason: RecoveryReason;
  logger: Logger;
  /** Timers and time (default: the system clock). */
  clock?: Clock;
  /** Give up (reject) when the followers have not answered within this long; default: wait on. */
  wait_ms_max?: number;
  /** Stops the recovery (the node is stopping): it rejects with the signal's reason. */
  signal?: AbortSignal;
  /** First pause between rounds of asking the followers (doubles up to 1 s); default 100 ms. */
  retry_ms?: number;
  /** Timeout of one request to a follower (default 5 s). */
  request_timeout_ms?: number;
  /** Timeout of a state copy transfer (default 600 s). */
  snapshot_timeout_ms?: number;
  /** Told what the recovery is waiting for or doing, for health. */
  progress?: (message: string) => void;
  /** Called when the state changed (a copy installed, entries applied). */
  onApplied?: () => void;
}

export interface RecoveryResult {
  /** Entries appended to the log from the follower. */
  recovered_entries: number;
  /** The follower recovered from; null when there was nothing to recover (a new cluster). */
  from_node: string | null;
  /** The log's last index and the state's applied index afterwards. */
  last_index: number;
  applied_index: number;
  /** The index of the follower's state copy installed, when one was. */
  snapshot_index: number | null;
  ms: number;
}

/** The recovery marker kept in a log's meta (log.db: RECOVERY_PENDING_KEY), synced when set. */
export function metaRecoveryMarker(log: { meta(key: string): number; setMeta(key: string, value: number): void; syncNow(): void }): RecoveryMarker {
  return {
    get: () => log.meta(RECOVERY_PENDING_KEY),
    set: (code) => {
      log.setMeta(RECOVERY_PENDING_KEY, code);
      log.syncNow();
    },
  };
}

/** The ports of a recovery on this node's files (log.db, state.db) from the followers' HTTP routes. */
export function fileRecoveryPorts<S extends StateMachine>(
  log: SqliteLog,
  state: StateHolder<S>,
  transport: Transport,
  dir: string = path.dirname(state.file),
): Pick<RecoveryOptions, 'log' | 'state' | 'marker' | 'peers'> {
  return { log, state, marker: metaRecoveryMarker(log), peers: new HttpRecoveryPeers({ transport, dir, install: (file) => state.install(file), settled: () => state.settled() }) };
}

/**
 * A node without followers (a one-node cluster) has no one to recover from: with its log behind
 * its state, the log restarts after the applied index; with its data gone it starts empty.
 */
export function recoverAlone(log: ReplicaLog, state: ReplicaState, marker: RecoveryMarker, reason: RecoveryReason): void {
  if (reason === 'log_behind_state' || log.lastIndex() !== state.appliedIndex()) log.resetTo(state.appliedIndex(), state.appliedTerm(), log.meta('term'));
  if (marker.get() !== 0) marker.set(0);
}

export async function recoverLeaderLog(opts: RecoveryOptions): Promise<RecoveryResult> {
  const clock = opts.clock ?? systemClock;
  const started = clock.now();
  const { log, state, logger, marker, peers } = opts;
  const timeout = opts.request_timeout_ms ?? 5000;
  const progress = (m: string): void => opts.progress?.(m);
  // Until this recovery finishes, a restart recovers again, whatever its log and state look like
  // then (a half-rebuilt log would otherwise pass the start-up check).
  const pendingCode = Math.max(marker.get(), opts.reason === 'data_gone' ? 2 : 1) === 2 ? 2 : 1;
  if (marker.get() !== pendingCode) marker.set(pendingCode);
  const reason: RecoveryReason = pendingCode === 2 ? 'data_gone' : 'log_behind_state';

  const positions = await askPositions(opts, reason, clock, timeout);
  const answered = [...positions.values()];
  const applied = state.appliedIndex();
  const appliedTerm = state.appliedTerm();
  // The newest term anything here or there shows: the log the leader leads with never has an entry
  // of a newer term than its current one (it opens the next term above it). Its own term may have
  // gone back with a lost WAL while its state kept an entry of a newer one, or while the term
  // record kept beside the log (identity.json) still has it.
  const term = Math.max(log.meta('term'), log.meta('claimed_term'), log.lastLogTerm(), appliedTerm, opts.terms?.recorded() ?? 0, ...answered.map((p) => Math.max(p.term, p.last_term, p.applied_term)));
  const done = async (r: Omit<RecoveryResult, 'ms' | 'last_index' | 'applied_index'>): Promise<RecoveryResult> => {
    // A node stopping meanwhile has not recovered: it starts the recovery again next time.
    opts.signal?.throwIfAborted();
    await log.sync();
    opts.signal?.throwIfAborted();
    marker.set(0);
    const result = { ...r, last_index: log.lastIndex(), applied_index: state.appliedIndex(), ms: Math.round(clock.now() - started) };
    logger.info({ ...result, reason }, 'recovered from the followers');
    return result;
  };

  // The most up-to-date log: the newest last term, then the longest. With every log a prefix of
  // one history that is the longest; when a leader life reused indexes, the log of the newer life.
  const best = answered.sort((a, b) => b.last_term - a.last_term || b.last_index - a.last_index || b.applied_index - a.applied_index || a.first_index - b.first_index)[0];
  const spec = best === undefined ? undefined : opts.followers.find((f) => f.id === best.node_id);
  // Its own log may still continue its state past the applied index (it lost only a tail: a lost
  // WAL that took the term it recorded outside the log, identity.json). Entries it still holds
  // there stay when no follower's log contradicts them: `leader`-concern writes it alone held.
  const ownContinues = reason === 'log_behind_state' && log.firstIndex() <= applied + 1 && log.lastIndex() > applied && (applied === 0 || log.termAt(applied) === appliedTerm);
  if (best === undefined || spec === undefined || best.last_index <= applied) {
    // Nothing newer than this node's state anywhere (every follower empty: a new cluster).
    if (ownContinues) {
      if (term > log.meta('term')) log.write({ entries: [], term });
    } else if (reason === 'log_behind_state' || log.lastIndex() > applied || log.snapshotIndex() !== applied) log.resetTo(applied, appliedTerm, term);
    else if (term > log.meta('term')) log.write({ entries: [], term });
    return done({ recovered_entries: 0, from_node: null, snapshot_index: null });
  }

  // Its own log ends in a newer term than any follower's: it is the most up-to-date log there is
  // (the followers' entries past where they agree with it are of older leader lives, which a
  // quorum write never is: this node applied every write it acknowledged with quorum). It keeps
  // it, and takes nothing from them; the entries they hold that differ are replaced once it leads.
  // Resetting to the applied index here dropped the `leader`-concern writes its log still held.
  const ownNewer = ownContinues && log.lastLogTerm() > best.last_term;
  let base = applied;
  let snapshot_index: number | null = null;
  if (ownNewer) {
    if (term > log.meta('term')) log.write({ entries: [], term });
    return done({ recovered_entries: 0, from_node: null, snapshot_index: null });
  }
  if (ownContinues && best.first_index <= applied + 1 && (await sameEntryAt(opts, spec, Math.min(log.lastIndex(), best.last_index), timeout))) {
    // Where the shorter of the two ends they hold the same entry (a term names one leader life,
    // which wrote each index once): its log is a prefix of the follower's or extends it.
    base = log.lastIndex();
    if (term > log.meta('term')) log.write({ entries: [], term });
  } else if (best.first_index <= applied + 1) {
    // Its log continues from this node's state: check it holds the very entry applied here.
    if (applied > 0 && applied >= best.first_index) {
      const page = await peers.entries(spec, applied, applied, timeout);
      const at = page.entries[0];
      if (at?.index !== applied || at.term !== appliedTerm) {
        throw new Error(
          `${spec.id} holds ${at === undefined ? 'no entry' : `an entry of term ${at.term}`} at index ${applied}, where this node applied one of term ${appliedTerm}: its log and this node's state are not one history`,
        );
      }
    }
    log.resetTo(applied, appliedTerm, term);
  } else {
    // It compacted past this node's state: take a copy of its state, then its log after it.
    progress(`copying the state of ${spec.id} (its log starts at ${best.first_index}, this node's state is at ${applied})`);
    const copy = await installStateOf(opts, spec, best, term);
    base = copy.index;
    snapshot_index = copy.index;
    opts.onApplied?.();
  }

  // The entries after base, from the longest follower log, in pages.
  let next = base + 1;
  let recovered = 0;
  while (next <= best.last_index) {
    opts.signal?.throwIfAborted();
    progress(`copying log entries ${next}..${best.last_index} from ${spec.id}`);
    const page = await peers.entries(spec, next, best.last_index, timeout);
    if (page.entries.length === 0) throw new Error(`${spec.id} returned no entries from ${next} though its log ended at ${best.last_index}`);
    const first = page.entries[0] as Entry;
    if (first.index !== next) throw new Error(`${spec.id} returned entries from ${first.index} where ${next} was asked`);
    if (first.term < log.lastLogTerm()) throw new Error(`${spec.id}: entry ${next} has term ${first.term}, older than the entry before it (${log.lastLogTerm()})`);
    const entries = page.entries.filter((e) => e.index <= best.last_index);
    log.write({ entries });
    recovered += entries.length;
    next = (entries[entries.length - 1] as Entry).index + 1;
  }
  await log.sync();

  // What any follower applied was committed: apply it here too, and persist it as committed.
  const committed = Math.min(log.lastIndex(), Math.max(...answered.map((p) => Math.max(p.commit_index, p.applied_index))));
  if (committed > state.appliedIndex()) {
    progress(`applying entries ${state.appliedIndex() + 1}..${committed}`);
    await applyUpTo(log, state, committed, clock, opts.signal);
    opts.onApplied?.();
  }
  if (committed > log.meta('commit_index')) log.write({ entries: [], commit: committed });
  return done({ recovered_entries: recovered, from_node: spec.id, snapshot_index });
}

export interface LeaderRecoveryRun extends RecoveryOptions {
  /** The start-up check that found the storage short (checkLocalStorage). */
  check: Extract<StorageCheck, { ok: false }>;
  /** Pause after a failed attempt before the next one (default 1 s). */
  retry_after_failure_ms?: number;
  /** Told of each failed attempt (for health and logs). */
  onAttemptFailed?: (err: Error) => void;
}

/**
 * What a leader runs at start when its storage is short: recovers from the followers, trying
 * again after each failure until it succeeds. Resolves with the result, or null when the signal
 * stopped it. A broken invariant is not retried (the process ends).
 */
export async function recoverUntilDone(run: LeaderRecoveryRun): Promise<RecoveryResult | null> {
  const clock = run.clock ?? systemClock;
  const { signal, check } = run;
  for (;;) {
    try {
      return await recoverLeaderLog({ ...run, reason: check.reason, progress: (m) => run.progress?.(`${check.message}; ${m}`) });
    } catch (err) {
      if (signal?.aborted) return null;
      if (err instanceof RaftInvariantError) throw err;
      run.logger.error({ err }, 'recovery from the followers failed; trying again');
      run.onAttemptFailed?.(err as Error);
      run.progress?.(`${check.message}; the last attempt failed (${(err as Error).message}); trying again`);
      try {
        await sleep(clock, run.retry_after_failure_ms ?? 1000, signal);
      } catch {
        return null;
      }
      if (signal?.aborted) return null;
    }
  }
}

/** Asks the followers for their positions until enough of them answered (see RecoveryOptions). */
async function askPositions(opts: RecoveryOptions, reason: RecoveryReason, clock: Clock, timeout: number): Promise<Map<string, LogPosition>> {
  const positions = new Map<string, LogPosition>();
  const problems = new Map<string, string>();
  const waitMax = opts.wait_ms_max ?? Number.POSITIVE_INFINITY;
  let retry = opts.retry_ms ?? 100;
  const started = clock.now();
  for (let round = 0; ; round++) {
    opts.signal?.throwIfAborted();
    const missing = opts.followers.filter((f) => !positions.has(f.id));
    await Promise.all(
      missing.map(async (f) => {
        try {
          const p = await opts.peers.position(f, timeout);
          if (p.cluster_id !== opts.cluster_id) throw new Error(`is in cluster "${p.cluster_id}", not "${opts.cluster_id}"`);
          if (p.node_id !== f.id) throw new Error(`answers as node "${p.node_id}"`);
          positions.set(f.id, p);
          problems.delete(f.id);
        } catch (err) {
          problems.set(f.id, (err as Error).message);
        }
      }),
    );
    const all = positions.size === opts.followers.length;
    if (all) return positions;
    // Every follower, whatever was lost: a quorum-acknowledged write past this node's applied state
    // may be on one follower only (its state may itself be a copy taken from a follower by an
    // earlier recovery, older than what it once acknowledged; found by the simulation, seed 107871).
    const waiting = opts.followers.filter((f) => !positions.has(f.id)).map((f) => `${f.id} (${f.address}${problems.has(f.id) ? `: ${problems.get(f.id)}` : ''})`);
    const need = 'every follower (a write acknowledged by a quorum may be on only one of them)';
    opts.progress?.(`waiting for ${need} to say what it holds; no answer yet from ${waiting.join(', ')}`);
    if (round === 0 || round % 20 === 0) opts.logger.warn({ reason, waiting }, 'recovery: waiting for followers');
    if (clock.now() - started >= waitMax) throw new Error(`recovery: no answer within ${waitMax} ms from ${waiting.join(', ')}`);
    await sleep(clock, retry, opts.signal);
    retry = Math.min(Math.max(retry, 1000), retry * 2);
  }
}

/** Whether the follower holds at `index` the entry this node's log holds there (index, term and checksum). */
async function sameEntryAt(opts: RecoveryOptions, f: NodeSpec, index: number, timeout: number): Promise<boolean> {
  const term = opts.log.termAt(index);
  const checksum = opts.log.checksumAt(index);
  if (term === undefined || checksum === undefined) return false;
  const page = await opts.peers.entries(f, index, index, timeout);
  const at = page.entries[0];
  return at !== undefined && at.index === index && at.term === term && at.checksum === checksum;
}

/** Fetches a follower's state copy, checks it against its position and installs it; the log then starts after it. */
async function installStateOf(opts: RecoveryOptions, f: NodeSpec, pos: LogPosition, currentTerm: number): Promise<{ index: number; term: number }> {
  const copy: FetchedState = await opts.peers.fetchState(f, opts.snapshot_timeout_ms ?? 600_000, opts.signal);
  try {
    if (copy.index + 1 < pos.first_index) throw new Error(`${f.id}: state copy at ${copy.index}, but its log starts at ${pos.first_index}`);
    if (copy.index > pos.last_index) throw new Error(`${f.id}: state copy at ${copy.index}, past its log's end ${pos.last_index}`);
    opts.signal?.throwIfAborted();
    const installed = copy.install();
    opts.log.resetTo(installed.index, installed.term, Math.max(currentTerm, installed.term));
    opts.logger.info({ from: f.id, index: installed.index, bytes: copy.bytes }, 'recovery: installed a copy of a follower\'s state');
    return installed;
  } finally {
    copy.discard();
  }
}

/** Applies log entries up to `to`, a bounded slice at a time, yielding to the event loop between slices. */
async function applyUpTo(log: ReplicaLog, state: ReplicaState, to: number, clock: Clock, signal?: AbortSignal): Promise<void> {
  while (state.appliedIndex() < to) {
    signal?.throwIfAborted();
    const r = applySlice(log, state, to);
    if (!r.more) break;
    await new Promise<void>((resolve) => clock.setImmediate(resolve));
  }
  if (state.appliedIndex() < to) throw new Error(`applied up to ${state.appliedIndex()} of ${to}: the log holds entries up to ${log.durableIndex()} durably`);
}

function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// ---------------------------------------------------------------------------------------------
// The followers over the cluster's routes (RecoveryPeers)

type Get = NonNullable<Transport['get']>;

/** GET /_raft/log-position of a follower, parsed and checked. */
export async function getLogPosition(get: Get, f: NodeSpec, timeout_ms: number): Promise<LogPosition> {
  const res = await get(f.address, '/_raft/log-position', timeout_ms);
  if (res.status !== 200) throw new Error(`answered ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
  return parseLogPosition(res.body);
}

/** GET /_raft/log-entries of a follower: a page, decoded and checked (decodeLogEntriesPage). */
export async function getLogEntries(get: Get, f: NodeSpec, from: number, to: number, timeout_ms: number): Promise<LogEntriesPage> {
  const res = await get(f.address, `/_raft/log-entries?from=${from}&to=${to}`, timeout_ms);
  if (res.status !== 200) throw new Error(`${f.id}: GET /_raft/log-entries from ${from} answered ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
  return decodeLogEntriesPage(res.body);
}

export function parseLogPosition(body: Buffer): LogPosition {
  const o = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  const nat = (k: string): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Error(`log position: ${k} must be a non-negative integer`);
    return v;
  };
  const str = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string') throw new Error(`log position: ${k} must be a string`);
    return v;
  };
  const p: LogPosition = {
    node_id: str('node_id'),
    cluster_id: str('cluster_id'),
    storage_id: str('storage_id'),
    first_index: nat('first_index'),
    last_index: nat('last_index'),
    last_term: nat('last_term'),
    applied_index: nat('applied_index'),
    applied_term: typeof o.applied_term === 'number' ? nat('applied_term') : 0,
    commit_index: typeof o.commit_index === 'number' ? nat('commit_index') : 0,
    term: nat('term'),
  };
  if (p.first_index < 1 || p.last_index < p.first_index - 1) throw new Error(`log position: first_index ${p.first_index} and last_index ${p.last_index} do not fit`);
  return p;
}

/** What the headers of a 200 answer to GET /_raft/state-snapshot announce; throws when one is missing. */
export function stateCopyAnnounced(f: NodeSpec, headers: HttpResult['headers']): { index: number; term: number; bytes: number; sha256: string } {
  const header = (k: string): string => {
    const v = headers[k];
    return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
  };
  const index = Number(header(STATE_COPY_HEADERS.index));
  const term = Number(header(STATE_COPY_HEADERS.term));
  const bytes = Number(header(STATE_COPY_HEADERS.bytes));
  const sha256 = header(STATE_COPY_HEADERS.sha256);
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(term) || !Number.isSafeInteger(bytes)) throw new Error(`${f.id}: state copy without its index, term or size`);
  return { index, term, bytes, sha256 };
}

export interface HttpRecoveryPeersOptions {
  /** A transport that can GET and download (HttpTransport). */
  transport: Transport;
  /** Where a downloaded state copy is written (beside state.db, so the install is a rename). */
  dir: string;
  /** Replaces this node's state by a verified copy file (StateHolder.install). */
  install: (file: string) => { index: number; term: number };
  /** Resolves when the state may be replaced (no checkpoint of it running: StateHolder.settled). */
  settled?: () => Promise<void>;
}

/** The followers over their /_raft routes (raft-routes.ts): what the daemon's recovery talks to. */
export class HttpRecoveryPeers implements RecoveryPeers {
  constructor(private readonly o: HttpRecoveryPeersOptions) {}

  private get(): Get {
    const get = this.o.transport.get?.bind(this.o.transport);
    if (get === undefined) throw new Error('recovery needs a transport that can GET from the followers');
    return get;
  }

  async position(f: NodeSpec, timeout_ms: number): Promise<LogPosition> {
    return getLogPosition(this.get(), f, timeout_ms);
  }

  async entries(f: NodeSpec, from: number, to: number, timeout_ms: number): Promise<LogEntriesPage> {
    return getLogEntries(this.get(), f, from, to, timeout_ms);
  }

  /** Downloads the follower's state copy beside the state and checks it is a whole state database at the index it announces. */
  async fetchState(f: NodeSpec, timeout_ms: number, signal?: AbortSignal): Promise<FetchedState> {
    const download = this.o.transport.download?.bind(this.o.transport);
    if (download === undefined) throw new Error('recovery needs a transport that can download a state copy');
    const file = path.join(this.o.dir, 'recovery-state-in.db');
    removeDbFiles(file);
    try {
      const res = await download(f.address, '/_raft/state-snapshot', file, timeout_ms);
      if (res.status !== 200) throw new Error(`${f.id}: GET /_raft/state-snapshot answered ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
      const { index, term, bytes, sha256 } = stateCopyAnnounced(f, res.headers);
      if (res.bytes !== bytes || res.sha256 !== sha256) throw new Error(`${f.id}: state copy of ${res.bytes} bytes (sha256 ${res.sha256}) where ${bytes} bytes (sha256 ${sha256}) were announced`);
      const check = new Database(file, { readonly: true, fileMustExist: true });
      try {
        const pages = Number(check.pragma('page_count', { simple: true })) * Number(check.pragma('page_size', { simple: true }));
        if (pages !== bytes) throw new Error(`${f.id}: state copy pages span ${pages} bytes, the file has ${bytes}`);
        const at = readApplied(check);
        if (at.index !== index || at.term !== term) throw new Error(`${f.id}: state copy holds index ${at.index} term ${at.term}, announced ${index} term ${term}`);
      } finally {
        check.close();
      }
      const ok = await quickCheck(file, signal);
      if (ok !== 'ok') throw new Error(`${f.id}: state copy failed quick_check: ${ok.slice(0, 200)}`);
      await this.o.settled?.();
      return { index, term, bytes, install: () => this.o.install(file), discard: () => removeDbFiles(file) };
    } catch (err) {
      removeDbFiles(file);
      throw err;
    }
  }
}
