// The leader's decisions: what to send to each follower next, what is committed, what to persist,
// apply and acknowledge, how healthy each follower is, when a follower needs a snapshot, where to
// compact, when to open a new term. Pure: the driver feeds it events with the time they happened
// (milliseconds on a clock the driver owns), asks for `ready()`, and carries it out in order.
// Ordering rules for the driver (DESIGN.md, "Ordering rules"): entries are durable in the leader's
// log BEFORE they are sent (onLocalAppend after the fsync); the commit index is durable BEFORE it
// is sent, applied or acknowledged (onCommitPersisted after the fsync).
import { compactionPoint } from './follower.ts';
import type { LogReader } from './log.ts';
import { invariant } from './types.ts';
import type { AppendResponse, Entry, FollowerHealth, WriteConcern } from './types.ts';

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
  /** Appends refused this many times in a row at one index (not a network failure) resync the follower. */
  refusals_resync?: number;
}

/** Appends refused at one index before the follower is resynced, unless configured. */
export const refusals_resync_default = 3;

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
  /** Why it is desynced (shown in sync-status), or null. */
  desync_reason: string | null;
  /** The next snapshot repairs a diverged state: the follower installs it whatever its index. */
  repair: boolean;
  /** The follower's storage id as last reported (a new one means its data is gone). */
  storage_id: string | null;
  /** Bumped whenever the stream to this follower is reset: answers to older sends are stale. */
  epoch: number;
  /**
   * Answers to sends from an epoch below this say nothing about what the follower holds now: its
   * log was replaced since (a snapshot install, a new storage). They no longer raise the match.
   */
  epoch_floor: number;
  /** Refused appends in a row at `refused_index` (4xx/5xx answers, not network failures). */
  refusals: number;
  refused_index: number;
  /**
   * The lowest index at which a `mismatch` answer showed the follower's entry differing from the
   * leader's, or null. It holds until an append reaching it succeeds or the follower's log is
   * replaced. A `gap` answer never moves the stream past it: with batches pipelined, the `gap` of a
   * later batch can be handled before the `mismatch` of an earlier one, and jumping to the
   * follower's last index then would start the step-back over, round after round.
   */
  mismatch_at: number | null;
}

/** What the driver carries out, in this order, after any event (etcd-io/raft's Ready). */
export interface LeaderReady {
  /**
   * Begin this term: send in it from now on, create no entry in it yet (nothing to persist).
   * Nothing else is carried out in this round.
   */
  start_term: number | null;
  /**
   * Open the started term: persist its NOOP entry, then record the term, before anything else is
   * sent. Only once a follower holds the term (its claim, see onAppendResult), or with no
   * followers.
   */
  open_term: number | null;
  /** Persist this commit index (log meta) and report it with onCommitPersisted once synced. */
  persist_commit: number | null;
  /**
   * Apply committed entries up to here (the persisted commit; the driver also stops at its log's
   * durable index, applyBound). After applying and reporting onApplied, acknowledge proposals up
   * to ackIndex(concern) for each write concern.
   */
  apply_to: number;
  /** Appends and snapshots to send (none while a term is to be opened). */
  sends: LeaderAction[];
}

export type LeaderAction =
  | { kind: 'append'; follower: string; epoch: number; prev_index: number; prev_term: number; entries: Entry[]; commit: number }
  | { kind: 'snapshot'; follower: string; epoch: number; repair: boolean; reason: string };

export class LeaderCore {
  readonly opts: LeaderOptions;
  private readonly progress = new Map<string, FollowerProgress>();
  private commit = 0;
  private durable = 0;
  private persistedCommit = 0;
  private applied = 0;
  /** The term requests are sent in (started, maybe not open yet). */
  private currentTerm: number;
  /** The newest term whose NOOP is written: entries are created only in an open term. */
  private openedTerm: number;
  /** A follower answered holding currentTerm durably as its claimed term. */
  private claimHeld = false;
  /** A follower answered with this term or higher: the leader must open a term above it. */
  private termNeeded = 0;
  /** The last index the log held when this leader life began (LeaderCore.readIndex). */
  private readonly startIndex: number;

