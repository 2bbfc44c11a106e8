// The simulated nodes: what the daemon will do around the pure core, with the disk modelled as
// fields that survive a crash. A follower persists (log, term, commit + state) before it answers;
// the leader's log is durable before it is sent and its commit is persisted before any write is
// acknowledged with it.
import { ENTRY_COMMAND, ENTRY_NOOP, LeaderCore, MemoryLog, crc32, decideAppend, makeEntry } from '../../src/index.ts';
import type { AppendRequest, AppendResponse, Entry, LeaderOptions } from '../../src/index.ts';
import { applyToState, check } from './history.ts';
import type { History } from './history.ts';

export const LEADER = 'leader';

/** The leader's applied state at its commit index, as it travels in a snapshot. */
export interface Snapshot {
  index: number;
  term: number;
  state: number;
  checksum: number;
}

export function snapshotChecksum(index: number, term: number, state: number): number {
  const buf = new Uint8Array(24);
  const view = new DataView(buf.buffer);
  view.setFloat64(0, index);
  view.setFloat64(8, term);
  view.setFloat64(16, state);
  return crc32(buf);
}

export type Wire =
  /** corrupted: set by the network when it damaged the message (the follower must refuse it). */
  | { kind: 'append'; req_id: number; incarnation: number; req: AppendRequest; corrupted?: true }
  | { kind: 'append_res'; req_id: number; incarnation: number; res: AppendResponse }
  | { kind: 'append_err'; req_id: number; incarnation: number; status: 400 | 409; message: string }
  | { kind: 'snapshot'; req_id: number; incarnation: number; leader_term: number; snap: Snapshot; corrupted?: true }
  | { kind: 'snapshot_res'; req_id: number; incarnation: number; ok: boolean; index: number };

/**
 * How a follower installs a snapshot. 'keep-matching-suffix' (the rule in DESIGN.md) keeps the log
 * entries after the snapshot index when the log holds the snapshot's index and term, and ignores a
 * snapshot at or below its commit index. 'reset' always drops the whole log: it exists so a test
 * can show the checkers catch what that loses.
 */
export type SnapshotInstall = 'keep-matching-suffix' | 'reset';

export type WriteConcern = 'leader' | 'quorum' | 'all';

/** One line for a message, as traces and interaction scripts print it. */
export function describeWire(w: Wire): string {
  switch (w.kind) {
    case 'append':
      return `append#${w.req_id} prev ${w.req.prev_index}/${w.req.prev_term} +${w.req.entries.length} commit ${w.req.leader_commit} term ${w.req.term}`;
    case 'append_res':
      return `${w.res.success ? 'ok' : `reject(${w.res.reason})`} match ${w.res.match_index} last ${w.res.last_index}`;
    case 'append_err':
      return `${w.status} ${w.message}`;
    case 'snapshot':
      return `snapshot#${w.req_id} at ${w.snap.index}/${w.snap.term}`;
    case 'snapshot_res':
      return `snapshot ${w.ok ? 'ok' : 'refused'} at ${w.index}`;
  }
}

export class FollowerNode {
  readonly id: string;
  up = true;
  // The disk: survives a crash.
  readonly log = new MemoryLog();
  term = 0;
  /** Commit index and applied index are one: entries are applied as soon as they are committed. */
  commit = 0;
  state = 0;
  readonly counts = { accepted: 0, rejected: 0, invalid: 0, stale_term: 0, snapshots_installed: 0, snapshots_ignored: 0, snapshots_refused: 0 };
  private readonly history: History;
  private readonly install: SnapshotInstall;

  constructor(id: string, history: History, install: SnapshotInstall) {
    this.id = id;
    this.history = history;
    this.install = install;
  }

