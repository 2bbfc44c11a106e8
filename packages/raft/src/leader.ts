// The leader's decisions: what to send to each follower next, what is committed, how healthy
// each follower is, when a follower needs a snapshot. Pure: the driver feeds it events with the
// time they happened (milliseconds on a clock the driver owns) and performs what it returns.
// Ordering rule for the driver: entries are durable in the leader's log BEFORE they are sent
// (onLocalAppend is called after the fsync).
import type { LogReader } from './log.ts';
import { invariant } from './types.ts';
import type { AppendResponse, Entry, FollowerHealth } from './types.ts';

export interface LeaderOptions {
  followers: string[];
  /** Entries per append request. */
  batch_entries_max: number;
  /** Payload bytes per append request (at least one entry is always sent). */
  batch_bytes_max: number;
  /** Append requests in flight per follower. */
  inflight_batches_max: number;
  /** Lag (entries) past which a follower is desynced and gets a snapshot. */
  resync_threshold: number;
  /** Lag (entries) up to which an answering follower counts as healthy. */
  lag_healthy_max: number;
  /** Consecutive failures from which a follower counts as lagging. */
  failures_lagging: number;
  /** Silence (ms since last success) from which a follower counts as lagging. */
  silence_lagging_ms: number;
  /** An idle follower gets an empty append (heartbeat, commit update) this often. */
  heartbeat_ms: number;
  /** Snapshots in transfer at once over all followers. */
  snapshots_inflight_max: number;
  /** First and largest pause after a failed snapshot, doubling in between. */
  snapshot_backoff_ms_min: number;
  snapshot_backoff_ms_max: number;
  /** Largest pause between retries to a follower whose appends fail. */
  retry_backoff_ms_max: number;
  /** Acks (followers) needed besides the leader for quorum: 1 of 2 in a three-node cluster. */
  quorum_acks: number;
}

export interface FollowerProgress {
  id: string;
  /** Next index to send (advanced optimistically when a batch is sent). */
  next_index: number;
  /** Highest index known replicated on the follower. */
  match_index: number;
  inflight: number;
  health: FollowerHealth;
  ever_reached: boolean;
  consecutive_failures: number;
  last_success_ms: number | null;
  last_sent_ms: number | null;
  last_latency_ms: number | null;
  /** Commit index last told to this follower. */
  commit_sent: number;
  /** A snapshot is being sent. Appends pause meanwhile. */
  snapshotting: boolean;
  /** The follower needs a snapshot (too far behind, or needs compacted entries, or forced). */
  needs_snapshot: boolean;
  snapshot_failures: number;
  snapshot_retry_at_ms: number;
  /** Bumped whenever the stream to this follower is reset: answers to older sends are stale. */
  epoch: number;
}

export type LeaderAction =
  | { kind: 'append'; follower: string; epoch: number; prev_index: number; prev_term: number; entries: Entry[]; commit: number }
  | { kind: 'snapshot'; follower: string; epoch: number };

export class LeaderCore {
  readonly opts: LeaderOptions;
  private readonly progress = new Map<string, FollowerProgress>();
  private commit = 0;
  private durable = 0;

  constructor(opts: LeaderOptions, start: { last_index: number; commit_index: number }) {
    invariant(opts.followers.length > 0 || opts.quorum_acks === 0, 'quorum needs followers');
    invariant(opts.batch_entries_max >= 1, 'batch_entries_max >= 1');
    invariant(opts.inflight_batches_max >= 1, 'inflight_batches_max >= 1');
    invariant(opts.resync_threshold >= 1, 'resync_threshold >= 1');
    invariant(start.commit_index <= start.last_index, 'commit beyond last index at start');
    this.opts = opts;
    this.durable = start.last_index;
    this.commit = start.commit_index;
    for (const id of opts.followers) {
      this.progress.set(id, {
        id,
        next_index: start.last_index + 1,
        match_index: 0,
        inflight: 0,
        health: 'unknown',
        ever_reached: false,
        consecutive_failures: 0,
        last_success_ms: null,
        last_sent_ms: null,
        last_latency_ms: null,
        commit_sent: 0,
        snapshotting: false,
        needs_snapshot: false,
        snapshot_failures: 0,
        snapshot_retry_at_ms: 0,
        epoch: 0,
      });
    }
  }

  commitIndex(): number {
    return this.commit;
  }

  durableIndex(): number {
    return this.durable;
  }

  follower(id: string): FollowerProgress {
    const p = this.progress.get(id);
    invariant(p !== undefined, `unknown follower ${id}`);
    return p;
  }

  followers(): FollowerProgress[] {
    return [...this.progress.values()];
  }

