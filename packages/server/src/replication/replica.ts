// One node's replication: its log, its state, and its role (the statically chosen leader or a
// follower). HTTP handlers talk to this class only.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { CairnConfig, NodeSpec, WriteConcern } from '../config/types.ts';
import { ReplicationError } from './errors.ts';
import { FollowerHandler } from './follower-handler.ts';
import { LeaderDriver } from './leader-driver.ts';
import { SqliteLog } from './sqlite-log.ts';
import { StateHolder } from './state.ts';
import type { StateFactory, StateMachine } from './state.ts';
import { EVENTS_MAX, emptyResyncStats } from './stats.ts';
import type { ReplicationEvent, ReplicationObserver, ResyncStats } from './stats.ts';
import { HttpTransport } from './transport.ts';
import type { Transport } from './transport.ts';
import { IndexWaiters } from './waiters.ts';

export interface FollowerStatus {
  node_id: string;
  address: string;
  health: string;
  last_replicated_index: number;
  next_index: number;
  lag: number;
  last_latency_ms: number | null;
  consecutive_failures: number;
  last_success_at: string | null;
  snapshot_in_progress: boolean;
}

export class Replica<S extends StateMachine> {
  readonly self: NodeSpec;
  readonly leader: NodeSpec;
  readonly log: SqliteLog;
  readonly state: StateHolder<S>;
  readonly stats: ResyncStats = emptyResyncStats();
  readonly events: ReplicationEvent[] = [];
  readonly startedAt = Date.now();
  private readonly appliedWaiters: IndexWaiters;
  private readonly driver: LeaderDriver<S> | null;
  private readonly follower: FollowerHandler<S> | null;
  private readonly listeners = new Set<() => void>();
  private readonly observers = new Set<ReplicationObserver>();

  constructor(
    readonly config: CairnConfig,
    factory: StateFactory<S>,
    private readonly logger: Logger,
    transport?: Transport,
  ) {
    const rep = config.replication;
    const self = rep.nodes.find((n) => n.id === config.node_id);
    const leader = rep.nodes.find((n) => n.id === rep.leader);
    if (self === undefined) throw new Error(`node_id ${config.node_id} is not in replication.nodes`);
    if (leader === undefined) throw new Error(`replication.leader ${rep.leader} is not in replication.nodes`);
    this.self = self;
    this.leader = leader;
    fs.mkdirSync(config.server.data_dir, { recursive: true });
    this.log = new SqliteLog(path.join(config.server.data_dir, 'log.db'));
    this.state = new StateHolder(path.join(config.server.data_dir, 'state.db'), factory);
    this.appliedWaiters = new IndexWaiters(() => this.state.appliedIndex());
    const hooks = {
      onApplied: () => this.onApplied(),
      event: (e: Omit<ReplicationEvent, 'at'>) => this.event(e),
      stats: this.stats,
      observer: this.observerFanOut(),
    };
    if (self.id === leader.id) {
      this.driver = new LeaderDriver(self, rep, this.log, this.state, transport ?? new HttpTransport(rep.secret), config.server.data_dir, logger, hooks);
      this.follower = null;
    } else {
      this.driver = null;
      this.follower = new FollowerHandler(rep, this.log, this.state, config.server.data_dir, logger, hooks);
    }
  }

  start(): void {
    this.driver?.start();
  }

  stop(): void {
    this.driver?.stop();
    this.follower?.stop();
    this.appliedWaiters.cancelAll();
  }

  close(): void {
    this.stop();
    this.state.close();
    this.log.close();
  }

  isLeader(): boolean {
    return this.driver !== null;
  }

  role(): 'Leader' | 'Follower' {
    return this.driver !== null ? 'Leader' : 'Follower';
  }

  term(): number {
    return this.driver?.term ?? this.log.meta('term');
  }

  commitIndex(): number {
    if (this.driver) return this.driver.core.commitIndex();
    return this.state.appliedIndex();
  }

  appliedIndex(): number {
    return this.state.appliedIndex();
  }

