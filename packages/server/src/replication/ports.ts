// What the replication drivers (LeaderDriver, FollowerHandler) need from the world, as
// interfaces: a clock with timers, the log, the state, the network (transport.ts) and the bytes
// of snapshots. The daemon hands them SQLite files, node:http and the system clock; the seeded
// simulation (packages/server/test/sim) hands them simulated disks, a simulated network and a
// simulated clock, so it runs the drivers that ship. A leader that lost part of its storage
// recovers from its followers (recovery.ts) through the same ports plus RecoveryPeers and
// RecoveryMarker, so the simulation runs that code too.
import type { Entry, LogReader } from '@cairn/raft';
import type { NodeSpec } from '../config/types.ts';

/** A timer handle as the clock gives it out. */
export type TimerHandle = object;

export interface Clock {
  /** Milliseconds on this clock (monotonic within a process life). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(timer: TimerHandle): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(timer: TimerHandle): void;
  /** Runs fn after the current turn of the event loop (I/O callbacks first). */
  setImmediate(fn: () => void): void;
}

/**
 * The system clock and Node's timers. `now` is the monotonic clock counted from the process's
 * start on the wall clock (so it still reads as a Unix time in ms), not Date.now(): a wall clock
 * stepped back would otherwise leave every "last success" in the future and a heartbeat due hours
 * from now, and one stepped forward would make every follower look silent.
 */
export const systemClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (t) => clearInterval(t as NodeJS.Timeout),
  setImmediate: (fn) => {
    setImmediate(fn);
  },
};

export type LogMetaKey = 'term' | 'claimed_term' | 'commit_index' | 'snapshot_index' | 'snapshot_term';

/**
 * One log transaction: optionally drop a suffix, append entries, persist term, claimed term
 * (FollowerView.claimed_term) and commit.
 */
export interface LogChange {
  truncate_from?: number | null;
  entries: Entry[];
  term?: number;
  claimed_term?: number;
  commit?: number;
}

/**
 * The replicated log (log.db). A write is visible at once and durable once a sync() called after
 * it resolves; a crash loses what no finished sync covered. Writes throw when the disk is full
 * (see storage-errors.ts); sync() rejects when the disk could not make the data durable.
 */
export interface ReplicaLog extends LogReader {
  lastLogTerm(): number;
  /** Last index whose entry is on disk (covered by a finished sync). */
  durableIndex(): number;
  meta(key: LogMetaKey): number;
  write(change: LogChange): void;
  sync(): Promise<void>;
  /** sync() that blocks: for rare writes (a leader's first entry, a log reset). */
  syncNow(): void;
  /** Drops entries up to and including index (covered by the state). Returns how many. */
  compactTo(index: number): number;
  /** Replaces the log by an empty one that starts after (index, term); durable on return. */
  resetTo(index: number, term: number, current_term: number): void;
}

/**
 * The highest term this node's leader opened, kept outside the log (identity.json) so that it
 * survives the loss of the log's WAL, which takes the log's own record of the term with it. A term
 * is recorded once its NOOP is durable and before anything of it is sent, so no follower holds an
 * entry of a term above the record; a log whose term is below the record lost its tail.
 */
export interface TermRecord {
  recorded(): number;
  /** Durable on return; throws when it could not be written. */
  record(term: number): void;
}

/**
 * The leader this node knows, when leadership was handed over: kept outside the log (identity.json)
 * like the term record, so a lost WAL cannot make a node that handed leadership away take it back.
 * null: the configured leader (replication.leader) leads.
 */
export interface LeadershipRecord {
  leader(): string | null;
  /**
   * Durable on return (and the leader is then known); throws when it could not be written. With
   * `log_floor` (a takeover: where the old leader's log ended), also records that this node's log
   * held that index durably, so a log that later ends before it is known to have lost its tail.
   */
  recordLeader(id: string, log_floor?: number): void;
  /** The highest log_floor recorded (0: none). */
  logFloor(): number;
  /** True from the directory's creation until a leader is recorded: this node must ask who leads. */
  leaderUnknown(): boolean;
  /** The node the last designation entry this node appended names (ENTRY_LEADER), or null. */
  designated(): string | null;
  /** Durable on return; throws when it could not be written. */
  recordDesignated(id: string): void;
}

/** The state the log's entries build (state.db). Applies are durable across a process crash. */
export interface ReplicaState {
  appliedIndex(): number;
  appliedTerm(): number;
  /** Applies entries in order in one transaction; entries at or below the applied index are skipped. */
  applyEntries(entries: Entry[]): number;
  /**
   * applyEntries, which may stop once performance.now() is past `deadline` and leave the batch
   * open: nothing of it applied as far as appliedIndex and reads are concerned, and continueApply
   * goes on with it. Returns whether the batch committed.
   */
  startApply(entries: Entry[], deadline: number): boolean;
  /** Goes on with the open batch; returns whether it committed. */
  continueApply(deadline: number): boolean;
  /** True while a batch started by startApply is open. */
  applyOpen(): boolean;
}

