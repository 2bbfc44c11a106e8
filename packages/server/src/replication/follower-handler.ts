// A follower's side of replication: answers /_raft/append (the core decides; this persists, then
// answers, then applies what is committed and durable) and receives snapshots over
// /_raft/snapshot (bytes written aside and verified by a SnapshotReceiver; whether and how to
// install decided by the core). Requests are handled one at a time (a mutex), so a snapshot
// install never interleaves with an append. Its world comes in through ports.ts, so the seeded
// simulation runs this code.
import { ENTRY_LEADER, compactionPoint, decideAppend, decideSnapshot, designationPayload, leaderRefusal, seenTerm } from '@cairn/raft';
import type { Entry, FollowerView } from '@cairn/raft';
import type { Logger } from 'pino';
import type { ReplicationConfig } from '../config/types.ts';
import { applySlice } from './apply-slice.ts';
import type { NodeCondition } from './condition.ts';
import { ReplicationError } from './errors.ts';
import type { Clock, DigestState, LeadershipRecord, RecoveryMarker, ReplicaLog, ReplicaState, SnapshotReceiver, TimerHandle } from './ports.ts';
import type { ReplicationEvent, ReplicationObserver, ResyncStats } from './stats.ts';
import { isDiskFull } from './storage-errors.ts';
import { IndexWaiters } from './waiters.ts';
import { SNAPSHOT_CHUNKS_INFLIGHT_MAX, WireError, chunkCrc32, decode, decodeAppendRequest, decodeSnapshotChunk, encode } from './wire.ts';
import type { SnapshotChunk } from './wire.ts';

export interface FollowerHooks {
  onApplied(): void;
  event(e: Omit<ReplicationEvent, 'at'>): void;
  stats: ResyncStats;
  observer?: ReplicationObserver;
  /** The disk filled up: watch for space (the condition `disk_full` is cleared when it is back). */
  onDiskFull?(): void;
}

export interface FollowerDeps {
  cfg: ReplicationConfig;
  log: ReplicaLog;
  state: ReplicaState;
  snapshots: SnapshotReceiver;
  clock: Clock;
  logger: Logger;
  hooks: FollowerHooks;
  condition: NodeCondition;
  /** This node's storage id, sent with every answer: a new one tells the leader its data is new. */
  storage_id: string;
  /** The state's digest, which the leader compares with its own (none: /_raft/digest answers 404). */
  digest?: DigestState;
  /** The leader recorded at a handover (none: cfg.leader leads, always). */
  leadership?: LeadershipRecord;
  /** A new leader took over (its first request this node took in a newer term). */
  onLeader?(id: string): void;
  /** The log's recovery marker (metaRecoveryMarker): a follower clears one left from before. */
  marker?: RecoveryMarker;
}

/** How long a digest request waits for this node to reach the leader's index before it is computed. */
const DIGEST_WAIT_MS = 1000;

/**
 * How long an append that arrives ahead of its predecessor waits for it (reordered delivery), at
 * most: never more than a quarter of append_timeout_ms, so the leader hears the gap before it
 * gives up on the request (a wait past its timeout hid every rejection: a livelock).
 */
const GAP_WAIT_MS = 250;

/** How long a snapshot chunk that arrives ahead of its predecessor waits for it (several in flight). */
const SNAPSHOT_ORDER_WAIT_MS = 5000;

/** How many installed snapshot ids are remembered, to ignore late copies of them (decideSnapshot). */
const INSTALLED_IDS_KEPT = 16;

/** A log compaction is considered this often. */
const compact_every_ms = 5000;

export class FollowerHandler {
  private lock: Promise<unknown> = Promise.resolve();
  private readonly lastIndexWaiters: IndexWaiters;
  /** Leader contact and commit as last seen, for /_raft/health. */
  lastContactMs: number | null = null;
  leaderCommitSeen = 0;
  leaderIdSeen: string | null = null;
  installing = false;
  /** Ids of the snapshots installed in this life, newest last (at most INSTALLED_IDS_KEPT). */
  private readonly installedIds: string[] = [];
  private lastCompactMs = 0;
  /** The highest commit the leader announced; applied up to it as entries become durable. */
  private applyTarget = 0;
  private applyScheduled = false;
  private stopped = false;
  private fsyncError: string | null = null;
  /** A committed entry that this node could not apply: only a snapshot from the leader repairs it. */
  private divergedAt: number | null = null;
  private receiveTimer: TimerHandle | null = null;
  /** Chunks waiting for their predecessor; woken whenever a transfer moves on or ends. */
  private readonly chunkWaiters = new Set<() => void>();
  private readonly d: FollowerDeps;

