// Which cluster and node a data directory belongs to, and which life of that node's storage it
// holds: identity.json beside log.db and state.db. The storage id is new whenever the directory
// starts from nothing (a new node, or one whose data was wiped), so the other nodes can tell that
// it holds nothing they once saw there. At start a node also checks its log against its state
// (checkLocalStorage): a log that lost its tail (a deleted WAL) or a directory that lost
// everything must not acknowledge or claim what it no longer holds. identity.json also records
// the highest term this node's leader opened (FileTermRecord): the log's own record of its term
// goes with a lost WAL, and a leader that opened the same term twice would write entries that
// match a follower's by index and term while they differ.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { LeadershipRecord, TermRecord } from './ports.ts';
import { fsyncDir } from './state.ts';

export const IDENTITY_FILE = 'identity.json';

export interface Identity {
  cluster_id: string;
  node_id: string;
  /** New each time the directory starts from nothing (crypto.randomUUID()). */
  storage_id: string;
  /** ISO time the identity was created. */
  created_at: string;
  /** The highest term this node's leader opened (absent: none yet). */
  term?: number;
  /** The leader this node knows after a handover (absent: the configured one). */
  leader?: string;
  /**
   * The index this node's log held durably when it took leadership over (the old leader's last
   * index, committed): a log that ends before it lost its tail, e.g. its WAL (checkLocalStorage).
   */
  log_floor?: number;
  /** The node the last designation entry this node appended names (absent: none). */
  designated?: string;
  /**
   * Set when the directory is created, cleared once this node knows which node leads (it asked
   * the others, or recovered and leads): a restart before then asks again (roleAtStart).
   */
  leader_unknown?: true;
  /**
   * A handover this node made that the target has not confirmed yet: where this node's log ended,
   * for the target to check against its own. Told again until it confirms (also after a restart).
   */
  handover?: PendingHandover;
}

export interface PendingHandover {
  to: string;
  term: number;
  last_index: number;
  last_term: number;
}

/** The identity at dir/identity.json, created when absent; throws when it names another cluster or node. */
export function loadIdentity(dir: string, cluster_id: string, node_id: string): { identity: Identity; created: boolean } {
  const file = path.join(dir, IDENTITY_FILE);
  let text: string | null = null;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text === null) {
    fs.mkdirSync(dir, { recursive: true });
    const identity: Identity = { cluster_id, node_id, storage_id: crypto.randomUUID(), created_at: new Date().toISOString(), leader_unknown: true };
    writeAtomically(file, JSON.stringify(identity, null, 2) + '\n');
    return { identity, created: true };
  }
  const identity = parseIdentity(text, file);
  if (identity.cluster_id !== cluster_id || identity.node_id !== node_id) {
    throw new Error(
      `${file} belongs to node "${identity.node_id}" of cluster "${identity.cluster_id}", but this node is "${node_id}" of cluster "${cluster_id}": ` +
        'refusing to start on another node\'s data (point server.data_dir at this node\'s directory, or move that directory away)',
    );
  }
  return { identity, created: false };
}

