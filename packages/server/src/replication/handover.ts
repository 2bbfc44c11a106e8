// A planned leadership handover, as every node carries it out: the daemon (replica.ts) and the
// seeded simulation (test/sim) run these same steps on their own parts.
//
// 1. The leader (handOverTo): refuses a target that is not a healthy follower, then
//    LeaderDriver.handOver: no new writes, a designation of the target logged last, and once the
//    core says the target holds everything (LeaderCore.transferReadiness) the fence: the target
//    recorded as the leader together with the pending handover, one durable write. From then on
//    this node never leads again unless leadership is handed back; it follows the target.
// 2. The old leader tells the target (HandoverNotice: POST /_raft/timeout-now), again every
//    retry_ms until it confirms, also after a restart (the pending handover is on disk).
// 3. The target (takeOver): only from the leader it follows, only when its durable log ends
//    exactly where the old leader's did (a target that lost the tail it had matched, e.g. its WAL,
//    says where its log ends and the old leader sends it the rest: handoverCatchUp); then it stops following, drops any entries past that end
//    (never committed: the old leader did not hold them), records itself as the leader and leads
//    in a new term above every term it holds (its LeaderDriver opens it).
import { handoverCatchUp } from '@cairn/raft';
import type { LogReader } from '@cairn/raft';
import type { LeaderDriver } from './leader-driver.ts';
import type { FollowerHandler } from './follower-handler.ts';
import type { PendingHandover, StorageCheck } from './identity.ts';
import type { Clock, LeadershipRecord, ReplicaLog, TimerHandle } from './ports.ts';
import type { Transport } from './transport.ts';
import { ReplicationError } from './errors.ts';
import { decode, decodeAppendRequest, decodeSnapshotChunk, encode } from './wire.ts';

/** identity.json's part in a handover (FileTermRecord; SimDisk in the simulation). */
export interface HandoverRecord extends LeadershipRecord {
  /** The handover waiting for its target's confirmation, or null. */
  pendingHandover(): PendingHandover | null;
  /** The fence: `to` leads, and the handover waits for its confirmation; durable on return. */
  recordHandedOver(h: PendingHandover): void;
  /** Records (or with null clears) the pending handover; durable on return. */
  recordHandover(h: PendingHandover | null): void;
}

/** The body of POST /_raft/timeout-now. */
export interface TimeoutNowRequest {
  cluster_id: string;
  /** The old leader. */
  from: string;
  /** The old leader's term, and where its log ended at the fence. */
  term: number;
  last_index: number;
  last_term: number;
}

/** Parses a timeout-now body (msgpack or JSON, already decoded); throws naming what is wrong. */
export function parseTimeoutNow(o: unknown): TimeoutNowRequest {
  const r = o as Record<string, unknown> | null;
  const ints = r !== null && typeof r === 'object' && ['term', 'last_index', 'last_term'].every((k) => Number.isSafeInteger(r[k]) && (r[k] as number) >= 0);
  if (!ints || typeof r.cluster_id !== 'string' || typeof r.from !== 'string') throw new Error('expected {cluster_id, from, term, last_index, last_term}');
  return { cluster_id: r.cluster_id, from: r.from, term: r.term as number, last_index: r.last_index as number, last_term: r.last_term as number };
}

/**
 * The leader's side: hands leadership to `target` once it is a healthy follower holding
 * everything, with the fence recorded durably. Resolves with the pending handover (what the
 * target must be told); the caller stops leading and follows the target.
 */
export async function handOverTo(driver: LeaderDriver, target: string, record: HandoverRecord, timeout_ms: number): Promise<PendingHandover> {
  const p = driver.core.follower(target);
  if (p.health !== 'healthy') {
    throw new ReplicationError(409, 'target_unhealthy', `${target} is ${p.health}${p.desync_reason === null ? '' : ` (${p.desync_reason})`}: leadership goes only to a healthy follower`, { target, health: p.health });
  }
  const at = await driver.handOver(target, (h) => record.recordHandedOver({ to: target, ...h }), timeout_ms);
  return { to: target, ...at };
}

