// A follower's side of replication: answers /_raft/append (persist, then answer, then apply up
// to the leader's commit) and receives snapshots over /_raft/snapshot (write aside, verify,
// swap the state atomically, reset the log). Requests are handled one at a time (a mutex), so a
// snapshot install never interleaves with an append.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { decideAppend } from '@cairn/raft';
import type { Logger } from 'pino';
import type { ReplicationConfig } from '../config/types.ts';
import { apply_chunk_bytes_max, apply_chunk_entries_max, apply_slice_ms } from './apply-slice.ts';
import { ReplicationError } from './errors.ts';
import type { SqliteLog } from './sqlite-log.ts';
import { quickCheck } from './sqlite-worker.ts';
import { readApplied, removeDbFiles } from './state.ts';
import type { StateHolder, StateMachine } from './state.ts';
import type { ReplicationEvent, ReplicationObserver, ResyncStats } from './stats.ts';
import { IndexWaiters } from './waiters.ts';
import { SNAPSHOT_CHUNKS_INFLIGHT_MAX, chunkCrc32, decodeAppendRequest, decodeSnapshotChunk, encode } from './wire.ts';

interface Receiving {
  id: string;
  file: string;
  fd: number;
  offset: number;
  hash: crypto.Hash;
  last_index: number;
  last_term: number;
  started_ms: number;
  /** performance.now() at the first chunk, for the phase timings. */
  started: number;
  /** Time spent checking, writing and hashing chunks. */
  write_ms: number;
  cpu: NodeJS.CpuUsage;
  timer: NodeJS.Timeout;
}

export interface FollowerHooks {
  onApplied(): void;
  event(e: Omit<ReplicationEvent, 'at'>): void;
  stats: ResyncStats;
  observer?: ReplicationObserver;
}

/** How long an append that arrives ahead of its predecessor waits for it (reordered delivery). */
const GAP_WAIT_MS = 250;

/** How long a snapshot chunk that arrives ahead of its predecessor waits for it (several in flight). */
const SNAPSHOT_ORDER_WAIT_MS = 5000;

export class FollowerHandler<S extends StateMachine> {
  private lock: Promise<unknown> = Promise.resolve();
  private receiving: Receiving | null = null;
  private readonly lastIndexWaiters: IndexWaiters;
  /** Leader contact and commit as last seen, for /_raft/health. */
  lastContactMs: number | null = null;
  leaderCommitSeen = 0;
  leaderIdSeen: string | null = null;
  installing = false;
  private lastCompactMs = 0;
  /** The highest commit the leader announced; applied up to it as entries become durable. */
  private applyTarget = 0;
  private applyScheduled = false;
  private stopped = false;
  /** Chunks waiting for their predecessor; woken whenever a transfer moves on or ends. */
  private readonly chunkWaiters = new Set<() => void>();

  constructor(
    private readonly cfg: ReplicationConfig,
    private readonly log: SqliteLog,
    private readonly state: StateHolder<S>,
    private readonly dataDir: string,
    private readonly logger: Logger,
    private readonly hooks: FollowerHooks,
  ) {
    this.lastIndexWaiters = new IndexWaiters(() => this.log.lastIndex());
    // Apply what was committed but not yet applied before a restart.
    const commit = Math.min(log.meta('commit_index'), log.lastIndex());
    if (commit > state.appliedIndex() && state.appliedIndex() + 1 >= log.firstIndex()) {
      state.applyEntries(log.entries(state.appliedIndex() + 1, commit + 1, Number.POSITIVE_INFINITY));
    }
  }

  currentTerm(): number {
    return this.log.meta('term');
  }

  private serialized<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private checkCluster(cluster_id: string, term: number): void {
    if (cluster_id !== this.cfg.cluster_id) {
      throw new ReplicationError(409, 'wrong_cluster', `request from cluster "${cluster_id}", this node is in "${this.cfg.cluster_id}"`);
    }
    if (term < this.currentTerm()) {
      throw new ReplicationError(409, 'stale_term', `term ${term} is older than this node's term ${this.currentTerm()}`, { term: this.currentTerm() });
    }
  }

