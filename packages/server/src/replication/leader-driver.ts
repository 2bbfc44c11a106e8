// The leader's driver: the only code that awaits disk or network around LeaderCore. It groups
// proposals into batches (batch_size entries or flush_interval_ms), writes each batch in one log
// transaction, and after every event asks the core what to do (`ready()`) and carries it out in
// order: open a term, persist the commit index, apply, acknowledge, send. Every rule about what
// and when lives in the core (packages/raft); this file does the I/O. Its world (clock, log,
// state, network, snapshot bytes) comes in through ports.ts, so the seeded simulation runs it.
import { ENTRY_COMMAND, ENTRY_LEADER, ENTRY_NOOP, LeaderCore, designationPayload, makeEntry } from '@cairn/raft';
import type { FollowerHealth, LeaderAction, WriteConcern } from '@cairn/raft';
import type { Logger } from 'pino';
import type { NodeSpec, ReplicationConfig } from '../config/types.ts';
import { applySlice } from './apply-slice.ts';
import type { NodeCondition } from './condition.ts';
import { ReplicationError } from './errors.ts';
import type { Clock, DigestState, ReplicaLog, ReplicaState, SnapshotShipper, TermRecord, TimerHandle } from './ports.ts';
import { StateComparer, state_compare_after_snapshot_ms } from './state-compare.ts';
import type { StateCheck } from './state-compare.ts';
import type { ReplicationEvent, ReplicationObserver, ResyncStats } from './stats.ts';
import { isDiskFull } from './storage-errors.ts';
import type { SpaceReserve } from './storage-errors.ts';
import type { Transport } from './transport.ts';
import { IndexWaiters } from './waiters.ts';
import { WriteAcks } from './write-acks.ts';
import { decodeAppendResponse, encode } from './wire.ts';
import { planted } from '../testing/planted-defects.ts';

interface Proposal {
  /** ENTRY_COMMAND unless set (ENTRY_LEADER: a handover's designation). */
  type?: number;
  payload: Uint8Array;
  concern: WriteConcern;
  /** When it was queued (clock.now()): one waiting for the term to open is refused after commit_timeout_ms. */
  queued_ms: number;
  resolve: (r: { index: number }) => void;
  reject: (err: Error) => void;
}

export interface LeaderHooks {
  onApplied(): void;
  event(e: Omit<ReplicationEvent, 'at'>): void;
  stats: ResyncStats;
  observer?: ReplicationObserver;
  /** The disk filled up: watch for space (the driver resumes when `disk_full` is cleared). */
  onDiskFull?(): void;
}

export interface LeaderDeps {
  self: NodeSpec;
  cfg: ReplicationConfig;
  log: ReplicaLog;
  state: ReplicaState;
  transport: Transport;
  snapshots: SnapshotShipper;
  clock: Clock;
  logger: Logger;
  hooks: LeaderHooks;
  condition: NodeCondition;
  /** The state's digest, for comparing followers' states with the leader's (none: no comparisons). */
  digest?: DigestState;
  /**
   * The highest term this node opened, kept outside the log (identity.json): a new term is above it
   * and recorded before anything of it is sent (none: the log's term only, which a lost WAL can
   * take back, so a term could be opened twice).
   */
  terms?: TermRecord;
  /** The node this leader's last designation names (LeadershipRecord.designated), sent with snapshots. */
  designated?: () => string | null;
  /** Space kept free for applying what is logged (none: only the disk's own errors say it is full). */
  space?: SpaceReserve;
}

/** A compaction is considered this often. */
const compact_every_ms = 5000;