  /** Subscribe to "something was applied" (metrics, live dashboard). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribe to replication work (metrics): batch writes, fsyncs, append latencies, snapshots. */
  observe(observer: ReplicationObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  private observerFanOut(): ReplicationObserver {
    const all = this.observers;
    return {
      batchWritten: (n, ms) => all.forEach((o) => o.batchWritten?.(n, ms)),
      logWritten: (n, ms) => all.forEach((o) => o.logWritten?.(n, ms)),
      appendDone: (f, ms, ok) => all.forEach((o) => o.appendDone?.(f, ms, ok)),
      snapshotSent: (f, ok, bytes, ms) => all.forEach((o) => o.snapshotSent?.(f, ok, bytes, ms)),
      snapshotInstalled: (bytes, ms) => all.forEach((o) => o.snapshotInstalled?.(bytes, ms)),
    };
  }

  private onApplied(): void {
    this.appliedWaiters.notify();
    for (const l of this.listeners) l();
  }

  private event(e: Omit<ReplicationEvent, 'at'>): void {
    this.events.push({ at: new Date().toISOString(), ...e });
    if (this.events.length > EVENTS_MAX) this.events.splice(0, this.events.length - EVENTS_MAX);
  }

  /** Orders a write through the log (leader only). */
  propose(payload: Uint8Array, concern: WriteConcern = this.config.replication.write_concern): Promise<{ index: number }> {
    if (this.driver === null) {
      return Promise.reject(new ReplicationError(503, 'not_leader', `writes go to the leader ${this.leader.id} (${this.leader.address})`, { leader: this.leader.id, leader_address: this.leader.address }));
    }
    return this.driver.propose(payload, concern);
  }

  waitApplied(index: number, timeout_ms: number): Promise<boolean> {
    return this.appliedWaiters.wait(index, timeout_ms);
  }

  handleAppend(body: Uint8Array): Promise<Buffer> {
    if (this.follower === null) return Promise.reject(new ReplicationError(409, 'is_leader', `${this.self.id} is the leader; it does not accept appends`));
    return this.follower.handleAppend(body);
  }

  handleSnapshotChunk(body: Uint8Array): Promise<Record<string, unknown>> {
    if (this.follower === null) return Promise.reject(new ReplicationError(409, 'is_leader', `${this.self.id} is the leader; it does not accept snapshots`));
    return this.follower.handleSnapshotChunk(body);
  }

  followers(): FollowerStatus[] {
    if (this.driver === null) return [];
    const core = this.driver.core;
    return core.followers().map((p) => ({
      node_id: p.id,
      address: this.driver?.followerSpec(p.id)?.address ?? '',
      health: p.health,
      last_replicated_index: p.match_index,
      next_index: p.next_index,
      lag: core.lag(p),
      last_latency_ms: p.last_latency_ms,
      consecutive_failures: p.consecutive_failures,
      last_success_at: p.last_success_ms === null ? null : new Date(p.last_success_ms).toISOString(),
      snapshot_in_progress: p.snapshotting,
    }));
  }

  /** In sync: the leader always; a follower that heard from the leader recently and is caught up. */
  inSync(): { ok: boolean; reason: string } {
    if (this.driver !== null) return { ok: true, reason: 'leader' };
    const f = this.follower as FollowerHandler<S>;
    if (f.installing) return { ok: false, reason: 'installing a snapshot' };
    if (f.lastContactMs === null) return { ok: false, reason: 'no contact from the leader yet' };
    const silence = Date.now() - f.lastContactMs;
    if (silence > this.config.replication.silence_lagging_ms) return { ok: false, reason: `no contact from the leader for ${silence} ms` };
    const behind = f.leaderCommitSeen - this.state.appliedIndex();
    if (behind > this.config.replication.lag_healthy_max) return { ok: false, reason: `${behind} entries behind the leader's commit` };
    return { ok: true, reason: 'in sync' };
  }

  leaderContact(): { last_contact_ms_ago: number | null; leader_commit_seen: number } | null {
    if (this.follower === null) return null;
    return {
      last_contact_ms_ago: this.follower.lastContactMs === null ? null : Date.now() - this.follower.lastContactMs,
      leader_commit_seen: this.follower.leaderCommitSeen,
    };
  }

  /** Finds a follower by node id or host:port (as sync-status lists it). */
  resolveFollower(target: string): NodeSpec | undefined {
    return this.config.replication.nodes.find((n) => n.id !== this.leader.id && (n.id === target || n.address === target));
  }

  async forceResync(target: string): Promise<{ target: string; success: boolean; message: string }> {
    if (this.driver === null) throw new ReplicationError(409, 'not_leader', `force-resync runs on the leader ${this.leader.id} (${this.leader.address})`);
    const spec = this.resolveFollower(target);
    if (spec === undefined) {
      const known = this.config.replication.nodes.filter((n) => n.id !== this.leader.id).map((n) => `${n.id} (${n.address})`);
      throw new ReplicationError(404, 'unknown_target', `no follower "${target}"; followers: ${known.join(', ')}`);
    }
    const r = await this.driver.forceResync(spec.id);
    return { target, success: r.ok, message: r.message };
  }

  batchSizes(): number[] {
    return this.driver?.batchSizes ?? [];
  }
}