  constructor(opts: LeaderOptions, start: { last_index: number; commit_index: number; term?: number; applied_index?: number }) {
    invariant(opts.followers.length > 0 || opts.quorum_acks === 0, 'quorum needs followers');
    invariant(opts.batch_entries_max >= 1, 'batch_entries_max >= 1');
    invariant(opts.inflight_batches_max >= 1, 'inflight_batches_max >= 1');
    invariant(opts.resync_threshold >= 1, 'resync_threshold >= 1');
    invariant(start.commit_index <= start.last_index, 'commit beyond last index at start');
    this.opts = opts;
    this.durable = start.last_index;
    this.startIndex = start.last_index;
    this.commit = start.commit_index;
    this.persistedCommit = start.commit_index;
    this.applied = start.applied_index ?? 0;
    this.currentTerm = start.term ?? 1;
    this.openedTerm = this.currentTerm;
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
        desync_reason: null,
        repair: false,
        storage_id: null,
        epoch: 0,
        epoch_floor: 0,
        refusals: 0,
        refused_index: 0,
        mismatch_at: null,
      });
    }
  }

  commitIndex(): number {
    return this.commit;
  }

  /** The commit index as durable on the leader: what followers, apply and acknowledgements see. */
  persistedCommitIndex(): number {
    return this.persistedCommit;
  }

  term(): number {
    return this.currentTerm;
  }

  /** The driver persisted the commit index (log meta, synced). */
  onCommitPersisted(index: number): void {
    invariant(index <= this.commit, `persisted commit ${index} beyond commit ${this.commit}`);
    if (index > this.persistedCommit) this.persistedCommit = index;
  }

  /** The driver applied entries up to index to the leader's state. */
  onApplied(index: number): void {
    invariant(index <= this.persistedCommit, `applied ${index} beyond the persisted commit ${this.persistedCommit}`);
    invariant(index >= this.applied, `applied index went back ${index} < ${this.applied}`);
    this.applied = index;
  }

  /**
   * The driver began `term` (ready.start_term): its requests carry it from now on. No entry is
   * created in it until a follower holds it (the claim) and the NOOP is written (onTermOpened).
   */
  onTermStarted(term: number): void {
    invariant(term > this.currentTerm, `term ${term} not above ${this.currentTerm}`);
    this.currentTerm = term;
    this.claimHeld = false;
  }

  /** The driver persisted the started term's NOOP at `noopIndex` (reported by onLocalAppend). */
  onTermOpened(term: number, noopIndex: number): void {
    invariant(term === this.currentTerm && term > this.openedTerm, `term ${term} opened, but the started term is ${this.currentTerm} and ${this.openedTerm} is open`);
    invariant(this.claimHeld || this.opts.followers.length === 0, `term ${term} opened before a follower held it`);
    invariant(noopIndex > this.persistedCommit, `term ${term} opened at ${noopIndex}, not above the commit ${this.persistedCommit}`);
    this.openedTerm = term;
  }

  /** Whether the started term is open: its NOOP written, entries may be created in it. */
  termOpen(): boolean {
    return this.openedTerm === this.currentTerm && this.termToStart() === null;
  }

  /**
   * The index a read on this leader must see applied before it answers, so that it is
   * linearizable: the last index its log held when this leader life began. Every write
   * acknowledged before the read began is at or below it or was applied here first. One this life
   * acknowledged was applied here before its acknowledgement (ackIndex). One acknowledged by an
   * earlier life of this leader is in its log (durable before it was acknowledged; a log that lost
   * it is recovered from the followers before a leader life begins). One acknowledged by the
   * leader that handed leadership over is in the log too (the handover waits until the target
   * holds all of the old leader's log, and the target takes over only when its log ends where the
   * old leader's did). A leader that has just taken over holds those entries but may not have
   * applied them, nor even know they are committed. It does not need its term open for this:
   * a leader that cannot write its NOOP (a full disk) still serves reads once it has applied
   * what it held.
   */
  readIndex(): number {
    return this.startIndex;
  }

  /**
   * The highest index that may be acknowledged with each write concern: `leader` once durable on
   * the leader; `quorum` once committed (durable on a majority), that commit durable, applied on
   * the leader (so the leader reads its own acknowledged writes), and still held by a quorum now
   * (a follower that lost its storage since it answered does not count); `all` once durable on
   * every node and applied on the leader.
   */
  ackIndex(concern: WriteConcern): number {
    if (concern === 'leader') return this.durable;
    // The commit index only grows, but a follower that lost its storage no longer holds what it
    // once did: a write is acknowledged only while a quorum holds it now.
    if (concern === 'quorum') return Math.min(this.applied, this.persistedCommit, this.quorumIndex());
    return Math.min(this.applied, this.allIndex());
  }

  /** The leader must open a term of at least `term` before it writes or sends anything more. */
  requireTerm(term: number): void {
    this.termNeeded = Math.max(this.termNeeded, term);
  }

  /** The term the driver must start now, or null. */
  termToStart(): number | null {
    return this.termNeeded > this.currentTerm ? this.termNeeded : null;
  }

  /**
   * The started term the driver may open now (write its NOOP), or null: only once a follower
   * answered holding it durably (claimed_term), so that a loss of this leader's storage cannot
   * lose the record that the term was used. Without it a leader wiped after writing in a term no
   * other node recorded opened the same term again in its next life, and a request of the lost life
   * still on the wire named other entries with the same (index, term).
   */
  termToOpen(): number | null {
    if (this.termToStart() !== null || this.openedTerm === this.currentTerm) return null;
    return this.claimHeld || this.opts.followers.length === 0 ? this.currentTerm : null;
  }

  /** Everything to carry out now, in order. */
  ready(now: number, log: LogReader): LeaderReady {
    const start_term = this.termToStart();
    const open_term = this.termToOpen();
    return {
      start_term,
      open_term,
      persist_commit: this.commit > this.persistedCommit ? this.commit : null,
      apply_to: Math.min(this.persistedCommit, this.durable),
      sends: start_term === null && open_term === null ? this.poll(now, log) : [],
    };
  }

  /**
   * Whether leadership can be handed to `target` now, or why not. The leader has stopped taking
   * writes; it hands over once its last entry is durable, committed with that commit durable and
   * applied here (so every write it acknowledged or will acknowledge is in it), and held by the
   * target (so the target's log holds everything this leader ever acknowledged, and the target,
   * opening a term above it, continues it). `last_index` is the leader's log's last index, which
   * includes writes proposed but not yet durable.
   */
  transferReadiness(target: string, last_index: number): { ready: true } | { ready: false; reason: string } {
    const p = this.progress.get(target);
    if (p === undefined) return { ready: false, reason: `${target} is not a follower of this leader` };
    if (p.health === 'desynced' || p.needs_snapshot || p.snapshotting) return { ready: false, reason: `${target} is ${p.health}${p.desync_reason === null ? '' : ` (${p.desync_reason})`}: it needs a snapshot first` };
    if (this.durable < last_index) return { ready: false, reason: `the log is durable to ${this.durable} of ${last_index}` };
    if (this.persistedCommit < last_index) return { ready: false, reason: `committed to ${this.persistedCommit} of ${last_index}` };
    if (this.applied < last_index) return { ready: false, reason: `applied to ${this.applied} of ${last_index}` };
    if (p.match_index < last_index) return { ready: false, reason: `${target} holds ${p.match_index} of ${last_index}` };
    return { ready: true };
  }

  /** Where the leader's log may be compacted now, or null when nothing can go. */
  compactionTarget(log: LogReader, retain: number): number | null {
    const to = compactionPoint({ applied: this.applied, last: this.durable, retain, needed: this.neededIndex() });
    return to > log.snapshotIndex() ? to : null;
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
    // The claim: this follower recorded the started term durably before it answered.
    if (res.claimed_term !== undefined && res.claimed_term >= this.currentTerm) this.claimHeld = true;
    if (res.storage_id !== undefined && res.storage_id !== p.storage_id) {
      const known = p.storage_id !== null;
      p.storage_id = res.storage_id;
      if (known) {
        // Its data is gone: what it acknowledged before is not there any more.
        this.resetFollower(p, `its storage is new (storage id ${res.storage_id})`);
        this.updateHealth(p, now);
        return;
      }
    }
    if (epoch < p.epoch_floor) {
      // Sent before its log was replaced: says nothing about what it holds now.
      this.updateHealth(p, now);
      return;
    }
    if (current) p.refusals = 0;
    if (!res.success && res.reason === 'diverged') {
      this.markDesynced(p, `its applied entry at index ${res.diverged_at ?? '?'} differs from the leader's`, true);
    } else if (res.success) {
      invariant(res.match_index <= this.durable, `follower ${id} matches ${res.match_index} beyond leader ${this.durable}`);
      if (res.match_index > p.match_index) p.match_index = res.match_index;
      if (p.next_index <= p.match_index) p.next_index = p.match_index + 1;
      if (p.mismatch_at !== null && p.mismatch_at <= p.match_index) p.mismatch_at = null;
    } else {
      // A mismatch from any stream since the log was last replaced is kept (a stale one can only
      // make the step-back start lower, which is safe); one at or below the match is outdated.
      if (res.reason === 'mismatch' && res.last_index >= p.match_index) {
        p.mismatch_at = Math.min(p.mismatch_at ?? Number.POSITIVE_INFINITY, res.last_index + 1);
      }
      if (current) this.stepBack(p, res.last_index);
    }
    this.advanceCommit();
    this.updateHealth(p, now);
  }

  /** A rejection in the current stream: restart it where the follower's log ends, or below a known mismatch. */
  private stepBack(p: FollowerProgress, last_index: number): void {
    const back = Math.min(last_index, this.durable, (p.mismatch_at ?? Number.POSITIVE_INFINITY) - 1);
    if (this.commit - back > this.opts.resync_threshold) this.markDesynced(p, `its log ends at ${back}, ${this.commit - back} entries behind the commit index`, false);
    p.match_index = Math.min(p.match_index, back);
    p.next_index = back + 1;
    p.inflight = 0;
    p.epoch++;
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
    p.next_index = Math.min(p.match_index > 0 ? p.match_index + 1 : this.durable + 1, p.mismatch_at ?? Number.POSITIVE_INFINITY);
    p.epoch++;
    this.updateHealth(p, now);
  }

  /**
   * The follower's append was answered with a refusal (4xx/5xx), not lost. A stale-term refusal
   * carrying the follower's term makes the leader open a term above it (a term the follower took
   * from anywhere else must never wedge replication). Refusals repeated at the same index resync
   * the follower: shipping the same entries again will not help it.
   */
  onAppendRefused(id: string, epoch: number, now: number, refusal: { status: number; code: string; term?: number; message?: string }): void {
    const p = this.follower(id);
    if (refusal.code === 'stale_term' && refusal.term !== undefined && Number.isSafeInteger(refusal.term) && refusal.term >= this.currentTerm) {
      this.termNeeded = Math.max(this.termNeeded, refusal.term + 1);
    }
    if (epoch === p.epoch && !p.snapshotting && !p.needs_snapshot) {
      const at = p.match_index + 1;
      if (p.refused_index === at) p.refusals++;
      else {
        p.refused_index = at;
        p.refusals = 1;
      }
      const limit = this.opts.refusals_resync ?? refusals_resync_default;
      if (p.refusals >= limit && refusal.code !== 'stale_term' && refusal.status !== 503 && refusal.status !== 507) {
        this.markDesynced(p, `appends refused ${p.refusals} times at index ${at} (${refusal.status} ${refusal.code}${refusal.message !== undefined ? `: ${refusal.message.slice(0, 120)}` : ''})`, true);
        p.refusals = 0;
      }
    }
    this.onAppendFailed(id, epoch, now);
  }

  /** Operator asked for a fresh snapshot now (force-resync), or a check found the follower diverged. */
  requestSnapshot(id: string, reason = 'resync forced by an operator', repair = true): void {
    const p = this.follower(id);
    this.markDesynced(p, reason, repair);
    p.snapshot_retry_at_ms = 0;
  }

  private markDesynced(p: FollowerProgress, reason: string, repair: boolean): void {
    p.needs_snapshot = true;
    p.desync_reason = reason;
    p.repair = p.repair || repair;
    p.health = 'desynced';
  }

  /** The follower holds nothing known any more: start over, with a snapshot. */
  private resetFollower(p: FollowerProgress, reason: string): void {
    p.match_index = 0;
    p.next_index = this.durable + 1;
    p.mismatch_at = null;
    p.inflight = 0;
    p.epoch++;
    p.epoch_floor = p.epoch;
    this.markDesynced(p, reason, true);
  }

  onSnapshotResult(id: string, epoch: number, ok: boolean, snapshot_index: number, now: number, storage_id?: string): void {
    const p = this.follower(id);
    p.snapshotting = false;
    if (ok) {
      // The storage it installed into: its next answers carry the same id.
      if (storage_id !== undefined) p.storage_id = storage_id;
      invariant(snapshot_index <= this.durable, 'snapshot beyond leader log');
      p.needs_snapshot = false;
      p.repair = false;
      p.desync_reason = null;
      p.snapshot_failures = 0;
      // What the install proved it holds: the snapshot's index. Entries it kept past it are
      // confirmed by the next append; answers to sends from before the install no longer count.
      p.match_index = snapshot_index;
      p.next_index = p.match_index + 1;
      p.mismatch_at = null;
      p.inflight = 0;
      p.epoch++;
      p.epoch_floor = p.epoch;
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
      if (p.next_index - 1 < log.snapshotIndex() && !p.needs_snapshot) this.markDesynced(p, `it needs entry ${p.next_index}, compacted on the leader`, false);
      if (p.needs_snapshot) {
        p.health = 'desynced';
        if (snapshotsInFlight < this.opts.snapshots_inflight_max && now >= p.snapshot_retry_at_ms && p.inflight === 0) {
          p.snapshotting = true;
          p.epoch++;
          snapshotsInFlight++;
          actions.push({ kind: 'snapshot', follower: p.id, epoch: p.epoch, repair: p.repair, reason: p.desync_reason ?? 'needs a snapshot' });
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
        actions.push({ kind: 'append', follower: p.id, epoch: p.epoch, prev_index: lo - 1, prev_term: prevTerm, entries, commit: this.persistedCommit });
        p.next_index = lo + entries.length;
        p.inflight++;
        p.last_sent_ms = now;
        p.commit_sent = this.persistedCommit;
        if (p.consecutive_failures > 0) break; // probe with one batch until it answers
      }
      const idle = p.inflight === 0;
      const heartbeatDue = p.last_sent_ms === null || now - p.last_sent_ms >= this.opts.heartbeat_ms;
      const commitNews = p.commit_sent < this.persistedCommit && p.match_index > p.commit_sent;
      if (idle && (heartbeatDue || commitNews)) {
        const prev = p.next_index - 1;
        const prevTerm = log.termAt(prev);
        if (prevTerm === undefined) {
          this.markDesynced(p, `it needs entry ${prev + 1}, compacted on the leader`, false);
          continue;
        }
        actions.push({ kind: 'append', follower: p.id, epoch: p.epoch, prev_index: prev, prev_term: prevTerm, entries: [], commit: this.persistedCommit });
        p.inflight++;
        p.last_sent_ms = now;
        p.commit_sent = this.persistedCommit;
      }
    }
    return actions;
  }

  /** The highest index a quorum holds now, by what the followers last showed (it may go down). */
  quorumIndex(): number {
    const matches = [...this.progress.values()].map((p) => Math.min(p.match_index, this.durable)).sort((a, b) => b - a);
    const quorum = this.opts.quorum_acks === 0 ? this.durable : (matches[this.opts.quorum_acks - 1] ?? 0);
    return Math.min(this.durable, quorum);
  }

  private advanceCommit(): void {
    const next = this.quorumIndex();
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
    if (!p.snapshotting && !p.needs_snapshot && p.ever_reached && behindCommit > this.opts.resync_threshold && (notKeepingUp || behindCommit > 10 * this.opts.resync_threshold)) {
      this.markDesynced(p, `${behindCommit} entries behind the commit index (resync_threshold ${this.opts.resync_threshold})`, false);
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

/** What an old leader sends its handover target so that it can take over (handoverCatchUp). */
export interface CatchUpAppend {
  term: number;
  prev_index: number;
  prev_term: number;
  entries: Entry[];
  leader_commit: number;
}

/**
 * A handover target refused to take over because its durable log ends at `held`, before the old
 * leader's log did at the fence (`last_index`): it matched that end once (transferReadiness), then
 * lost the tail of its log (a lost WAL). Nobody else would send it the rest: the old leader stopped
 * leading at the fence, the target does not lead yet. The old leader sends it, in its own term,
 * the entries after `held` (at most `entries_max`, about `bytes_max` of payload). Every entry up
 * to `last_index` was committed and applied before the fence, so the append commits what it
 * carries, and it creates nothing: the fence stands. Null when there is nothing to send, or when
 * the old leader's log no longer holds the entry at `held` (compacted): then only a snapshot
 * could bring the target up, and the handover waits for an operator.
 */
export function handoverCatchUp(log: LogReader, fence: { term: number; last_index: number }, held: number, entries_max: number, bytes_max: number): CatchUpAppend | null {
  if (!Number.isSafeInteger(held) || held < 0 || held >= fence.last_index || fence.last_index > log.lastIndex()) return null;
  const prev_term = held === 0 ? 0 : log.termAt(held);
  if (prev_term === undefined || held + 1 < log.firstIndex()) return null;
  const entries = log.entries(held + 1, Math.min(fence.last_index, held + entries_max) + 1, bytes_max);
  if (entries.length === 0) return null;
  return { term: fence.term, prev_index: held, prev_term, entries, leader_commit: (entries[entries.length - 1] as Entry).index };
}