  constructor(deps: FollowerDeps) {
    this.d = deps;
    this.lastIndexWaiters = new IndexWaiters(() => deps.log.lastIndex(), deps.clock);
    // Apply what was committed but not yet applied before a restart.
    const { log, state } = deps;
    if (log.lastIndex() < state.appliedIndex()) {
      // The log lost its tail (its WAL): what the state holds is final, so the log continues after
      // it; the leader learns where it ends from its first answer and sends the rest.
      deps.logger.warn({ last_index: log.lastIndex(), applied: state.appliedIndex() }, 'the log ends before the applied state (lost WAL?); it restarts after the applied index');
      try {
        log.resetTo(state.appliedIndex(), state.appliedTerm(), log.meta('term'));
      } catch (err) {
        deps.logger.error({ err: (err as Error).message }, 'could not restart the log after the applied index; asking the leader for a snapshot');
        this.divergedAt = state.appliedIndex() + 1;
      }
    } else if (state.appliedIndex() + 1 < log.firstIndex()) {
      // The state is older than the log's first entry (state.db lost or replaced): the entries it
      // needs are gone here; only a snapshot repairs it.
      deps.logger.warn({ first_index: log.firstIndex(), applied: state.appliedIndex() }, 'the state is older than the log; asking the leader for a snapshot');
      this.divergedAt = state.appliedIndex() + 1;
    }
    if (state.appliedIndex() + 1 >= log.firstIndex()) this.applyTo(Math.min(log.meta('commit_index'), log.lastIndex()));
    // A recovery marker (a recovery this node began as the leader and did not finish, or one that
    // a lost WAL brought back after it was cleared) makes the next start as the leader rebuild
    // the log from the followers, dropping it. A follower's log holds only what its leader sent,
    // which the leader still has, and it leads again only by a handover that needs it caught up
    // with the old leader's log (takeOver): the marker no longer applies. Left set, a restart that
    // leads would drop this log, which the leader counts as a copy of what it acknowledged.
    if (deps.marker !== undefined && deps.marker.get() !== 0) {
      deps.logger.warn({ recovery_pending: deps.marker.get() }, 'a recovery marker from before this node followed: cleared (the leader holds what this log lacks)');
      deps.marker.set(0);
    }
  }

  currentTerm(): number {
    return this.d.log.meta('term');
  }

  /** The newest term this node has seen: its entries' or a request's it recorded (seenTerm). */
  private seenTerm(): number {
    return seenTerm({ current_term: this.currentTerm(), claimed_term: this.d.log.meta('claimed_term') });
  }

  /** The leader this node follows: the one recorded at a handover, else the configured one. */
  leaderId(): string {
    return this.d.leadership?.leader() ?? this.d.cfg.leader;
  }

  private view(): FollowerView {
    return { log: this.d.log, current_term: this.currentTerm(), claimed_term: this.d.log.meta('claimed_term'), commit_index: this.d.state.appliedIndex(), leader_id: this.leaderId(), designated: this.d.leadership?.designated() ?? null };
  }

  /** Records the node a designation entry names, before the entry is appended (durable). */
  private designate(id: string): void {
    if (this.d.leadership === undefined || this.d.leadership.designated() === id) return;
    try {
      this.d.leadership.recordDesignated(id);
    } catch (err) {
      throw this.writeFailed(err, 'designation record');
    }
  }

  /**
   * Records `leader` as the leader (durable, before the term that proves it is persisted with the
   * log: a crash between leaves the new leader with the old term, whose next request is newer).
   */
  private takeLeader(leader: string): void {
    if (leader === this.leaderId()) return;
    if (this.d.leadership === undefined) throw new ReplicationError(409, 'wrong_leader', `replication requests come from the configured leader ${this.d.cfg.leader}, not ${leader}`);
    try {
      this.d.leadership.recordLeader(leader);
    } catch (err) {
      throw this.writeFailed(err, 'leader record');
    }
    this.d.logger.info({ leader, term_before: this.currentTerm() }, 'a new leader took over');
    this.d.hooks.event({ kind: 'leader_changed', detail: `${leader} leads (this node's term was ${this.currentTerm()})` });
    this.d.onLeader?.(leader);
  }

