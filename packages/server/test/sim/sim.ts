// A seeded deterministic simulation of a three-node cluster built from the drivers that ship
// (LeaderDriver, FollowerHandler) around simulated disks, a simulated network and one simulated
// clock (clock.ts, disk.ts, network.ts, snapshots.ts). One PRNG draws every choice, so a seed
// replays exactly. Each seed draws its own profile (fault rates, replication settings), clients
// write with all three concerns while nodes crash, lose their WAL or their whole data directory,
// fail an fsync, fill their disk, and the network drops, duplicates, delays, corrupts and cuts
// links one way. The leader process is modelled as the daemon runs it (replica.ts): at start it
// checks its storage (checkLocalStorage) and, when its log is behind its state or its data is
// gone, recovers from the followers (recovery.ts, over the simulated network) before it
// constructs the LeaderDriver; proposals are refused meanwhile. Checkers run after every step;
// then faults stop, the network heals, and the cluster must take a new quorum write and converge.
import pino from 'pino';
import { entryIsIntact } from '@cairn/raft';
import type { Entry } from '@cairn/raft';
import type { NodeSpec, ReplicationConfig, WriteConcern } from '../../src/config/types.ts';
import { NodeCondition } from '../../src/replication/condition.ts';
import { RECOVERY_PENDING_KEY } from '../../src/replication/identity.ts';
import { ReplicationError } from '../../src/replication/errors.ts';
import { FollowerHandler } from '../../src/replication/follower-handler.ts';
import { checkLocalStorage } from '../../src/replication/identity.ts';
import type { StorageCheck } from '../../src/replication/identity.ts';
import { LeaderDriver } from '../../src/replication/leader-driver.ts';
import { metaRecoveryMarker, recoverUntilDone } from '../../src/replication/recovery.ts';
import { emptyResyncStats } from '../../src/replication/stats.ts';
import { HandoverNotice, answerTimeoutNow, askWhoLeads, decodeTimeoutNow, designationOf, handOverTo, heardFrom, leadershipAnswerOf, onLeaderNamed, roleAtStart } from '../../src/replication/handover.ts';
import { Prng } from './prng.ts';
import { Scheduler } from './clock.ts';
import type { SimClock } from './clock.ts';
import { SimDisk, SimLog, foldState } from './disk.ts';
import type { DiskOptions, WriteWatcher } from './disk.ts';
import { SimNetwork, quietNetwork } from './network.ts';
import type { NetworkFaults } from './network.ts';
import { SimRecoveryPeers, recoveryRoutes } from './recovery-peers.ts';
import type { TermRecord } from '../../src/replication/ports.ts';
import type { HttpResult, Transport } from '../../src/replication/transport.ts';
import type { HandoverRecord, RoleSwitch } from '../../src/replication/handover.ts';
import type { PendingHandover } from '../../src/replication/identity.ts';
import { SimSnapshotReceiver, SimSnapshotShipper } from './snapshots.ts';

export class SimFailure extends Error {
  override readonly name = 'SimFailure';
}

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new SimFailure(message);
}

export const LEADER = 'leader';
export const FOLLOWERS = ['f1', 'f2'] as const;
export const NODES = [LEADER, ...FOLLOWERS];

/**
 * Deliberately broken variants, for tests that show the checkers catch what they break.
 * 'reset-on-install': a follower drops its whole log on every snapshot install (its compactTo
 * right after an install behaves as resetTo). 'no-sync': sync() resolves without making
 * anything durable. 'skip-recovery': a leader whose storage check fails starts leading at once,
 * without recovering from the followers. 'no-term-record': the leader keeps no record of its term
 * outside the log (identity.json), so a lost WAL can take its last term back and it opens it again.
 * 'no-fence-record': a handover's fence is not recorded (identity.json keeps no trace of it), so
 * the old leader, restarted, leads again beside the node it handed leadership to.
 * 'reads-at-once': the leader serves reads from whatever it has applied, without waiting for its
 * read index (LeaderCore.readIndex), as the public API did before it had one.
 * 'no-log-floor': the start-up check ignores the index a takeover recorded (identity.json
 * log_floor), so a handover target that lost its WAL before it wrote its own term leads from a
 * log that ends before what the old leader committed.
 */
export type Variant = 'none' | 'reset-on-install' | 'no-sync' | 'skip-recovery' | 'no-term-record' | 'no-fence-record' | 'reads-at-once' | 'no-log-floor';

export interface SimOptions {
  seed: number;
  /** Steps with faults; a heal phase follows until convergence. */
  steps: number;
  variant?: Variant;
  /** Let the leader lose its WAL or its whole data directory too (default on; it recovers from the followers). */
  leader_data_loss?: boolean;
  /** Draw append_timeout_ms at least this (to explore past failures that short timeouts cause). */
  append_timeout_min_ms?: number;
  /** Changes the drawn profile before the run (scripted scenarios). */
  tune?: (p: SimProfile) => void;
  /** Receives one line per event when set (replaying a seed). */
  trace?: (line: string) => void;
}

export interface SimProfile {
  step_ms_max: number;
  net: NetworkFaults;
  propose: number;
  propose_burst_max: number;
  payload_bytes_max: number;
  crash: number;
  down_ms_max: number;
  leader_crash: number;
  lose_wal: number;
  wipe: number;
  fsync_fail: number;
  supervisor_ms_max: number;
  disk_full: number;
  full_ms_max: number;
  cut: number;
  cut_ms_max: number;
  force_resync: number;
  leader_data_loss: boolean;
  /** CPU time an apply takes per entry (performance.now() moves by it), so applies yield in slices. */
  apply_ms_per_entry: number;
  /** Chance that an apply transaction is followed by a pause (a GC) longer than an apply slice. */
  apply_pause: number;
  /** Chance per step that the leader is asked to hand leadership to a follower (drawn from its own generator). */
  handover: number;
  disk: DiskOptions;
  snapshot: { chunk_bytes: number; filler_bytes: number; inflight_max: number };
  cfg: ReplicationConfig;
}

export interface SimResult {
  seed: number;
  steps: number;
  now_ms: number;
  last_index: number;
  commit_index: number;
  heal_ms: number;
  counts: Record<string, number>;
  /** A digest of every acknowledgement and fault, in order (same seed, same digest). */
  digest: number;
}

/** The longest pause the leader takes between snapshot attempts to a follower (leader-driver.ts). */
const snapshot_backoff_ms_max = 30_000;
/** Simulated time the healed cluster gets to converge (plus a round trip per entry of backlog). */
export const heal_ms_max = 30_000 + snapshot_backoff_ms_max;
/** After converging it must stay so this long. */
const quiet_ms = 300;
const full_check_every_steps = 256;
/** Healed network: delay per direction at most this. */
const healed_delay_ms_max = 2;

