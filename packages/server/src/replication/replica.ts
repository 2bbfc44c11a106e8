// One node's replication: its log, its state, and its role (the statically chosen leader or a
// follower). HTTP handlers talk to this class only.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { CairnConfig, NodeSpec, WriteConcern } from '../config/types.ts';
import { NodeCondition } from './condition.ts';
import { ReplicationError } from './errors.ts';
import { FollowerHandler } from './follower-handler.ts';
import { FileTermRecord, checkLocalStorage, loadIdentity } from './identity.ts';
import type { Identity, StorageCheck } from './identity.ts';
import { FileSnapshotReceiver, FileSnapshotShipper } from './file-snapshots.ts';
import { LeaderDriver } from './leader-driver.ts';
import { systemClock } from './ports.ts';
import { stateDigestOf } from '../store/state-digest.ts';
import { HandoverNotice, answerTimeoutNow, askWhoLeads, designationOf, handOverTo, heardFrom, leadershipAnswerOf, onLeaderNamed, roleAtStart } from './handover.ts';
import type { RoleSwitch } from './handover.ts';
import type { TimeoutNowRequest } from './handover.ts';
import { DiskReserve, DiskSpaceWatch, disk_check_ms_default, disk_free_bytes_min_default, disk_reserve_bytes_default } from './storage-errors.ts';
import { fileRecoveryPorts, logPosition, makeStateCopy, metaRecoveryMarker, readLogEntries, recoverAlone, recoverUntilDone } from './recovery.ts';
import type { LogEntriesAnswer, LogPosition, StateCopy } from './recovery.ts';
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
  /** Why it is desynced, or null. */
  desync_reason: string | null;
  /** The last comparison of its state with the leader's, or null. */
  state_check: { at: string; leader_index: number; follower_index: number | null; result: string; detail: string } | null;
}

/** How long a handover waits for its target to hold everything before it gives up (and leads on). */
export const transfer_timeout_ms = 10_000;
/** A handover not yet confirmed by its target is told again this often. */
export const handover_retry_ms = 500;

export class Replica<S extends StateMachine> {
  readonly self: NodeSpec;
  readonly log: SqliteLog;
  readonly state: StateHolder<S>;
  readonly stats: ResyncStats = emptyResyncStats();
  readonly events: ReplicationEvent[] = [];
  readonly startedAt = Date.now();
  /** What keeps this node from serving as it should (fsync failed, disk full, recovering): health reports it. */
  readonly condition = new NodeCondition();
  /** While the disk is full: clears `disk_full` once space is back (the drivers then resume). */
  private readonly diskWatch: DiskSpaceWatch;
  private readonly space: DiskReserve;
  private readonly appliedWaiters: IndexWaiters;
  private driver: LeaderDriver | null = null;
  private follower: FollowerHandler | null = null;
  /** Tells the target of a pending handover to take over (created once the node's parts exist). */
  private readonly notice: HandoverNotice;
  private noticeTransport: HttpTransport | null = null;
  private readonly roleListeners = new Set<() => void>();
  /** Cluster, node and storage id of this data directory (identity.json). */
  readonly identity: Identity;
  /** Set while the leader recovers what its storage lost from the followers (no writes meanwhile). */
  private recovering: Extract<StorageCheck, { ok: false }> | null = null;
  /** The highest term this node's leader opened (identity.json): it never opens one twice. */
  private readonly terms: FileTermRecord;
  private readonly recoveryStop = new AbortController();
  private readonly hooks;
  private readonly listeners = new Set<() => void>();
  private readonly observers = new Set<ReplicationObserver>();