  private serialized<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private checkRequest(cluster_id: string, leader_id: string, term: number, entries: readonly Pick<Entry, 'type' | 'payload'>[] = []): void {
    const cfg = this.d.cfg;
    if (cluster_id !== cfg.cluster_id) {
      throw new ReplicationError(409, 'wrong_cluster', `request from cluster "${cluster_id}", this node is in "${cfg.cluster_id}"`);
    }
    const refusal = leaderRefusal({ leader_id: this.leaderId(), current_term: this.currentTerm(), designated: this.d.leadership?.designated() ?? null }, leader_id, term, entries);
    if (refusal !== null) throw new ReplicationError(409, 'wrong_leader', refusal);
    if (term < this.seenTerm()) {
      throw new ReplicationError(409, 'stale_term', `term ${term} is older than this node's term ${this.seenTerm()}`, { term: this.seenTerm() });
    }
    if (this.fsyncError !== null) {
      throw new ReplicationError(503, 'log_sync_failed', `the log could not be synced (${this.fsyncError}); restart the node`);
    }
  }

  private answer(response: object): Buffer {
    return encode({ ...response, storage_id: this.d.storage_id });
  }

  async handleAppend(body: Uint8Array): Promise<Buffer> {
    const req = (() => {
      try {
        return decodeAppendRequest(body);
      } catch (err) {
        throw new ReplicationError(400, 'bad_append', (err as Error).message);
      }
    })();
    const { log, cfg, clock } = this.d;
    this.checkRequest(req.cluster_id, req.leader_id, req.term, req.entries);
    if (req.prev_index > log.lastIndex() && req.prev_index - log.lastIndex() <= cfg.batch_size * cfg.inflight_batches_max) {
      // Pipelined appends may arrive out of order: give the predecessor a moment.
      await this.lastIndexWaiters.wait(req.prev_index, Math.min(GAP_WAIT_MS, Math.floor(cfg.append_timeout_ms / 4)));
    }
    const answer = await this.serialized((): { response: Buffer; commit: number | null; sync?: boolean; written?: { entries: number; started: number } } => {
      if (this.installing) throw new ReplicationError(503, 'installing_snapshot', 'a snapshot is being installed');
      this.checkRequest(req.cluster_id, req.leader_id, req.term, req.entries);
      this.lastContactMs = clock.now();
      this.leaderIdSeen = req.leader_id;
      this.leaderCommitSeen = Math.max(this.leaderCommitSeen, req.leader_commit);
      if (this.divergedAt !== null) {
        return { response: this.answer({ success: false, term: req.term, match_index: 0, last_index: log.lastIndex(), reason: 'diverged', diverged_at: this.divergedAt }), commit: null };
      }
      const decision = decideAppend(this.view(), req);
      if (decision.kind === 'invalid') {
        throw new ReplicationError(decision.status, decision.code, decision.message, decision.code === 'stale_term' ? { term: this.seenTerm() } : {});
      }
      if (decision.kind === 'reject') {
        if (decision.response.reason === 'diverged') this.d.logger.error({ at: decision.response.diverged_at }, 'an applied entry differs from the leader\'s; waiting for a snapshot');
        if (decision.claim === null) return { response: this.answer(decision.response), commit: null };
        // The answer carries the claim: durable before it is sent, like an append.
        try {
          log.write({ entries: [], claimed_term: decision.claim });
        } catch (err) {
          throw this.writeFailed(err, 'term claim');
        }
        return { response: this.answer(decision.response), commit: null, sync: true };
      }
      const termChanged = decision.term !== this.currentTerm();
      if (decision.designate !== null) this.designate(decision.designate);
      if (decision.leader !== null) this.takeLeader(decision.leader);
      if (decision.append.length > 0 || decision.truncate_from !== null || termChanged || decision.claim !== null || decision.commit_to > log.meta('commit_index')) {
        const started = performance.now();
        try {
          log.write({
            truncate_from: decision.truncate_from,
            entries: decision.append,
            term: termChanged ? decision.term : undefined,
            claimed_term: decision.claim ?? undefined,
            commit: decision.commit_to,
          });
        } catch (err) {
          throw this.writeFailed(err, 'log append');
        }
        this.lastIndexWaiters.notify();
        return { response: this.answer(decision.response), commit: decision.commit_to, written: { entries: decision.append.length, started } };
      }
      return { response: this.answer(decision.response), commit: decision.commit_to };
    });
    if (answer.commit === null && answer.sync !== true) return answer.response;
    // Durable before answering: the leader counts this answer toward a quorum (or its claim). The
    // fdatasync runs off the event loop, outside the lock, so the next append is written meanwhile.
    try {
      await log.sync();
    } catch (err) {
      throw this.syncFailed(err);
    }
    if (answer.commit === null) return answer.response;
    if (answer.written) this.d.hooks.observer?.logWritten?.(answer.written.entries, performance.now() - answer.written.started);
    this.applyTo(answer.commit);
    this.maybeCompact();
    return answer.response;
  }