  async handleAppend(body: Uint8Array): Promise<Buffer> {
    const req = (() => {
      try {
        return decodeAppendRequest(body);
      } catch (err) {
        throw new ReplicationError(400, 'bad_append', (err as Error).message);
      }
    })();
    this.checkCluster(req.cluster_id, req.term);
    if (req.prev_index > this.log.lastIndex() && req.prev_index - this.log.lastIndex() <= this.cfg.batch_size * this.cfg.inflight_batches_max) {
      // Pipelined appends may arrive out of order: give the predecessor a moment.
      await this.lastIndexWaiters.wait(req.prev_index, GAP_WAIT_MS);
    }
    const answer = await this.serialized((): { response: Buffer; commit: number | null; written?: { entries: number; started: number } } => {
      if (this.installing) throw new ReplicationError(503, 'installing_snapshot', 'a snapshot is being installed');
      this.checkCluster(req.cluster_id, req.term);
      const decision = decideAppend({ log: this.log, current_term: this.currentTerm(), commit_index: this.state.appliedIndex() }, req);
      if (decision.kind === 'invalid') throw new ReplicationError(decision.status, decision.status === 409 ? 'stale_term' : 'bad_append', decision.message);
      this.lastContactMs = Date.now();
      this.leaderIdSeen = req.leader_id;
      this.leaderCommitSeen = Math.max(this.leaderCommitSeen, req.leader_commit);
      if (decision.kind === 'reject') return { response: encode(decision.response), commit: null };
      const termChanged = decision.term !== this.currentTerm();
      if (decision.append.length > 0 || decision.truncate_from !== null || termChanged || decision.commit_to > this.log.meta('commit_index')) {
        const started = performance.now();
        this.log.write({
          truncate_from: decision.truncate_from,
          entries: decision.append,
          term: termChanged ? decision.term : undefined,
          commit: decision.commit_to,
        });
        this.lastIndexWaiters.notify();
        return { response: encode(decision.response), commit: decision.commit_to, written: { entries: decision.append.length, started } };
      }
      return { response: encode(decision.response), commit: decision.commit_to };
    });
    if (answer.commit === null) return answer.response;
    // Durable before answering: the leader counts this answer toward a quorum. The fdatasync
    // runs off the event loop, outside the lock, so the next append is written meanwhile.
    await this.log.sync();
    if (answer.written) this.hooks.observer?.logWritten?.(answer.written.entries, performance.now() - answer.written.started);
    this.applyTo(answer.commit);
    this.maybeCompact();
    return answer.response;
  }

  private applyTo(commit: number): void {
    this.applyTarget = Math.max(this.applyTarget, commit);
    const started = performance.now();
    let applied = false;
    for (;;) {
      const from = this.state.appliedIndex() + 1;
      // Only entries on disk here: state never runs ahead of what this node's log holds durably.
      const to = Math.min(this.applyTarget, this.log.durableIndex());
      if (to < from || this.installing) break;
      this.state.applyEntries(this.log.entries(from, Math.min(to, from + apply_chunk_entries_max - 1) + 1, apply_chunk_bytes_max));
      applied = true;
      if (performance.now() - started > apply_slice_ms) {
        // A backlog (catching up after a pause) is applied a slice at a time, so appends,
        // health checks and reads are answered in between.
        this.scheduleApply();
        break;
      }
    }
    if (applied) this.hooks.onApplied();
  }

  private scheduleApply(): void {
    if (this.applyScheduled) return;
    this.applyScheduled = true;
    setImmediate(() => {
      this.applyScheduled = false;
      if (!this.stopped) this.applyTo(this.applyTarget);
    });
  }

  private maybeCompact(): void {
    const now = Date.now();
    if (now - this.lastCompactMs < 5000) return;
    this.lastCompactMs = now;
    const through = Math.min(this.state.appliedIndex(), this.log.lastIndex() - this.cfg.log_retain_entries);
    if (through > this.log.snapshotIndex()) this.log.compactTo(through);
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
    return this.serialized(() => {
      this.checkCluster(chunk.cluster_id, chunk.term);
      this.lastContactMs = Date.now();
      if (chunkCrc32(chunk.data) !== chunk.crc) {
        this.abortReceive('chunk checksum mismatch');
        throw new ReplicationError(400, 'bad_chunk_checksum', `chunk at offset ${chunk.offset} has a wrong checksum; transfer discarded`);
      }
      if (chunk.offset === 0) {
        // A snapshot older than what this node applied would move its state back.
        if (chunk.last_index < this.state.appliedIndex()) {
          throw new ReplicationError(409, 'snapshot_stale', `snapshot at index ${chunk.last_index} is older than this node's applied index ${this.state.appliedIndex()}`, {
            applied_index: this.state.appliedIndex(),
          });
        }
        this.beginReceive(chunk.snapshot_id, chunk.last_index, chunk.last_term);
      }
      const r = this.receiving;
      if (r?.id !== chunk.snapshot_id || r.offset !== chunk.offset) {
        throw new ReplicationError(409, 'snapshot_out_of_order', `expected offset ${r?.offset ?? 0} of snapshot ${r?.id ?? '(none)'}`, {
          expected_offset: r?.offset ?? 0,
        });
      }
      const writeStarted = performance.now();
      for (let written = 0; written < chunk.data.length; ) {
        written += fs.writeSync(r.fd, chunk.data, written, chunk.data.length - written, r.offset + written);
      }
      r.offset += chunk.data.length;
      r.hash.update(chunk.data);
      r.write_ms += performance.now() - writeStarted;
      this.hooks.stats.snapshot_bytes_received += chunk.data.length;
      this.wakeChunkWaiters();
      if (!chunk.done) return { ok: true, received: r.offset, inflight_max: SNAPSHOT_CHUNKS_INFLIGHT_MAX };
      return this.finishReceive(r, chunk.total_bytes, chunk.sha256, chunk.term, chunk.source_checked);
    });
  }