function parseIdentity(text: string, file: string): Identity {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}): refusing to start on data whose owner is unknown`);
  }
  const o = raw as Record<string, unknown>;
  const fields = ['cluster_id', 'node_id', 'storage_id', 'created_at'] as const;
  for (const f of fields) {
    if (raw === null || typeof raw !== 'object' || typeof o[f] !== 'string' || o[f].length === 0) {
      throw new Error(`${file}: ${f} is missing or not a string: refusing to start on data whose owner is unknown`);
    }
  }
  const identity: Identity = { cluster_id: o.cluster_id as string, node_id: o.node_id as string, storage_id: o.storage_id as string, created_at: o.created_at as string };
  if (o.term !== undefined) {
    if (typeof o.term !== 'number' || !Number.isSafeInteger(o.term) || o.term < 0) {
      throw new Error(`${file}: term is not a non-negative integer: refusing to start without knowing which terms this node used`);
    }
    identity.term = o.term;
  }
  if (o.leader !== undefined) {
    if (typeof o.leader !== 'string' || o.leader.length === 0) {
      throw new Error(`${file}: leader is not a node id: refusing to start without knowing which node leads`);
    }
    identity.leader = o.leader;
  }
  if (o.log_floor !== undefined) {
    if (typeof o.log_floor !== 'number' || !Number.isSafeInteger(o.log_floor) || o.log_floor < 0) {
      throw new Error(`${file}: log_floor is not a non-negative integer: refusing to start without knowing what its log held`);
    }
    identity.log_floor = o.log_floor;
  }
  if (o.leader_unknown === true) identity.leader_unknown = true;
  if (o.designated !== undefined) {
    if (typeof o.designated !== 'string' || o.designated.length === 0) throw new Error(`${file}: designated is not a node id`);
    identity.designated = o.designated;
  }
  if (o.handover !== undefined) {
    const h = o.handover as Record<string, unknown> | null;
    const ok = h !== null && typeof h === 'object' && typeof h.to === 'string' && [h.term, h.last_index, h.last_term].every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0);
    if (!ok) throw new Error(`${file}: handover is not {to, term, last_index, last_term}: refusing to start without knowing which handover is pending`);
    identity.handover = { to: h.to as string, term: h.term as number, last_index: h.last_index as number, last_term: h.last_term as number };
  }
  return identity;
}

/**
 * The highest term this node's leader opened, in identity.json beside log.db (the LeaderDriver's
 * TermRecord): written whole (writeAtomically), so it survives a kill -9 and the loss of log.db's
 * WAL; a wiped directory loses it with the identity (and recovers as data_gone).
 */
export class FileTermRecord implements TermRecord, LeadershipRecord {
  private identity: Identity;

  constructor(
    private readonly dir: string,
    identity: Identity,
  ) {
    this.identity = { ...identity };
  }

  recorded(): number {
    return this.identity.term ?? 0;
  }

  record(term: number): void {
    if (!Number.isSafeInteger(term) || term < this.recorded()) throw new Error(`term ${term} is below the recorded term ${this.recorded()}`);
    this.write({ ...this.identity, term });
  }

  leader(): string | null {
    return this.identity.leader ?? null;
  }

  recordLeader(id: string, log_floor?: number): void {
    const floor = Math.max(this.logFloor(), log_floor ?? 0);
    if (this.identity.leader === id && this.identity.leader_unknown !== true && floor === this.logFloor()) return;
    const next: Identity = { ...this.identity, leader: id };
    if (floor > 0) next.log_floor = floor;
    delete next.leader_unknown;
    this.write(next);
  }

  logFloor(): number {
    return this.identity.log_floor ?? 0;
  }

  leaderUnknown(): boolean {
    return this.identity.leader_unknown === true;
  }

  designated(): string | null {
    return this.identity.designated ?? null;
  }

  recordDesignated(id: string): void {
    if (this.identity.designated === id) return;
    this.write({ ...this.identity, designated: id });
  }

  /** The handover waiting for its target's confirmation, or null. */
  pendingHandover(): PendingHandover | null {
    return this.identity.handover ?? null;
  }

  /** The fence of a handover: `to` leads, and the handover waits for its confirmation; one durable write. */
  recordHandedOver(h: PendingHandover): void {
    this.write({ ...this.identity, leader: h.to, handover: { ...h } });
  }

  /** Records (or with null clears) the pending handover; durable on return. */
  recordHandover(h: PendingHandover | null): void {
    const next: Identity = { ...this.identity };
    if (h === null) delete next.handover;
    else next.handover = { ...h };
    this.write(next);
  }

  private write(next: Identity): void {
    writeAtomically(path.join(this.dir, IDENTITY_FILE), JSON.stringify(next, null, 2) + '\n');
    this.identity = next;
  }
}

/** Written whole or not at all: a temporary file, fsynced, renamed into place, the directory fsynced. */
function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(path.dirname(file));
}

export type StorageCheck = { ok: true } | { ok: false; reason: 'log_behind_state' | 'data_gone'; message: string };

export interface LogBounds {
  lastIndex(): number;
  /** The term of the last entry (or of the snapshot when the log is empty). */
  lastLogTerm?(): number;
  firstIndex(): number;
  snapshotIndex(): number;
  /** The log's meta values (SqliteLog.meta), when it has them: a recovery left unfinished is recorded there. */
  meta?(key: string): number;
}

/** Log meta key: a recovery from the other nodes started and has not finished (1 log_behind_state, 2 data_gone). */
export const RECOVERY_PENDING_KEY = 'recovery_pending';

export interface AppliedState {
  appliedIndex(): number;
}

/**
 * Do this node's log and state belong together? `created`: the identity was created just now.
 *
 * - `data_gone`: nothing at all (an empty log that never had a snapshot, an empty state). With
 *   an identity just created that is a new node or a wiped one, and nothing here tells which;
 *   with an identity already there, the data was removed or the node never finished starting.
 *   Either way the node holds nothing, and only the cluster can say whether it should.
 * - `log_behind_state`: the state applied entries the log no longer holds (a lost WAL:
 *   applied > last index), or the log starts past applied + 1, so the entries between the state
 *   and the log are missing.
 * - either, when a recovery started earlier did not finish (RECOVERY_PENDING_KEY): a log rebuilt
 *   halfway looks whole, but may lack entries the followers hold.
 * - `log_behind_state` also when `recorded_term` (the highest term this node's leader opened,
 *   FileTermRecord) is above every term the log knows: the log lost the tail that opened it (a
 *   lost WAL that left the log at or past the applied index), and the followers may hold entries
 *   of that term after where the log ends now.
 */
export function checkLocalStorage(log: LogBounds, state: AppliedState, created: boolean, recorded_term = 0, log_floor = 0): StorageCheck {
  const applied = state.appliedIndex();
  const last = log.lastIndex();
  const first = log.firstIndex();
  const pending = log.meta?.(RECOVERY_PENDING_KEY) ?? 0;
  if (pending === 1 || pending === 2) {
    return {
      ok: false,
      reason: pending === 2 ? 'data_gone' : 'log_behind_state',
      message: `a recovery from the other nodes (${pending === 2 ? 'the data directory was lost' : 'the log was behind the state'}) did not finish before the node stopped: recovering again`,
    };
  }
  if (last === 0 && applied === 0 && log.snapshotIndex() === 0) {
    return {
      ok: false,
      reason: 'data_gone',
      message: created
        ? 'the data directory is new (no identity, log or state): a new node or one whose data was lost; asking the other nodes what the cluster holds'
        : 'the log and the state are empty though the data directory has an identity (data removed, or a start that never finished): asking the other nodes what the cluster holds',
    };
  }
  if (applied > last) {
    return {
      ok: false,
      reason: 'log_behind_state',
      message: `the log ends at index ${last} but the state has applied up to ${applied} (the log lost its tail, e.g. its WAL): recovering the log from the other nodes`,
    };
  }
  if (first > applied + 1) {
    return {
      ok: false,
      reason: 'log_behind_state',
      message: `the log starts at index ${first} but the state has applied only up to ${applied}: entries ${applied + 1}..${first - 1} are missing; recovering from the other nodes`,
    };
  }
  if (last < log_floor) {
    return {
      ok: false,
      reason: 'log_behind_state',
      message: `this node took leadership over at index ${log_floor} (identity.json) but its log ends at ${last} (the log lost its tail, e.g. its WAL): recovering the log from the other nodes`,
    };
  }
  const logTerm = Math.max(log.meta?.('term') ?? 0, log.lastLogTerm?.() ?? 0);
  if (recorded_term > logTerm) {
    return {
      ok: false,
      reason: 'log_behind_state',
      message: `this node opened term ${recorded_term} (identity.json) but its log knows only term ${logTerm} (the log lost its tail, e.g. its WAL): recovering the log from the other nodes`,
    };
  }
  return { ok: true };
}