  private writeFailed(err: unknown, what: string): ReplicationError {
    if (isDiskFull(err)) {
      const message = `${what} failed: ${(err as Error).message}`;
      if (!this.d.condition.has('disk_full')) this.d.logger.error({ err: (err as Error).message }, `disk full: ${what} failed`);
      this.d.condition.set('disk_full', message);
      this.d.hooks.onDiskFull?.();
      return new ReplicationError(507, 'disk_full', `this node's disk is full: ${message}`);
    }
    this.d.logger.error({ err }, `${what} failed`);
    return new ReplicationError(503, 'log_write_failed', `${what} failed: ${(err as Error).message}`);
  }

  /** After a failed fdatasync nothing this log holds can be vouched for: refuse appends until restarted. */
  private syncFailed(err: unknown): ReplicationError {
    if (this.fsyncError === null) {
      this.fsyncError = (err as Error).message;
      this.d.logger.fatal({ err }, 'log fsync failed; this node refuses appends until it is restarted');
      this.d.condition.set('fsync_failed', `log fsync failed (${this.fsyncError}); restart the node`);
    }
    return new ReplicationError(503, 'log_sync_failed', `the log could not be synced (${this.fsyncError}); restart the node`);
  }

  private applyTo(commit: number): void {
    this.applyTarget = Math.max(this.applyTarget, commit);
    // One slice a turn (see LeaderDriver.applyTo): the scheduled one goes on with the new target.
    if (this.installing || this.divergedAt !== null || this.stopped || this.applyScheduled) return;
    const { log, state } = this.d;
    let r: { applied: boolean; more: boolean };
    try {
      r = applySlice(log, state, this.applyTarget);
    } catch (err) {
      if (isDiskFull(err)) {
        this.writeFailed(err, 'apply');
        return;
      }
      // A committed entry this node cannot apply: not its own bug to carry on from, and not one
      // the log can fix. The leader is told (diverged) and repairs it with a snapshot.
      this.divergedAt = state.appliedIndex() + 1;
      this.d.logger.error({ index: this.divergedAt, err: (err as Error).message }, 'a committed entry failed to apply; asking the leader for a snapshot');
      this.d.hooks.event({ kind: 'desynced', detail: `entry ${this.divergedAt} failed to apply: ${(err as Error).message}` });
      return;
    }
    if (r.applied) this.d.hooks.onApplied();
    if (r.more) this.scheduleApply();
  }

  private scheduleApply(): void {
    if (this.applyScheduled) return;
    this.applyScheduled = true;
    this.d.clock.setImmediate(() => {
      this.applyScheduled = false;
      this.applyTo(this.applyTarget);
    });
  }

  private maybeCompact(): void {
    const now = this.d.clock.now();
    if (now - this.lastCompactMs < compact_every_ms) return;
    this.lastCompactMs = now;
    const { log, state, cfg } = this.d;
    const through = compactionPoint({ applied: state.appliedIndex(), last: log.lastIndex(), retain: cfg.log_retain_entries });
    if (through <= log.snapshotIndex()) return;
    try {
      log.compactTo(through);
    } catch (err) {
      this.writeFailed(err, 'log compaction');
    }
  }