  onAppend(msg: Extract<Wire, { kind: 'append' }>): Wire {
    const req = msg.req;
    const d = decideAppend({ log: this.log, current_term: this.term, commit_index: this.commit, leader_id: LEADER }, req);
    const ids = { req_id: msg.req_id, incarnation: msg.incarnation };
    if (d.kind === 'invalid') {
      if (d.status === 409) this.counts.stale_term++;
      else this.counts.invalid++;
      return { kind: 'append_err', ...ids, status: d.status, message: d.message };
    }
    if (d.kind === 'reject') {
      this.counts.rejected++;
      check(d.response.last_index <= this.log.lastIndex(), `${this.id} rejects with last_index beyond its log`);
      this.term = Math.max(this.term, req.term);
      return { kind: 'append_res', ...ids, res: d.response };
    }
    this.counts.accepted++;
    check(d.term >= this.term, `${this.id} told to persist older term ${d.term} < ${this.term}`);
    check(d.commit_to >= this.commit, `${this.id} told to move commit back`);
    check(d.commit_to === this.commit || d.commit_to <= req.leader_commit, `${this.id} told to commit ${d.commit_to} past leader_commit ${req.leader_commit}`);
    // Persist: truncate + append + term, then answer. Nothing here can fail halfway in the model.
    if (d.truncate_from !== null) {
      check(d.truncate_from > this.commit, `${this.id} told to truncate committed entries from ${d.truncate_from}`);
      this.log.truncateFrom(d.truncate_from);
    }
    for (const e of d.append) this.history.checkEntry(this.id, e);
    this.log.append(d.append);
    this.term = d.term;
    check(d.response.match_index <= this.log.lastIndex(), `${this.id} answers match ${d.response.match_index} beyond its log ${this.log.lastIndex()}`);
    this.applyTo(d.commit_to);
    return { kind: 'append_res', ...ids, res: d.response };
  }

  onSnapshot(msg: Extract<Wire, { kind: 'snapshot' }>): Wire {
    const snap = msg.snap;
    const answer = (ok: boolean): Wire => ({ kind: 'snapshot_res', req_id: msg.req_id, incarnation: msg.incarnation, ok, index: snap.index });
    if (msg.leader_term < this.term || snapshotChecksum(snap.index, snap.term, snap.state) !== snap.checksum) {
      this.counts.snapshots_refused++;
      return answer(false);
    }
    this.term = msg.leader_term;
    if (this.install === 'reset') {
      this.log.resetTo(snap.index, snap.term);
      this.state = snap.state;
      this.commit = snap.index;
      this.counts.snapshots_installed++;
      return answer(true);
    }
    if (snap.index <= this.commit) {
      // Older than what we applied (a delayed transfer): installing it would move state back.
      this.counts.snapshots_ignored++;
      return answer(true);
    }
    // Full replace of state; the log keeps what it holds past the snapshot when it matches there.
    if (snap.index <= this.log.lastIndex() && this.log.termAt(snap.index) === snap.term) this.log.compactTo(snap.index);
    else this.log.resetTo(snap.index, snap.term);
    this.state = snap.state;
    this.commit = snap.index;
    this.counts.snapshots_installed++;
    return answer(true);
  }

  /** Local log compaction: only applied entries, keeping a tail. */
  compact(tail: number): void {
    const to = Math.min(this.commit, this.log.lastIndex() - tail);
    if (to > this.log.snapshotIndex()) this.log.compactTo(to);
  }

  private applyTo(index: number): void {
    for (let i = this.commit + 1; i <= index; i++) {
      const e = this.log.entryAt(i);
      check(e !== undefined, `${this.id} applies ${i} it does not hold`);
      this.state = applyToState(this.state, e);
      this.commit = i;
    }
  }
}

interface Outstanding {
  follower: string;
  epoch: number;
  kind: 'append' | 'snapshot';
  sent_ms: number;
}

export interface PendingWrite {
  index: number;
  concern: WriteConcern;
}

export interface LeaderTimeouts {
  append_timeout_ms: number;
  snapshot_timeout_ms: number;
  snapshot_extra_delay_ms_max: number;
}

export type Send = (to: string, body: Wire, extra_delay_ms?: number) => void;

/** Client writes waiting for their concern, at most this many (a client past it is refused). */
export const pending_writes_max = 256;

