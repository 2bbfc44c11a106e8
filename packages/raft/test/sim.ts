// A seeded deterministic simulation of one leader and two followers around the pure core
// (LeaderCore, decideAppend, MemoryLog). One PRNG draws every choice and the clock is simulated,
// so a seed replays exactly. Checkers run after every step; see DESIGN.md ("The simulation").
import type { Entry, LeaderOptions } from '../src/index.ts';
import { History, SimFailure, check } from './sim/history.ts';
import { Network } from './sim/network.ts';
import type { NetworkFaults } from './sim/network.ts';
import { FollowerNode, LEADER, LeaderNode, describeWire } from './sim/nodes.ts';
import type { LeaderTimeouts, SnapshotInstall, Wire, WriteConcern } from './sim/nodes.ts';
import { Prng } from './sim/prng.ts';

export { SimFailure };

export interface SimOptions {
  seed: number;
  /** Steps with faults; a heal phase follows until convergence. */
  steps: number;
  snapshot_install?: SnapshotInstall;
  /** Receives one line per event when set (replaying a seed). */
  trace?: (line: string) => void;
}

/** The fault and workload mix, drawn from the seed so that seeds cover different regimes. */
export interface SimProfile {
  step_ms_max: number;
  faults: NetworkFaults;
  propose: number;
  propose_entries_max: number;
  payload_bytes_max: number;
  follower_crash: number;
  follower_down_ms_max: number;
  leader_crash: number;
  leader_down_ms_max: number;
  partition: number;
  partition_ms_max: number;
  compact: number;
  compact_tail: number;
  force_snapshot: number;
  core: LeaderOptions;
  timeouts: LeaderTimeouts;
}

export interface SimResult {
  seed: number;
  steps: number;
  now_ms: number;
  last_index: number;
  commit_index: number;
  heal_ms: number;
  counts: Record<string, number>;
}

/** Simulated time the healed cluster gets to converge before the run fails. */
export const heal_ms_max = 20_000;
/** After convergence, it must stay converged this long. */
const quiet_ms = 300;
/** Whole-log comparison of every node against the reference, every this many steps. */
const full_check_every_steps = 256;

const FOLLOWERS = ['f1', 'f2'];

export function drawProfile(rng: Prng): SimProfile {
  const delay_ms_max = rng.pick([1, 5, 20, 60]);
  const heartbeat_ms = rng.pick([10, 30, 80]);
  return {
    step_ms_max: rng.int(1, 8),
    faults: {
      drop: rng.pick([0, 0.01, 0.05, 0.2]),
      duplicate: rng.pick([0, 0.02, 0.1]),
      corrupt: rng.pick([0, 0, 0.005, 0.03]),
      delay_ms_min: 0,
      delay_ms_max,
    },
    propose: rng.pick([0.05, 0.2, 0.5]),
    propose_entries_max: rng.int(1, 6),
    payload_bytes_max: rng.pick([0, 16, 64]),
    follower_crash: rng.pick([0, 0.0005, 0.002, 0.005]),
    follower_down_ms_max: rng.pick([50, 500, 2000]),
    leader_crash: rng.pick([0, 0.0005, 0.002]),
    leader_down_ms_max: rng.pick([10, 200, 1000]),
    partition: rng.pick([0, 0.001, 0.004]),
    partition_ms_max: rng.pick([100, 800, 3000]),
    compact: rng.pick([0, 0.01, 0.05]),
    compact_tail: rng.int(0, 30),
    force_snapshot: rng.pick([0, 0, 0.0005, 0.003]),
    core: {
      followers: FOLLOWERS,
      batch_entries_max: rng.int(1, 12),
      batch_bytes_max: rng.pick([16, 128, 1 << 20]),
      inflight_batches_max: rng.int(1, 4),
      resync_threshold: rng.int(8, 120),
      lag_healthy_max: rng.int(0, 10),
      failures_lagging: rng.int(1, 4),
      silence_lagging_ms: heartbeat_ms * rng.int(3, 8) + 2 * delay_ms_max,
      heartbeat_ms,
      snapshots_inflight_max: rng.int(1, 2),
      snapshot_backoff_ms_min: rng.pick([5, 20, 60]),
      snapshot_backoff_ms_max: rng.pick([100, 400, 1500]),
      retry_backoff_ms_max: rng.pick([40, 200, 800]),
      quorum_acks: 1,
    },
    timeouts: {
      append_timeout_ms: rng.pick([delay_ms_max, 2 * delay_ms_max + 5, 200]),
      snapshot_timeout_ms: rng.pick([50, 300]),
      snapshot_extra_delay_ms_max: rng.pick([0, 30, 200]),
    },
  };
}