  async handleSnapshotChunk(body: Uint8Array): Promise<Record<string, unknown>> {
    const chunk = (() => {
      try {
        return decodeSnapshotChunk(body);
      } catch (err) {
        throw new ReplicationError(400, 'bad_snapshot', (err as Error).message);
      }
    })();
    await this.waitForTurn(chunk.snapshot_id, chunk.offset);
    return this.serialized(async () => {
      // A designation the sender names stands for the entry a lagging follower never appended.
      this.checkRequest(chunk.cluster_id, chunk.leader_id, chunk.term, chunk.designated === undefined ? [] : [designationEntry(chunk.designated)]);
      this.lastContactMs = this.d.clock.now();
      const receiver = this.d.snapshots;
      if (chunkCrc32(chunk.data) !== chunk.crc) {
        this.abortReceive('chunk checksum mismatch');
        throw new ReplicationError(400, 'bad_chunk_checksum', `chunk at offset ${chunk.offset} has a wrong checksum; transfer discarded`);
      }
      if (chunk.offset === 0) this.beginReceive(chunk);
      const r = receiver.current();
      if (r?.id !== chunk.snapshot_id || r.offset !== chunk.offset) {
        throw new ReplicationError(409, 'snapshot_out_of_order', `expected offset ${r?.offset ?? 0} of snapshot ${r?.id ?? '(none)'}`, {
          expected_offset: r?.offset ?? 0,
        });
      }
      try {
        receiver.write(chunk.data);
      } catch (err) {
        this.abortReceive('write failed');
        if (err instanceof ReplicationError) throw err;
        throw this.writeFailed(err, 'snapshot write');
      }
      this.d.hooks.stats.snapshot_bytes_received += chunk.data.length;
      this.wakeChunkWaiters();
      if (!chunk.done) return { ok: true, received: r.offset + chunk.data.length, inflight_max: SNAPSHOT_CHUNKS_INFLIGHT_MAX };
      return this.finishReceive(chunk);
    });
  }

  private beginReceive(chunk: SnapshotChunk): void {
    this.clearReceiveTimer();
    try {
      this.d.snapshots.begin(chunk.snapshot_id, chunk.last_index, chunk.last_term);
    } catch (err) {
      throw this.writeFailed(err, 'snapshot receive');
    }
    this.receiveTimer = this.d.clock.setTimeout(() => this.abortReceive('snapshot_timeout_s exceeded'), this.d.cfg.snapshot_timeout_s * 1000);
    this.d.hooks.stats.snapshots_received++;
  }

  private clearReceiveTimer(): void {
    if (this.receiveTimer !== null) this.d.clock.clearTimeout(this.receiveTimer);
    this.receiveTimer = null;
  }

  private abortReceive(reason: string): void {
    this.clearReceiveTimer();
    if (this.d.snapshots.current() === null) return;
    this.d.snapshots.abort(reason);
    this.wakeChunkWaiters();
  }

