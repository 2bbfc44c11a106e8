// A simulated disk per node: the replicated log (SimLog, a ReplicaLog) and the state it builds
// (SimState, a ReplicaState), with the faults a real disk has.
//
// The log keeps two images: what the process sees (every write, at once) and what is on the disk
// for sure (`durable`: covered by a finished sync). A write is one transaction; sync() resolves
// after a drawn delay on the node's clock and makes every transaction written before the call
// durable. Faults:
//   crash()       the process dies: the disk keeps the durable image plus a random prefix of the
//                 unsynced transactions (a torn tail); what is left is what the next life opens.
//   loseWal()     the WAL is gone: the log reverts to its last checkpoint (every N syncs).
//   wipe()        the data directory is gone: log, state and storage identity (with the term
//                 record identity.json keeps: SimDisk.terms, which a crash or a lost WAL keep).
//   failNextSync  the next sync rejects with EIO; the transactions it covered never reach the disk
//                 (after a failed fdatasync the kernel may have dropped the pages), and neither
//                 does anything written after them (the WAL is read back only up to the first
//                 missing frame). From then on every sync rejects and syncNow throws with EIO,
//                 so the process learns of it at its next sync whoever was waiting for that one.
//   fill()/free() while full, write() throws SQLITE_FULL.
// Besides the replication meta (term, commit, snapshot boundary) the log keeps other meta values
// as log.db's meta table does (setMeta: the leader's recovery marker), durable once synced.
// The state's applies are durable at once (state.db survives a kill -9); a wipe loses them.
import { RaftInvariantError, crc32, entryIsIntact } from '@cairn/raft';
import type { Entry } from '@cairn/raft';
import type { HandoverRecord } from '../../src/replication/handover.ts';
import type { PendingHandover } from '../../src/replication/identity.ts';
import type { Clock, LogChange, LogMetaKey, ReplicaLog, ReplicaState, TermRecord } from '../../src/replication/ports.ts';
import { decode, encode } from '../../src/replication/wire.ts';
import type { Prng } from './prng.ts';

/** The state machine: a running hash over applied entries, in index order. */
export function foldState(value: number, e: Entry): number {
  return crc32(e.payload, (value ^ Math.imul(e.index, 0x9e3779b1) ^ Math.imul(e.type + 1, 0x85ebca6b) ^ e.checksum) >>> 0);
}

interface LogImage {
  snapIndex: number;
  snapTerm: number;
  /** entries[i] is the entry at snapIndex + 1 + i. */
  entries: Entry[];
  meta: Record<LogMetaKey, number> & Record<string, number>;
}

type Op =
  | { kind: 'write'; change: LogChange }
  | { kind: 'compact'; index: number }
  | { kind: 'reset'; index: number; term: number; current_term: number }
  | { kind: 'meta'; key: string; value: number };

function emptyImage(): LogImage {
  return { snapIndex: 0, snapTerm: 0, entries: [], meta: { term: 0, claimed_term: 0, commit_index: 0, snapshot_index: 0, snapshot_term: 0 } };
}

function cloneImage(img: LogImage): LogImage {
  return { snapIndex: img.snapIndex, snapTerm: img.snapTerm, entries: img.entries.slice(), meta: { ...img.meta } };
}

function lastOf(img: LogImage): number {
  return img.snapIndex + img.entries.length;
}

function termOf(img: LogImage, index: number): number | undefined {
  if (index === img.snapIndex) return img.snapTerm;
  if (index < img.snapIndex || index > lastOf(img)) return undefined;
  return (img.entries[index - img.snapIndex - 1] as Entry).term;
}

function invariant(cond: unknown, message: string): asserts cond {
  if (!cond) throw new RaftInvariantError(message);
}

