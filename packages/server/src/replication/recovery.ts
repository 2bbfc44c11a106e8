// A leader that lost part of its storage recovers what the followers hold before it takes a
// write. The follower side answers three GETs (raft-routes.ts, guarded by the cluster secret):
// its log position, a page of its log entries, and a consistent copy of its state. The leader
// side (recoverLeaderLog) asks the followers where their logs are, picks the longest one, and
// rebuilds its log (and, when its state is gone or too old, its state) from it.
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
import { entryIsIntact } from '@cairn/raft';
import type { Entry } from '@cairn/raft';
import type { Logger } from 'pino';
import type { NodeSpec } from '../config/types.ts';
import { apply_chunk_bytes_max, apply_chunk_entries_max, apply_slice_ms } from './apply-slice.ts';
import { RECOVERY_PENDING_KEY } from './identity.ts';
import type { Identity } from './identity.ts';
import type { SqliteLog } from './sqlite-log.ts';
import { quickCheck } from './sqlite-worker.ts';
import { readApplied, removeDbFiles } from './state.ts';
import type { StateHolder, StateMachine } from './state.ts';
import type { Transport } from './transport.ts';
import { decode, encode } from './wire.ts';

// ---------------------------------------------------------------------------------------------
// Follower side

/** GET /_raft/log-position: where a node's log and state are. */
export interface LogPosition {
  node_id: string;
  cluster_id: string;
  storage_id: string;
  /** First index the log holds (snapshot index + 1). */
  first_index: number;
  last_index: number;
  last_term: number;
  applied_index: number;
  applied_term: number;
  /** The commit index the node persisted (a follower applies up to it). */
  commit_index: number;
  /** The node's current term. */
  term: number;
}

export function logPosition(
  log: Pick<SqliteLog, 'firstIndex' | 'lastIndex' | 'lastLogTerm' | 'meta'>,
  state: { appliedIndex(): number; appliedTerm(): number },
  identity: Identity,
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
    term,
  };
}

/** At most this many entries, and about this many payload bytes, per GET /_raft/log-entries. */
export const LOG_ENTRIES_PER_CALL_MAX = 1000;
export const LOG_ENTRIES_BYTES_MAX = 8 * 1024 * 1024;

/** The msgpack body of a 200 answer to GET /_raft/log-entries. */
export interface LogEntriesPage {
  entries: Entry[];
  /** The answering log's bounds when it answered. */
  first_index: number;
  last_index: number;
}

export type LogEntriesAnswer =
  | { status: 200; page: LogEntriesPage }
  | { status: 400 | 410; error: { code: string; message: string; first_index?: number } };

/**
 * GET /_raft/log-entries?from=N&to=M: entries N..M (both included; `to` defaults to, and is
 * capped at, N + LOG_ENTRIES_PER_CALL_MAX - 1 and the last index), at most
 * LOG_ENTRIES_BYTES_MAX of payload (at least one entry). Entries past the end: an empty page.
 * 410 `compacted` when N is below the first index the log holds.
 */