  /**
   * A chunk of the transfer in progress that arrived ahead of its predecessor (two in flight on
   * separate connections) waits here, outside the lock, until the transfer reaches its offset,
   * moves to another snapshot or ends, or SNAPSHOT_ORDER_WAIT_MS passes; then it is handled
   * as usual (and refused as out of order if it is still not its turn).
   */
  private async waitForTurn(id: string, offset: number): Promise<void> {
    const deadline = Date.now() + SNAPSHOT_ORDER_WAIT_MS;
    const ahead = (): boolean => this.receiving !== null && this.receiving.id === id && this.receiving.offset < offset;
    while (ahead() && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.chunkWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, deadline - Date.now());
        this.chunkWaiters.add(wake);
      });
    }
  }

  private wakeChunkWaiters(): void {
    for (const wake of [...this.chunkWaiters]) wake();
  }

  private beginReceive(id: string, last_index: number, last_term: number): void {
    this.abortReceive('superseded by a new transfer');
    const file = path.join(this.dataDir, 'snapshot-in.db');
    removeDbFiles(file);
    const fd = fs.openSync(file, 'w');
    const timer = setTimeout(() => this.abortReceive('snapshot_timeout_s exceeded'), this.cfg.snapshot_timeout_s * 1000);
    timer.unref();
    this.receiving = { id, file, fd, offset: 0, hash: crypto.createHash('sha256'), last_index, last_term, started_ms: Date.now(), started: performance.now(), write_ms: 0, cpu: process.cpuUsage(), timer };
    this.hooks.stats.snapshots_received++;
  }

  private abortReceive(reason: string): void {
    const r = this.receiving;
    if (r === null) return;
    this.receiving = null;
    clearTimeout(r.timer);
    try {
      fs.closeSync(r.fd);
    } catch {
      /* already closed */
    }
    removeDbFiles(r.file);
    this.wakeChunkWaiters();
    this.logger.warn({ snapshot: r.id, reason }, 'snapshot transfer discarded');
  }

  private async finishReceive(r: Receiving, total: number, sha256: string, term: number, sourceChecked: boolean): Promise<Record<string, unknown>> {
    const digest = r.hash.digest('hex');
    if (r.offset !== total || digest !== sha256) {
      this.abortReceive('size or digest mismatch');
      throw new ReplicationError(400, 'bad_snapshot', `snapshot verification failed: ${r.offset}/${total} bytes, sha256 ${digest === sha256 ? 'ok' : 'mismatch'}`);
    }
    clearTimeout(r.timer);
    const received = performance.now();
    fs.fsyncSync(r.fd);
    fs.closeSync(r.fd);
    this.receiving = null;
    this.wakeChunkWaiters();
    const synced = performance.now();
    // Verify it is the database it claims to be before anything is replaced. The bytes are the
    // sender's (sha256); a sender that ran quick_check on them says so, otherwise it runs here.
    try {
      const check = new Database(r.file, { readonly: true, fileMustExist: true });
      try {
        const pages = Number(check.pragma('page_count', { simple: true })) * Number(check.pragma('page_size', { simple: true }));
        if (pages !== total) throw new Error(`its pages span ${pages} bytes, the file has ${total}`);
        const at = readApplied(check);
        if (at.index !== r.last_index) throw new Error(`holds index ${at.index}, announced ${r.last_index}`);
      } finally {
        check.close();
      }
      if (!sourceChecked) {
        const ok = await quickCheck(r.file);
        if (ok !== 'ok') throw new Error(`quick_check: ${ok.slice(0, 200)}`);
      }
    } catch (err) {
      removeDbFiles(r.file);
      throw new ReplicationError(400, 'bad_snapshot', `snapshot is not a valid state database: ${(err as Error).message}`);
    }
    const checked = performance.now();
    this.installing = true;
    try {
      const installed = this.state.install(r.file);
      this.log.resetTo(installed.index, r.last_term, Math.max(term, this.currentTerm()));
      this.lastIndexWaiters.notify();
    } finally {
      this.installing = false;
    }
    const installed = performance.now();
    const cpu = process.cpuUsage(r.cpu);
    const phases = {
      receive_ms: Math.round(received - r.started),
      write_ms: Math.round(r.write_ms),
      fsync_ms: Math.round(synced - received),
      check_ms: Math.round(checked - synced),
      quick_check: sourceChecked ? 'by the leader' : 'here',
      install_ms: Math.round(installed - checked),
      // This process's CPU time (all threads) from the first chunk to the install.
      cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
    };
    const stats = this.hooks.stats;
    stats.snapshots_applied++;
    stats.last_applied_snapshot_index = r.last_index;
    stats.last_applied_snapshot_at = new Date().toISOString();
    this.hooks.observer?.snapshotInstalled?.(total, Date.now() - r.started_ms);
    this.hooks.event({ kind: 'snapshot_installed', detail: `state replaced at index ${r.last_index} (${total} bytes, ${Date.now() - r.started_ms} ms)` });
    this.logger.info({ index: r.last_index, bytes: total, ...phases }, 'snapshot installed');
    this.hooks.onApplied();
    return { ok: true, installed: true, applied_index: this.state.appliedIndex(), phases };
  }

  stop(): void {
    this.stopped = true;
    this.abortReceive('shutting down');
    this.wakeChunkWaiters();
    this.lastIndexWaiters.cancelAll();
  }
}