/**
 * The target's side of POST /_raft/timeout-now, for a node that follows (`follower`): throws a
 * ReplicationError when it may not take over (another cluster, not from its leader, an older
 * term, its log not ending where the old leader's did); else stops the follower, drops entries
 * past the old leader's end and records this node as the leader. The caller then starts its
 * leader driver, which opens a new term.
 */
export function takeOver(req: TimeoutNowRequest, t: { cluster_id: string; self: string; follower: FollowerHandler; log: ReplicaLog; record: LeadershipRecord }): void {
  if (req.cluster_id !== t.cluster_id) throw new ReplicationError(409, 'wrong_cluster', `request from cluster "${req.cluster_id}", this node is in "${t.cluster_id}"`);
  const f = t.follower;
  if (f.leaderId() !== req.from) throw new ReplicationError(409, 'wrong_leader', `${req.from} is not this node's leader (${f.leaderId()}): only the leader hands leadership over`);
  if (req.term < f.currentTerm()) throw new ReplicationError(409, 'stale_term', `handover from term ${req.term}, this node is in term ${f.currentTerm()}`, { term: f.currentTerm() });
  const log = t.log;
  if (log.durableIndex() < req.last_index || log.termAt(req.last_index) !== req.last_term) {
    const at = Math.min(req.last_index, log.lastIndex());
    // durable_index: where the old leader sends the rest from (handoverCatchUp), when this node lost the tail it had matched.
    throw new ReplicationError(409, 'not_caught_up', `this node's log holds ${log.durableIndex()} (term ${log.termAt(at) ?? '?'} at ${at}), the old leader's ended at ${req.last_index} (term ${req.last_term})`, { durable_index: Math.min(log.durableIndex(), req.last_index) });
  }
  f.stop();
  // Entries past the old leader's end were never committed (they are not in its log): dropped.
  if (log.lastIndex() > req.last_index) log.write({ truncate_from: req.last_index + 1, entries: [] });
  // The handover designated this node, whether or not it appended the designation entry itself (a
  // snapshot may have brought it): its snapshots name it, for followers that missed the entry.
  if (t.record.designated() !== t.self) t.record.recordDesignated(t.self);
  // Where the old leader's log ended is committed and held here now: a lost WAL that takes it
  // before this node's own term is recorded (a full disk delays its NOOP) must not go unnoticed.
  t.record.recordLeader(t.self, req.last_index);
}

export interface HandoverNoticeDeps {
  record: HandoverRecord;
  clock: Clock;
  transport: Transport;
  cluster_id: string;
  self: string;
  /** host:port of a node, or undefined for one not in the cluster. */
  address(id: string): string | undefined;
  timeout_ms: number;
  retry_ms: number;
  warn(detail: Record<string, unknown>, message: string): void;
  /** This node's log: a target that lost what it had matched is sent the rest from it. */
  log(): LogReader;
}

/** At most this many entries, about this many payload bytes, per append to a handover target that lost its log's tail. */
const CATCH_UP_ENTRIES_MAX = 1000;
const CATCH_UP_BYTES_MAX = 4 * 1024 * 1024;

/** Tells the target of the pending handover to take over, until it confirms. */
export class HandoverNotice {
  private timer: TimerHandle | null = null;
  private stopped = false;

  constructor(private readonly d: HandoverNoticeDeps) {}

  /** Tells the target now; true once it confirmed (the pending handover is then cleared). */
  async tell(): Promise<boolean> {
    const h = this.d.record.pendingHandover();
    if (h === null) return true;
    const address = this.d.address(h.to);
    if (address === undefined) return false;
    const req: TimeoutNowRequest = { cluster_id: this.d.cluster_id, from: this.d.self, term: h.term, last_index: h.last_index, last_term: h.last_term };
    try {
      const res = await this.d.transport.post(address, '/_raft/timeout-now', encode(req), this.d.timeout_ms);
      if (res.status === 200) {
        this.confirmed();
        return true;
      }
      let error: unknown = null;
      try {
        error = (JSON.parse(res.body.toString('utf8')) as { error?: unknown }).error;
      } catch {
        error = res.body.toString('utf8').slice(0, 200);
      }
      this.d.warn({ to: h.to, status: res.status, error }, 'the handover target did not take over yet');
      const e = error as { code?: unknown; durable_index?: unknown } | null;
      if (res.status === 409 && e !== null && typeof e === 'object' && e.code === 'not_caught_up' && typeof e.durable_index === 'number') await this.catchUp(h, address, e.durable_index);
    } catch (err) {
      this.d.warn({ to: h.to, err: (err as Error).message }, 'the handover target is unreachable');
    }
    return false;
  }