  constructor(
    readonly config: CairnConfig,
    factory: StateFactory<S>,
    private readonly logger: Logger,
    private readonly transport?: Transport,
  ) {
    const rep = config.replication;
    const self = rep.nodes.find((n) => n.id === config.node_id);
    if (self === undefined) throw new Error(`node_id ${config.node_id} is not in replication.nodes`);
    if (!rep.nodes.some((n) => n.id === rep.leader)) throw new Error(`replication.leader ${rep.leader} is not in replication.nodes`);
    this.self = self;
    fs.mkdirSync(config.server.data_dir, { recursive: true });
    this.space = new DiskReserve({ dir: config.server.data_dir, reserve_bytes: disk_reserve_bytes_default, look_every_bytes: disk_reserve_bytes_default / 8 });
    void this.space.look();
    this.diskWatch = new DiskSpaceWatch({
      dir: config.server.data_dir,
      condition: this.condition,
      // A full disk is taken as freed once the leader's reserve is free again (else it would refuse the next write at once).
      free_bytes_min: Math.max(disk_free_bytes_min_default, disk_reserve_bytes_default),
      check_ms: disk_check_ms_default,
      onFreed: (free) => this.space.measured(free),
    });
    // Refuses another node's or another cluster's data directory (throws).
    const { identity, created } = loadIdentity(config.server.data_dir, rep.cluster_id, self.id);
    this.identity = identity;
    this.terms = new FileTermRecord(config.server.data_dir, identity);
    this.notice = new HandoverNotice({
      record: this.terms,
      clock: systemClock,
      transport: transport ?? (this.noticeTransport = new HttpTransport(rep.secret)),
      cluster_id: rep.cluster_id,
      self: self.id,
      address: (id) => rep.nodes.find((n) => n.id === id)?.address,
      timeout_ms: Math.max(rep.append_timeout_ms, 2000),
      retry_ms: handover_retry_ms,
      warn: (detail, message) => logger.warn(detail, message),
      log: () => this.log,
    });
    this.log = new SqliteLog(path.join(config.server.data_dir, 'log.db'));
    this.state = new StateHolder(path.join(config.server.data_dir, 'state.db'), factory);
    this.appliedWaiters = new IndexWaiters(() => this.state.appliedIndex());
    this.roles = {
      self: this.self.id,
      cluster_id: this.config.replication.cluster_id,
      nodes: this.config.replication.nodes,
      leadingTerm: () => this.driver?.currentTerm() ?? null,
      notReady: () => (this.notReady() ? this.recoveringError() : null),
      asking: () => this.asking,
      follower: () => this.follower,
      log: this.log,
      record: this.terms,
      follow: (leader, why) => {
        this.asking = false;
        this.follow(leader, why);
      },
      lead: (why) => {
        this.follower = null;
        const driver = this.startLeader(this.transport);
        driver.start();
        const term = driver.currentTerm();
        this.event({ kind: 'leader_changed', detail: `${this.self.id} leads from term ${term}, handed over by ${why.from} after index ${why.last_index}` });
        this.logger.info({ from: why.from, term, last_index: why.last_index }, 'took over leadership');
        for (const l of this.roleListeners) l();
        return term;
      },
    };
    const hooks = {
      onApplied: () => this.onApplied(),
      event: (e: Omit<ReplicationEvent, 'at'>) => this.event(e),
      stats: this.stats,
      observer: this.observerFanOut(),
    };
    this.hooks = hooks;
    const recorded = this.terms.leader();
    if (recorded !== null && !rep.nodes.some((n) => n.id === recorded)) throw new Error(`identity.json names the leader ${recorded}, which is not in replication.nodes`);
    const role = roleAtStart({ self: self.id, configured_leader: rep.leader, recorded_leader: recorded, leader_unknown: this.terms.leaderUnknown(), nodes: rep.nodes.length });
    if (role === 'ask') {
      // A new data directory: leadership may have moved by handovers this node no longer remembers.
      this.asking = true;
      this.condition.set('recovering', 'data directory new: asking every node which one leads');
    } else if (role === 'lead') {
      // A log whose term is below the recorded one lost its tail: followers may hold entries of that
      // term past where it ends now (with no followers there is nobody to hold them).
      const check = checkLocalStorage(this.log, this.state, created, rep.nodes.length > 1 ? this.terms.recorded() : 0, this.terms.logFloor());
      if (!check.ok && rep.nodes.length > 1) {
        // It may have lost what it acknowledged: no writes until it recovered what the followers hold.
        logger.warn({ reason: check.reason }, check.message);
        this.recovering = check;
        this.condition.set('recovering', check.message);
      } else {
        if (!check.ok) recoverAlone(this.log, this.state, metaRecoveryMarker(this.log), check.reason);
        this.startLeader(transport);
      }
    } else {
      // A follower that lost its data starts empty: the leader resyncs it (a new storage id).
      this.follower = this.makeFollower();
    }
  }