/** Applies one transaction to an image (checks what SQLite constraints and the real log check). */
function applyOp(img: LogImage, op: Op): void {
  if (op.kind === 'write') {
    const c = op.change;
    if (c.truncate_from !== undefined && c.truncate_from !== null) {
      invariant(c.truncate_from > img.snapIndex, `truncate from ${c.truncate_from} into the snapshot at ${img.snapIndex}`);
      img.entries.length = Math.max(0, Math.min(img.entries.length, c.truncate_from - img.snapIndex - 1));
    }
    for (const e of c.entries) {
      invariant(e.index === lastOf(img) + 1, `append ${e.index} after ${lastOf(img)}`);
      img.entries.push(e);
    }
    if (c.term !== undefined) img.meta.term = c.term;
    if (c.claimed_term !== undefined) img.meta.claimed_term = c.claimed_term;
    if (c.commit !== undefined) img.meta.commit_index = c.commit;
  } else if (op.kind === 'meta') {
    img.meta[op.key] = op.value;
  } else if (op.kind === 'compact') {
    if (op.index <= img.snapIndex) return;
    invariant(op.index <= lastOf(img), `compact ${op.index} past last ${lastOf(img)}`);
    const term = termOf(img, op.index) as number;
    img.entries = img.entries.slice(op.index - img.snapIndex);
    img.snapIndex = op.index;
    img.snapTerm = term;
    img.meta.snapshot_index = op.index;
    img.meta.snapshot_term = term;
  } else {
    img.entries = [];
    img.snapIndex = op.index;
    img.snapTerm = op.term;
    img.meta.snapshot_index = op.index;
    img.meta.snapshot_term = op.term;
    img.meta.commit_index = op.index;
    img.meta.term = Math.max(op.current_term, img.meta.term);
  }
}

function ioError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

function eio(): Error {
  return ioError('log fsync failed: EIO: i/o error, fdatasync', 'EIO');
}

export interface DiskOptions {
  /** Delay of one sync (fdatasync), drawn in [min, max] ms. */
  sync_ms_min: number;
  sync_ms_max: number;
  /** The WAL is checkpointed into the database every this many successful syncs. */
  checkpoint_every_syncs: number;
  /** A broken disk for tests: sync() resolves without making anything durable. */
  lie_about_sync?: boolean;
}

/** Sees every entry a log is given (the simulation checks them against what the leader created). */
export type WriteWatcher = (node: string, entries: readonly Entry[]) => void;