  /** Entries up to last_index are durable in the leader's log. */
  onLocalAppend(last_index: number): void {
    invariant(last_index >= this.durable, `durable index went back ${last_index} < ${this.durable}`);
    this.durable = last_index;
    this.advanceCommit();
  }

  /** Index every follower holds (for write concern `all`). */
  allIndex(): number {
    let min = this.durable;
    for (const p of this.progress.values()) min = Math.min(min, p.match_index);
    return min;
  }

  /** Lowest index some follower still needs from the log (compaction must keep it). */
  neededIndex(): number {
    let min = this.durable + 1;
    for (const p of this.progress.values()) {
      if (!p.needs_snapshot && p.health !== 'desynced') min = Math.min(min, p.match_index + 1);
    }
    return min;
  }

  onAppendResult(id: string, epoch: number, res: AppendResponse, now: number, latency_ms: number): void {
    const p = this.follower(id);
    const current = epoch === p.epoch;
    if (current) p.inflight = Math.max(0, p.inflight - 1);
    p.ever_reached = true;
    p.consecutive_failures = 0;
    p.last_success_ms = now;
    p.last_latency_ms = latency_ms;
    if (res.success) {
      invariant(res.match_index <= this.durable, `follower ${id} matches ${res.match_index} beyond leader ${this.durable}`);
      if (res.match_index > p.match_index) p.match_index = res.match_index;
      if (p.next_index <= p.match_index) p.next_index = p.match_index + 1;
    } else if (current) {
      // Jump back to where the follower's log ends (or before a mismatch) and restart the stream.
      const back = Math.min(res.last_index, this.durable);
      if (this.commit - back > this.opts.resync_threshold) p.needs_snapshot = true;
      p.match_index = Math.min(p.match_index, back);
      p.next_index = back + 1;
      p.inflight = 0;
      p.epoch++;
    }
    this.advanceCommit();
    this.updateHealth(p, now);
  }

  /** The append could not be delivered or timed out. */
  onAppendFailed(id: string, epoch: number, now: number): void {
    const p = this.follower(id);
    // A send from before the stream was restarted failing late says nothing new: counting it
    // would mark a follower that has answered since as failing (lagging, backoff, even desynced).
    if (epoch !== p.epoch) return;
    p.consecutive_failures++;
    // Restart the stream from what is known replicated. With no match known yet (a restarted
    // leader starts every follower at 0), probe at the end instead: the follower's answer says
    // where its log ends. Restarting from index 1 re-sent the whole log, or, once compacted,
    // desynced a follower that was only a few entries behind.
    p.inflight = 0;
    p.next_index = p.match_index > 0 ? p.match_index + 1 : this.durable + 1;
    p.epoch++;
    this.updateHealth(p, now);
  }

  /** Operator asked for a fresh snapshot now (force-resync). */
  requestSnapshot(id: string): void {
    const p = this.follower(id);
    p.needs_snapshot = true;
    p.snapshot_retry_at_ms = 0;
  }

  onSnapshotResult(id: string, epoch: number, ok: boolean, snapshot_index: number, now: number): void {
    const p = this.follower(id);
    p.snapshotting = false;
    if (ok) {
      invariant(snapshot_index <= this.durable, 'snapshot beyond leader log');
      p.needs_snapshot = false;
      p.snapshot_failures = 0;
      p.match_index = Math.max(p.match_index, snapshot_index);
      p.next_index = p.match_index + 1;
      p.inflight = 0;
      p.epoch++;
      p.ever_reached = true;
      p.consecutive_failures = 0;
      p.last_success_ms = now;
    } else {
      p.snapshot_failures++;
      p.consecutive_failures++;
      const backoff = Math.min(this.opts.snapshot_backoff_ms_max, this.opts.snapshot_backoff_ms_min * 2 ** (p.snapshot_failures - 1));
      p.snapshot_retry_at_ms = now + backoff;
      void epoch;
    }
    this.advanceCommit();
    this.updateHealth(p, now);
  }

