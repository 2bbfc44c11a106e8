// The leader's driver: the only code that awaits disk or network around LeaderCore. It groups
// proposals into batches (batch_size entries or flush_interval_ms), makes each batch durable in
// one log transaction (fsync) BEFORE shipping it, applies it to state, ships appends and
// snapshots as the core decides, and resolves each proposal per its write concern.
import path from 'node:path';
import { ENTRY_COMMAND, ENTRY_NOOP, LeaderCore, makeEntry } from '@cairn/raft';
import type { FollowerHealth, LeaderAction } from '@cairn/raft';
import type { Logger } from 'pino';
import type { NodeSpec, ReplicationConfig, WriteConcern } from '../config/types.ts';
import { apply_chunk_bytes_max, apply_chunk_entries_max, apply_slice_ms } from './apply-slice.ts';
import { ReplicationError } from './errors.ts';
import type { SqliteLog } from './sqlite-log.ts';
import { removeRetiredDbFile, retireDbFile } from './state.ts';
import type { StateHolder, StateMachine } from './state.ts';
import { streamSnapshot } from './snapshot-sender.ts';
import type { ReplicationEvent, ReplicationObserver, ResyncStats } from './stats.ts';
import type { Transport } from './transport.ts';
import { IndexWaiters } from './waiters.ts';
import { decodeAppendResponse, encode } from './wire.ts';


interface Proposal {
  payload: Uint8Array;
  concern: WriteConcern;
  resolve: (r: { index: number }) => void;
  reject: (err: Error) => void;
}

export interface LeaderHooks {
  onApplied(): void;
  event(e: Omit<ReplicationEvent, 'at'>): void;
  stats: ResyncStats;
  observer?: ReplicationObserver;
}

export class LeaderDriver<S extends StateMachine> {
  readonly core: LeaderCore;
  readonly term: number;
  private queue: Proposal[] = [];
  private flushTimer: NodeJS.Timeout | null = null;
  private flushSoon = false;
  private tickTimer: NodeJS.Timeout | null = null;
  private readonly allWaiters: IndexWaiters;
  private readonly appliedWaiters: IndexWaiters;
  private applyScheduled = false;
  private readonly snapshotWaiters = new Map<string, Array<(r: { ok: boolean; message: string }) => void>>();
  private persistedCommit: number;
  private lastCompactMs = 0;
  private stopped = false;
  private fsyncFailed = false;
  private readonly followersById: Map<string, NodeSpec>;
  private lastHealth = new Map<string, FollowerHealth>();
  readonly proposals_queued_max: number;
  readonly batchSizes: number[] = [];