export function readLogEntries(log: Pick<SqliteLog, 'firstIndex' | 'lastIndex' | 'entries'>, from: string | undefined, to: string | undefined): LogEntriesAnswer {
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

export interface RecoveryOptions<S extends StateMachine> {
  log: SqliteLog;
  state: StateHolder<S>;
  followers: NodeSpec[];
  transport: Transport;
  cluster_id: string;
  reason: 'log_behind_state' | 'data_gone';
  logger: Logger;
  /** Give up (reject) when the followers have not answered within this long; default: wait on. */
  wait_ms_max?: number;
  /** Stops the recovery (the node is stopping): it rejects with the signal's reason. */
  signal?: AbortSignal;
  /** For log_behind_state: once one follower answered, how long to wait for the others (default 2000). */
  grace_ms?: number;
  /**
   * Pause between rounds of asking the followers that have not answered: from this (default
   * 100 ms, so a cluster whose nodes start together is soon writable) doubling to 1 s.
   */
  retry_ms?: number;
  /** Timeout of one position or entries request (default 5000). */
  request_timeout_ms?: number;
  /** Timeout of a state copy download (default 600 s). */
  snapshot_timeout_ms?: number;
  /** Where a downloaded state copy is written (default: the state's directory). */
  dir?: string;
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

/**
 * A node without followers (a one-node cluster) has no one to recover from: with its log behind
 * its state, the log restarts after the applied index; with its data gone it starts empty.
 */
export function recoverAlone<S extends StateMachine>(log: SqliteLog, state: StateHolder<S>, reason: 'log_behind_state' | 'data_gone'): void {
  if (reason === 'log_behind_state' || log.lastIndex() !== state.appliedIndex()) log.resetTo(state.appliedIndex(), state.appliedTerm(), log.meta('term'));
  if (log.meta(RECOVERY_PENDING_KEY) !== 0) {
    log.setMeta(RECOVERY_PENDING_KEY, 0);
    log.syncNow();
  }
}

export async function recoverLeaderLog<S extends StateMachine>(opts: RecoveryOptions<S>): Promise<RecoveryResult> {
  const started = performance.now();
  const { log, state, logger } = opts;
  const get = opts.transport.get?.bind(opts.transport);
  if (get === undefined) throw new Error('recovery needs a transport that can GET from the followers');
  const timeout = opts.request_timeout_ms ?? 5000;
  const progress = (m: string): void => opts.progress?.(m);
  // Until this recovery finishes, a restart recovers again, whatever its log and state look like
  // then (a half-rebuilt log would otherwise pass the start-up check).
  const pendingCode = Math.max(log.meta(RECOVERY_PENDING_KEY), opts.reason === 'data_gone' ? 2 : 1);
  if (log.meta(RECOVERY_PENDING_KEY) !== pendingCode) {
    log.setMeta(RECOVERY_PENDING_KEY, pendingCode);
    log.syncNow();
  }
  const reason = pendingCode === 2 ? 'data_gone' : 'log_behind_state';

  const positions = await askPositions(opts, reason, get, timeout);
  const answered = [...positions.values()];
  const applied = state.appliedIndex();
  const appliedTerm = state.appliedTerm();
  const term = Math.max(log.meta('term'), ...answered.map((p) => Math.max(p.term, p.last_term)));
  const done = async (r: Omit<RecoveryResult, 'ms' | 'last_index' | 'applied_index'>): Promise<RecoveryResult> => {
    // A node stopping meanwhile has not recovered: it starts the recovery again next time.
    opts.signal?.throwIfAborted();
    await log.sync();
    opts.signal?.throwIfAborted();
    log.setMeta(RECOVERY_PENDING_KEY, 0);
    log.syncNow();
    const result = { ...r, last_index: log.lastIndex(), applied_index: state.appliedIndex(), ms: Math.round(performance.now() - started) };
    logger.info({ ...result, reason }, 'recovered from the followers');
    return result;
  };

  const best = answered.sort((a, b) => b.last_index - a.last_index || b.applied_index - a.applied_index || a.first_index - b.first_index)[0];
  const spec = best === undefined ? undefined : opts.followers.find((f) => f.id === best.node_id);
  if (best === undefined || spec === undefined || best.last_index <= applied) {
    // Nothing newer than this node's state anywhere (every follower empty: a new cluster).
    if (reason === 'log_behind_state' || log.lastIndex() > applied || log.snapshotIndex() !== applied) log.resetTo(applied, appliedTerm, term);
    else if (term > log.meta('term')) log.setMeta('term', term);
    return done({ recovered_entries: 0, from_node: null, snapshot_index: null });
  }

  let base = applied;
  let snapshot_index: number | null = null;
  if (best.first_index <= applied + 1) {
    // Its log continues from this node's state: check it holds the very entry applied here.
    if (applied > 0 && applied >= best.first_index) {
      const page = await fetchPage(get, spec, applied, applied, timeout);
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
    const copy = await downloadState(opts, spec, best, term);
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
    const page = await fetchPage(get, spec, next, best.last_index, timeout);
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
    await applyUpTo(log, state, committed, opts.signal);
    opts.onApplied?.();
  }
  if (committed > log.meta('commit_index')) log.setMeta('commit_index', committed);
  return done({ recovered_entries: recovered, from_node: spec.id, snapshot_index });
}

type Get = NonNullable<Transport['get']>;

/** Asks the followers for their positions until enough of them answered (see RecoveryOptions). */
async function askPositions<S extends StateMachine>(opts: RecoveryOptions<S>, reason: 'log_behind_state' | 'data_gone', get: Get, timeout: number): Promise<Map<string, LogPosition>> {
  const positions = new Map<string, LogPosition>();
  const problems = new Map<string, string>();
  const waitMax = opts.wait_ms_max ?? Number.POSITIVE_INFINITY;
  const grace = opts.grace_ms ?? 2000;
  let retry = opts.retry_ms ?? 100;
  const started = Date.now();
  let firstAnswer: number | null = null;
  for (let round = 0; ; round++) {
    opts.signal?.throwIfAborted();
    const missing = opts.followers.filter((f) => !positions.has(f.id));
    await Promise.all(
      missing.map(async (f) => {
        try {
          const res = await get(f.address, '/_raft/log-position', timeout);
          if (res.status !== 200) throw new Error(`answered ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
          const p = parsePosition(res.body);
          if (p.cluster_id !== opts.cluster_id) throw new Error(`is in cluster "${p.cluster_id}", not "${opts.cluster_id}"`);
          if (p.node_id !== f.id) throw new Error(`answers as node "${p.node_id}"`);
          positions.set(f.id, p);
          problems.delete(f.id);
          firstAnswer ??= Date.now();
        } catch (err) {
          problems.set(f.id, (err as Error).message);
        }
      }),
    );
    const all = positions.size === opts.followers.length;
    if (all) return positions;
    if (reason === 'log_behind_state' && firstAnswer !== null && Date.now() - firstAnswer >= grace) return positions;
    const waiting = opts.followers.filter((f) => !positions.has(f.id)).map((f) => `${f.id} (${f.address}${problems.has(f.id) ? `: ${problems.get(f.id)}` : ''})`);
    const need = reason === 'data_gone' ? 'every follower (a write acknowledged by a quorum may be on only one of them)' : 'a follower';
    opts.progress?.(`waiting for ${need} to say what it holds; no answer yet from ${waiting.join(', ')}`);
    if (round === 0 || round % 20 === 0) opts.logger.warn({ reason, waiting }, 'recovery: waiting for followers');
    if (Date.now() - started >= waitMax) throw new Error(`recovery: no answer within ${waitMax} ms from ${waiting.join(', ')}`);
    await sleep(retry, opts.signal);
    retry = Math.min(Math.max(retry, 1000), retry * 2);
  }
}

function parsePosition(body: Buffer): LogPosition {
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

async function fetchPage(get: Get, f: NodeSpec, from: number, to: number, timeout: number): Promise<LogEntriesPage> {
  const res = await get(f.address, `/_raft/log-entries?from=${from}&to=${to}`, timeout);
  if (res.status !== 200) throw new Error(`${f.id}: GET /_raft/log-entries from ${from} answered ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
  return decodeLogEntriesPage(res.body);
}

/** Downloads a follower's state copy, checks it and installs it; the log then starts after it. */
async function downloadState<S extends StateMachine>(opts: RecoveryOptions<S>, f: NodeSpec, pos: LogPosition, currentTerm: number): Promise<{ index: number; term: number }> {
  const download = opts.transport.download?.bind(opts.transport);
  if (download === undefined) throw new Error('recovery needs a transport that can download a state copy');
  const dir = opts.dir ?? path.dirname(opts.state.file);
  const file = path.join(dir, 'recovery-state-in.db');
  removeDbFiles(file);
  try {
    const res = await download(f.address, '/_raft/state-snapshot', file, opts.snapshot_timeout_ms ?? 600_000);
    if (res.status !== 200) throw new Error(`${f.id}: GET /_raft/state-snapshot answered ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
    const header = (k: string): string => {
      const v = res.headers[k];
      return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
    };
    const index = Number(header(STATE_COPY_HEADERS.index));
    const term = Number(header(STATE_COPY_HEADERS.term));
    const bytes = Number(header(STATE_COPY_HEADERS.bytes));
    const sha = header(STATE_COPY_HEADERS.sha256);
    if (!Number.isSafeInteger(index) || !Number.isSafeInteger(term) || !Number.isSafeInteger(bytes)) throw new Error(`${f.id}: state copy without its index, term or size`);
    if (res.bytes !== bytes || res.sha256 !== sha) throw new Error(`${f.id}: state copy of ${res.bytes} bytes (sha256 ${res.sha256}) where ${bytes} bytes (sha256 ${sha}) were announced`);
    if (index + 1 < pos.first_index) throw new Error(`${f.id}: state copy at ${index}, but its log starts at ${pos.first_index}`);
    if (index > pos.last_index) throw new Error(`${f.id}: state copy at ${index}, past its log's end ${pos.last_index}`);
    const check = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const pages = Number(check.pragma('page_count', { simple: true })) * Number(check.pragma('page_size', { simple: true }));
      if (pages !== bytes) throw new Error(`${f.id}: state copy pages span ${pages} bytes, the file has ${bytes}`);
      const at = readApplied(check);
      if (at.index !== index || at.term !== term) throw new Error(`${f.id}: state copy holds index ${at.index} term ${at.term}, announced ${index} term ${term}`);
    } finally {
      check.close();
    }
    const ok = await quickCheck(file, opts.signal);
    if (ok !== 'ok') throw new Error(`${f.id}: state copy failed quick_check: ${ok.slice(0, 200)}`);
    opts.signal?.throwIfAborted();
    const installed = opts.state.install(file);
    opts.log.resetTo(installed.index, installed.term, currentTerm);
    opts.logger.info({ from: f.id, index: installed.index, bytes }, 'recovery: installed a copy of a follower\'s state');
    return installed;
  } finally {
    removeDbFiles(file);
  }
}

/** Applies log entries up to `to`, a bounded slice at a time, yielding to the event loop between slices. */
async function applyUpTo<S extends StateMachine>(log: SqliteLog, state: StateHolder<S>, to: number, signal?: AbortSignal): Promise<void> {
  let sliceStarted = performance.now();
  while (state.appliedIndex() < to) {
    signal?.throwIfAborted();
    const from = state.appliedIndex() + 1;
    state.applyEntries(log.entries(from, Math.min(to, from + apply_chunk_entries_max - 1) + 1, apply_chunk_bytes_max));
    if (performance.now() - sliceStarted > apply_slice_ms) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStarted = performance.now();
    }
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