  private makeFollower(): FollowerHandler {
    const { config, logger } = this;
    return new FollowerHandler({
      cfg: config.replication,
      log: this.log,
      state: this.state,
      snapshots: new FileSnapshotReceiver(this.state, config.server.data_dir, (m) => logger.warn(m)),
      clock: systemClock,
      logger,
      hooks: { ...this.hooks, onDiskFull: () => this.diskWatch.start() },
      condition: this.condition,
      storage_id: this.identity.storage_id,
      marker: metaRecoveryMarker(this.log),
      digest: () => stateDigestOf(this.state.file),
      leadership: this.terms,
      onLeader: (id) => {
        if (this.terms.pendingHandover()?.to === id) this.notice.confirmed();
        for (const l of this.roleListeners) l();
      },
    });
  }

  /** The leader now: the one recorded at the last handover this node took part in, else the configured one. */
  get leader(): NodeSpec {
    const rep = this.config.replication;
    const id = this.terms.leader() ?? rep.leader;
    const spec = rep.nodes.find((n) => n.id === id);
    if (spec === undefined) throw new Error(`invariant: the leader ${id} is not in replication.nodes`);
    return spec;
  }

  /** Subscribe to "this node's role or the leader changed" (a handover). */
  onRoleChange(listener: () => void): () => void {
    this.roleListeners.add(listener);
    return () => this.roleListeners.delete(listener);
  }

  /** Constructs the leader's driver (once its storage is known to hold what it acknowledged). */
  private startLeader(transport: Transport | undefined): LeaderDriver {
    const self = this.self;
    const rep = this.config.replication;
    const logger = this.logger;
    const hooks = this.hooks;
    const t = transport ?? new HttpTransport(rep.secret);
    this.driver = new LeaderDriver({
      self,
      cfg: rep,
      log: this.log,
      state: this.state,
      transport: t,
      snapshots: new FileSnapshotShipper({
        state: this.state,
        transport: t,
        data_dir: this.config.server.data_dir,
        cluster_id: rep.cluster_id,
        leader_id: self.id,
        clock: systemClock,
        snapshot_timeout_s: rep.snapshot_timeout_s,
        chunk_timeout_ms: Math.max(rep.append_timeout_ms, 5000),
        warn: (m) => logger.warn(m),
      }),
      clock: systemClock,
      logger,
      hooks: { ...hooks, onDiskFull: () => this.diskWatch.start() },
      condition: this.condition,
      digest: () => stateDigestOf(this.state.file),
      terms: this.terms,
      designated: () => designationOf(self.id, this.terms),
      space: this.space,
    });
    return this.driver;
  }

  start(): void {
    if (this.asking) void this.findLeader();
    if (this.recovering !== null) void this.recover(this.recovering);
    this.driver?.start();
    // A handover made before a restart that its target had not confirmed: tell it again.
    this.notice.schedule(0);
  }

  /**
   * POST /_raft/transfer-leadership: hands leadership to a healthy follower (LeaderDriver.handOver),
   * then follows it and tells it to take over (POST /_raft/timeout-now), again every
   * handover_retry_ms until it confirms, also after a restart of this node.
   */
  async transferLeadership(target: string): Promise<{ leader: string; term: number; last_index: number; confirmed: boolean; message: string }> {
    if (this.notReady()) throw this.recoveringError();
    if (this.driver === null) throw new ReplicationError(409, 'not_leader', `leadership is handed over by the leader ${this.leader.id} (${this.leader.address})`, { leader: this.leader.id });
    const spec = this.resolveFollower(target);
    if (spec === undefined) {
      const known = this.config.replication.nodes.filter((n) => n.id !== this.self.id).map((n) => `${n.id} (${n.address})`);
      throw new ReplicationError(404, 'unknown_target', `no follower "${target}"; followers: ${known.join(', ')}`);
    }
    const driver = this.driver;
    const at = await handOverTo(driver, spec.id, this.terms, transfer_timeout_ms);
    this.driver = null;
    this.follower = this.makeFollower();
    this.logger.info({ to: spec.id, last_index: at.last_index, term: at.term }, 'leadership handed over');
    for (const l of this.roleListeners) l();
    const confirmed = await this.notice.tell();
    if (!confirmed) this.notice.schedule(handover_retry_ms);
    return {
      leader: spec.id,
      term: at.term,
      last_index: at.last_index,
      confirmed,
      message: confirmed ? `${spec.id} leads` : `${spec.id} leads once it hears of it (told again every ${handover_retry_ms} ms)`,
    };
  }