export class LeaderNode {
  readonly id = LEADER;
  up = true;
  // The disk: survives a crash.
  readonly log = new MemoryLog();
  term = 0;
  commit = 0;
  state = 0;
  // Memory: lost on a crash.
  core: LeaderCore | null = null;
  incarnation = 0;
  private readonly outstanding = new Map<number, Outstanding>();
  private nextReqId = 1;
  pending: PendingWrite[] = [];
  /** Highest index acknowledged per concern (a write at index i covers every write below it). */
  readonly acked = { leader: 0, quorum: 0, all: 0 };
  /** What the last ackWrites pass saw: nothing can be acknowledged until one of them moves. */
  private ackChecked = { pending: 0, commit: -1, all: -1 };
  readonly counts = { writes_acked: 0, writes_failed: 0, restarts: 0, snapshots_sent: 0, appends_sent: 0, timeouts: 0 };
  private readonly opts: LeaderOptions;
  /** The heal phase lengthens them past the healed round trip (a timeout below it never succeeds). */
  timeouts: LeaderTimeouts;
  private readonly history: History;

  constructor(opts: LeaderOptions, timeouts: LeaderTimeouts, history: History) {
    this.opts = opts;
    this.timeouts = timeouts;
    this.history = history;
  }

  /** Boot from disk: a new term, a new core, and a NOOP that opens the term. */
  start(): void {
    check(this.core === null, 'leader started twice');
    this.up = true;
    this.term++;
    this.incarnation++;
    this.counts.restarts++;
    this.core = new LeaderCore(this.opts, { last_index: this.log.lastIndex(), commit_index: this.commit });
    this.appendLocal([{ type: ENTRY_NOOP, payload: new Uint8Array(0) }]);
  }

  crash(): void {
    this.up = false;
    this.core = null;
    this.outstanding.clear();
    this.counts.writes_failed += this.pending.length;
    this.pending = [];
    this.ackChecked = { pending: 0, commit: -1, all: -1 };
  }

  propose(payloads: Uint8Array[], concern: WriteConcern): boolean {
    if (this.core === null || this.pending.length + payloads.length > pending_writes_max) return false;
    const last = this.appendLocal(payloads.map((payload) => ({ type: ENTRY_COMMAND, payload })));
    for (let i = last - payloads.length + 1; i <= last; i++) this.pending.push({ index: i, concern });
    this.ackWrites();
    return true;
  }

  onMessage(msg: Wire, now: number): void {
    const core = this.core;
    if (core === null || msg.incarnation !== this.incarnation) return; // an answer to a previous life
    const out = this.outstanding.get(msg.req_id);
    if (out === undefined) return; // timed out already, or a duplicate: the client saw one outcome
    this.outstanding.delete(msg.req_id);
    if (msg.kind === 'append_res') {
      core.onAppendResult(out.follower, out.epoch, msg.res, now, now - out.sent_ms);
    } else if (msg.kind === 'append_err') {
      check(msg.status === 400, `follower ${out.follower} answered the current leader with ${msg.status}: ${msg.message}`);
      core.onAppendFailed(out.follower, out.epoch, now);
    } else if (msg.kind === 'snapshot_res') {
      core.onSnapshotResult(out.follower, out.epoch, msg.ok, msg.index, now);
    } else {
      check(false, `leader got a ${msg.kind}`);
    }
    this.persistCommit();
  }