export class LeaderDriver {
  readonly core: LeaderCore;
  private term: number;
  private queue: Proposal[] = [];
  private readonly acks: WriteAcks;
  private flushTimer: TimerHandle | null = null;
  private flushSoon = false;
  private tickTimer: TimerHandle | null = null;
  private readonly appliedWaiters: IndexWaiters;
  private applyScheduled = false;
  private readonly snapshotWaiters = new Map<string, Array<(r: { ok: boolean; message: string }) => void>>();
  /** The highest commit index written to the log (durable once the sync after it resolves). */
  private commitWritten: number;
  private lastCompactMs = 0;
  private stopped = false;
  private fsyncError: string | null = null;
  private readonly followersById: Map<string, NodeSpec>;
  private lastHealth = new Map<string, FollowerHealth>();
  private readonly unsubscribe: () => void;
  private readonly comparer: StateComparer | null;
  private lastCompareMs = 0;
  /** Followers whose state is compared at the next tick after this time (a snapshot was installed). */
  private readonly compareSoon = new Map<string, number>();
  readonly proposals_queued_max: number;
  readonly batchSizes: number[] = [];
  private readonly d: LeaderDeps;

  constructor(deps: LeaderDeps) {
    this.d = deps;
    const { cfg, log, state, self } = deps;
    const followers = cfg.nodes.filter((n) => n.id !== self.id);
    this.followersById = new Map(followers.map((n) => [n.id, n]));
    this.proposals_queued_max = cfg.batch_size * 100;
    this.term = log.meta('term');
    // Everything applied was committed: a commit index lost with the log's tail is not lower.
    const commit = Math.min(Math.max(log.meta('commit_index'), state.appliedIndex()), log.lastIndex());
    this.commitWritten = commit;
    this.core = new LeaderCore(
      {
        followers: followers.map((f) => f.id),
        batch_entries_max: cfg.batch_size,
        batch_bytes_max: 8 * 1024 * 1024,
        inflight_batches_max: cfg.inflight_batches_max,
        resync_threshold: cfg.resync_threshold,
        lag_healthy_max: cfg.lag_healthy_max,
        failures_lagging: cfg.failures_lagging,
        silence_lagging_ms: cfg.silence_lagging_ms,
        heartbeat_ms: cfg.heartbeat_ms,
        snapshots_inflight_max: cfg.snapshots_inflight_max,
        snapshot_backoff_ms_min: 500,
        snapshot_backoff_ms_max: 30_000,
        retry_backoff_ms_max: 1000,
        quorum_acks: Math.floor((followers.length + 1) / 2),
      },
      { last_index: log.lastIndex(), commit_index: commit, term: this.term, applied_index: state.appliedIndex() },
    );
    // A (re)started leader continues its log in a new term, opened by a NOOP entry, above every
    // term it used: the log's term may have gone back with a lost WAL, the record kept beside it not.
    // Above every term it claimed for another leader too (a follower that takes over).
    this.core.requireTerm(Math.max(this.term, log.meta('claimed_term'), log.lastLogTerm(), state.appliedTerm(), deps.terms?.recorded() ?? 0) + 1);
    this.appliedWaiters = new IndexWaiters(() => state.appliedIndex(), deps.clock);
    this.acks = new WriteAcks(deps.clock, cfg.commit_timeout_ms);
    this.lastCompareMs = deps.clock.now();
    this.comparer =
      deps.digest === undefined
        ? null
        : new StateComparer({
            cfg,
            self,
            digest: deps.digest,
            transport: deps.transport,
            clock: deps.clock,
            logger: deps.logger,
            term: () => this.term,
            onMismatch: (id, detail) => {
              this.core.requestSnapshot(id, detail, true);
              deps.hooks.event({ kind: 'diverged', follower: id, detail });
              this.step();
            },
          });
    this.unsubscribe = deps.condition.onChange(() => {
      if (!deps.condition.has('disk_full') && !this.stopped) {
        this.step();
        if (this.queue.length > 0) this.scheduleFlush();
      }
    });
  }