  /**
   * POST /_raft/timeout-now, from the leader that handed leadership to this node: once this node's
   * log holds exactly what the old leader's held, it records itself as the leader and leads (a new
   * term, above every term it holds). Asked again once it leads, it confirms.
   */
  handleTimeoutNow(req: TimeoutNowRequest): { ok: true; leader: string; term: number } {
    return answerTimeoutNow(req, this.roles);
  }

  /** This node's role switches (handover.ts), on its own parts. */
  private readonly roles: RoleSwitch;

  /** Set while a node with a new data directory asks the others which one leads (roleAtStart 'ask'). */
  private asking = false;

  /**
   * Asks every other node which one leads (GET /_raft/health; askWhoLeads): a node whose data
   * directory is new has no record of the handovers it took part in. Null once stopped.
   */
  private askWhoLeads(): Promise<string | null> {
    return askWhoLeads({
      self: this.self.id,
      peers: this.config.replication.nodes.filter((n) => n.id !== this.self.id),
      ask: async (p) => {
        const res = await fetch(`http://${p.address}/_raft/health`, { signal: AbortSignal.timeout(2_000) });
        return leadershipAnswerOf(p.id, await res.json());
      },
      wait: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      stopped: () => this.recoveryStop.signal.aborted || !this.asking,
      progress: (waiting) => {
        if (this.asking) this.condition.set('recovering', `data directory new: asking every node which one leads; waiting for ${waiting.map((p) => `${p.id} (${p.address})`).join(', ')}`);
      },
      retry_ms: 500,
    });
  }

  /** A node whose data directory does not know who leads: follows the leader the others name, or recovers and leads when they name it. */
  private async findLeader(): Promise<void> {
    const leader = await this.askWhoLeads();
    if (leader === null) return;
    onLeaderNamed(leader, {
      ...this.roles,
      checkStorage: () => {
        const check = checkLocalStorage(this.log, this.state, true, this.terms.recorded(), this.terms.logFloor());
        this.logger.warn({ reason: check.ok ? 'none' : check.reason }, 'data directory new and the other nodes name this node the leader: recovering from them');
        return check;
      },
      leadNamed: () => {
        this.asking = false;
        this.startLeader(this.transport);
        this.driver?.start();
        this.condition.clear('recovering');
        for (const l of this.roleListeners) l();
      },
      recover: (check) => {
        this.asking = false;
        this.recovering = check;
        this.condition.set('recovering', check.message);
        void this.recover(check);
        for (const l of this.roleListeners) l();
      },
    });
  }

  /** Follows `leader` (recorded, so a restart follows it too). */
  private follow(leader: string, why: string): void {
    this.terms.recordLeader(leader);
    this.recovering = null;
    this.follower = this.makeFollower();
    this.condition.clear('recovering');
    this.logger.warn({ leader }, `${why} and another node leads: following it`);
    this.event({ kind: 'leader_changed', detail: `${why}; ${leader} leads, this node follows it` });
    for (const l of this.roleListeners) l();
  }