  constructor(
    private readonly self: NodeSpec,
    private readonly cfg: ReplicationConfig,
    private readonly log: SqliteLog,
    private readonly state: StateHolder<S>,
    private readonly transport: Transport,
    private readonly dataDir: string,
    private readonly logger: Logger,
    private readonly hooks: LeaderHooks,
  ) {
    const followers = cfg.nodes.filter((n) => n.id !== self.id);
    this.followersById = new Map(followers.map((n) => [n.id, n]));
    this.proposals_queued_max = cfg.batch_size * 100;
    // A restarted leader continues its log in a new term, opened by a NOOP entry.
    this.term = log.meta('term') + 1;
    const last = log.lastIndex();
    const noop = makeEntry(last + 1, this.term, ENTRY_NOOP, new Uint8Array(0));
    log.write({ entries: [noop], term: this.term });
    log.syncNow();
    this.persistedCommit = Math.min(log.meta('commit_index'), last);
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
      { last_index: log.lastIndex(), commit_index: this.persistedCommit },
    );
    this.allWaiters = new IndexWaiters(() => this.core.allIndex());
    this.appliedWaiters = new IndexWaiters(() => this.state.appliedIndex());
    this.applyCommitted();
    hooks.event({ kind: 'leader_started', detail: `term ${this.term}, last index ${log.lastIndex()}` });
  }

  start(): void {
    this.tickTimer = setInterval(() => this.tick(), Math.max(5, Math.floor(this.cfg.heartbeat_ms / 2)));
    this.pump();
  }

  stop(): void {
    this.stopped = true;
    if (this.tickTimer) clearInterval(this.tickTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.queue.length > 0) this.flush();
    this.allWaiters.cancelAll();
    this.appliedWaiters.cancelAll();
    this.transport.close?.();
  }

  followerSpec(id: string): NodeSpec | undefined {
    return this.followersById.get(id);
  }

  propose(payload: Uint8Array, concern: WriteConcern): Promise<{ index: number }> {
    if (this.stopped) return Promise.reject(new ReplicationError(503, 'shutting_down', 'node is shutting down'));
    if (this.queue.length >= this.proposals_queued_max) {
      return Promise.reject(new ReplicationError(503, 'overloaded', `write queue full (${this.proposals_queued_max} pending)`, { retry_after_s: 1 }));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ payload, concern, resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.queue.length >= this.cfg.batch_size) {
      if (!this.flushSoon) {
        this.flushSoon = true;
        setImmediate(() => {
          this.flushSoon = false;
          this.flush();
        });
      }
      return;
    }
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = null;
      this.flush();
    }, this.cfg.flush_interval_ms);
  }

  /** One batch: one log transaction (fsync), one state transaction, then ship and acknowledge. */
  private flush(): void {
    if (this.flushTimer) {
      clearTimeout(this.flushTimer);
      this.flushTimer = null;
    }
    const batch = this.queue.splice(0, this.cfg.batch_size);
    if (batch.length === 0) return;
    if (this.fsyncFailed) {
      for (const p of batch) p.reject(new ReplicationError(503, 'log_write_failed', 'the log could not be made durable; restart the node'));
      return;
    }
    const first = this.log.lastIndex() + 1;
    const entries = batch.map((p, i) => makeEntry(first + i, this.term, ENTRY_COMMAND, p.payload));
    const writeStarted = performance.now();
    try {
      this.log.write({ entries, commit: this.core.commitIndex() });
    } catch (err) {
      this.logger.error({ err }, 'log append failed');
      for (const p of batch) p.reject(new ReplicationError(503, 'log_write_failed', `log append failed: ${(err as Error).message}`));
      return;
    }
    this.persistedCommit = this.core.commitIndex();
    this.batchSizes.push(batch.length);
    if (this.batchSizes.length > 1000) this.batchSizes.splice(0, 500);
    const last = this.log.lastIndex();
    // The fdatasync runs off the event loop; the next batch is taken meanwhile. Syncs finish in
    // order, so the leader's durable index only moves forward.
    this.log.sync().then(
      () => {
        this.hooks.observer?.batchWritten?.(batch.length, performance.now() - writeStarted);
        this.core.onLocalAppend(last);
        this.applyCommitted();
        this.pump();
        batch.forEach((p, i) => this.acknowledge(p, first + i));
      },
      (err: unknown) => {
        if (this.stopped) {
          // The node is stopping and closed its log (which checkpoints it to disk with a full
          // fsync): the outcome of these writes is unknown to their clients, not failed.
          for (const p of batch) p.reject(new ReplicationError(503, 'shutting_down', 'node is shutting down'));
          return;
        }
        // After a failed fdatasync the kernel may have dropped the pages: a later successful one
        // proves nothing about these entries, so this leader takes no more writes.
        this.logger.fatal({ err }, 'log fsync failed; the leader stops taking writes (restart the node)');
        this.fsyncFailed = true;
        for (const p of [...batch, ...this.queue.splice(0)]) p.reject(new ReplicationError(503, 'log_write_failed', `log append failed: ${(err as Error).message}`));
        this.stop();
      },
    );
    if (this.queue.length > 0) this.scheduleFlush();
  }

  /**
   * `leader`: durable on the leader (it becomes visible to reads once committed, which a read
   * with ?min_index=<index> waits for); `quorum`: committed and applied on the leader; `all`:
   * durable on every node.
   */
  private acknowledge(p: Proposal, index: number): void {
    if (p.concern === 'leader') {
      p.resolve({ index });
      return;
    }
    // quorum: applied on the leader (it applies only committed entries, so applied implies
    // committed); all: durable on every node, then applied on the leader.
    const replicated = p.concern === 'all' ? this.allWaiters.wait(index, this.cfg.commit_timeout_ms) : Promise.resolve(true);
    void replicated
      .then((ok) => (ok ? this.appliedWaiters.wait(index, this.cfg.commit_timeout_ms) : false))
      .then((ok) => {
        if (ok) p.resolve({ index });
        else {
          p.reject(
            new ReplicationError(503, 'not_replicated', `write ${index} is durable on the leader but not acknowledged by ${p.concern === 'all' ? 'all followers' : 'a quorum'} within ${this.cfg.commit_timeout_ms} ms`, {
              index,
              retry_after_s: 1,
            }),
          );
        }
      });
  }

  private tick(): void {
    if (this.stopped) return;
    this.pump();
    const commit = this.core.commitIndex();
    if (commit > this.persistedCommit) {
      this.log.setMeta('commit_index', commit);
      this.persistedCommit = commit;
    }
    const now = Date.now();
    if (now - this.lastCompactMs > 5000) {
      this.lastCompactMs = now;
      this.compact();
    }
    for (const f of this.core.followers()) {
      const before = this.lastHealth.get(f.id);
      if (before !== f.health) {
        this.lastHealth.set(f.id, f.health);
        if (before !== undefined) {
          this.hooks.event({ kind: f.health === 'desynced' ? 'desynced' : 'health_changed', follower: f.id, detail: `${before} -> ${f.health}` });
          this.logger.info({ follower: f.id, from: before, to: f.health }, 'follower health changed');
        }
      }
    }
  }

  /** Keeps log_retain_entries and never drops what a follower that is not desynced still needs. */
  private compact(): void {
    const keepFrom = Math.min(this.log.lastIndex() - this.cfg.log_retain_entries, this.core.neededIndex() - 1, this.state.appliedIndex());
    if (keepFrom > this.log.snapshotIndex()) {
      const removed = this.log.compactTo(keepFrom);
      this.logger.debug({ through: keepFrom, removed }, 'log compacted');
    }
  }

  private pump(): void {
    if (this.stopped) return;
    const actions: LeaderAction[] = this.core.poll(Date.now(), this.log);
    for (const a of actions) {
      if (a.kind === 'append') void this.sendAppend(a);
      else void this.sendSnapshot(a.follower, a.epoch);
    }
  }

  /**
   * The leader's state, like every replica's, holds committed entries only: what a quorum has
   * durably. So a snapshot (a copy of state) never carries an entry the followers could not
   * apply yet, and a read on the leader never sees a write a quorum does not hold.
   */
  private applyCommitted(): void {
    const started = performance.now();
    let applied = false;
    for (;;) {
      const to = Math.min(this.core.commitIndex(), this.log.lastIndex());
      const from = this.state.appliedIndex() + 1;
      if (to < from) break;
      this.state.applyEntries(this.log.entries(from, Math.min(to, from + apply_chunk_entries_max - 1) + 1, apply_chunk_bytes_max));
      applied = true;
      if (performance.now() - started > apply_slice_ms) {
        // A backlog (a bulk load, a restart) is applied a slice at a time, so the node keeps
        // answering health checks, reads and appends in between.
        this.scheduleApply();
        break;
      }
    }
    if (applied) {
      this.appliedWaiters.notify();
      this.hooks.onApplied();
    }
  }

  private scheduleApply(): void {
    if (this.applyScheduled) return;
    this.applyScheduled = true;
    setImmediate(() => {
      this.applyScheduled = false;
      if (!this.stopped) this.applyCommitted();
    });
  }

  private afterResponse(): void {
    this.applyCommitted();
    this.allWaiters.notify();
    this.pump();
  }

  private async sendAppend(a: Extract<LeaderAction, { kind: 'append' }>): Promise<void> {
    const spec = this.followersById.get(a.follower);
    if (spec === undefined) return;
    const body = encode({
      cluster_id: this.cfg.cluster_id,
      term: this.term,
      leader_id: this.self.id,
      prev_index: a.prev_index,
      prev_term: a.prev_term,
      entries: a.entries,
      leader_commit: a.commit,
    });
    const started = performance.now();
    try {
      const res = await this.transport.post(spec.address, '/_raft/append', body, this.cfg.append_timeout_ms);
      const latency = Math.round((performance.now() - started) * 100) / 100;
      this.hooks.observer?.appendDone?.(a.follower, latency, res.status === 200);
      if (res.status === 200) {
        this.core.onAppendResult(a.follower, a.epoch, decodeAppendResponse(res.body), Date.now(), latency);
      } else {
        this.logger.warn({ follower: a.follower, status: res.status, body: res.body.toString('utf8').slice(0, 300) }, 'append refused');
        this.core.onAppendFailed(a.follower, a.epoch, Date.now());
      }
    } catch (err) {
      this.hooks.observer?.appendDone?.(a.follower, performance.now() - started, false);
      this.logger.debug({ follower: a.follower, err: (err as Error).message }, 'append failed');
      this.core.onAppendFailed(a.follower, a.epoch, Date.now());
    }
    this.afterResponse();
  }

  /** force-resync: a fresh snapshot to this follower now; resolves when it is installed or failed. */
  forceResync(id: string): Promise<{ ok: boolean; message: string }> {
    this.core.requestSnapshot(id);
    const p = new Promise<{ ok: boolean; message: string }>((resolve) => {
      const list = this.snapshotWaiters.get(id) ?? [];
      list.push(resolve);
      this.snapshotWaiters.set(id, list);
    });
    this.pump();
    return p;
  }

  private async sendSnapshot(id: string, epoch: number): Promise<void> {
    const spec = this.followersById.get(id);
    if (spec === undefined) return;
    const stats = this.hooks.stats;
    stats.snapshot_send_attempts++;
    this.hooks.event({ kind: 'resync_started', follower: id, detail: `snapshot to ${spec.address}` });
    const started = performance.now();
    const cpuStarted = process.cpuUsage();
    const file = path.join(this.dataDir, `snapshot-out-${id}.db`);
    let ok = false;
    let message = '';
    let snapIndex = 0;
    let snapBytes = 0;
    try {
      const snap = await this.state.snapshotTo(file);
      const copied = performance.now();
      snapIndex = snap.index;
      snapBytes = snap.bytes;
      stats.snapshots_created++;
      const sent = await streamSnapshot(
        {
          transport: this.transport,
          address: spec.address,
          cluster_id: this.cfg.cluster_id,
          term: this.term,
          leader_id: this.self.id,
          deadline: started + this.cfg.snapshot_timeout_s * 1000,
          snapshot_timeout_s: this.cfg.snapshot_timeout_s,
          chunk_timeout_ms: Math.max(this.cfg.append_timeout_ms, 5000),
        },
        { file, ...snap },
      );
      ok = true;
      const ms = Math.round(performance.now() - started);
      const cpu = process.cpuUsage(cpuStarted);
      const phases = {
        copy_ms: Math.round(copied - started),
        transfer_ms: Math.round(performance.now() - copied),
        chunks: sent.chunks,
        inflight: sent.inflight,
        prepare_ms: Math.round(sent.prepare_ms),
        wait_ms: Math.round(sent.wait_ms),
        quick_check_ms: Math.round(sent.check_ms),
        quick_check_wait_ms: Math.round(sent.check_wait_ms),
        // This process's CPU time (all threads) while the snapshot was made and sent.
        cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
        on_follower: sent.final['phases'],
      };
      stats.snapshot_send_successes++;
      stats.snapshot_bytes_sent += snap.bytes;
      stats.last_snapshot_index = snap.index;
      stats.last_snapshot_at = new Date().toISOString();
      stats.last_snapshot_ms = ms;
      stats.last_snapshot_target = id;
      stats.last_snapshot_phases = phases;
      message = `Snapshot resync to ${spec.address} completed successfully (index ${snap.index}, ${snap.bytes} bytes, ${ms} ms: copy ${phases.copy_ms} ms, transfer and install ${phases.transfer_ms} ms in ${sent.chunks} chunks)`;
      this.logger.info({ follower: id, index: snap.index, bytes: snap.bytes, ms, ...phases }, 'snapshot installed on follower');
    } catch (err) {
      stats.snapshot_send_failures++;
      stats.last_failure = `${id}: ${(err as Error).message}`;
      stats.last_failure_at = new Date().toISOString();
      message = `Snapshot resync to ${spec.address} failed: ${(err as Error).message}`;
      this.logger.warn({ follower: id, err: (err as Error).message }, 'snapshot resync failed');
    } finally {
      // Out of the way at once (a rename); deleted once the result is reported, off the event
      // loop: freeing a large file's blocks takes a while, and the follower is waiting for appends.
      retireDbFile(file);
    }
    this.hooks.observer?.snapshotSent?.(id, ok, snapBytes, performance.now() - started);
    this.hooks.event({ kind: ok ? 'resync_succeeded' : 'resync_failed', follower: id, detail: message });
    this.core.onSnapshotResult(id, epoch, ok, snapIndex, Date.now());
    const waiters = this.snapshotWaiters.get(id) ?? [];
    this.snapshotWaiters.delete(id);
    for (const w of waiters) w({ ok, message });
    this.afterResponse();
    await removeRetiredDbFile(file).catch((err: unknown) => this.logger.warn({ file, err: (err as Error).message }, 'could not remove a snapshot copy'));
  }
}