  /** Sends a target that lost the tail it had matched the entries after `held` (handoverCatchUp); it is told again at the next retry. */
  private async catchUp(h: PendingHandover, address: string, held: number): Promise<void> {
    const a = handoverCatchUp(this.d.log(), h, held, CATCH_UP_ENTRIES_MAX, CATCH_UP_BYTES_MAX);
    if (a === null) {
      this.d.warn({ to: h.to, held, last_index: h.last_index }, 'the handover target lacks entries this log no longer holds: only a snapshot brings it up (hand leadership back, or force-resync it from a leader)');
      return;
    }
    const body = encode({ cluster_id: this.d.cluster_id, leader_id: this.d.self, ...a });
    try {
      const res = await this.d.transport.post(address, '/_raft/append', body, this.d.timeout_ms);
      if (res.status !== 200) this.d.warn({ to: h.to, status: res.status, body: res.body.toString('utf8').slice(0, 200) }, 'the handover target refused the entries it lacks');
    } catch (err) {
      this.d.warn({ to: h.to, err: (err as Error).message }, 'could not send the handover target the entries it lacks');
    }
  }

  /** Tells the target after ms, then every retry_ms until it confirms (nothing when none is pending). */
  schedule(ms: number): void {
    if (this.timer !== null || this.stopped || this.d.record.pendingHandover() === null) return;
    this.timer = this.d.clock.setTimeout(() => {
      this.timer = null;
      void this.tell().then((ok) => {
        if (!ok) this.schedule(this.d.retry_ms);
      });
    }, ms);
  }