/** The state's checksum at its applied index, read in one consistent read (off the event loop). */
export interface StateDigest {
  index: number;
  term: number;
  checksum: string;
}

/** Computes a StateDigest of the node's state now. */
export type DigestState = () => Promise<StateDigest>;

/** The leader's side of a snapshot: a consistent copy of its state, streamed to one follower. */
export interface SnapshotShipper {
  /**
   * Copies the state (at its applied index) and sends it; resolves once the follower answered the
   * last chunk (installed, or ignored as older than what it holds), rejects on any failure.
   */
  ship(target: SnapshotTarget): Promise<ShippedSnapshot>;
}

export interface SnapshotTarget {
  follower: string;
  address: string;
  term: number;
  /** The follower must install it even at or below its applied index (its state diverged). */
  repair: boolean;
  /**
   * The node the last designation this leader holds names (itself, when it took over by a
   * handover), or null: sent with the chunks so that a follower that missed the designation entry
   * (it lagged, and gets a snapshot instead) takes this leader's newer term (leaderRefusal).
   */
  designated: string | null;
  /** Clock time after which the transfer is abandoned. */
  deadline_ms: number;
}

export interface ShippedSnapshot {
  index: number;
  term: number;
  bytes: number;
  /** The follower's answer to the last chunk. */
  answer: Record<string, unknown>;
  /** Where the time went, for resync_stats. */
  phases: Record<string, unknown>;
}

/** A follower's side of a snapshot: the bytes of one transfer, written aside and verified. */
export interface SnapshotReceiver {
  /** The transfer in progress, if any. */
  current(): { id: string; offset: number } | null;
  /** Starts a transfer (discarding any other in progress). */
  begin(id: string, last_index: number, last_term: number): void;
  /** Appends a chunk at the current offset. */
  write(data: Uint8Array): void;
  /**
   * The last chunk was written: checks size, digest and that the bytes are the state they claim
   * to be (index). Throws a ReplicationError (400) when they are not; the transfer is discarded.
   */
  finish(total_bytes: number, sha256: string, source_checked: boolean): Promise<ReceivedSnapshot>;
  /** Drops the transfer in progress. */
  abort(reason: string): void;
}

export interface ReceivedSnapshot {
  index: number;
  term: number;
  bytes: number;
  /** Replaces the state by the snapshot (atomic, durable on return). */
  install(): { index: number; term: number };
  /** Throws the received bytes away (the snapshot is not installed). */
  discard(): void;
  phases: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// A leader's recovery from its followers (recovery.ts)

/** Where a node's log and state are (GET /_raft/log-position). */
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

/** A bounded page of a node's log (GET /_raft/log-entries): entries intact and contiguous. */
export interface LogEntriesPage {
  entries: Entry[];
  /** The answering log's bounds when it answered. */
  first_index: number;
  last_index: number;
}

/** A consistent copy of a follower's state, fetched and verified beside this node's state, not installed yet. */
export interface FetchedState {
  index: number;
  term: number;
  bytes: number;
  /** Replaces this node's state by the copy (atomic, durable on return). */
  install(): { index: number; term: number };
  /** Throws the copy away (also after an install: then it does nothing). */
  discard(): void;
}

/**
 * What a recovering leader asks its followers. Each call rejects when the follower does not answer
 * within timeout_ms, refuses, or answers something malformed (a page that fails its checksums, a
 * copy whose bytes are not the state they announce).
 */
export interface RecoveryPeers {
  position(follower: NodeSpec, timeout_ms: number): Promise<LogPosition>;
  /** Entries from..to of its log (a page: at most LOG_ENTRIES_PER_CALL_MAX, possibly fewer). */
  entries(follower: NodeSpec, from: number, to: number, timeout_ms: number): Promise<LogEntriesPage>;
  /** A consistent copy of its state at its applied index. */
  fetchState(follower: NodeSpec, timeout_ms: number, signal?: AbortSignal): Promise<FetchedState>;
}

/**
 * The durable record that a recovery from the followers started and has not finished (log.db's
 * meta `recovery_pending`): 0 none, 1 the log was behind the state, 2 the data directory was gone.
 */
export interface RecoveryMarker {
  get(): number;
  /** Durable on return. */
  set(code: 0 | 1 | 2): void;
}