  /** Recovers from the followers (retrying until it succeeds or the node stops), then leads. */
  private async recover(check: Extract<StorageCheck, { ok: false }>): Promise<void> {
    const rep = this.config.replication;
    const transport = this.transport ?? new HttpTransport(rep.secret);
    const r = await recoverUntilDone({
      ...fileRecoveryPorts(this.log, this.state, transport),
      terms: this.terms,
      check,
      reason: check.reason,
      followers: rep.nodes.filter((n) => n.id !== this.self.id),
      cluster_id: rep.cluster_id,
      logger: this.logger,
      clock: systemClock,
      signal: this.recoveryStop.signal,
      snapshot_timeout_ms: rep.snapshot_timeout_s * 1000,
      progress: (m) => this.condition.set('recovering', m),
      onApplied: () => this.onApplied(),
    });
    if (r === null) return;
    const from = r.from_node === null ? 'no follower held anything: a new cluster' : `from ${r.from_node}`;
    this.event({ kind: 'recovered', detail: `${check.reason}: ${r.recovered_entries} entries ${from}, last index ${r.last_index}, applied ${r.applied_index} (${r.ms} ms)` });
    if (transport !== this.transport) transport.close?.();
    this.recovering = null;
    if (this.terms.leaderUnknown()) this.terms.recordLeader(this.self.id);
    this.startLeader(this.transport);
    this.driver?.start();
    this.condition.clear('recovering');
  }

  private stopped = false;

  stop(): void {
    this.stopped = true;
    this.notice.stop();
    this.noticeTransport?.close();
    this.recoveryStop.abort();
    this.diskWatch.stop();
    this.driver?.stop();
    this.follower?.stop();
    this.appliedWaiters.cancelAll();
  }

  /**
   * Resolves once no checkpoint of log.db or state.db runs in a worker: after stop(), so that
   * close() leaves no connection open behind it (the worker's would otherwise write -wal and -shm
   * files into a directory its owner is removing).
   */
  async settled(): Promise<void> {
    await Promise.all([this.log.settled(), this.state.settled()]);
  }

  close(): void {
    this.stop();
    this.state.close();
    this.log.close();
  }

  isLeader(): boolean {
    return this.self.id === this.leader.id && this.follower === null;
  }

  /** True while this node's driver runs: it orders writes now. */
  leading(): boolean {
    return this.driver !== null;
  }

  role(): 'Leader' | 'Follower' {
    return this.isLeader() ? 'Leader' : 'Follower';
  }

  /** This data directory's storage id: new whenever it started from nothing. */
  storageId(): string {
    return this.identity.storage_id;
  }

  /** GET /_raft/log-position. */
  logPosition(): LogPosition {
    return logPosition(this.log, this.state, this.identity, this.term());
  }

  /** GET /_raft/log-entries: a bounded page of this node's log. */
  logEntries(from: string | undefined, to: string | undefined): LogEntriesAnswer {
    return readLogEntries(this.log, from, to);
  }

  /** GET /_raft/state-snapshot: a consistent copy of this node's state (release() it once sent). */
  stateCopy(): Promise<StateCopy> {
    return makeStateCopy(this.state, this.config.server.data_dir);
  }

  term(): number {
    return this.driver?.currentTerm() ?? this.log.meta('term');
  }

  commitIndex(): number {
    if (this.driver) return this.driver.core.commitIndex();
    return this.state.appliedIndex();
  }

  appliedIndex(): number {
    return this.state.appliedIndex();
  }

  /**
   * The index this node must have applied before it answers a read: on the leader, where reads
   * are linearizable, LeaderCore.readIndex (what its log held when it began to lead); 0 on a
   * follower, whose reads wait only for the min_index they ask for.
   */
  readIndex(): number {
    return this.driver === null ? 0 : this.driver.core.readIndex();
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
    if (this.notReady()) return Promise.reject(this.recoveringError());
    if (this.driver === null) {
      return Promise.reject(new ReplicationError(503, 'not_leader', `writes go to the leader ${this.leader.id} (${this.leader.address})`, { leader: this.leader.id, leader_address: this.leader.address }));
    }
    return this.driver.propose(payload, concern);
  }

  private recoveringError(): ReplicationError {
    const message = this.condition.list().find((c) => c.code === 'recovering')?.message ?? 'recovering from the followers';
    if (this.asking) return new ReplicationError(503, 'recovering', `this node does not know yet which node leads and takes no writes or operator requests until it does: ${message}`, { retry_after_s: 1 });
    return new ReplicationError(503, 'recovering', `the leader is recovering its storage from the followers and takes no writes yet: ${message}`, { retry_after_s: 1 });
  }