/** Flips one thing in a request so it must be refused with 400 (checksum, index, term, payload). */
function corrupt(body: Wire, rng: Prng): Wire | null {
  if (body.kind === 'snapshot') return { ...body, corrupted: true, snap: { ...body.snap, state: (body.snap.state ^ 1) >>> 0 } };
  if (body.kind !== 'append') return null;
  const req = body.req;
  const entries = req.entries.slice();
  const how = entries.length === 0 ? 4 : rng.int(0, 4);
  const i = rng.int(0, Math.max(0, entries.length - 1));
  const e = entries[i] as Entry;
  if (how === 0) {
    if (e.payload.length === 0) entries[i] = { ...e, checksum: (e.checksum ^ 0x55) >>> 0 };
    else {
      const payload = e.payload.slice();
      payload[0] = ((payload[0] as number) ^ 0xff) & 0xff;
      entries[i] = { ...e, payload };
    }
  } else if (how === 1) entries[i] = { ...e, index: e.index + 1 };
  else if (how === 2) entries[i] = { ...e, term: req.term + 1 };
  else if (how === 3) entries[i] = { ...e, payload: undefined as unknown as Uint8Array };
  else return { ...body, corrupted: true, req: { ...req, prev_term: req.term + 1 } };
  return { ...body, corrupted: true, req: { ...req, entries } };
}

export function runSim(opts: SimOptions): SimResult {
  const sim = new Sim(opts);
  try {
    return sim.run();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const failure = new SimFailure(`seed ${opts.seed} failed at step ${sim.step} (t=${sim.now}ms): ${message}`);
    failure.cause = err;
    throw failure;
  }
}

class Sim {
  step = 0;
  now = 0;
  private readonly rng: Prng;
  private readonly profile: SimProfile;
  private readonly history = new History();
  private readonly net: Network<Wire>;
  private readonly leader: LeaderNode;
  private readonly followers: FollowerNode[];
  /** When a crashed node comes back. */
  private readonly restartAt = new Map<string, number>();
  /** Highest commit index each node ever had (it must never go back, restarts included). */
  private readonly commitSeen = new Map<string, number>();
  private readonly lastSeen = new Map<string, number>();
  private readonly counts = { follower_crashes: 0, leader_crashes: 0, partitions: 0, compactions: 0, forced_snapshots: 0, refused_proposals: 0 };
  private healing = false;
  /** Highest commit the leader ever told a follower (in an append or as a snapshot index). */
  private reportedCommit = 0;

  constructor(private readonly opts: SimOptions) {
    this.rng = new Prng(opts.seed);
    this.profile = drawProfile(this.rng);
    this.net = new Network<Wire>(this.rng, { ...this.profile.faults }, corrupt);
    this.leader = new LeaderNode(this.profile.core, this.profile.timeouts, this.history);
    this.followers = FOLLOWERS.map((id) => new FollowerNode(id, this.history, opts.snapshot_install ?? 'keep-matching-suffix'));
    this.trace(() => `profile ${JSON.stringify(this.profile)}`);
  }

  run(): SimResult {
    this.leader.start();
    for (; this.step < this.opts.steps; this.step++) {
      this.now += this.rng.int(0, this.profile.step_ms_max);
      this.faultEvents();
      this.workEvents();
      this.tick();
    }
    const healStart = this.now;
    this.heal();
    return {
      seed: this.opts.seed,
      steps: this.step,
      now_ms: this.now,
      last_index: this.leader.log.lastIndex(),
      commit_index: this.leader.commit,
      heal_ms: this.now - healStart,
      counts: { ...this.counts, ...this.leader.counts, ...this.net.counts, ...sumCounts(this.followers.map((f) => f.counts)) },
    };
  }