  start(): void {
    this.step();
    this.d.hooks.event({ kind: 'leader_started', detail: `term ${this.term}, last index ${this.d.log.lastIndex()}` });
    this.tickTimer = this.d.clock.setInterval(() => this.tick(), Math.max(5, Math.floor(this.d.cfg.heartbeat_ms / 2)));
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unsubscribe();
    if (this.tickTimer) this.d.clock.clearInterval(this.tickTimer);
    if (this.flushTimer) this.d.clock.clearTimeout(this.flushTimer);
    for (const p of this.queue.splice(0)) p.reject(shuttingDown());
    this.appliedWaiters.cancelAll();
    this.d.transport.close?.();
  }

  currentTerm(): number {
    return this.term;
  }

  followerSpec(id: string): NodeSpec | undefined {
    return this.followersById.get(id);
  }

  /** The follower leadership is being handed to, while it is (proposals are refused meanwhile). */
  transferringTo: string | null = null;

  /**
   * Hands leadership to `target`: takes no more writes (503 `leader_transfer`), flushes what is
   * queued, and waits until the core says the target holds everything this leader acknowledged or
   * will (LeaderCore.transferReadiness); then `fence` records the target as the leader (durable:
   * from then on this node never leads again unless leadership is handed back) and it stops. Resolves with
   * where its log ends, for the target to check against its own. When the target is not ready
   * within timeout_ms, writes are taken again and it rejects (503 `transfer_timeout`).
   */
  async handOver(target: string, fence: (at: { term: number; last_index: number; last_term: number }) => void, timeout_ms: number): Promise<{ term: number; last_index: number; last_term: number }> {
    if (this.stopped) throw shuttingDown();
    if (this.transferringTo !== null) throw new ReplicationError(409, 'transfer_in_progress', `leadership is already being handed to ${this.transferringTo}`);
    this.transferringTo = target;
    const { clock, log } = this.d;
    const deadline = clock.now() + timeout_ms;
    // The designation goes last into the log: the followers take the target's newer term only
    // from a node a designation names (leaderRefusal), and the target holds it before it leads.
    const designated = new Promise<{ index: number }>((resolve, reject) => {
      this.queue.push({ type: ENTRY_LEADER, payload: designationPayload(target), concern: 'quorum', queued_ms: this.d.clock.now(), resolve, reject });
    });
    // Its outcome: the handover waits until it is acknowledged, and fails with it when it is
    // refused (a full disk, a failed sync): without it in the log, a target whose match is from
    // before it lost its data (no answer since) would look caught up.
    const designation: { outcome: { index: number } | Error | null } = { outcome: null };
    designated.then(
      (r) => (designation.outcome = r),
      (err: unknown) => (designation.outcome = err instanceof Error ? err : new Error(String(err))),
    );
    try {
      for (;;) {
        if (this.stopped) throw shuttingDown();
        if (designation.outcome instanceof Error) throw designation.outcome;
        if (this.queue.length > 0) this.scheduleFlush();
        const r = this.core.transferReadiness(target, log.lastIndex());
        if (r.ready && this.queue.length === 0 && designation.outcome !== null) break;
        if (clock.now() >= deadline) {
          throw new ReplicationError(503, 'transfer_timeout', `leadership not handed to ${target}: not ready within ${timeout_ms} ms (${r.ready ? `${this.queue.length} writes still queued` : r.reason}); this node leads on`, { retry_after_s: 1 });
        }
        await new Promise<void>((resolve) => clock.setTimeout(resolve, 5));
        this.step();
      }
    } catch (err) {
      this.transferringTo = null;
      this.step();
      throw err;
    }
    // Every acknowledgement due now is sent before the fence.
    this.step();
    const out = { term: this.term, last_index: log.lastIndex(), last_term: log.lastLogTerm() };
    try {
      // Durable: the target as the leader (this node never leads again) and what it must hold.
      fence(out);
    } catch (err) {
      this.transferringTo = null;
      this.step();
      throw err;
    }
    this.d.hooks.event({ kind: 'leadership_handed_over', follower: target, detail: `to ${target} after index ${out.last_index} (term ${out.term})` });
    this.stop();
    return out;
  }