  /**
   * A chunk of the transfer in progress that arrived ahead of its predecessor (two in flight on
   * separate connections) waits here, outside the lock, until the transfer reaches its offset,
   * moves to another snapshot or ends, or SNAPSHOT_ORDER_WAIT_MS passes; then it is handled
   * as usual (and refused as out of order if it is still not its turn).
   */
  private async waitForTurn(id: string, offset: number): Promise<void> {
    const clock = this.d.clock;
    const deadline = clock.now() + SNAPSHOT_ORDER_WAIT_MS;
    const ahead = (): boolean => {
      const r = this.d.snapshots.current();
      return r !== null && r.id === id && r.offset < offset;
    };
    while (ahead() && clock.now() < deadline && !this.stopped) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clock.clearTimeout(timer);
          this.chunkWaiters.delete(wake);
          resolve();
        };
        const timer = clock.setTimeout(wake, deadline - clock.now());
        this.chunkWaiters.add(wake);
      });
    }
  }

  private wakeChunkWaiters(): void {
    for (const wake of [...this.chunkWaiters]) wake();
  }

  private async finishReceive(chunk: SnapshotChunk): Promise<Record<string, unknown>> {
    const { log, state, logger, hooks, clock } = this.d;
    this.clearReceiveTimer();
    const started = clock.now();
    const received = await this.d.snapshots.finish(chunk.total_bytes, chunk.sha256, chunk.source_checked);
    this.wakeChunkWaiters();
    const decision = decideSnapshot(this.view(), { index: received.index, term: received.term, leader_term: chunk.term, repair: chunk.repair, installed_before: this.installedIds.includes(chunk.snapshot_id) }, log.meta('commit_index'));
    if (decision.kind === 'refuse') {
      received.discard();
      throw new ReplicationError(decision.status, decision.code, decision.message, { term: this.seenTerm() });
    }
    if (decision.kind === 'ignore') {
      received.discard();
      logger.info({ index: received.index, reason: decision.reason }, 'snapshot not installed');
      return { ok: true, installed: false, reason: decision.reason, applied_index: state.appliedIndex(), storage_id: this.d.storage_id };
    }
    const installStarted = performance.now();
    this.installing = true;
    try {
      let installed: { index: number; term: number };
      try {
        installed = received.install();
      } catch (err) {
        received.discard();
        throw this.writeFailed(err, 'snapshot install');
      }
      const term = Math.max(chunk.term, this.currentTerm());
      // A snapshot from a node that took over (a newer term, which the install persists).
      if (chunk.leader_id !== this.leaderId()) this.takeLeader(chunk.leader_id);
      try {
        if (decision.keep_log) {
          // The log holds the snapshot's entry: the entries after it stay (the leader may have counted them).
          log.compactTo(installed.index);
          log.write({ entries: [], commit: decision.commit_to, term: term !== this.currentTerm() ? term : undefined });
        } else {
          log.resetTo(installed.index, received.term, term);
        }
      } catch (err) {
        // The state is replaced, the log not yet: the leader sends this snapshot again.
        throw this.writeFailed(err, 'log reset after a snapshot');
      }
      try {
        log.syncNow();
      } catch (err) {
        throw this.syncFailed(err);
      }
      this.divergedAt = null;
      this.lastIndexWaiters.notify();
      // Installed whole (state, log, sync): a later copy of it is ignored (a failed install is sent again).
      this.installedIds.push(chunk.snapshot_id);
      if (this.installedIds.length > INSTALLED_IDS_KEPT) this.installedIds.shift();
    } finally {
      this.installing = false;
    }
    const phases = { ...received.phases, install_ms: Math.round(performance.now() - installStarted), kept_log: decision.keep_log };
    const stats = hooks.stats;
    stats.snapshots_applied++;
    stats.last_applied_snapshot_index = received.index;
    stats.last_applied_snapshot_at = new Date().toISOString();
    hooks.observer?.snapshotInstalled?.(received.bytes, clock.now() - started);
    hooks.event({ kind: 'snapshot_installed', detail: `state replaced at index ${received.index} (${received.bytes} bytes${chunk.repair ? ', repairing a divergence' : ''})` });
    logger.info({ index: received.index, bytes: received.bytes, repair: chunk.repair, ...phases }, 'snapshot installed');
    hooks.onApplied();
    // Entries kept past the snapshot may be committed already.
    this.applyTo(Math.min(log.meta('commit_index'), log.lastIndex()));
    return { ok: true, installed: true, applied_index: state.appliedIndex(), storage_id: this.d.storage_id, phases };
  }

  /**
   * POST /_raft/digest: the state's digest at this node's applied index, for the leader to compare
   * with its own at the same index. It waits (bounded) until this node reached the index asked for.
   */
  async handleDigest(body: Uint8Array): Promise<Buffer> {
    const digest = this.d.digest;
    if (digest === undefined) throw new ReplicationError(404, 'no_digest', 'this node computes no state digest');
    let req: { cluster_id: string; leader_id: string; term: number; index: number };
    try {
      const o = decode(body) as Record<string, unknown>;
      if (typeof o.cluster_id !== 'string' || typeof o.leader_id !== 'string' || !Number.isSafeInteger(o.term) || !Number.isSafeInteger(o.index)) throw new WireError('digest request needs cluster_id, leader_id, term, index');
      req = { cluster_id: o.cluster_id, leader_id: o.leader_id, term: o.term as number, index: o.index as number };
    } catch (err) {
      throw new ReplicationError(400, 'bad_digest_request', (err as Error).message);
    }
    this.checkRequest(req.cluster_id, req.leader_id, req.term);
    const clock = this.d.clock;
    const deadline = clock.now() + DIGEST_WAIT_MS;
    while (this.d.state.appliedIndex() < req.index && clock.now() < deadline && !this.stopped) {
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 20));
    }
    try {
      const d = await digest();
      return encode({ index: d.index, term: d.term, checksum: d.checksum });
    } catch (err) {
      throw new ReplicationError(503, 'digest_failed', `state digest failed: ${(err as Error).message}`);
    }
  }

  stop(): void {
    this.stopped = true;
    this.abortReceive('shutting down');
    this.wakeChunkWaiters();
    this.lastIndexWaiters.cancelAll();
  }
}

/** The designation a snapshot chunk names, as the entry leaderRefusal looks for. */
function designationEntry(id: string): Pick<Entry, 'type' | 'payload'> {
  return { type: ENTRY_LEADER, payload: designationPayload(id) };
}