  /** Decides what to send now. The driver performs each action and reports back. */
  poll(now: number, log: LogReader): LeaderAction[] {
    const actions: LeaderAction[] = [];
    let snapshotsInFlight = 0;
    for (const p of this.progress.values()) if (p.snapshotting) snapshotsInFlight++;
    for (const p of this.progress.values()) {
      this.updateHealth(p, now);
      if (p.snapshotting) continue;
      if (p.next_index - 1 < log.snapshotIndex()) p.needs_snapshot = true;
      if (p.needs_snapshot) {
        p.health = 'desynced';
        if (snapshotsInFlight < this.opts.snapshots_inflight_max && now >= p.snapshot_retry_at_ms && p.inflight === 0) {
          p.snapshotting = true;
          p.epoch++;
          snapshotsInFlight++;
          actions.push({ kind: 'snapshot', follower: p.id, epoch: p.epoch });
        }
        continue;
      }
      if (p.consecutive_failures > 0 && p.last_sent_ms !== null) {
        const pause = Math.min(this.opts.retry_backoff_ms_max, this.opts.heartbeat_ms * 2 ** Math.min(p.consecutive_failures, 10));
        if (p.inflight > 0 || now - p.last_sent_ms < pause) continue;
      }
      while (p.inflight < this.opts.inflight_batches_max && p.next_index <= this.durable) {
        const lo = p.next_index;
        const hi = Math.min(this.durable + 1, lo + this.opts.batch_entries_max);
        const prevTerm = log.termAt(lo - 1);
        invariant(prevTerm !== undefined, `no term for prev index ${lo - 1}`);
        const entries = log.entries(lo, hi, this.opts.batch_bytes_max);
        invariant(entries.length > 0 && entries[0]?.index === lo, `log has no entry ${lo}`);
        actions.push({ kind: 'append', follower: p.id, epoch: p.epoch, prev_index: lo - 1, prev_term: prevTerm, entries, commit: this.commit });
        p.next_index = lo + entries.length;
        p.inflight++;
        p.last_sent_ms = now;
        p.commit_sent = this.commit;
        if (p.consecutive_failures > 0) break; // probe with one batch until it answers
      }
      const idle = p.inflight === 0;
      const heartbeatDue = p.last_sent_ms === null || now - p.last_sent_ms >= this.opts.heartbeat_ms;
      const commitNews = p.commit_sent < this.commit && p.match_index > p.commit_sent;
      if (idle && (heartbeatDue || commitNews)) {
        const prev = p.next_index - 1;
        const prevTerm = log.termAt(prev);
        if (prevTerm === undefined) {
          p.needs_snapshot = true;
          p.health = 'desynced';
          continue;
        }
        actions.push({ kind: 'append', follower: p.id, epoch: p.epoch, prev_index: prev, prev_term: prevTerm, entries: [], commit: this.commit });
        p.inflight++;
        p.last_sent_ms = now;
        p.commit_sent = this.commit;
      }
    }
    return actions;
  }

  private advanceCommit(): void {
    const matches = [...this.progress.values()].map((p) => Math.min(p.match_index, this.durable)).sort((a, b) => b - a);
    const quorum = this.opts.quorum_acks === 0 ? this.durable : (matches[this.opts.quorum_acks - 1] ?? 0);
    const next = Math.min(this.durable, quorum);
    if (next > this.commit) this.commit = next;
  }

  lag(p: FollowerProgress): number {
    return Math.max(0, this.durable - p.match_index);
  }

  /**
   * Desynced (needs a snapshot) when: an operator asked; the next entry it needs was compacted;
   * it is more than resync_threshold behind AND not keeping up (its last append failed, it has
   * been silent, or its own answer showed it that far behind); or it is more than
   * 10 x resync_threshold behind whatever it does. A follower that answers every append and is
   * merely behind a burst of writes is lagging, not desynced: shipping the entries is cheaper
   * than a snapshot. Before the first answer after a (re)start its position is unknown, so
   * lag alone does not desync it.
   */
  private updateHealth(p: FollowerProgress, now: number): void {
    const lag = this.lag(p);
    // A snapshot carries state up to the commit index at most (followers never apply beyond it),
    // so only distance behind the commit can be resynced. Measured against the durable index, a
    // follower would be re-snapshotted at the same commit forever while commit lags the log.
    // Position: what it acknowledged or, before its first acknowledgement in this leader's life
    // (match 0 after a restart), where its own rejection said its log ends (next_index - 1; it
    // also counts batches in flight). With match alone, the first answer after a leader restart,
    // a gap rejection, read as "0 entries" and desynced any follower once commit passed
    // 10 x resync_threshold.
    const position = Math.max(p.match_index, p.next_index - 1);
    const behindCommit = Math.max(0, this.commit - position);
    const silent = p.last_success_ms === null || now - p.last_success_ms > this.opts.silence_lagging_ms;
    const notKeepingUp = p.consecutive_failures > 0 || silent;
    if (!p.snapshotting && p.ever_reached && behindCommit > this.opts.resync_threshold && (notKeepingUp || behindCommit > 10 * this.opts.resync_threshold)) {
      p.needs_snapshot = true;
    }
    if (p.needs_snapshot || p.snapshotting) {
      p.health = 'desynced';
      return;
    }
    if (!p.ever_reached) {
      p.health = 'unknown';
      return;
    }
    if (p.consecutive_failures >= this.opts.failures_lagging || silent || lag > this.opts.lag_healthy_max) {
      p.health = 'lagging';
      return;
    }
    p.health = 'healthy';
  }
}