interface SyncWaiter {
  seq: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class SimLog implements ReplicaLog {
  /** What the process sees. */
  private cur: LogImage = emptyImage();
  /** What is on the disk for sure. */
  private dur: LogImage = emptyImage();
  /** The last checkpoint (what a lost WAL reverts to). */
  private ckpt: LogImage = emptyImage();
  /** Transactions not yet on the disk for sure, oldest first; ops[k] has sequence durSeq + k. */
  private ops: Op[] = [];
  private writeSeq = 0;
  private durSeq = 0;
  /** Sequence the process believes synced (what its finished syncs covered). */
  private syncedSeq = 0;
  /** First transaction a failed sync covered: it and everything after never reach the disk. */
  private doomedSeq: number | null = null;
  /** The process's durable index, as the real log keeps it (covered by a finished sync). */
  private durableLast = 0;
  private truncatedSinceSync = Number.POSITIVE_INFINITY;
  private syncing = false;
  private waiters: SyncWaiter[] = [];
  private syncsDone = 0;
  private failNext = false;
  private full = false;
  /** Bumped on every crash: callbacks of an older life do nothing. */
  private life = 0;
  private clock: Clock | null = null;
  readonly counts = { syncs: 0, sync_failures: 0, full_refusals: 0, torn_lost: 0, checkpoints: 0 };

  constructor(
    readonly node: string,
    private readonly rng: Prng,
    private readonly opts: DiskOptions,
    private readonly watch: WriteWatcher = () => undefined,
  ) {}

  /** The clock of the node's current life (syncs complete on it). */
  attach(clock: Clock): void {
    this.clock = clock;
  }

  // --- LogReader ---

  firstIndex(): number {
    return this.cur.snapIndex + 1;
  }

  lastIndex(): number {
    return lastOf(this.cur);
  }

  snapshotIndex(): number {
    return this.cur.snapIndex;
  }

  snapshotTerm(): number {
    return this.cur.snapTerm;
  }

  termAt(index: number): number | undefined {
    return termOf(this.cur, index);
  }

  checksumAt(index: number): number | undefined {
    if (index <= this.cur.snapIndex || index > lastOf(this.cur)) return undefined;
    return (this.cur.entries[index - this.cur.snapIndex - 1] as Entry).checksum;
  }

  entryAt(index: number): Entry | undefined {
    if (index <= this.cur.snapIndex || index > lastOf(this.cur)) return undefined;
    return this.cur.entries[index - this.cur.snapIndex - 1];
  }

  entries(lo: number, hi: number, bytes_max: number): Entry[] {
    invariant(lo >= this.firstIndex(), `entries from ${lo} below first index ${this.firstIndex()}`);
    const out: Entry[] = [];
    let bytes = 0;
    const end = Math.min(hi, lastOf(this.cur) + 1);
    for (let i = lo; i < end; i++) {
      const e = this.cur.entries[i - this.cur.snapIndex - 1] as Entry;
      if (out.length > 0 && bytes + e.payload.length > bytes_max) break;
      bytes += e.payload.length;
      out.push(e);
    }
    return out;
  }

  // --- ReplicaLog ---

  lastLogTerm(): number {
    return termOf(this.cur, lastOf(this.cur)) as number;
  }

  durableIndex(): number {
    return Math.min(this.durableLast, lastOf(this.cur));
  }

  /** A meta value (the replication's, or another one set with setMeta; 0 when never set). */
  meta(key: LogMetaKey | (string & {})): number {
    return this.cur.meta[key] ?? 0;
  }

  /** Sets a meta value (one transaction), as log.db's meta table: durable once synced. */
  setMeta(key: string, value: number): void {
    if (this.full) {
      this.counts.full_refusals++;
      throw ioError('database or disk is full', 'SQLITE_FULL');
    }
    const op: Op = { kind: 'meta', key, value };
    applyOp(this.cur, op);
    this.push(op);
  }

  write(change: LogChange): void {
    if (this.full) {
      this.counts.full_refusals++;
      throw ioError('database or disk is full', 'SQLITE_FULL');
    }
    for (const e of change.entries) invariant(entryIsIntact(e), `${this.node} log given entry ${e.index} whose checksum does not match its bytes`);
    const op: Op = { kind: 'write', change: { ...change, entries: change.entries.slice() } };
    applyOp(this.cur, op);
    if (change.truncate_from !== undefined && change.truncate_from !== null) {
      this.durableLast = Math.min(this.durableLast, change.truncate_from - 1);
      this.truncatedSinceSync = Math.min(this.truncatedSinceSync, change.truncate_from - 1);
    }
    this.push(op);
    if (change.entries.length > 0) this.watch(this.node, change.entries);
  }

  sync(): Promise<void> {
    if (this.doomedSeq !== null) return Promise.reject(eio());
    const seq = this.writeSeq;
    if (this.syncedSeq >= seq) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ seq, resolve, reject });
      this.startSync();
    });
  }

  syncNow(): void {
    if (this.doomedSeq !== null) throw eio();
    const seq = this.writeSeq;
    if (this.syncedSeq >= seq) return;
    this.markSynced(seq, lastOf(this.cur));
  }

  compactTo(index: number): number {
    if (index <= this.cur.snapIndex) return 0;
    const removed = index - this.cur.snapIndex;
    const op: Op = { kind: 'compact', index };
    applyOp(this.cur, op);
    this.push(op);
    return removed;
  }

  resetTo(index: number, term: number, current_term: number): void {
    const op: Op = { kind: 'reset', index, term, current_term };
    applyOp(this.cur, op);
    this.durableLast = index;
    this.truncatedSinceSync = Math.min(this.truncatedSinceSync, index);
    this.push(op);
    this.syncNow();
  }

  // --- faults ---

  /** The next sync fails with EIO (and what it covered never reaches the disk). */
  failNextSync(): void {
    this.failNext = true;
  }

  /** Disarms a pending failNextSync (the faults stop). */
  disarm(): void {
    this.failNext = false;
  }

  fill(): void {
    this.full = true;
  }

  free(): void {
    this.full = false;
  }

  isFull(): boolean {
    return this.full;
  }

  /** Whether a sync failed in this life (the node must be restarted to trust its log again). */
  syncFailed(): boolean {
    return this.doomedSeq !== null;
  }

  /** Unsynced transactions a crash may keep (a failed sync's and what followed it never). */
  unsynced(): number {
    return Math.max(0, (this.doomedSeq ?? this.writeSeq) - this.durSeq);
  }

  /** The process died: the disk keeps the durable image and a random prefix (or `keep`) of what followed. */
  crash(keep?: number): void {
    const limit = this.unsynced();
    keep = keep === undefined ? (limit === 0 ? 0 : this.rng.int(0, limit)) : Math.min(keep, limit);
    for (let k = 0; k < keep; k++) applyOp(this.dur, this.ops[k] as Op);
    this.counts.torn_lost += this.ops.length - keep;
    this.restartFrom(this.dur);
  }

  /** The WAL is lost: the log reverts to its last checkpoint. */
  loseWal(): void {
    this.restartFrom(cloneImage(this.ckpt));
  }

  /** The WAL is checkpointed now (scripted scenarios): a lost WAL reverts to what is durable now. */
  checkpoint(): void {
    this.ckpt = cloneImage(this.dur);
    this.counts.checkpoints++;
  }

  /** Everything is gone. */
  wipe(): void {
    this.ckpt = emptyImage();
    this.restartFrom(emptyImage());
  }

  /** What is on the disk for sure (for the checkers). */
  durable(): { snapIndex: number; snapTerm: number; lastIndex: number; meta: Readonly<Record<LogMetaKey, number> & Record<string, number>>; entryAt(index: number): Entry | undefined } {
    const img = this.dur;
    return {
      snapIndex: img.snapIndex,
      snapTerm: img.snapTerm,
      lastIndex: lastOf(img),
      meta: img.meta,
      entryAt: (index: number) => (index <= img.snapIndex || index > lastOf(img) ? undefined : img.entries[index - img.snapIndex - 1]),
    };
  }

  /** Every entry the process sees, in order (for whole-log checks). */
  allEntries(): readonly Entry[] {
    return this.cur.entries;
  }

  private restartFrom(img: LogImage): void {
    this.life++;
    this.dur = img;
    this.cur = cloneImage(img);
    this.ops = [];
    this.durSeq = this.writeSeq;
    this.syncedSeq = this.writeSeq;
    this.doomedSeq = null;
    this.durableLast = lastOf(img);
    this.truncatedSinceSync = Number.POSITIVE_INFINITY;
    this.syncing = false;
    this.waiters = [];
    this.failNext = false;
    this.clock = null;
  }

  private push(op: Op): void {
    this.ops.push(op);
    this.writeSeq++;
  }

  private startSync(): void {
    if (this.syncing) return;
    const clock = this.clock;
    invariant(clock !== null, `${this.node} log synced with no clock attached`);
    const seq = this.writeSeq;
    const last = lastOf(this.cur);
    const life = this.life;
    this.syncing = true;
    this.truncatedSinceSync = Number.POSITIVE_INFINITY;
    const fail = this.failNext;
    this.failNext = false;
    clock.setTimeout(
      () => {
        if (life !== this.life) return;
        this.syncing = false;
        this.counts.syncs++;
        if (fail) {
          this.counts.sync_failures++;
          this.doomedSeq ??= this.durSeq;
          for (const w of this.waiters.splice(0)) w.reject(eio());
          return;
        }
        this.markSynced(seq, Math.min(last, this.truncatedSinceSync), this.opts.lie_about_sync !== true);
        if (this.waiters.length > 0) this.startSync();
      },
      this.rng.int(this.opts.sync_ms_min, this.opts.sync_ms_max),
    );
  }

  private markSynced(seq: number, last: number, reachesDisk = true): void {
    if (seq > this.syncedSeq) {
      this.syncedSeq = seq;
      this.durableLast = Math.max(this.durableLast, last);
    }
    if (!reachesDisk) {
      this.resolveSynced();
      return;
    }
    // On the disk for sure: up to seq, unless a failed sync doomed part of it.
    const upTo = Math.min(seq, this.doomedSeq ?? Number.POSITIVE_INFINITY);
    if (upTo > this.durSeq) {
      const n = upTo - this.durSeq;
      for (let k = 0; k < n; k++) applyOp(this.dur, this.ops[k] as Op);
      this.ops.splice(0, n);
      this.durSeq = upTo;
      this.syncsDone++;
      if (this.syncsDone % this.opts.checkpoint_every_syncs === 0) {
        this.ckpt = cloneImage(this.dur);
        this.counts.checkpoints++;
      }
    }
    this.resolveSynced();
  }

  private resolveSynced(): void {
    while (this.waiters.length > 0 && (this.waiters[0] as SyncWaiter).seq <= this.syncedSeq) (this.waiters.shift() as SyncWaiter).resolve();
  }
}