  /** The target leads (it answered, or an append of its own arrived): the pending handover is cleared. */
  confirmed(): void {
    if (this.timer !== null) this.d.clock.clearTimeout(this.timer);
    this.timer = null;
    if (this.d.record.pendingHandover() !== null) this.d.record.recordHandover(null);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.d.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * Decodes a timeout-now body: msgpack (what HandoverNotice sends) or JSON. A body that is neither,
 * or lacks a field, is the sender's mistake: 400 bad_request, never an exception that ends the node.
 */
export function decodeTimeoutNow(body: Uint8Array, msgpack: boolean): TimeoutNowRequest {
  try {
    return parseTimeoutNow(msgpack ? decode(body) : JSON.parse(Buffer.from(body).toString('utf8')));
  } catch (err) {
    throw new ReplicationError(400, 'bad_request', `timeout-now body: ${(err as Error).message}`);
  }
}

/**
 * The designation a leader's snapshots carry (SnapshotTarget.designated): itself when it leads by
 * record (a handover designated it, or the others named it after it lost its data), else the last
 * designation it appended. A follower that missed the entry takes the newer term on it.
 */
export function designationOf(self: string, record: LeadershipRecord): string | null {
  return record.leader() === self ? self : record.designated();
}

/** What a node says of leadership (GET /_raft/health). */
export interface LeadershipAnswer {
  node_id: string;
  /** 'leader' when it leads or recovers to lead, else 'follower'. */
  role: string;
  /** True only while its driver runs: it creates entries now (GET /_raft/health's `leading`). */
  leading: boolean;
  leader_id: string;
  term: number;
}

/**
 * How a node starts: 'ask' while its data directory does not know which node leads (it is new, or
 * a restart came before it learnt it) in a cluster of several nodes: leadership may have moved on
 * by handovers it no longer remembers, so it asks the others first (askWhoLeads), the configured
 * leader too. Else 'lead' when it is the leader it knows of (the one recorded, else the configured
 * one; its storage is checked next), or 'follow' that leader.
 */
export function roleAtStart(t: { self: string; configured_leader: string; recorded_leader: string | null; leader_unknown: boolean; nodes: number }): 'lead' | 'follow' | 'ask' {
  if (t.leader_unknown && t.nodes > 1) return 'ask';
  return (t.recorded_leader ?? t.configured_leader) === t.self ? 'lead' : 'follow';
}

/**
 * Who leads, from the answers of every other node: one whose driver runs (only one node leads at a
 * time: a leader hands over only after it stopped creating entries), else the leader named by the
 * answer with the newest term (ties: the first), followed along the answers: when the node named
 * answered too, in that term or a newer one, and names another, it knows better (it handed
 * leadership to that one, and the others have not heard from the new leader yet). Null without
 * answers.
 */
export function leaderFromAnswers(answers: readonly LeadershipAnswer[]): string | null {
  const leading = answers.find((a) => a.leading);
  if (leading !== undefined) return leading.node_id;
  let newest: LeadershipAnswer | null = null;
  for (const a of answers) if (newest === null || a.term > newest.term) newest = a;
  if (newest === null) return null;
  let pick = newest.leader_id;
  let term = newest.term;
  const seen = new Set([pick]);
  for (;;) {
    const own = answers.find((a) => a.node_id === pick);
    if (own === undefined || own.term < term || seen.has(own.leader_id)) return pick;
    pick = own.leader_id;
    term = own.term;
    seen.add(pick);
  }
}

/**
 * Asks the peers who leads: at once when one answers that it leads now, else once every peer has
 * answered (the others may name this node, whose recovery needs every one anyway), then decides
 * (leaderFromAnswers; a node with no peers leads itself). Null when stopped meanwhile.
 */
export async function askWhoLeads(d: {
  self: string;
  peers: readonly { id: string; address: string }[];
  ask(peer: { id: string; address: string }): Promise<LeadershipAnswer | null>;
  wait(ms: number): Promise<void>;
  stopped(): boolean;
  /** Called with the peers not answering yet, before each wait. */
  progress(waiting: readonly { id: string; address: string }[]): void;
  retry_ms: number;
}): Promise<string | null> {
  const answers = new Map<string, LeadershipAnswer>();
  while (answers.size < d.peers.length) {
    if (d.stopped()) return null;
    for (const p of d.peers) {
      if (answers.has(p.id)) continue;
      try {
        const a = await d.ask(p);
        if (a !== null) answers.set(p.id, { ...a, node_id: p.id });
        if (a?.leading === true) return d.stopped() ? null : p.id;
      } catch {
        // Not answering yet: asked again.
      }
    }
    if (answers.size < d.peers.length) {
      // Stopped while the round ran (the node learnt its leader from an append): no progress to report.
      if (d.stopped()) return null;
      d.progress(d.peers.filter((p) => !answers.has(p.id)));
      await d.wait(d.retry_ms);
    }
  }
  if (d.stopped()) return null;
  return leaderFromAnswers([...answers.values()]) ?? d.self;
}

/**
 * A node asking who leads that receives an append or a snapshot chunk takes it as the sender's word
 * that it leads, as a `leading` answer would say: only a running driver sends them. The sender's id
 * when the message comes from another node of this cluster; null otherwise (the follower handler
 * then never sees it, and the request is refused as to a node not following). A late message from a
 * leader that handed over since only delays: its successor's appends (a newer term, with the
 * designation) are taken over its own.
 */
export function senderLeads(body: Uint8Array, kind: 'append' | 'snapshot', d: { self: string; cluster_id: string; nodes: readonly { id: string }[] }): string | null {
  let m: { cluster_id: string; leader_id: string };
  try {
    m = kind === 'append' ? decodeAppendRequest(body) : decodeSnapshotChunk(body);
  } catch {
    return null;
  }
  if (m.cluster_id !== d.cluster_id || m.leader_id === d.self || !d.nodes.some((n) => n.id === m.leader_id)) return null;
  return m.leader_id;
}

/** A /_raft/health body as a LeadershipAnswer, or null when it is not one. */
export function leadershipAnswerOf(node_id: string, h: unknown): LeadershipAnswer | null {
  const o = h as { role?: unknown; leading?: unknown; leader_id?: unknown; term?: unknown } | null;
  if (o === null || typeof o !== 'object' || typeof o.role !== 'string' || typeof o.leader_id !== 'string' || typeof o.term !== 'number') return null;
  return { node_id, role: o.role, leading: o.leading === true, leader_id: o.leader_id, term: o.term };
}

// ---------------------------------------------------------------------------------------------
// Role switches: how a node changes role on what it is told. Replica runs these on its parts, the
// seeded simulation on its simulated nodes, so the simulation checks the switching that ships.

/** What a node exposes to switch role (Replica; a node of the simulation). */
export interface RoleSwitch {
  self: string;
  cluster_id: string;
  nodes: readonly { id: string }[];
  /** The running driver's term, or null when this node does not lead now. */
  leadingTerm(): number | null;
  /** Why it takes no leader's work yet (asking who leads, recovering its storage, stopping), or null. */
  notReady(): ReplicationError | null;
  /** True while it asks which node leads (roleAtStart 'ask'). */
  asking(): boolean;
  follower(): FollowerHandler | null;
  log: ReplicaLog;
  record: LeadershipRecord;
  /** Stops asking and follows `leader`, recorded (so a restart follows it too). */
  follow(leader: string, why: string): void;
  /** Stops following and leads: constructs and starts its driver, which opens a new term; returns it. */
  lead(why: { from: string; last_index: number }): number;
}

/**
 * POST /_raft/timeout-now: the old leader tells this node to take over. A node that leads already
 * says so (a repeated notice); one that is not ready says why (503); else takeOver decides, and
 * the node leads.
 */
export function answerTimeoutNow(req: TimeoutNowRequest, n: RoleSwitch): { ok: true; leader: string; term: number } {
  if (req.cluster_id !== n.cluster_id) throw new ReplicationError(409, 'wrong_cluster', `request from cluster "${req.cluster_id}", this node is in "${n.cluster_id}"`);
  const leading = n.leadingTerm();
  if (leading !== null) return { ok: true, leader: n.self, term: leading };
  const notReady = n.notReady();
  if (notReady !== null) throw notReady;
  const f = n.follower();
  if (f === null) throw new ReplicationError(503, 'not_ready', 'this node is neither leading nor following yet', { retry_after_s: 1 });
  takeOver(req, { cluster_id: n.cluster_id, self: n.self, follower: f, log: n.log, record: n.record });
  return { ok: true, leader: n.self, term: n.lead({ from: req.from, last_index: req.last_index }) };
}

/** An append or snapshot chunk arrived: a node asking who leads follows its sender (senderLeads). */
export function heardFrom(body: Uint8Array, kind: 'append' | 'snapshot', n: Pick<RoleSwitch, 'self' | 'cluster_id' | 'nodes' | 'asking' | 'follower' | 'follow'>): void {
  if (!n.asking() || n.follower() !== null) return;
  const leader = senderLeads(body, kind, n);
  if (leader === null) return;
  n.follow(leader, `data directory new, an ${kind} came from ${leader}`);
}

/**
 * The other nodes answered which node leads (askWhoLeads). Another one: follow it. This one (a new
 * cluster, or it led and lost its data): lead, once its storage holds what it may have
 * acknowledged (checkLocalStorage), else recover from the followers first; it is recorded as the
 * leader only then, so a restart before asks again.
 */
export function onLeaderNamed(leader: string, n: Pick<RoleSwitch, 'self' | 'follow' | 'record'> & { checkStorage(): StorageCheck; leadNamed(): void; recover(check: Extract<StorageCheck, { ok: false }>): void }): void {
  if (leader !== n.self) {
    n.follow(leader, 'data directory new');
    return;
  }
  const check = n.checkStorage();
  if (check.ok) {
    n.record.recordLeader(n.self);
    n.leadNamed();
  } else n.recover(check);
}