  /** Heal everything, stop faults, write a few quorum writes, and wait for convergence. */
  private heal(): void {
    this.healing = true;
    this.net.faults = { drop: 0, duplicate: 0, corrupt: 0, delay_ms_min: 0, delay_ms_max: 3 };
    this.net.healAll();
    const t = this.profile.timeouts;
    this.leader.timeouts = { ...t, append_timeout_ms: Math.max(t.append_timeout_ms, 30), snapshot_timeout_ms: Math.max(t.snapshot_timeout_ms, t.snapshot_extra_delay_ms_max + 50) };
    for (const f of this.followers) if (!f.up) this.restartFollower(f);
    if (!this.leader.up) this.restartLeader();
    this.trace(() => 'heal: faults off, all nodes up');
    const healStart = this.now;
    // Catching up is bounded by throughput: allow a round trip (at most 10 ms healed) per entry
    // behind per pipelined slot, on top of heal_ms_max (a profile can ship one entry per batch).
    const backlog = this.leader.log.lastIndex() - Math.min(...this.followers.map((f) => f.log.lastIndex()));
    const deadline = this.now + heal_ms_max + Math.ceil((10 * backlog) / this.profile.core.inflight_batches_max);
    let proposed = false;
    let convergedAt: number | null = null;
    for (; ; this.step++) {
      this.now += 2;
      if (!proposed) proposed = this.leader.propose([this.rng.bytes(4)], 'quorum');
      this.tick();
      const problem = proposed ? this.divergence() : 'the heal write is not proposed yet';
      if (problem === null) {
        convergedAt ??= this.now;
        if (this.now - convergedAt >= quiet_ms) break;
      } else {
        check(convergedAt === null, `diverged again after converging: ${problem}`);
        check(this.now < deadline, `no convergence ${deadline - healStart}ms after healing (backlog ${backlog}): ${problem}`);
      }
    }
    this.fullCheck();
  }

  /** Why the cluster has not converged, or null when it has. */
  private divergence(): string | null {
    const L = this.leader;
    const core = L.core;
    if (core === null) return 'leader down';
    if (L.pending.length > 0) return `${L.pending.length} writes still pending`;
    if (L.commit !== L.log.lastIndex()) return `leader commit ${L.commit} < last ${L.log.lastIndex()}`;
    for (const f of this.followers) {
      if (f.log.lastIndex() !== L.log.lastIndex()) return `${f.id} last ${f.log.lastIndex()} != leader ${L.log.lastIndex()}`;
      if (f.commit !== L.commit) return `${f.id} commit ${f.commit} != leader ${L.commit}`;
      if (f.state !== L.state) return `${f.id} state differs from the leader's`;
      const p = core.follower(f.id);
      if (p.health !== 'healthy') return `${f.id} is ${p.health} (match ${p.match_index}, failures ${p.consecutive_failures}, needs_snapshot ${p.needs_snapshot})`;
    }
    return null;
  }

  private faultEvents(): void {
    const P = this.profile;
    const rng = this.rng;
    for (const f of this.followers) {
      const at = this.restartAt.get(f.id);
      if (!f.up && at !== undefined && this.now >= at) this.restartFollower(f);
      else if (f.up && rng.chance(P.follower_crash)) {
        f.up = false;
        this.counts.follower_crashes++;
        this.restartAt.set(f.id, this.now + rng.int(1, P.follower_down_ms_max));
        this.net.dropWhere((m) => m.to === f.id || m.from === f.id);
        this.trace(() => `${f.id} crashes`);
      }
    }
    const at = this.restartAt.get(LEADER);
    if (!this.leader.up && at !== undefined && this.now >= at) this.restartLeader();
    else if (this.leader.up && rng.chance(P.leader_crash)) {
      this.leader.crash();
      this.counts.leader_crashes++;
      this.restartAt.set(LEADER, this.now + rng.int(1, P.leader_down_ms_max));
      // Its connections die: answers to it are lost. Requests already on the wire still arrive.
      this.net.dropWhere((m) => m.to === LEADER);
      this.trace(() => 'leader crashes');
    }
    if (rng.chance(P.partition)) {
      const f = rng.pick(this.followers);
      const a = rng.chance(0.8) ? LEADER : (this.followers.find((g) => g !== f) as FollowerNode).id;
      this.net.cut(a, f.id, this.now + rng.int(1, P.partition_ms_max));
      this.counts.partitions++;
      this.trace(() => `link ${a}-${f.id} cut`);
    }
  }