  /** Still finding out which node leads (a new data directory), or recovering its storage: no leader's work yet. */
  private notReady(): boolean {
    return this.asking || this.recovering !== null;
  }

  waitApplied(index: number, timeout_ms: number): Promise<boolean> {
    return this.appliedWaiters.wait(index, timeout_ms);
  }

  /** While asking who leads: an append or snapshot chunk from another node of the cluster names the leader (senderLeads). */
  handleAppend(body: Uint8Array): Promise<Buffer> {
    heardFrom(body, 'append', this.roles);
    if (this.follower === null) return Promise.reject(new ReplicationError(409, 'is_leader', `${this.self.id} is the leader; it does not accept appends`));
    return this.follower.handleAppend(body);
  }

  handleSnapshotChunk(body: Uint8Array): Promise<Record<string, unknown>> {
    heardFrom(body, 'snapshot', this.roles);
    if (this.follower === null) return Promise.reject(new ReplicationError(409, 'is_leader', `${this.self.id} is the leader; it does not accept snapshots`));
    return this.follower.handleSnapshotChunk(body);
  }

  handleDigest(body: Uint8Array): Promise<Buffer> {
    if (this.follower === null) return Promise.reject(new ReplicationError(409, 'is_leader', `${this.self.id} is the leader; it answers no digest requests`));
    return this.follower.handleDigest(body);
  }

  followers(): FollowerStatus[] {
    if (this.driver === null) {
      if (!this.isLeader()) return [];
      // A leader still recovering its storage has not reached its followers as their leader yet.
      return this.config.replication.nodes
        .filter((n) => n.id !== this.self.id)
        .map((n) => ({
          node_id: n.id,
          address: n.address,
          health: 'unknown',
          last_replicated_index: 0,
          next_index: 0,
          lag: 0,
          last_latency_ms: null,
          consecutive_failures: 0,
          last_success_at: null,
          snapshot_in_progress: false,
          desync_reason: null,
          state_check: null,
        }));
    }
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
      desync_reason: p.desync_reason,
      state_check: ((c) => (c === undefined ? null : { at: new Date(c.at_ms).toISOString(), leader_index: c.leader_index, follower_index: c.follower_index, result: c.result, detail: c.detail }))(
        this.driver?.stateChecks().get(p.id),
      ),
    }));
  }

  /** In sync: the leader always; a follower that heard from the leader recently and is caught up. */
  inSync(): { ok: boolean; reason: string } {
    const problems = this.condition.list();
    if (problems.length > 0) return { ok: false, reason: problems.map((p) => `${p.code}: ${p.message}`).join('; ') };
    if (this.isLeader()) return { ok: true, reason: 'leader' };
    const f = this.follower as FollowerHandler;
    if (f.installing) return { ok: false, reason: 'installing a snapshot' };
    if (f.lastContactMs === null) return { ok: false, reason: 'no contact from the leader yet' };
    const silence = systemClock.now() - f.lastContactMs;
    if (silence > this.config.replication.silence_lagging_ms) return { ok: false, reason: `no contact from the leader for ${silence} ms` };
    const behind = f.leaderCommitSeen - this.state.appliedIndex();
    if (behind > this.config.replication.lag_healthy_max) return { ok: false, reason: `${behind} entries behind the leader's commit` };
    return { ok: true, reason: 'in sync' };
  }

  leaderContact(): { last_contact_ms_ago: number | null; leader_commit_seen: number } | null {
    if (this.follower === null) return null;
    return {
      last_contact_ms_ago: this.follower.lastContactMs === null ? null : systemClock.now() - this.follower.lastContactMs,
      leader_commit_seen: this.follower.leaderCommitSeen,
    };
  }

  /** Finds a follower by node id or host:port (as sync-status lists it). */
  resolveFollower(target: string): NodeSpec | undefined {
    return this.config.replication.nodes.find((n) => n.id !== this.leader.id && (n.id === target || n.address === target));
  }

  async forceResync(target: string): Promise<{ target: string; success: boolean; message: string }> {
    if (this.notReady()) throw this.recoveringError();
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