/** What a snapshot of the state carries. */
export interface StateImage {
  index: number;
  term: number;
  value: number;
}

export class SimState implements ReplicaState {
  private img: StateImage = { index: 0, term: 0, value: 0 };
  /** A batch left open by startApply: what it has applied so far, visible to no one. */
  private open: { entries: Entry[]; next: number; img: StateImage } | null = null;
  readonly counts = { applied: 0, installs: 0, left_open: 0 };

  /** Told how many entries each apply transaction applied (the simulation charges CPU time for them). */
  onApply: (entries: number) => void = () => undefined;

  constructor(readonly node: string) {}

  appliedIndex(): number {
    return this.img.index;
  }

  appliedTerm(): number {
    return this.img.term;
  }

  value(): number {
    return this.img.value;
  }

  image(): StateImage {
    return { ...this.img };
  }

  applyEntries(entries: Entry[]): number {
    this.startApply(entries, Infinity);
    return this.img.index;
  }

  /**
   * As StateHolder's: entries are applied one at a time (each charged to the simulated CPU clock
   * by onApply) and, once performance.now() is past the deadline, the batch is left open: its
   * entries invisible (appliedIndex and the image unchanged) until continueApply commits it. A
   * crash, a wipe or an install drops it.
   */
  startApply(entries: Entry[], deadline: number): boolean {
    invariant(this.open === null, `${this.node} startApply while a batch is open`);
    if (entries.length === 0) return true;
    this.open = { entries, next: 0, img: { ...this.img } };
    return this.continueApply(deadline);
  }