  private workEvents(): void {
    const P = this.profile;
    const rng = this.rng;
    if (this.leader.up && rng.chance(P.propose)) {
      const n = rng.int(1, P.propose_entries_max);
      const payloads: Uint8Array[] = [];
      for (let i = 0; i < n; i++) payloads.push(rng.bytes(rng.int(0, P.payload_bytes_max)));
      const concern: WriteConcern = rng.pick(['leader', 'quorum', 'quorum', 'quorum', 'all']);
      if (!this.leader.propose(payloads, concern)) this.counts.refused_proposals++;
      this.trace(() => `propose ${n} (${concern}) -> last ${this.leader.log.lastIndex()}`);
    }
    if (rng.chance(P.compact)) {
      this.leader.compact(P.compact_tail);
      for (const f of this.followers) f.compact(P.compact_tail);
      this.counts.compactions++;
      this.trace(() => `compact: leader first ${this.leader.log.firstIndex()}`);
    }
    if (this.leader.core !== null && rng.chance(P.force_snapshot)) {
      const f = rng.pick(this.followers);
      this.leader.core.requestSnapshot(f.id);
      this.counts.forced_snapshots++;
      this.trace(() => `force-resync ${f.id}`);
    }
  }

  /** Deliver what is due, let the leader's driver act, then run every checker. */
  private tick(): void {
    for (const m of this.net.takeDue(this.now)) {
      if (m.to === LEADER) {
        if (this.leader.up) this.leader.onMessage(m.body, this.now);
        continue;
      }
      const f = this.followers.find((g) => g.id === m.to) as FollowerNode;
      if (!f.up) continue;
      const answer = m.body.kind === 'append' ? f.onAppend(m.body) : m.body.kind === 'snapshot' ? f.onSnapshot(m.body) : null;
      check(answer !== null, `${f.id} got a ${m.body.kind}`);
      if ((m.body.kind === 'append' || m.body.kind === 'snapshot') && m.body.corrupted === true) {
        const refused = (answer.kind === 'append_err' && answer.status === 400) || (answer.kind === 'snapshot_res' && !answer.ok);
        check(refused, `${f.id} did not refuse a corrupted ${m.body.kind}: ${describeWire(answer)}`);
      }
      this.trace(() => `${f.id} <- ${describeWire(m.body)} => ${describeWire(answer)}`);
      this.net.send(f.id, LEADER, answer, this.now);
    }
    if (this.leader.up) {
      this.leader.drive(this.now, this.leaderSend, this.snapshotDelay);
    }
    this.checkStep();
  }

  /** The leader's sends go on the network; the sim notes the highest commit it ever reported. */
  private readonly leaderSend = (to: string, body: Wire, extra?: number): void => {
    if (body.kind === 'append') this.reportedCommit = Math.max(this.reportedCommit, body.req.leader_commit);
    if (body.kind === 'snapshot') this.reportedCommit = Math.max(this.reportedCommit, body.snap.index);
    this.net.send(LEADER, to, body, this.now, extra);
  };

  private readonly snapshotDelay = (): number => this.rng.int(0, this.profile.timeouts.snapshot_extra_delay_ms_max);

  private restartFollower(f: FollowerNode): void {
    f.up = true;
    this.restartAt.delete(f.id);
    this.trace(() => `${f.id} restarts: last ${f.log.lastIndex()} commit ${f.commit} term ${f.term}`);
  }

  private restartLeader(): void {
    this.restartAt.delete(LEADER);
    this.leader.start();
    this.trace(() => `leader restarts in term ${this.leader.term}: last ${this.leader.log.lastIndex()} commit ${this.leader.commit}`);
  }