export function drawProfile(rng: Prng, opts: Pick<SimOptions, 'leader_data_loss' | 'append_timeout_min_ms'> = {}): SimProfile {
  const delay_ms_max = rng.pick([1, 5, 20, 60]);
  const heartbeat_ms = rng.pick([10, 30, 80]);
  const sync_ms_max = rng.pick([0, 2, 8]);
  // Timeouts may be shorter than the faulty round trip, never than the healed one.
  const timeout_floor = Math.max(2 * healed_delay_ms_max + sync_ms_max + 4, opts.append_timeout_min_ms ?? 0);
  const nodes: NodeSpec[] = NODES.map((id) => ({ id, address: `${id}:7000` }));
  // The config loader requires log_retain_entries >= resync_threshold.
  const log_retain_entries = rng.pick([10, 40, 120]);
  return {
    step_ms_max: rng.pick([3, 10, 30]),
    net: {
      drop: rng.pick([0, 0.01, 0.05, 0.2]),
      duplicate: rng.pick([0, 0.02, 0.1]),
      corrupt: rng.pick([0, 0, 0.005, 0.03]),
      delay_ms_min: 0,
      delay_ms_max,
      slow: rng.pick([0, 0.01, 0.05]),
      slow_ms_max: rng.pick([50, 300]),
    },
    propose: rng.pick([0.05, 0.2, 0.5]),
    propose_burst_max: rng.int(1, 6),
    payload_bytes_max: rng.pick([0, 16, 64]),
    crash: rng.pick([0, 0.0005, 0.002, 0.005]),
    down_ms_max: rng.pick([50, 500, 2000]),
    leader_crash: rng.pick([0, 0.0005, 0.002]),
    lose_wal: rng.pick([0, 0, 0.0005, 0.001]),
    wipe: rng.pick([0, 0, 0.0003, 0.001]),
    fsync_fail: rng.pick([0, 0, 0.0005, 0.002]),
    supervisor_ms_max: rng.pick([20, 300, 1500]),
    disk_full: rng.pick([0, 0, 0.0005, 0.002]),
    full_ms_max: rng.pick([50, 500, 3000]),
    cut: rng.pick([0, 0.001, 0.004]),
    cut_ms_max: rng.pick([100, 800, 3000]),
    force_resync: rng.pick([0, 0, 0.0005, 0.003]),
    leader_data_loss: opts.leader_data_loss !== false,
    apply_ms_per_entry: rng.pick([0, 0, 0.3, 2]),
    apply_pause: rng.pick([0, 0, 0.05]),
    handover: 0,
    disk: { sync_ms_min: 0, sync_ms_max, checkpoint_every_syncs: rng.pick([4, 16, 64]) },
    snapshot: { chunk_bytes: rng.pick([16, 64, 4096]), filler_bytes: rng.pick([0, 40, 300]), inflight_max: rng.int(1, 2) },
    cfg: {
      cluster_id: 'sim',
      nodes,
      leader: LEADER,
      state_compare_interval_ms: 0,
      batch_size: rng.int(1, 12),
      flush_interval_ms: rng.pick([0, 1, 5]),
      resync_threshold: rng.int(4, log_retain_entries),
      snapshot_timeout_s: rng.pick([1, 3]),
      write_concern: 'quorum',
      inflight_batches_max: rng.int(1, 4),
      failures_lagging: rng.int(1, 4),
      silence_lagging_ms: heartbeat_ms * rng.int(3, 8) + 2 * delay_ms_max,
      lag_healthy_max: rng.int(0, 10),
      append_timeout_ms: Math.max(timeout_floor, rng.pick([delay_ms_max, 2 * delay_ms_max + 4, 200])),
      heartbeat_ms,
      log_retain_entries,
      snapshots_inflight_max: rng.int(1, 2),
      commit_timeout_ms: rng.pick([100, 1000, 5000]),
      secret: '',
      operator_token: '',
    },
  };
}

/** The leader's view as the checkers read it. */
interface CoreView {
  commitIndex(): number;
  durableIndex(): number;
  readIndex(): number;
  followers(): Array<{ id: string; match_index: number; health: string; needs_snapshot: boolean; snapshotting: boolean; consecutive_failures: number }>;
}

class SimNode {
  clock: SimClock | null = null;
  leader: LeaderDriver | null = null;
  follower: FollowerHandler | null = null;
  condition: NodeCondition | null = null;
  /** The leader is recovering from the followers (no driver yet; proposals are refused). */
  recovering = false;
  /** A new data directory asking the others who leads (Replica's `asking`; proposals are refused as while recovering). */
  asking = false;
  /** This life's role switches (handover.ts's RoleSwitch over this node's parts), once started. */
  roles: RoleSwitch | null = null;
  /** When a node that is down comes back (null: it is up, or the sim decides later). */
  restartAt: number | null = null;
  /** A sync failed in this life: the supervisor restarts the node at this time. */
  supervisorAt: number | null = null;
  fullUntil: number | null = null;
  lives = 0;
  /** Tells the target of this node's pending handover to take over (as replica.ts does). */
  notice: HandoverNotice | null = null;
  /** This life's transport. */
  transport: Transport | null = null;

  constructor(
    readonly id: string,
    readonly spec: NodeSpec,
    readonly disk: SimDisk,
  ) {}

  get up(): boolean {
    return this.clock !== null;
  }
}

/** Every entry the leader created, by index (the newest creation at each index), and the state after each. */
class History {
  private readonly at: Array<Entry | undefined> = [undefined];
  private readonly states: number[] = [0];
  /** Creations that replaced an entry never made durable (a leader's lost unsynced tail). */
  replaced = 0;
  /** Entries the leader's storage lost (a lost WAL, a wiped directory): a follower may still hold them. */
  private readonly lostWithLeader = new WeakSet<Entry>();
  /** Entries replaced after the leader lost them, by index: a follower may hold one until the leader's appends truncate it. */
  private readonly superseded = new Map<number, Set<number>>();

  get(index: number): Entry | undefined {
    return this.at[index];
  }

  lastIndex(): number {
    return this.at.length - 1;
  }

  /** The leader's storage lost every entry after `index`. */
  markLostAfter(index: number): void {
    for (let i = index + 1; i < this.at.length; i++) {
      const e = this.at[i];
      if (e !== undefined) this.lostWithLeader.add(e);
    }
  }

  /** Whether the leader's storage lost this entry (so followers may hold it while the leader no longer does). */
  lostByLeader(e: Entry): boolean {
    return this.lostWithLeader.has(e);
  }

  /** e is one the leader's storage lost at its index and a later creation replaced. */
  isSuperseded(e: Entry): boolean {
    return entryIsIntact(e) && this.superseded.get(e.index)?.has(e.checksum) === true;
  }

  /** Returns the entry it replaces, if any. */
  record(e: Entry): Entry | undefined {
    const old = this.at[e.index];
    check(e.index <= this.at.length, `the leader skipped to index ${e.index} (created up to ${this.lastIndex()})`);
    if (old !== undefined) {
      this.replaced++;
      for (let i = e.index; i < this.at.length; i++) {
        const gone = this.at[i] as Entry;
        if (!this.lostWithLeader.has(gone)) continue;
        let set = this.superseded.get(i);
        if (set === undefined) this.superseded.set(i, (set = new Set()));
        set.add(gone.checksum);
      }
      this.at.length = e.index;
      this.states.length = Math.min(this.states.length, e.index);
    }
    this.at[e.index] = e;
    return old;
  }

  /** The state a correct replica has after applying 1..index. */
  stateAt(index: number): number {
    for (let i = this.states.length; i <= index; i++) {
      const e = this.at[i];
      check(e !== undefined, `no entry created at ${i}`);
      this.states[i] = foldState(this.states[i - 1] as number, e);
    }
    return this.states[index] as number;
  }

  /**
   * A node holds e at e.index: it must be the one the leader created there, or (on a follower) one
   * the leader's storage lost and a later creation replaced; applying that one is caught by the
   * state check.
   */
  checkEntry(node: string, e: Entry, leading = false): void {
    check(entryIsIntact(e), `${node} holds entry ${e.index} whose bytes do not match its checksum`);
    const ref = this.at[e.index];
    if (!leading && (ref === undefined || ref.checksum !== e.checksum) && this.superseded.get(e.index)?.has(e.checksum) === true) {
      // Told apart from the leader's entry there by its term only: the same term would pass the leader's consistency check.
      check(ref?.term !== e.term, `${node} holds an entry of term ${e.term} at ${e.index} that the leader lost and then replaced by another of the same term (a term used twice)`);
      return;
    }
    check(ref !== undefined, `${node} holds index ${e.index} that no leader created`);
    check(e.term === ref.term && e.checksum === ref.checksum, `${node} holds a different entry at ${e.index} (term ${e.term}/${ref.term}, checksum ${e.checksum}/${ref.checksum})`);
  }
}

/** Sorted indexes of acknowledged writes, with the number of copies each needs. */
class Acked {
  readonly strict: number[] = [];
  /** Writes a data-loss fault took a copy of: one copy fewer until it is restored. */
  readonly relaxed: number[] = [];

  add(index: number): void {
    insertSorted(this.strict, index);
  }

  get size(): number {
    return this.strict.length + this.relaxed.length;
  }

  /** The highest index acknowledged (0: none). */
  newest(): number {
    return Math.max(this.strict[this.strict.length - 1] ?? 0, this.relaxed[this.relaxed.length - 1] ?? 0);
  }
}