  /** One turn of the driver loop: time out, poll, send, persist commit, acknowledge. */
  drive(now: number, send: Send, extraDelay: () => number): void {
    const core = this.core;
    if (core === null) return;
    for (const [id, out] of this.outstanding) {
      const limit = out.kind === 'append' ? this.timeouts.append_timeout_ms : this.timeouts.snapshot_timeout_ms;
      if (now - out.sent_ms < limit) continue;
      this.outstanding.delete(id);
      this.counts.timeouts++;
      if (out.kind === 'append') core.onAppendFailed(out.follower, out.epoch, now);
      else core.onSnapshotResult(out.follower, out.epoch, false, 0, now);
    }
    for (const a of core.poll(now, this.log)) {
      const req_id = this.nextReqId++;
      if (a.kind === 'append') {
        const entries = a.entries;
        check(entries.length <= this.opts.batch_entries_max, `append of ${entries.length} entries > batch_entries_max`);
        const bytes = entries.reduce((sum, e) => sum + e.payload.length, 0);
        check(entries.length <= 1 || bytes <= this.opts.batch_bytes_max, `append of ${bytes} bytes > batch_bytes_max`);
        entries.forEach((e, i) => check(e.index === a.prev_index + 1 + i, `append action not contiguous after ${a.prev_index}`));
        check(a.prev_term === this.log.termAt(a.prev_index), `append action prev_term differs from the log`);
        this.outstanding.set(req_id, { follower: a.follower, epoch: a.epoch, kind: 'append', sent_ms: now });
        this.counts.appends_sent++;
        const req: AppendRequest = {
          cluster_id: 'sim',
          term: this.term,
          leader_id: LEADER,
          prev_index: a.prev_index,
          prev_term: a.prev_term,
          entries,
          leader_commit: a.commit,
        };
        send(a.follower, { kind: 'append', req_id, incarnation: this.incarnation, req });
      } else {
        // A consistent copy of the applied state at the commit index.
        const term = this.log.termAt(this.commit);
        check(term !== undefined, `no term at commit ${this.commit} (compacted past commit?)`);
        const snap: Snapshot = { index: this.commit, term, state: this.state, checksum: snapshotChecksum(this.commit, term, this.state) };
        this.outstanding.set(req_id, { follower: a.follower, epoch: a.epoch, kind: 'snapshot', sent_ms: now });
        this.counts.snapshots_sent++;
        send(a.follower, { kind: 'snapshot', req_id, incarnation: this.incarnation, leader_term: this.term, snap }, extraDelay());
      }
    }
    this.persistCommit();
  }

  /** Log compaction: never what a follower still needs, never past the applied state, keep a tail. */
  compact(tail: number): void {
    if (this.core === null) return;
    const to = Math.min(this.core.neededIndex() - 1, this.commit, this.log.lastIndex() - tail);
    if (to > this.log.snapshotIndex()) this.log.compactTo(to);
  }

  /** Whether an answer to this request would still be heard (not timed out, not a past life). */
  awaits(msg: Wire): boolean {
    return msg.incarnation === this.incarnation && this.outstanding.has(msg.req_id);
  }

  outstandingCount(): number {
    return this.outstanding.size;
  }

  private appendLocal(items: { type: number; payload: Uint8Array }[]): number {
    const core = this.core;
    check(core !== null, 'append without a core');
    const entries: Entry[] = [];
    let index = this.log.lastIndex();
    for (const item of items) entries.push(makeEntry(++index, this.term, item.type, item.payload));
    for (const e of entries) this.history.record(e);
    this.log.append(entries); // durable (fsync) ...
    core.onLocalAppend(index); // ... before the core may send it
    this.persistCommit();
    return index;
  }

  /** Persist the commit index, apply up to it, then acknowledge what it covers. */
  private persistCommit(): void {
    const core = this.core;
    if (core === null) return;
    const next = core.commitIndex();
    check(next >= this.commit, `leader core commit ${next} below persisted commit ${this.commit}`);
    for (let i = this.commit + 1; i <= next; i++) {
      const e = this.log.entryAt(i);
      check(e !== undefined, `leader applies ${i} it does not hold`);
      this.state = applyToState(this.state, e);
    }
    this.commit = next;
    this.ackWrites();
  }

  private ackWrites(): void {
    const core = this.core;
    if (core === null || this.pending.length === 0) return;
    const all = core.allIndex();
    if (this.pending.length === this.ackChecked.pending && this.commit === this.ackChecked.commit && all === this.ackChecked.all) return;
    this.ackChecked = { pending: this.pending.length, commit: this.commit, all };
    const still: PendingWrite[] = [];
    for (const w of this.pending) {
      const done = w.concern === 'leader' || (w.concern === 'quorum' && this.commit >= w.index) || (w.concern === 'all' && all >= w.index);
      if (!done) {
        still.push(w);
        continue;
      }
      this.acked[w.concern] = Math.max(this.acked[w.concern], w.index);
      this.counts.writes_acked++;
    }
    this.pending = still;
  }
}