  continueApply(deadline: number): boolean {
    const b = this.open;
    invariant(b !== null, `${this.node} continueApply with no open batch`);
    while (b.next < b.entries.length) {
      const e = b.entries[b.next++] as Entry;
      if (e.index <= b.img.index) continue;
      invariant(e.index === b.img.index + 1, `${this.node} applies ${e.index} after ${b.img.index}: entries must be applied in order`);
      b.img = { index: e.index, term: e.term, value: foldState(b.img.value, e) };
      this.counts.applied++;
      this.onApply(1);
      if (performance.now() > deadline && b.next < b.entries.length) {
        this.counts.left_open++;
        return false;
      }
    }
    this.open = null;
    this.img = b.img;
    return true;
  }

  applyOpen(): boolean {
    return this.open !== null;
  }

  /** The process died: an open batch's transaction is gone with it. */
  crash(): void {
    this.open = null;
  }

  /** Replaces the whole state (a snapshot install): durable on return. */
  install(img: StateImage): void {
    this.open = null;
    this.img = { ...img };
    this.counts.installs++;
  }

  wipe(): void {
    this.open = null;
    this.img = { index: 0, term: 0, value: 0 };
  }
}

/**
 * The bytes of a state snapshot: msgpack of {index, term, value} and some filler derived from
 * them, so a snapshot spans a few chunks and a damaged byte anywhere is noticed.
 */
export function encodeStateImage(img: StateImage, filler_bytes: number): Buffer {
  const pad = new Uint8Array(filler_bytes);
  let x = (img.value ^ img.index) >>> 0;
  for (let i = 0; i < pad.length; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    pad[i] = x >>> 24;
  }
  return encode({ index: img.index, term: img.term, value: img.value, pad });
}