  private checkStep(): void {
    const L = this.leader;
    const H = this.history;
    // The leader holds every entry ever created (it never loses or reuses an index).
    check(L.log.lastIndex() === H.lastIndex(), `leader last ${L.log.lastIndex()} != created ${H.lastIndex()}`);
    check(L.commit <= L.log.lastIndex(), 'leader commit beyond its log');
    this.monotonic(LEADER, L.commit, L.log.lastIndex());
    check(L.state === H.stateAt(L.commit), `leader state is not the state at its commit ${L.commit}`);
    for (const f of this.followers) {
      check(f.commit <= L.commit, `${f.id} applied ${f.commit} beyond the leader's commit ${L.commit}`);
      check(f.commit <= this.reportedCommit, `${f.id} applied ${f.commit} beyond any commit the leader reported (${this.reportedCommit})`);
      check(f.commit <= f.log.lastIndex(), `${f.id} commit beyond its log`);
      check(f.term <= L.term, `${f.id} term ${f.term} newer than the leader's ${L.term}`);
      this.monotonic(f.id, f.commit, f.log.lastIndex());
      check(f.state === H.stateAt(f.commit), `${f.id} state is not the state at its commit ${f.commit} (applied out of order?)`);
      const last = f.log.entryAt(f.log.lastIndex());
      if (last !== undefined) H.checkEntry(f.id, last);
      if (f.log.snapshotIndex() > 0) check(f.log.snapshotTerm() === H.termAt(f.log.snapshotIndex()), `${f.id} snapshot term differs`);
    }
    // Acknowledged writes: on the leader; with quorum on a follower too; with all on both.
    const [f1, f2] = this.followers as [FollowerNode, FollowerNode];
    const ackedQuorum = Math.max(L.acked.quorum, L.acked.all);
    check(L.log.lastIndex() >= Math.max(L.acked.leader, ackedQuorum), 'an acknowledged write is missing on the leader');
    check(Math.max(f1.log.lastIndex(), f2.log.lastIndex()) >= ackedQuorum, `write ${ackedQuorum} acknowledged with quorum is on no follower (f1 ${f1.log.lastIndex()}, f2 ${f2.log.lastIndex()})`);
    check(Math.min(f1.log.lastIndex(), f2.log.lastIndex()) >= L.acked.all, `write ${L.acked.all} acknowledged with all is missing on a follower`);
    this.checkCore();
    if (this.step % full_check_every_steps === 0) this.fullCheck();
  }

  /** The leader's view of each follower: never more than the follower holds; limits respected. */
  private checkCore(): void {
    const core = this.leader.core;
    if (core === null) return;
    const o = this.profile.core;
    check(core.durableIndex() === this.leader.log.lastIndex(), 'core durable index != leader log');
    check(core.commitIndex() === this.leader.commit, 'core commit not persisted');
    let snapshotting = 0;
    for (const p of core.followers()) {
      const f = this.followers.find((g) => g.id === p.id) as FollowerNode;
      check(p.match_index <= f.log.lastIndex(), `leader thinks ${p.id} matches ${p.match_index} but it holds ${f.log.lastIndex()}`);
      check(p.next_index > p.match_index, `${p.id} next ${p.next_index} <= match ${p.match_index}`);
      check(p.inflight <= o.inflight_batches_max, `${p.id} inflight ${p.inflight} > inflight_batches_max`);
      if (p.snapshotting) snapshotting++;
      const lag = core.lag(p);
      if (p.health === 'healthy') {
        check(lag <= o.lag_healthy_max, `${p.id} healthy with lag ${lag} > lag_healthy_max ${o.lag_healthy_max}`);
        check(p.consecutive_failures < o.failures_lagging, `${p.id} healthy with ${p.consecutive_failures} failures`);
      }
      check((p.health === 'desynced') === (p.needs_snapshot || p.snapshotting), `${p.id} is ${p.health} but needs_snapshot ${p.needs_snapshot}, snapshotting ${p.snapshotting}`);
    }
    check(snapshotting <= o.snapshots_inflight_max, `${snapshotting} snapshots in flight > snapshots_inflight_max`);
  }

  private monotonic(id: string, commit: number, last: number): void {
    const seen = this.commitSeen.get(id) ?? 0;
    check(commit >= seen, `${id} commit went back from ${seen} to ${commit}`);
    this.commitSeen.set(id, commit);
    const lastSeen = this.lastSeen.get(id) ?? 0;
    check(last >= lastSeen, `${id} last index went back from ${lastSeen} to ${last}`);
    this.lastSeen.set(id, last);
  }

  private fullCheck(): void {
    this.history.checkLog(LEADER, this.leader.log);
    for (const f of this.followers) this.history.checkLog(f.id, f.log);
  }

  private trace(line: () => string): void {
    if (this.opts.trace !== undefined) this.opts.trace(`[${this.step} t=${this.now}${this.healing ? ' heal' : ''}] ${line()}`);
  }
}

function sumCounts(all: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of all) for (const [k, v] of Object.entries(c)) out[k] = (out[k] ?? 0) + v;
  return out;
}