  propose(payload: Uint8Array, concern: WriteConcern): Promise<{ index: number }> {
    if (this.stopped) return Promise.reject(shuttingDown());
    if (this.transferringTo !== null) {
      return Promise.reject(new ReplicationError(503, 'leader_transfer', `leadership is being handed to ${this.transferringTo}: retry`, { retry_after_s: 1, leader: this.transferringTo }));
    }
    const refused = this.refusal();
    if (refused !== null) return Promise.reject(refused);
    if (this.queue.length >= this.proposals_queued_max) {
      return Promise.reject(new ReplicationError(503, 'overloaded', `write queue full (${this.proposals_queued_max} pending)`, { retry_after_s: 1 }));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ payload, concern, queued_ms: this.d.clock.now(), resolve, reject });
      this.scheduleFlush();
    });
  }

  /** Why writes are refused now, or null. */
  private refusal(): ReplicationError | null {
    if (this.fsyncError !== null) {
      return new ReplicationError(503, 'log_sync_failed', `the log could not be synced (${this.fsyncError}); restart the node`);
    }
    const full = this.d.condition.list().find((c) => c.code === 'disk_full');
    if (full !== undefined) return new ReplicationError(507, 'disk_full', `the leader's disk is full: ${full.message}`, { retry_after_s: 5 });
    return null;
  }

  private scheduleFlush(): void {
    if (this.queue.length >= this.d.cfg.batch_size) {
      if (!this.flushSoon) {
        this.flushSoon = true;
        this.d.clock.setImmediate(() => {
          this.flushSoon = false;
          this.flush();
        });
      }
      return;
    }
    this.flushTimer ??= this.d.clock.setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, this.d.cfg.flush_interval_ms);
  }

  /** One batch: one log transaction; acknowledged, applied and shipped once its fsync returned. */
  private flush(): void {
    if (this.flushTimer) {
      this.d.clock.clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    if (this.stopped) return;
    // Entries are written in the current term only: until the term is open, proposals wait.
    if (!this.core.termOpen()) return;
    const batch = this.queue.splice(0, this.d.cfg.batch_size);
    if (batch.length === 0) return;
    const refused = this.refusal() ?? this.roomFor(batch);
    if (refused !== null) {
      for (const p of batch) p.reject(refused);
      return;
    }
    const log = this.d.log;
    const first = log.lastIndex() + 1;
    const entries = batch.map((p, i) => makeEntry(first + i, this.term, p.type ?? ENTRY_COMMAND, p.payload));
    const commit = this.core.commitIndex();
    const writeStarted = performance.now();
    try {
      log.write({ entries, commit: commit > this.commitWritten ? commit : undefined });
    } catch (err) {
      const e = this.writeFailed(err, 'log append');
      for (const p of batch) p.reject(e);
      return;
    }
    this.commitWritten = Math.max(this.commitWritten, commit);
    this.batchSizes.push(batch.length);
    if (this.batchSizes.length > 1000) this.batchSizes.splice(0, 500);
    const last = log.lastIndex();
    // A planted defect (test only) acknowledges here, before the fsync, replication and apply.
    if (planted('ack_before_fsync')) batch.forEach((p, i) => p.resolve({ index: first + i }));
    else batch.forEach((p, i) => this.acks.add(first + i, p.concern, p.resolve, p.reject));
    // The fdatasync runs off the event loop; the next batch is taken meanwhile. Syncs finish in
    // order, so the leader's durable index only moves forward.
    log.sync().then(
      () => {
        this.d.hooks.observer?.batchWritten?.(batch.length, performance.now() - writeStarted);
        this.core.onLocalAppend(last);
        this.core.onCommitPersisted(commit);
        this.step();
      },
      (err: unknown) => this.syncFailed(err),
    );
    if (this.queue.length > 0) this.scheduleFlush();
  }

  /**
   * Carries out what the core says, in order: start a term (requests carry it; its claim comes
   * back in the answers), open it (its NOOP durable before anything more is sent), persist the
   * commit index, apply what is committed and persisted, acknowledge what each write concern
   * allows, send.
   */
  private step(): void {
    if (this.stopped) return;
    const now = this.d.clock.now();
    const rd = this.core.ready(now, this.d.log);
    if (rd.start_term !== null) {
      this.term = rd.start_term;
      this.core.onTermStarted(rd.start_term);
      this.d.logger.info({ term: rd.start_term }, 'leader term started; entries wait until a follower holds it');
      this.step();
      return;
    }
    if (rd.open_term !== null) {
      if (this.openTerm(rd.open_term)) this.step();
      return;
    }
    if (rd.persist_commit !== null && rd.persist_commit > this.commitWritten) this.persistCommit(rd.persist_commit);
    this.applyTo(rd.apply_to);
    this.acknowledge();
    for (const a of rd.sends) {
      if (a.kind === 'append') void this.sendAppend(a);
      else void this.sendSnapshot(a);
    }
  }

  /** Persists the new term with its NOOP (blocking: a rare write). False when it could not. */
  private openTerm(term: number): boolean {
    if (this.fsyncError !== null || this.d.condition.has('disk_full')) return false;
    const log = this.d.log;
    const noop = makeEntry(log.lastIndex() + 1, term, ENTRY_NOOP, new Uint8Array(0));
    try {
      log.write({ entries: [noop], term });
      log.syncNow();
      // Recorded once the NOOP is durable (a crash in between leaves a log whose term is not behind
      // the record) and before anything of the term is sent: no follower holds an entry of a term
      // above the record, so a restart whose log lost the term (a lost WAL) does not open it again.
      if (this.d.terms !== undefined && term > this.d.terms.recorded()) this.d.terms.record(term);
    } catch (err) {
      if (isDiskFull(err)) this.writeFailed(err, 'opening term');
      else this.syncFailed(err);
      return false;
    }
    this.term = term;
    this.core.onTermOpened(term, noop.index);
    this.core.onLocalAppend(noop.index);
    this.d.logger.info({ term, index: noop.index }, 'leader term opened');
    if (this.queue.length > 0) this.scheduleFlush();
    return true;
  }

  private persistCommit(commit: number): void {
    try {
      this.d.log.write({ entries: [], commit });
    } catch (err) {
      this.writeFailed(err, 'commit index');
      return;
    }
    this.commitWritten = commit;
    this.d.log.sync().then(
      () => {
        this.core.onCommitPersisted(commit);
        this.step();
      },
      (err: unknown) => this.syncFailed(err),
    );
  }

  /** Null when the disk keeps its reserve after this batch, else the refusal (disk_full is set). */
  private roomFor(batch: Proposal[]): ReplicationError | null {
    if (this.d.space === undefined) return null;
    let bytes = 0;
    for (const p of batch) bytes += p.payload.byteLength;
    const low = this.d.space.admit(bytes);
    return low === null ? null : this.diskFull(low);
  }

  /** Sets disk_full (writes are refused with 507 until the disk watch finds space again). */
  private diskFull(message: string): ReplicationError {
    if (!this.d.condition.has('disk_full')) this.d.logger.error(`disk full: ${message}; writes are refused until space is freed`);
    this.d.condition.set('disk_full', message);
    this.d.hooks.onDiskFull?.();
    return new ReplicationError(507, 'disk_full', `the leader's disk is full: ${message}`, { retry_after_s: 5 });
  }

  /** A log or state write threw: the disk is full (507 until space is freed), or it failed (503). */
  private writeFailed(err: unknown, what: string): ReplicationError {
    if (isDiskFull(err)) return this.diskFull(`${what} failed: ${(err as Error).message}`);
    this.d.logger.error({ err }, `${what} failed`);
    return new ReplicationError(503, 'log_write_failed', `${what} failed: ${(err as Error).message}`, { retry_after_s: 1 });
  }

  /**
   * After a failed fdatasync the kernel may have dropped the pages: a later successful one proves
   * nothing about them, so this leader takes no more writes until it is restarted.
   */
  private syncFailed(err: unknown): void {
    if (this.stopped) {
      // The node is stopping and closed its log: the outcome of these writes is unknown.
      this.acks.rejectAll(shuttingDown());
      return;
    }
    if (this.fsyncError === null) {
      this.fsyncError = (err as Error).message;
      this.d.logger.fatal({ err }, 'log fsync failed; the leader stops taking writes (restart the node)');
      this.d.condition.set('fsync_failed', `log fsync failed (${this.fsyncError}); restart the node`);
    }
    const refused = this.refusal() as ReplicationError;
    for (const p of this.queue.splice(0)) p.reject(refused);
    this.acks.rejectAll(refused);
  }

  /** Resolves every proposal its write concern now allows (ackIndex, decided by the core). */
  private acknowledge(): void {
    for (const concern of ['leader', 'quorum', 'all'] as const) {
      if (this.acks.waitingFor(concern) > 0) this.acks.acknowledge(concern, this.core.ackIndex(concern));
    }
  }

  private tick(): void {
    if (this.stopped) return;
    this.step();
    const now = this.d.clock.now();
    this.expireUnopened(now);
    if (now - this.lastCompactMs > compact_every_ms) {
      this.lastCompactMs = now;
      this.compact();
    }
    this.maybeCompareStates(now);
    for (const f of this.core.followers()) {
      const before = this.lastHealth.get(f.id);
      if (before !== f.health) {
        this.lastHealth.set(f.id, f.health);
        if (before !== undefined) {
          const why = f.health === 'desynced' && f.desync_reason !== null ? `: ${f.desync_reason}` : '';
          this.d.hooks.event({ kind: f.health === 'desynced' ? 'desynced' : 'health_changed', follower: f.id, detail: `${before} -> ${f.health}${why}` });
          this.d.logger.info({ follower: f.id, from: before, to: f.health, reason: f.desync_reason ?? undefined }, 'follower health changed');
        }
      }
    }
  }

  /**
   * Proposals wait in the queue while the term is not open (no follower has recorded it yet: the
   * term claim); each is refused once it waited commit_timeout_ms, like a write the leader cannot
   * commit, rather than held for as long as the followers are unreachable.
   */
  private expireUnopened(now: number): void {
    if (this.core.termOpen() || this.queue.length === 0) return;
    const limit = this.d.cfg.commit_timeout_ms;
    const expired = this.queue.filter((p) => now - p.queued_ms >= limit);
    if (expired.length === 0) return;
    this.queue = this.queue.filter((p) => now - p.queued_ms < limit);
    const err = new ReplicationError(503, 'term_not_open', `the leader's term ${this.term} is not recorded by any follower yet, so it writes nothing in it (no follower answered within ${limit} ms); retry`, { retry_after_s: 1 });
    for (const p of expired) p.reject(err);
  }

  /** The last state comparison with each follower (sync-status shows it). */
  stateChecks(): Map<string, StateCheck> {
    return this.comparer?.last ?? new Map<string, StateCheck>();
  }

  /** Periodically, and soon after a snapshot install, compares healthy followers' states with the leader's. */
  private maybeCompareStates(now: number): void {
    if (this.comparer === null) return;
    const due = new Set<string>();
    const every = this.d.cfg.state_compare_interval_ms;
    if (every > 0 && now - this.lastCompareMs >= every) {
      this.lastCompareMs = now;
      for (const f of this.core.followers()) due.add(f.id);
    }
    for (const [id, at] of this.compareSoon) {
      if (now >= at) {
        due.add(id);
        this.compareSoon.delete(id);
      }
    }
    const specs = [...due].filter((id) => this.core.follower(id).health === 'healthy').map((id) => this.followersById.get(id)).filter((f): f is NodeSpec => f !== undefined);
    if (specs.length > 0) void this.comparer.compare(specs);
  }

  private compact(): void {
    const to = this.core.compactionTarget(this.d.log, this.d.cfg.log_retain_entries);
    if (to === null) return;
    try {
      const removed = this.d.log.compactTo(to);
      this.d.logger.debug({ through: to, removed }, 'log compacted');
    } catch (err) {
      this.writeFailed(err, 'log compaction');
    }
  }

  /**
   * The leader's state, like every replica's, holds committed entries only, and only once that
   * commit is durable: what a quorum has durably. So a snapshot (a copy of state) never carries an
   * entry the followers could not apply yet, and a read on the leader never sees a write a quorum
   * does not hold. A backlog is applied a slice at a time (apply-slice.ts), one slice a turn:
   * while the next slice is scheduled, the other events of this turn (append answers, flushes)
   * leave the applying to it, or each of them would run a slice and the turn would last several.
   */
  private applyTo(target: number): void {
    if (this.applyScheduled) return;
    let r: { applied: boolean; more: boolean };
    try {
      r = applySlice(this.d.log, this.d.state, target);
    } catch (err) {
      // A full disk: applied again once space is freed. Anything else is a committed entry the
      // leader cannot apply: a broken invariant, which ends the process.
      if (!isDiskFull(err)) throw err;
      this.writeFailed(err, 'apply');
      return;
    }
    if (r.more) this.scheduleApply();
    if (r.applied) {
      this.core.onApplied(this.d.state.appliedIndex());
      this.appliedWaiters.notify();
      this.d.hooks.onApplied();
    }
  }

  private scheduleApply(): void {
    if (this.applyScheduled) return;
    this.applyScheduled = true;
    this.d.clock.setImmediate(() => {
      this.applyScheduled = false;
      this.step();
    });
  }

  private async sendAppend(a: Extract<LeaderAction, { kind: 'append' }>): Promise<void> {
    const spec = this.followersById.get(a.follower);
    if (spec === undefined) return;
    const { cfg, self, clock, logger, hooks } = this.d;
    const core = this.core;
    const body = encode({
      cluster_id: cfg.cluster_id,
      term: this.term,
      leader_id: self.id,
      prev_index: a.prev_index,
      prev_term: a.prev_term,
      entries: a.entries,
      leader_commit: a.commit,
    });
    const started = clock.now();
    const startedPerf = performance.now();
    try {
      const res = await this.d.transport.post(spec.address, '/_raft/append', body, cfg.append_timeout_ms);
      const latency = Math.round((performance.now() - startedPerf) * 100) / 100;
      hooks.observer?.appendDone?.(a.follower, latency, res.status === 200);
      if (this.stopped) return;
      if (res.status === 200) {
        core.onAppendResult(a.follower, a.epoch, decodeAppendResponse(res.body), clock.now(), Math.max(latency, clock.now() - started));
      } else {
        const refusal = parseRefusal(res.status, res.body);
        logger.warn({ follower: a.follower, status: res.status, code: refusal.code, message: refusal.message }, 'append refused');
        core.onAppendRefused(a.follower, a.epoch, clock.now(), refusal);
      }
    } catch (err) {
      hooks.observer?.appendDone?.(a.follower, performance.now() - startedPerf, false);
      if (this.stopped) return;
      logger.debug({ follower: a.follower, err: (err as Error).message }, 'append failed');
      core.onAppendFailed(a.follower, a.epoch, clock.now());
    }
    this.step();
  }

  /** force-resync: a fresh snapshot to this follower now; resolves when it is installed or failed. */
  forceResync(id: string): Promise<{ ok: boolean; message: string }> {
    this.core.requestSnapshot(id);
    const p = new Promise<{ ok: boolean; message: string }>((resolve) => {
      const list = this.snapshotWaiters.get(id) ?? [];
      list.push(resolve);
      this.snapshotWaiters.set(id, list);
    });
    this.step();
    return p;
  }

  private async sendSnapshot(a: Extract<LeaderAction, { kind: 'snapshot' }>): Promise<void> {
    const id = a.follower;
    const spec = this.followersById.get(id);
    if (spec === undefined) return;
    const { stats } = this.d.hooks;
    const { clock, logger, hooks, cfg } = this.d;
    stats.snapshot_send_attempts++;
    hooks.event({ kind: 'resync_started', follower: id, detail: `snapshot to ${spec.address}: ${a.reason}` });
    logger.info({ follower: id, reason: a.reason, repair: a.repair }, 'snapshot resync started');
    const started = clock.now();
    const startedPerf = performance.now();
    let ok = false;
    let message: string;
    let index = 0;
    let bytes = 0;
    let storageId: string | undefined;
    try {
      const shipped = await this.d.snapshots.ship({ follower: id, address: spec.address, term: this.term, repair: a.repair, designated: this.d.designated?.() ?? null, deadline_ms: started + cfg.snapshot_timeout_s * 1000 });
      ok = true;
      index = shipped.index;
      if (typeof shipped.answer['storage_id'] === 'string') storageId = shipped.answer['storage_id'];
      bytes = shipped.bytes;
      const ms = Math.round(performance.now() - startedPerf);
      stats.snapshots_created++;
      stats.snapshot_send_successes++;
      stats.snapshot_bytes_sent += shipped.bytes;
      stats.last_snapshot_index = shipped.index;
      stats.last_snapshot_at = new Date().toISOString();
      stats.last_snapshot_ms = ms;
      stats.last_snapshot_target = id;
      stats.last_snapshot_phases = shipped.phases;
      const ignored = shipped.answer['installed'] === false ? ' (the follower already held it)' : '';
      message = `Snapshot resync to ${spec.address} completed successfully (index ${shipped.index}, ${shipped.bytes} bytes, ${ms} ms)${ignored}`;
      logger.info({ follower: id, index: shipped.index, bytes: shipped.bytes, ms, ...shipped.phases }, 'snapshot installed on follower');
    } catch (err) {
      stats.snapshot_send_failures++;
      stats.last_failure = `${id}: ${(err as Error).message}`;
      stats.last_failure_at = new Date().toISOString();
      message = `Snapshot resync to ${spec.address} failed: ${(err as Error).message}`;
      logger.warn({ follower: id, err: (err as Error).message }, 'snapshot resync failed');
    }
    if (this.stopped) return;
    hooks.observer?.snapshotSent?.(id, ok, bytes, performance.now() - startedPerf);
    hooks.event({ kind: ok ? 'resync_succeeded' : 'resync_failed', follower: id, detail: message });
    this.core.onSnapshotResult(id, a.epoch, ok, index, clock.now(), storageId);
    if (ok) this.compareSoon.set(id, clock.now() + state_compare_after_snapshot_ms);
    const waiters = this.snapshotWaiters.get(id) ?? [];
    this.snapshotWaiters.delete(id);
    for (const w of waiters) w({ ok, message });
    this.step();
  }
}

function shuttingDown(): ReplicationError {
  return new ReplicationError(503, 'shutting_down', 'node is shutting down');
}

/** A follower's refusal (a JSON error body, see ReplicationError.toJSON) as the core takes it. */
function parseRefusal(status: number, body: Buffer): { status: number; code: string; term?: number; message?: string } {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { error?: { code?: unknown; message?: unknown; term?: unknown } };
    const e = parsed.error ?? {};
    return {
      status,
      code: typeof e.code === 'string' ? e.code : `http_${status}`,
      term: typeof e.term === 'number' ? e.term : undefined,
      message: typeof e.message === 'string' ? e.message : undefined,
    };
  } catch {
    return { status, code: `http_${status}`, message: body.toString('utf8').slice(0, 200) };
  }
}