/** The state a snapshot's bytes hold; throws when they are not one. */
export function decodeStateImage(bytes: Uint8Array): StateImage {
  const o = decode(bytes) as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object') throw new Error('snapshot bytes are not a map');
  const { index, term, value, pad } = o;
  if (typeof index !== 'number' || typeof term !== 'number' || typeof value !== 'number' || !(pad instanceof Uint8Array)) throw new Error('snapshot bytes miss index, term, value or filler');
  const img = { index, term, value };
  const again = encodeStateImage(img, pad.length);
  if (Buffer.compare(again, Buffer.from(bytes)) !== 0) throw new Error('snapshot filler does not match its state');
  return img;
}

/** One node's data directory: its log, its state and the identity of its storage. */
export class SimDisk {
  readonly log: SimLog;
  readonly state: SimState;
  private generation = 1;
  /** Whether identity.json is there (written at the first start of a directory, lost with a wipe). */
  private identityWritten = false;
  /** The highest term recorded in identity.json (FileTermRecord): durable on return, lost with a wipe only. */
  private termRecorded = 0;
  /** The leader's TermRecord on this directory. */
  readonly terms: TermRecord = {
    recorded: () => this.termRecorded,
    record: (term: number) => {
      if (term < this.termRecorded) throw new RaftInvariantError(`${this.node}: term ${term} recorded below ${this.termRecorded}`);
      this.termRecorded = term;
    },
  };

  /** identity.json's leader_unknown: set when the identity is created, cleared once a leader is recorded. */
  private leaderUnknown = false;

  /** identity.json's leader (a handover): a crash or a lost WAL keep it, a wipe loses it. */
  private leaderRecorded: string | null = null;

  private designatedRecorded: string | null = null;

  /** identity.json's log_floor (a takeover's index): a crash or a lost WAL keep it, a wipe loses it. */
  private floorRecorded = 0;

  /** identity.json's pending handover (FileTermRecord.pendingHandover). */
  private handoverRecorded: PendingHandover | null = null;

  readonly leadership: HandoverRecord = {
    leader: () => this.leaderRecorded,
    recordLeader: (id: string, log_floor?: number) => {
      this.leaderRecorded = id;
      this.leaderUnknown = false;
      this.floorRecorded = Math.max(this.floorRecorded, log_floor ?? 0);
    },
    logFloor: () => this.floorRecorded,
    leaderUnknown: () => this.leaderUnknown,
    designated: () => this.designatedRecorded,
    recordDesignated: (id: string) => {
      this.designatedRecorded = id;
    },
    pendingHandover: () => (this.handoverRecorded === null ? null : { ...this.handoverRecorded }),
    recordHandedOver: (h: PendingHandover) => {
      this.leaderRecorded = h.to;
      this.handoverRecorded = { ...h };
    },
    recordHandover: (h: PendingHandover | null) => {
      this.handoverRecorded = h === null ? null : { ...h };
    },
  };

  constructor(
    readonly node: string,
    rng: Prng,
    opts: DiskOptions,
    watch?: WriteWatcher,
    log?: (node: string, rng: Prng, opts: DiskOptions, watch?: WriteWatcher) => SimLog,
  ) {
    this.log = log ? log(node, rng, opts, watch) : new SimLog(node, rng, opts, watch);
    this.state = new SimState(node);
  }

  /** New whenever the directory starts from nothing. */
  storageId(): string {
    return `${this.node}-storage-${this.generation}`;
  }

  /** The start-up's loadIdentity: true when the identity was created just now (the directory was new). */
  openIdentity(): boolean {
    const created = !this.identityWritten;
    if (created) this.leaderUnknown = true;
    this.identityWritten = true;
    return created;
  }

  crash(keep?: number): void {
    this.log.crash(keep);
    this.state.crash();
  }

  loseWal(): void {
    this.log.loseWal();
    this.state.crash();
  }

  wipe(): void {
    this.log.wipe();
    this.state.wipe();
    this.generation++;
    this.identityWritten = false;
    this.termRecorded = 0;
    this.leaderRecorded = null;
    this.designatedRecorded = null;
    this.floorRecorded = 0;
    this.handoverRecorded = null;
  }
}