function insertSorted(a: number[], v: number): void {
  if (a.length === 0 || (a[a.length - 1] as number) < v) {
    a.push(v);
    return;
  }
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((a[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  if (a[lo] !== v) a.splice(lo, 0, v);
}

/** First index in sorted a that is >= v. */
function lowerBound(a: number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((a[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index ranges a node holds durably: its state up to its applied index, and its durable log. */
type Coverage = Array<[number, number]>;

/** Segments [lo, hi] over which the number of covering nodes is constant, with that number. */
function segments(covs: Coverage[], upTo: number): Array<{ lo: number; hi: number; count: number }> {
  const points = new Set<number>([1, upTo + 1]);
  for (const c of covs) for (const [lo, hi] of c) if (hi >= lo) points.add(Math.max(1, lo)).add(Math.min(upTo + 1, hi + 1));
  const sorted = [...points].filter((p) => p >= 1 && p <= upTo + 1).sort((a, b) => a - b);
  const out: Array<{ lo: number; hi: number; count: number }> = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const lo = sorted[i] as number;
    const hi = (sorted[i + 1] as number) - 1;
    let count = 0;
    for (const c of covs) if (c.some(([a, b]) => a <= lo && lo <= b)) count++;
    out.push({ lo, hi, count });
  }
  return out;
}

const silent = pino({ level: 'silent' });

export function runSim(opts: SimOptions): Promise<SimResult> {
  return new Sim(opts).runRandom();
}

export class Sim {
  step = 0;
  readonly rng: Prng;
  readonly profile: SimProfile;
  readonly sched = new Scheduler();
  readonly net: SimNetwork;
  readonly nodes: Map<string, SimNode>;
  private readonly history = new History();
  private readonly acked = { quorum: new Acked(), all: new Acked() };
  /** Writes acknowledged by each node while it led (every concern): each must stay on that node's disk. */
  private readonly leaderAcks = new Map<string, Acked>();
  /** The node that led last (or leads): the configured leader until a handover. */
  private lastLeader = LEADER;
  /** Which node created entries of each term, and which acknowledged writes of each term: one per term. */
  private readonly termCreators = new Map<number, string>();
  private readonly ackTerms = new Map<number, string>();
  /** Draws handovers (its own generator: seeds without handovers run as they did before there were any). */
  private readonly handovers: Prng;
  private readonly counts: Record<string, number> = {};
  private digest = 0;
  private failure: Error | null = null;
  private healing = false;
  /** Highest durable commit the leader's log ever had, and the highest commit its core ever had. */
  private durableCommitSeen = { node: LEADER, commit: 0 };
  /** Highest commit any leader core had, and the highest in the current leader life. */
  private coreCommitSeen = 0;
  private lifeCommit = { life: '', commit: 0 };
  /** Followers whose data a fault took: the leader's view of them may be ahead until they catch up. */
  private readonly lostData = new Map<string, number>();
  /** What each data loss took (until the leader's view of that node is corrected): acknowledgements in it arriving later need one copy fewer. */
  private lossRecords: Array<{ node: string; cov: Coverage; upTo: number }> = [];
  /** The leader lost its WAL or its data directory and has not recovered yet (one data-loss fault at a time). */
  private leaderLossPending = false;
  private readonly variant: Variant;
  /** CPU time spent (simulated ms): performance.now() is the simulated time plus this. */
  private cpuMs = 0;
  /** Draws the pauses (its own generator: the main one draws the same whatever the pauses). */
  private readonly pauses: Prng;

  constructor(private readonly opts: SimOptions) {
    this.rng = new Prng(opts.seed);
    this.pauses = new Prng((opts.seed ^ 0x5eed5eed) >>> 0);
    this.profile = drawProfile(this.rng, opts);
    this.handovers = new Prng((opts.seed ^ 0x4a4d0e55) >>> 0);
    this.profile.handover = this.handovers.pick([0, 0, 0.0005, 0.003]);
    opts.tune?.(this.profile);
    this.variant = opts.variant ?? 'none';
    this.net = new SimNetwork(this.rng, this.profile.net, {
      fatal: (node, path, err) => this.fail(`${node} ${path}: a handler threw ${(err as Error).name}: ${(err as Error).message} (the process would exit)${where(err)}`),
      corruptedAnswered: (node, path, status, unchanged) => {
        this.count(`corrupted_answered_${status}`);
        if (status === 200) this.fail(`${node} answered a corrupted ${path} with 200`);
        else if (status < 400 || status >= 500) this.count('corrupted_not_examined');
        if (unchanged === false) this.fail(`${node} changed its log on a corrupted ${path} it refused with ${status}`);
      },
      fingerprint: (node) => {
        const log = this.node(node).disk.log;
        return `${log.lastIndex()}/${log.meta('term')}/${log.meta('commit_index')}/${log.snapshotIndex()}`;
      },
      trace: opts.trace === undefined ? undefined : (line) => this.trace(() => line),
    });
    const watch: WriteWatcher = (node, entries) => this.onWrite(node, entries);
    this.nodes = new Map(
      this.profile.cfg.nodes.map((spec) => {
        const disk = new SimDisk(spec.id, this.rng, this.profile.disk, watch, (id, rng, o, w) => makeLog(this.variant, id, rng, o, w));
        disk.state.onApply = (entries) => {
          this.cpuMs += entries * this.profile.apply_ms_per_entry;
          if (this.profile.apply_pause > 0 && this.pauses.chance(this.profile.apply_pause)) this.cpuMs += 25;
        };
        this.net.addNode(spec.id, spec.address);
        return [spec.id, new SimNode(spec.id, spec, disk)];
      }),
    );
    this.sched.setCrashHandler((node, err) => this.fail(`${node}: uncaught ${(err as Error).name}: ${(err as Error).message} (the process would exit)${where(err)}`));
    this.trace(() => `profile ${JSON.stringify({ ...this.profile, cfg: { ...this.profile.cfg, nodes: undefined } })}`);
  }

  now(): number {
    return this.sched.now();
  }

  node(id: string): SimNode {
    return this.nodes.get(id) as SimNode;
  }

  /** The node that leads (its driver runs or it recovers to lead), else the one that led last. */
  leaderNode(): SimNode {
    return this.creator() ?? this.node(this.lastLeader);
  }

  /** The nodes other than the one leaderNode() returns. */
  others(): SimNode[] {
    const L = this.leaderNode();
    return [...this.nodes.values()].filter((n) => n !== L);
  }

  /** The node whose driver creates entries now (or whose recovery copies them), or null. */
  private creator(): SimNode | null {
    // A node that recovers while another leads asks who leads first (and then follows it).
    for (const n of this.nodes.values()) if (n.leader !== null) return n;
    for (const n of this.nodes.values()) if (n.recovering) return n;
    return null;
  }

  private leaderAcked(node: string): Acked {
    let a = this.leaderAcks.get(node);
    if (a === undefined) this.leaderAcks.set(node, (a = new Acked()));
    return a;
  }

  private allAcked(): Acked[] {
    return [this.acked.quorum, this.acked.all, ...this.leaderAcks.values()];
  }

  private count(key: string, n = 1): void {
    this.counts[key] = (this.counts[key] ?? 0) + n;
  }

  private mix(...values: number[]): void {
    for (const v of values) this.digest = (Math.imul(this.digest ^ v, 0x01000193) + 0x9e3779b9) >>> 0;
  }

  private fail(message: string): void {
    this.failure ??= new SimFailure(message);
  }

  trace(line: () => string): void {
    if (this.opts.trace !== undefined) this.opts.trace(`[${this.step} t=${this.now()}${this.healing ? ' heal' : ''}] ${line()}`);
  }

  // --- node lives -------------------------------------------------------------------------

  start(id: string): void {
    const n = this.node(id);
    check(!n.up, `${id} started twice`);
    const clock = this.sched.clock(id);
    n.clock = clock;
    n.lives++;
    n.restartAt = null;
    n.supervisorAt = null;
    n.disk.log.attach(clock);
    n.condition = new NodeCondition();
    const cfg = this.profile.cfg;
    const hooks = {
      onApplied: () => undefined,
      event: (e: { kind: string }) => this.count(`event_${e.kind}`),
      stats: emptyResyncStats(),
    };
    const transport = this.net.transport(id, clock);
    const life = n.lives;
    n.transport = transport;
    n.notice = this.notice(n, clock, n.disk.leadership);
    try {
      // As replica.ts answers: the follower's handlers while it follows, 409 is_leader otherwise.
      const notFollowing = (what: string): Promise<never> => Promise.reject(new ReplicationError(409, 'is_leader', `${id} does not follow; it takes no ${what}`));
      const recoveryGet = recoveryRoutes({ node_id: id, cluster_id: cfg.cluster_id, storage_id: n.disk.storageId(), log: n.disk.log, state: n.disk.state, filler_bytes: this.profile.snapshot.filler_bytes });
      // GET /_raft/health's leadership fields, as raft-routes.ts builds them from the replica.
      const get = (path: string): Promise<HttpResult> => {
        if (!path.startsWith('/_raft/health')) return recoveryGet(path);
        const leaderId = n.disk.leadership.leader() ?? cfg.leader;
        const role = leaderId === id && n.follower === null ? 'leader' : 'follower';
        const term = n.leader?.currentTerm() ?? n.disk.log.meta('term');
        return Promise.resolve({ status: 200, headers: {}, body: Buffer.from(JSON.stringify({ node_id: id, role, leading: n.leader !== null, leader_id: leaderId, term })) });
      };
      // This life's role switches, as Replica hands them its parts (handover.ts runs the same decisions).
      const alive = (): boolean => n.lives === life;
      const roles: RoleSwitch = {
        self: id,
        cluster_id: cfg.cluster_id,
        nodes: cfg.nodes,
        leadingTerm: () => (alive() && n.leader !== null ? n.leader.currentTerm() : null),
        notReady: () => {
          if (!alive()) return new ReplicationError(503, 'not_ready', 'stopping');
          if (n.recovering) return new ReplicationError(503, 'recovering', `${id} is recovering`);
          if (n.asking) return new ReplicationError(503, 'recovering', `${id} does not know yet which node leads`);
          return null;
        },
        asking: () => alive() && n.asking,
        follower: () => (alive() ? n.follower : null),
        get log() {
          return n.disk.log;
        },
        get record() {
          return n.disk.leadership;
        },
        follow: (leader, why) => {
          n.asking = false;
          n.disk.leadership.recordLeader(leader);
          this.trace(() => `${id}: ${why}: following ${leader}`);
          this.startFollower(n, clock, hooks);
        },
        lead: (why) => {
          n.follower = null;
          this.count('handovers_taken');
          this.trace(() => `${id} takes over from ${why.from} after ${why.last_index}`);
          this.startLeader(n, clock, transport, hooks);
          return n.leader?.currentTerm() ?? 0;
        },
      };
      n.roles = roles;
      const heard = (body: Uint8Array, kind: 'append' | 'snapshot'): void => {
        heardFrom(body, kind, { ...roles, follow: (leader, why) => {
          this.count('who_leads_heard');
          roles.follow(leader, why);
        } });
      };
      this.net.attach(id, clock, {
        append: (body) => {
          heard(body, 'append');
          return n.follower !== null && n.lives === life ? n.follower.handleAppend(body) : notFollowing('appends');
        },
        snapshot: (body) => {
          heard(body, 'snapshot');
          return n.follower !== null && n.lives === life ? n.follower.handleSnapshotChunk(body) : notFollowing('snapshots');
        },
        get,
        // As the route: a body it cannot read is a 400 (decodeTimeoutNow), then answerTimeoutNow.
        timeoutNow: (body) => Promise.resolve().then(() => answerTimeoutNow(decodeTimeoutNow(body, true), roles)),
      });
      // As the daemon starts (replica.ts): the leader recorded at a handover leads, else the
      // configured one; a new data directory asks the others first.
      const created = n.disk.openIdentity();
      const role = roleAtStart({ self: id, configured_leader: cfg.leader, recorded_leader: n.disk.leadership.leader(), leader_unknown: n.disk.leadership.leaderUnknown(), nodes: cfg.nodes.length });
      if (role === 'lead') {
        // The storage check first, and a recovery from the followers when the log is behind the
        // state or the data is gone.
        const check = checkLocalStorage(n.disk.log, n.disk.state, created, this.termRecord(n)?.recorded() ?? 0, this.variant === 'no-log-floor' ? 0 : n.disk.leadership.logFloor());
        if (check.ok || this.variant === 'skip-recovery') this.startLeader(n, clock, transport, hooks);
        else this.recoverLeader(n, check, clock, transport, hooks);
      } else if (role === 'ask') {
        this.findLeader(n, clock, transport, hooks);
      } else {
        this.startFollower(n, clock, hooks);
      }
      // A handover made before a restart that its target had not confirmed: told again.
      n.notice.schedule(0);
    } catch (err) {
      if (err instanceof SimFailure) throw err;
      this.fail(`${id} could not start: ${(err as Error).name}: ${(err as Error).message}`);
    }
    this.count(n.follower === null ? 'leader_starts' : 'follower_starts');
    this.trace(() => `${id} starts (life ${n.lives}): log ${n.disk.log.firstIndex()}..${n.disk.log.lastIndex()} applied ${n.disk.state.appliedIndex()} term ${n.disk.log.meta('term')} commit ${n.disk.log.meta('commit_index')}${n.recovering ? ' (recovering)' : ''}`);
  }

  /** Constructs the node's FollowerHandler, as replica.ts does (the leadership record, the handover's confirmation). */
  private startFollower(n: SimNode, clock: SimClock, hooks: Parameters<Sim['startLeader']>[3]): void {
    const cfg = this.profile.cfg;
    const log = n.disk.log;
    // The broken variant: the compactTo that keeps the log suffix after an install resets instead.
    const onInstall = log instanceof ResetOnInstallLog ? () => (log.resetOnNextCompact = true) : undefined;
    const receiver = new SimSnapshotReceiver(n.disk.state, onInstall);
    n.follower = new FollowerHandler({
      cfg,
      log,
      state: n.disk.state,
      snapshots: receiver,
      clock,
      logger: silent,
      hooks,
      condition: n.condition as NodeCondition,
      storage_id: n.disk.storageId(),
      marker: metaRecoveryMarker(n.disk.log),
      leadership: n.disk.leadership,
      onLeader: (leader) => {
        if (n.disk.leadership.pendingHandover()?.to === leader) n.notice?.confirmed();
        this.trace(() => `${n.id} follows ${leader}`);
      },
    });
  }

  /** The node's HandoverNotice on this life's clock and transport (as replica.ts makes it). */
  private notice(n: SimNode, clock: SimClock, record: HandoverRecord): HandoverNotice {
    const cfg = this.profile.cfg;
    return new HandoverNotice({
      record,
      clock,
      transport: n.transport as Transport,
      cluster_id: cfg.cluster_id,
      self: n.id,
      address: (to) => cfg.nodes.find((x) => x.id === to)?.address,
      timeout_ms: Math.max(cfg.append_timeout_ms, 50),
      retry_ms: 50,
      warn: () => this.count('handover_notice_failed'),
      log: () => n.disk.log,
    });
  }

  /** askWhoLeads over this life's transport (Replica.askWhoLeads); null once the life ended. */
  private askWhoLeads(n: SimNode, clock: SimClock, transport: Transport): Promise<string | null> {
    const life = n.lives;
    const cfg = this.profile.cfg;
    return askWhoLeads({
      self: n.id,
      peers: cfg.nodes.filter((p) => p.id !== n.id),
      ask: async (p) => {
        const res = await (transport.get as NonNullable<Transport['get']>)(p.address, '/_raft/health', Math.max(cfg.append_timeout_ms, 50));
        return leadershipAnswerOf(p.id, JSON.parse(res.body.toString('utf8')));
      },
      wait: (ms) => new Promise((resolve) => clock.setTimeout(() => resolve(), ms)),
      stopped: () => n.lives !== life || !clock.alive || !n.asking,
      progress: () => this.count('who_leads_waits'),
      retry_ms: 50,
    });
  }

  /** Replica.findLeader: a new data directory, not the configured leader, asks who leads; follows it, or recovers and leads when named. */
  private findLeader(n: SimNode, clock: SimClock, transport: Transport, hooks: Parameters<Sim['startLeader']>[3]): void {
    const life = n.lives;
    this.count('who_leads_asked');
    n.asking = true;
    void this.askWhoLeads(n, clock, transport).then((leader) => {
      if (leader === null || n.lives !== life || n.roles === null) return;
      const roles = n.roles;
      onLeaderNamed(leader, {
        ...roles,
        checkStorage: () => {
          this.count('who_leads_named_self');
          this.trace(() => `${n.id}: the others name it the leader: recovering`);
          // The broken variant: it leads without recovering.
          return this.variant === 'skip-recovery' ? { ok: true } : checkLocalStorage(n.disk.log, n.disk.state, true, this.termRecord(n)?.recorded() ?? 0, this.variant === 'no-log-floor' ? 0 : n.disk.leadership.logFloor());
        },
        leadNamed: () => {
          n.asking = false;
          this.startLeader(n, clock, transport, hooks);
        },
        recover: (check) => {
          n.asking = false;
          this.recoverLeader(n, check, clock, transport, hooks);
        },
      });
    }, (err: unknown) => this.fail(`${n.id}: askWhoLeads threw ${(err as Error).message}`));
  }

  /** The operator asks the leader to hand leadership to `target` (Replica.transferLeadership's steps). */
  handOver(target: string): void {
    const L = this.leaderNode();
    const driver = L.leader;
    if (driver === null || L.id === target || L.clock === null) return;
    const life = L.lives;
    const clock = L.clock;
    this.count('handovers_asked');
    this.trace(() => `${L.id}: hand leadership to ${target}`);
    // The broken variant: the fence leaves no record (the pending handover is kept in memory only, to tell the target).
    let pending: PendingHandover | null = null;
    const record = this.variant !== 'no-fence-record' ? L.disk.leadership : { ...L.disk.leadership, recordHandedOver: (h: PendingHandover) => void (pending = h), pendingHandover: () => pending, recordHandover: (h: PendingHandover | null) => void (pending = h) };
    if (this.variant === 'no-fence-record') {
      L.notice?.stop();
      L.notice = this.notice(L, clock, record);
    }
    handOverTo(driver, target, record, 2000).then(
      (h) => {
        if (L.lives !== life || !clock.alive) return;
        // What it committed is a commit a leader had (the next leader's core starts from its own log's).
        this.coreCommitSeen = Math.max(this.coreCommitSeen, driver.core.commitIndex());
        L.leader = null;
        this.startFollower(L, clock, { onApplied: () => undefined, event: (e: { kind: string }) => this.count(`event_${e.kind}`), stats: emptyResyncStats() });
        this.count('handovers_fenced');
        this.trace(() => `${L.id} handed over to ${h.to} at ${h.last_index}/${h.last_term} (term ${h.term})`);
        void L.notice?.tell().then((ok) => {
          if (!ok) L.notice?.schedule(50);
        });
      },
      (err: unknown) => {
        if (err instanceof ReplicationError) this.count(`handover_refused_${err.code}`);
        else this.fail(`handOverTo threw ${(err as Error).name}: ${(err as Error).message}`);
      },
    );
  }

  /** Constructs and starts the leader's driver (its storage holds what it acknowledged). */
  private startLeader(n: SimNode, clock: SimClock, transport: Transport, hooks: { onApplied(): void; event(e: { kind: string }): void; stats: ReturnType<typeof emptyResyncStats> }): void {
    const cfg = this.profile.cfg;
    const snapshots = new SimSnapshotShipper({
      state: n.disk.state,
      transport,
      clock,
      cluster_id: cfg.cluster_id,
      leader_id: n.id,
      chunk_bytes: this.profile.snapshot.chunk_bytes,
      inflight_max: this.profile.snapshot.inflight_max,
      chunk_timeout_ms: Math.max(cfg.append_timeout_ms, 50),
      filler_bytes: this.profile.snapshot.filler_bytes,
    });
    const driver = new LeaderDriver({ self: n.spec, cfg, log: n.disk.log, state: n.disk.state, transport, snapshots, clock, logger: silent, hooks, condition: n.condition as NodeCondition, terms: this.termRecord(n), designated: () => designationOf(n.id, n.disk.leadership) });
    n.leader = driver;
    this.lastLeader = n.id;
    this.leaderLossPending = false;
    driver.start();
  }

  /** The term record in the node's identity.json, as replica.ts hands it to the leader (none in the broken variant). */
  private termRecord(n: SimNode): TermRecord | undefined {
    return this.variant === 'no-term-record' ? undefined : n.disk.terms;
  }

  /** The daemon's recovery (recovery.ts: recoverUntilDone) on this life's disk, clock and network; then the driver. */
  private recoverLeader(n: SimNode, check: Extract<StorageCheck, { ok: false }>, clock: SimClock, transport: Transport, hooks: Parameters<Sim['startLeader']>[3]): void {
    const cfg = this.profile.cfg;
    const life = n.lives;
    n.recovering = true;
    this.lastLeader = n.id;
    n.condition?.set('recovering', check.message);
    this.count(`recovery_${check.reason}`);
    this.trace(() => `${n.id} recovers from the followers: ${check.message}`);
    void recoverUntilDone({
      log: n.disk.log,
      state: n.disk.state,
      marker: metaRecoveryMarker(n.disk.log),
      peers: new SimRecoveryPeers(transport, n.disk.state),
      terms: this.termRecord(n),
      check,
      reason: check.reason,
      followers: cfg.nodes.filter((f) => f.id !== n.id),
      cluster_id: cfg.cluster_id,
      logger: silent,
      clock,
      snapshot_timeout_ms: cfg.snapshot_timeout_s * 1000,
      progress: (m) => n.condition?.set('recovering', m),
      onAttemptFailed: (err) => {
        this.count('recovery_attempts_failed');
        this.trace(() => `${n.id} recovery attempt failed: ${err.message}`);
      },
    }).then(
      (r) => {
        // A life that died meanwhile never gets here (its clock stopped); a stopped recovery returns null.
        if (r === null || n.lives !== life || !clock.alive) return;
        n.recovering = false;
        this.count('recoveries');
        this.count('recovered_entries', r.recovered_entries);
        if (r.snapshot_index !== null) this.count('recovered_state_copies');
        this.trace(() => `${n.id} recovered ${r.recovered_entries} entries from ${r.from_node ?? 'nobody'}: log ${n.disk.log.firstIndex()}..${r.last_index} applied ${r.applied_index}`);
        // Replica.recover: a node that asked who leads and was named is recorded as the leader now.
        if (n.disk.leadership.leaderUnknown()) n.disk.leadership.recordLeader(n.id);
        this.startLeader(n, clock, transport, hooks);
        n.condition?.clear('recovering');
      },
      (err: unknown) => this.fail(`${n.id}: the recovery threw ${(err as Error).name}: ${(err as Error).message} (the process would exit)${where(err)}`),
    );
  }

  /** The process dies (kill -9): its timers go, its disk keeps what it keeps. */
  kill(id: string, how: 'crash' | 'lose-wal' | 'wipe' = 'crash', keep?: number): void {
    const n = this.node(id);
    const wasLeader = this.leaderNode() === n;
    if (n.up) {
      (n.clock as SimClock).kill();
      n.clock = null;
      n.leader = null;
      n.follower = null;
      n.condition = null;
      n.recovering = false;
      n.asking = false;
      n.notice?.stop();
      n.notice = null;
    }
    if (how !== 'crash') this.beforeDataLoss(id, wasLeader);
    if (how === 'crash') n.disk.crash(keep);
    else if (how === 'lose-wal') n.disk.loseWal();
    else n.disk.wipe();
    n.supervisorAt = null;
    if (wasLeader && how !== 'crash') this.afterLeaderDataLoss(n);
    this.mix(0xdead, NODES.indexOf(id), how.length);
    this.count(`${how}_${wasLeader ? 'leader' : 'follower'}`);
    this.trace(() => `${id} ${how}: disk keeps ${n.disk.log.firstIndex()}..${n.disk.log.lastIndex()} applied ${n.disk.state.appliedIndex()}`);
  }

  /**
   * The leader lost its WAL or its directory. Until it recovered, no other data-loss fault. The
   * commit index it persisted went with it; so did `leader`-concern writes it alone held (that
   * concern promises the leader's disk only): they are no longer counted. Entries after what its
   * log still holds may live on in a follower's log, and may be replaced once it leads again.
   */
  private afterLeaderDataLoss(n: SimNode): void {
    this.leaderLossPending = true;
    this.durableCommitSeen = { node: n.id, commit: n.disk.log.durable().meta.commit_index };
    // What its state applied it still holds (replacing one of those fails the state check).
    this.history.markLostAfter(Math.max(n.disk.log.durable().lastIndex, n.disk.state.appliedIndex()));
    const cov = this.coverage(n);
    const a = this.leaderAcked(n.id);
    const kept = a.relaxed.filter((i) => cov.some(([lo, hi]) => lo <= i && i <= hi));
    this.count('acked_leader_uncounted_after_leader_loss', a.relaxed.length - kept.length);
    a.relaxed.length = 0;
    a.relaxed.push(...kept);
  }

  /** Acknowledged writes within `cov` need one copy fewer until they are restored. */
  private relax(cov: Coverage): void {
    for (const a of this.allAcked()) {
      const keep: number[] = [];
      for (const i of a.strict) {
        if (cov.some(([lo, hi]) => lo <= i && i <= hi)) insertSorted(a.relaxed, i);
        else keep.push(i);
      }
      a.strict.length = 0;
      a.strict.push(...keep);
    }
  }

  /** A fault is about to take data from a node: acknowledged writes it held need one copy fewer until restored. */
  private beforeDataLoss(id: string, wasLeader: boolean): void {
    const n = this.node(id);
    const cov = this.coverage(n);
    this.relax(cov);
    // Answers from before the loss may still be on the wire until then.
    const net = this.profile.net;
    if (wasLeader) return;
    // The leader may still count answers the follower gave before the loss, until its view is corrected.
    this.lostData.set(id, this.now() + net.delay_ms_max + net.slow_ms_max + 1);
    this.lossRecords.push({ node: id, cov, upTo: this.history.lastIndex() });
  }

  /** Adds an acknowledged write: one copy fewer is needed when a data loss took one the leader had counted. */
  private addAcked(a: Acked, index: number): void {
    if (this.lossRecords.some((r) => index <= r.upTo && r.cov.some(([lo, hi]) => lo <= index && index <= hi))) insertSorted(a.relaxed, index);
    else a.add(index);
  }

  /** Indexes acknowledged with this concern (or a stronger one), ascending. */
  acknowledged(concern: WriteConcern): number[] {
    const lists = concern === 'leader' ? [...this.leaderAcks.values()] : [this.acked[concern]];
    return [...new Set(lists.flatMap((a) => [...a.strict, ...a.relaxed]))].sort((x, y) => x - y);
  }

  // --- clients ----------------------------------------------------------------------------

  propose(concern: WriteConcern, payload: Uint8Array, onDone?: (ok: boolean) => void): void {
    const L = this.leaderNode();
    if (L.recovering || L.asking) {
      // As Replica.propose answers while the leader recovers or asks who leads: 503 recovering.
      this.count('refused_recovering');
      onDone?.(false);
      return;
    }
    const driver = L.leader;
    if (driver === null) {
      // Between a handover's fence and the target's first term: the old leader forwards to a node not leading yet.
      this.count('refused_no_leader');
      onDone?.(false);
      return;
    }
    const life = L.lives;
    this.count(`proposed_${concern}`);
    driver.propose(payload, concern).then(
      ({ index }) => {
        if (L.lives !== life) return;
        const e = this.history.get(index);
        check(e !== undefined, `write acknowledged at ${index} that no leader created`);
        const other = this.ackTerms.get(e.term);
        check(other === undefined || other === L.id, `${L.id} acknowledged write ${index} of term ${e.term}, whose writes ${other} acknowledged too (two leaders in one term)`);
        this.ackTerms.set(e.term, L.id);
        if (concern !== 'leader') this.addAcked(this.acked[concern], index);
        this.addAcked(this.leaderAcked(L.id), index);
        if (concern === 'all') this.addAcked(this.acked.quorum, index);
        this.count(`acked_${concern}`);
        this.mix(index, concern.length);
        onDone?.(true);
      },
      (err: unknown) => {
        if (err instanceof ReplicationError) this.count(`refused_${err.code}`);
        else this.fail(`propose failed with ${(err as Error).name}: ${(err as Error).message}, not a ReplicationError`);
        onDone?.(false);
      },
    );
  }

  forceResync(id: string): void {
    const driver = this.leaderNode().leader;
    if (id === this.leaderNode().id) return;
    if (driver === null) return;
    this.count('force_resyncs');
    this.trace(() => `force-resync ${id}`);
    driver.forceResync(id).then(
      (r) => this.count(r.ok ? 'force_resync_ok' : 'force_resync_failed'),
      (err: unknown) => {
        if (!(err instanceof ReplicationError)) this.fail(`forceResync threw ${(err as Error).message}`);
      },
    );
  }

  // --- the run ----------------------------------------------------------------------------

  /**
   * Runs fn with performance.now() reading the simulated clock plus the CPU time applies took
   * (apply_ms_per_entry). The drivers read it for measurements, and applySlice to decide when to
   * yield: on the wall clock a slow moment (a GC pause) would change what happens next, and a seed
   * would not replay. fn never yields to the
   * event loop (callbacks are run by the scheduler, microtasks drained with process.nextTick), so
   * nothing else in the process sees the simulated clock meanwhile.
   */
  async session<T>(fn: () => Promise<T>): Promise<T> {
    const real = Object.getOwnPropertyDescriptor(performance, 'now');
    Object.defineProperty(performance, 'now', { value: () => this.sched.now() + this.cpuMs, configurable: true, writable: true });
    try {
      return await fn();
    } finally {
      if (real === undefined) Reflect.deleteProperty(performance, 'now');
      else Object.defineProperty(performance, 'now', real);
    }
  }

  runRandom(): Promise<SimResult> {
    return this.session(() => this.randomRun());
  }

  private async randomRun(): Promise<SimResult> {
    try {
      for (const id of [...FOLLOWERS, LEADER]) this.start(id);
      this.checkFailure();
      for (; this.step < this.opts.steps; this.step++) {
        this.faults();
        this.work();
        await this.advance(this.rng.int(0, this.profile.step_ms_max));
      }
      const healStart = this.now();
      await this.heal();
      return this.result(this.now() - healStart);
    } catch (err) {
      throw this.wrap(err);
    }
  }

  wrap(err: unknown): SimFailure {
    const message = err instanceof Error ? err.message : String(err);
    const failure = new SimFailure(`seed ${this.opts.seed} failed at step ${this.step} (t=${this.now()} ms): ${message}`);
    failure.cause = err;
    return failure;
  }

  result(heal_ms: number): SimResult {
    const L = this.leaderNode();
    const counts: Record<string, number> = { ...this.counts, ...prefixed('net_', this.net.counts) };
    for (const n of this.nodes.values()) for (const [k, v] of Object.entries(n.disk.log.counts)) counts[`disk_${k}`] = (counts[`disk_${k}`] ?? 0) + v;
    counts.state_left_open = [...this.nodes.values()].reduce((n, node) => n + node.disk.state.counts.left_open, 0);
    counts.entries_replaced = this.history.replaced;
    counts.callbacks = this.sched.ran;
    counts.immediates = this.sched.immediates;
    return {
      seed: this.opts.seed,
      steps: this.step,
      now_ms: this.now(),
      last_index: L.disk.log.lastIndex(),
      commit_index: L.disk.log.meta('commit_index'),
      heal_ms,
      counts,
      digest: this.digest,
    };
  }

  /** Runs the cluster for ms of simulated time, then every checker. */
  async advance(ms: number): Promise<void> {
    await this.sched.runUntil(this.now() + ms);
    this.checkFailure();
    this.checkStep();
  }

  private checkFailure(): void {
    if (this.failure !== null) throw this.failure;
  }

  private faults(): void {
    const P = this.profile;
    const rng = this.rng;
    const now = this.now();
    const leader = this.leaderNode();
    for (const n of this.nodes.values()) {
      const isLeader = n === leader;
      if (!n.up) {
        if (n.restartAt !== null && now >= n.restartAt) this.start(n.id);
        continue;
      }
      if (n.fullUntil !== null && now >= n.fullUntil) {
        n.disk.log.free();
        n.fullUntil = null;
        n.condition?.clear('disk_full');
        this.trace(() => `${n.id} disk freed`);
      }
      if (this.supervise(n)) continue;
      const dataLossOk = (!isLeader || P.leader_data_loss) && this.lossQuiet();
      if (rng.chance(isLeader ? P.leader_crash : P.crash)) this.down(n, 'crash');
      else if (dataLossOk && rng.chance(P.lose_wal)) this.down(n, 'lose-wal');
      else if (dataLossOk && rng.chance(P.wipe)) this.down(n, 'wipe');
      else if (rng.chance(P.fsync_fail)) {
        n.disk.log.failNextSync();
        this.count('fsync_failures_armed');
        this.trace(() => `${n.id}: next fsync fails`);
      } else if (n.fullUntil === null && rng.chance(P.disk_full)) {
        n.disk.log.fill();
        n.fullUntil = now + rng.int(1, P.full_ms_max);
        this.count('disk_full');
        this.trace(() => `${n.id} disk full`);
      }
    }
    if (rng.chance(P.cut)) {
      const L = this.leaderNode().id;
      const f = rng.pick(NODES.filter((x) => x !== L));
      const [from, to] = rng.chance(0.5) ? [L, f] : [f, L];
      this.net.cut(from, to, now + rng.int(1, P.cut_ms_max));
      this.count('cuts');
      this.trace(() => `link ${from}->${to} cut`);
    }
  }

  /** A node whose fsync failed is restarted a while later, as its supervisor would. True when it was. */
  private supervise(n: SimNode): boolean {
    if (!n.up) return false;
    if (n.disk.log.syncFailed() && n.supervisorAt === null) n.supervisorAt = this.now() + this.rng.int(1, this.profile.supervisor_ms_max);
    if (n.supervisorAt === null || this.now() < n.supervisorAt) return false;
    this.count('supervisor_restarts');
    this.trace(() => `${n.id}: restarted by its supervisor after a failed fsync`);
    this.kill(n.id);
    this.start(n.id);
    return true;
  }

  private down(n: SimNode, how: 'crash' | 'lose-wal' | 'wipe'): void {
    this.kill(n.id, how);
    n.restartAt = this.now() + this.rng.int(1, this.profile.down_ms_max);
  }

  /** No acknowledged write is short of a copy (a second data loss now could lose it for real). */
  private lossQuiet(): boolean {
    return this.allAcked().every((a) => a.relaxed.length === 0) && this.lostData.size === 0 && !this.leaderLossPending;
  }

  private work(): void {
    const P = this.profile;
    const rng = this.rng;
    if (rng.chance(P.propose)) {
      const n = rng.int(1, P.propose_burst_max);
      for (let i = 0; i < n; i++) {
        const concern = rng.pick<WriteConcern>(['leader', 'quorum', 'quorum', 'quorum', 'all']);
        this.propose(concern, rng.bytes(rng.int(0, P.payload_bytes_max)));
      }
    }
    if (rng.chance(P.force_resync)) this.forceResync(rng.pick(this.others().map((n) => n.id)));
    if (P.handover > 0 && this.handovers.chance(P.handover)) this.handOver(this.handovers.pick(this.others().map((n) => n.id)));
  }

  /** Faults off, network healed, every node up; a quorum write must be acknowledged and all three converge. */
  async heal(): Promise<void> {
    this.healing = true;
    this.net.faults = { ...quietNetwork, delay_ms_max: healed_delay_ms_max };
    this.net.healAll();
    for (const n of this.nodes.values()) {
      n.disk.log.free();
      n.disk.log.disarm();
      n.fullUntil = null;
      if (n.up && n.disk.log.syncFailed()) this.kill(n.id);
      if (!n.up) this.start(n.id);
      n.condition?.clear('disk_full');
    }
    this.trace(() => 'heal: faults off, all nodes up');
    const healStart = this.now();
    const backlog = Math.max(...NODES.map((id) => this.node(id).disk.log.lastIndex())) - Math.min(...NODES.map((id) => this.node(id).disk.log.lastIndex()));
    const deadline = healStart + heal_ms_max + Math.ceil((10 * backlog) / this.profile.cfg.inflight_batches_max);
    const heal: { write: 'none' | 'pending' | 'acked' } = { write: 'none' };
    let convergedAt: number | null = null;
    for (; ; this.step++) {
      if (heal.write === 'none' && this.leaderNode().leader !== null) {
        heal.write = 'pending';
        this.propose('quorum', this.rng.bytes(4), (ok) => (heal.write = ok ? 'acked' : 'none'));
      }
      await this.advance(2);
      for (const n of this.nodes.values()) this.supervise(n);
      const problem = heal.write === 'acked' ? this.divergence() : `the heal write is ${heal.write === 'none' ? 'not proposed yet' : 'not acknowledged yet'}`;
      if (problem === null) {
        convergedAt ??= this.now();
        if (this.now() - convergedAt >= quiet_ms) break;
      } else {
        if (convergedAt !== null) {
          this.count('diverged_after_converging');
          this.trace(() => `diverged again after converging: ${problem}`);
          convergedAt = null;
        }
        check(this.now() < deadline, `no convergence ${deadline - healStart} ms after healing (backlog ${backlog}): ${problem}`);
      }
    }
    this.fullCheck();
  }

  /** Why the cluster has not converged, or null when it has. */
  private divergence(): string | null {
    const L = this.leaderNode();
    const driver = L.leader;
    if (driver === null) return 'leader down';
    const log = L.disk.log;
    const core = driver.core as unknown as CoreView;
    if (core.commitIndex() !== log.lastIndex()) return `leader commit ${core.commitIndex()} < last ${log.lastIndex()}`;
    if (L.disk.state.appliedIndex() !== log.lastIndex()) return `leader applied ${L.disk.state.appliedIndex()} < last ${log.lastIndex()}`;
    for (const n of this.others()) {
      const f = n.id;
      if (n.disk.log.lastIndex() !== log.lastIndex()) return `${f} last ${n.disk.log.lastIndex()} != leader ${log.lastIndex()}`;
      if (n.disk.state.appliedIndex() !== L.disk.state.appliedIndex()) return `${f} applied ${n.disk.state.appliedIndex()} != leader ${L.disk.state.appliedIndex()}`;
      if (n.disk.state.value() !== L.disk.state.value()) return `${f} state differs from the leader's`;
      const p = core.followers().find((x) => x.id === f);
      if (p !== undefined && p.health !== 'healthy') return `${f} is ${p.health} (match ${p.match_index}, failures ${p.consecutive_failures}, needs_snapshot ${p.needs_snapshot})`;
    }
    return null;
  }

  // --- checkers ---------------------------------------------------------------------------

  /** Every entry written to any log: the leader's are creations, a follower's must be the leader's. */
  private onWrite(node: string, entries: readonly Entry[]): void {
    if (this.failure !== null) return;
    try {
      const creator = this.creator();
      if (creator === null || node !== creator.id) {
        for (const e of entries) this.history.checkEntry(node, e);
        return;
      }
      if (creator.recovering) {
        // A recovering leader copies a follower's entries: each is one a leader created there. One
        // a newer leader life replaced, on storage since lost (it reached no follower), is from
        // then on the entry at its index, as if created again.
        for (const e of entries) {
          if (this.history.get(e.index)?.checksum === e.checksum) this.history.checkEntry(node, e);
          else {
            check(this.history.isSuperseded(e), `the recovering leader copied an entry at ${e.index} (term ${e.term}) that no leader created`);
            this.count('recovered_superseded_entries');
            this.created(e);
          }
        }
        return;
      }
      for (const e of entries) {
        const other = this.termCreators.get(e.term);
        check(other === undefined || other === node, `${node} created entry ${e.index} in term ${e.term}, a term ${other} created entries in (two leaders in one term)`);
        this.termCreators.set(e.term, node);
        this.created(e);
      }
    } catch (err) {
      this.fail((err as Error).message);
    }
  }

  /** The leader writes e at e.index: a new entry there, or one that replaces another. */
  private created(e: Entry): void {
    const old = this.history.record(e);
    if (old === undefined) return;
    const lost = this.history.lostByLeader(old);
    // The leader writes an index again: only after losing an entry there that never left it.
    for (const a of this.allAcked()) {
      check(lowerBound(a.strict, e.index) >= a.strict.length && lowerBound(a.relaxed, e.index) >= a.relaxed.length, `the leader wrote index ${e.index} again though a write at or after it was acknowledged`);
    }
    for (const other of this.others()) {
      const f = other.id;
      const d = other.disk;
      // An entry the leader's storage lost may be on a follower (it was durable when sent); not one it never lost.
      if (!lost) check(d.log.checksumAt(e.index) !== old.checksum && d.log.durable().entryAt(e.index)?.checksum !== old.checksum, `the leader wrote index ${e.index} again but ${f} holds the entry it replaced (sent before it was durable?)`);
      check(d.state.appliedIndex() < e.index, `the leader wrote index ${e.index} again but ${f} applied up to ${d.state.appliedIndex()}`);
    }
  }

  /** What a node holds for sure: its state up to its applied index, and its durable log. */
  private coverage(n: SimNode, counting_copies = false): Coverage {
    const d = n.disk.log.durable();
    // As a copy of a quorum write, a log a recovery is still rebuilding holds entries only
    // provisionally: a restart during the recovery starts it over from the followers (the log it
    // fetched is dropped; the state stays).
    if (counting_copies && (d.meta[RECOVERY_PENDING_KEY] ?? 0) !== 0) return [[1, n.disk.state.appliedIndex()]];
    return [
      [1, n.disk.state.appliedIndex()],
      [d.snapIndex + 1, d.lastIndex],
    ];
  }

  private checkAcked(what: string, a: Acked, covs: Coverage[], need: number): void {
    const top = Math.max(a.strict[a.strict.length - 1] ?? 0, a.relaxed[a.relaxed.length - 1] ?? 0);
    if (top === 0) return;
    for (const s of segments(covs, top)) {
      if (s.count < need) {
        const k = lowerBound(a.strict, s.lo);
        const i = a.strict[k];
        check(i === undefined || i > s.hi, `write ${i} acknowledged with ${what} is held durably by ${s.count} node(s), not ${need}`);
      }
      if (a.relaxed.length === 0) continue;
      const lo = lowerBound(a.relaxed, s.lo);
      const hi = lowerBound(a.relaxed, s.hi + 1);
      if (hi <= lo) continue;
      check(s.count >= need - 1, `write ${a.relaxed[lo]} acknowledged with ${what} is held durably by ${s.count} node(s) after a data loss (needs ${need - 1}, then ${need})`);
      if (s.count >= need) for (const i of a.relaxed.splice(lo, hi - lo)) insertSorted(a.strict, i);
    }
  }

  checkStep(): void {
    const L = this.leaderNode();
    const H = this.history;
    const all = [...this.nodes.values()];
    // A recovery that starts makes the node's log copies provisional (coverage): like a data loss,
    // the writes held there need one copy fewer until they are restored.
    for (const n of all) {
      if ((n.disk.log.durable().meta[RECOVERY_PENDING_KEY] ?? 0) === 0) continue;
      const applied = n.disk.state.appliedIndex();
      const provisional: Coverage = this.coverage(n).map(([lo, hi]): [number, number] => [Math.max(lo, applied + 1), hi]).filter(([lo, hi]) => hi >= lo);
      if (provisional.length > 0) this.relax(provisional);
    }
    const covs = all.map((n) => this.coverage(n, true));
    for (const [id, a] of this.leaderAcks) this.checkAcked(`leader (by ${id})`, a, [this.coverage(this.node(id))], 1);
    check(all.filter((n) => n.leader !== null).length <= 1, `two nodes lead at once: ${all.filter((n) => n.leader !== null).map((n) => n.id).join(', ')}`);
    this.checkAcked('quorum', this.acked.quorum, covs, 2);
    this.checkAcked('all', this.acked.all, covs, 3);
    // The leader's persisted commit never moves back, across restarts.
    const durableCommit = L.disk.log.durable().meta.commit_index;
    // Per node: a handover's new leader starts from its own.
    if (this.durableCommitSeen.node !== L.id) this.durableCommitSeen = { node: L.id, commit: durableCommit };
    check(durableCommit >= this.durableCommitSeen.commit, `the leader's durable commit went back from ${this.durableCommitSeen.commit} to ${durableCommit}`);
    this.durableCommitSeen.commit = durableCommit;
    for (const n of all) {
      const applied = n.disk.state.appliedIndex();
      check(applied <= H.lastIndex(), `${n.id} applied ${applied} beyond anything created (${H.lastIndex()})`);
      check(n.disk.state.value() === H.stateAt(applied), `${n.id} state at ${applied} is not the state the leader's entries 1..${applied} build`);
      check(applied <= Math.max(this.coreCommitSeen, durableCommit, L.leader?.core.commitIndex() ?? 0), `${n.id} applied ${applied} beyond any commit the leader had`);
      const last = n.disk.log.entryAt(n.disk.log.lastIndex());
      if (last !== undefined) H.checkEntry(n.id, last, n === this.creator());
    }
    const driver = L.leader;
    if (driver !== null) {
      const core = driver.core as unknown as CoreView;
      const commit = core.commitIndex();
      if (this.lifeCommit.life !== `${L.id}/${L.lives}`) this.lifeCommit = { life: `${L.id}/${L.lives}`, commit: 0 };
      check(commit >= this.lifeCommit.commit, `the leader's commit went back from ${this.lifeCommit.commit} to ${commit}`);
      check(commit >= durableCommit, `the leader's commit ${commit} is below its durable commit ${durableCommit}`);
      this.lifeCommit.commit = commit;
      this.coreCommitSeen = Math.max(this.coreCommitSeen, commit);
      // A read on the leader (what the public API serves once it has applied the read index) sees
      // every write acknowledged with quorum or all so far: reads on the leader are linearizable.
      const readIndex = this.variant === 'reads-at-once' ? 0 : core.readIndex();
      const applied = L.disk.state.appliedIndex();
      if (applied >= readIndex) {
        const newest = Math.max(this.acked.quorum.newest(), this.acked.all.newest());
        check(newest <= applied, `${L.id} leads and would answer a read from index ${applied} (read index ${readIndex}), but write ${newest} was acknowledged with quorum`);
        this.count('leader_reads_checked');
      } else this.count('leader_reads_held');
      if (!L.disk.log.syncFailed()) check(core.durableIndex() <= L.disk.log.durable().lastIndex, `the leader counts ${core.durableIndex()} durable, its disk holds ${L.disk.log.durable().lastIndex}`);
      for (const p of core.followers()) {
        const f = this.node(p.id);
        const holds = f.disk.log.durable().lastIndex;
        const lostUntil = this.lostData.get(p.id);
        if (lostUntil !== undefined) {
          if (p.match_index <= holds && this.now() > lostUntil) {
            this.lostData.delete(p.id);
            this.lossRecords = this.lossRecords.filter((r) => r.node !== p.id);
          }
          continue;
        }
        check(p.match_index <= Math.max(holds, f.disk.state.appliedIndex()), `the leader thinks ${p.id} matches ${p.match_index} but it holds ${holds} durably`);
      }
    }
    if (this.step % full_check_every_steps === 0) this.fullCheck();
  }

  private fullCheck(): void {
    const creator = this.creator();
    for (const n of this.nodes.values()) for (const e of n.disk.log.allEntries()) this.history.checkEntry(n.id, e, n === creator);
  }
}

/** Where an unexpected error came from: the first frames of its stack outside the simulation. */
function where(err: unknown): string {
  const stack = (err as Error).stack ?? '';
  const frames = stack.split('\n').filter((l) => l.trim().startsWith('at ') && !l.includes('/test/sim/'));
  return frames.length === 0 ? '' : `\n    ${frames.slice(0, 3).map((l) => l.trim()).join('\n    ')}`;
}

function prefixed(prefix: string, o: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) out[prefix + k] = v;
  return out;
}

/** A log that drops its whole suffix on the first compactTo after a snapshot install (see Variant). */
export class ResetOnInstallLog extends SimLog {
  resetOnNextCompact = false;

  override compactTo(index: number): number {
    if (!this.resetOnNextCompact) return super.compactTo(index);
    this.resetOnNextCompact = false;
    const term = this.termAt(index) ?? this.snapshotTerm();
    const removed = this.lastIndex() - this.snapshotIndex();
    this.resetTo(index, term, this.meta('term'));
    return removed;
  }

  override resetTo(index: number, term: number, current_term: number): void {
    this.resetOnNextCompact = false;
    super.resetTo(index, term, current_term);
  }
}

function makeLog(variant: Variant, node: string, rng: Prng, o: DiskOptions, w?: WriteWatcher): SimLog {
  if (variant === 'reset-on-install') return new ResetOnInstallLog(node, rng, o, w);
  if (variant === 'no-sync') return new SimLog(node, rng, { ...o, lie_about_sync: true }, w);
  return new SimLog(node, rng, o, w);
}
