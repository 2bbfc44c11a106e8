// A follower's decisions: on one append request (decideAppend) and on one snapshot
// (decideSnapshot). Pure: they read the log through LogReader and return what to persist, what to
// answer and how far to apply; the daemon persists (truncate + append + term + commit in one
// transaction, fsynced) BEFORE it answers, then applies entries up to `commit_to` that are durable.
import { entryIsIntact } from './checksum.ts';
import type { LogReader } from './log.ts';
import { designationOf, invariant } from './types.ts';
import type { AppendRequest, AppendResponse, Entry } from './types.ts';

export type AppendDecision =
  | {
      kind: 'accept';
      /** Drop every entry from this index on before appending (a conflicting suffix), or null. */
      truncate_from: number | null;
      append: Entry[];
      /** Term to persist as the follower's current term. */
      term: number;
      /** Apply up to here once the append is durable. Never below the current commit. */
      commit_to: number;
      /** The node the last designation entry among `append` names (record it before appending), or null. */
      designate: string | null;
      /**
       * The node to persist as the leader with `term`, when this append hands leadership over: it
       * comes from another node than the one the follower knows, in a newer term that its entries
       * prove (see leaderRefusal). null otherwise.
       */
      leader: string | null;
      response: AppendResponse;
      /** Persist this as the claimed term before answering (in the same transaction), or null. */
      claim: number | null;
    }
  | { kind: 'reject'; response: AppendResponse; claim: number | null }
  /** The request itself is bad: answered with 4xx, nothing persisted. */
  | { kind: 'invalid'; status: 400 | 409; code: 'bad_append' | 'stale_term' | 'wrong_leader'; message: string };

export interface FollowerView {
  log: LogReader;
  /** The term of the newest entries this follower took (proven by an entry of that term). */
  current_term: number;
  /**
   * The highest term of a replication request this follower recorded (durably, before it
   * answered), whether or not an entry of it came yet. Requests of older terms are stale.
   */
  claimed_term: number;
  /** What the follower applied (its state's applied index): entries up to here are final. */
  commit_index: number;
  /**
   * The leader this follower knows: the configured one, or the last one it persisted (a handover).
   * Appends from any other node are refused unless they carry a newer term (leaderRefusal).
   */
  leader_id: string;
  /** The node the last designation entry this follower appended names (ENTRY_LEADER), or null. */
  designated: string | null;
}

/**
 * Whether a replication request from `leader_id` in `term` may be taken, or why not. From the
 * leader the follower knows: yes (the term is checked on its own). From another node: only in a
 * term newer than every term the follower has seen, and only from the node a designation names:
 * the last one the follower appended, or one among the request's entries. Leadership moves only by
 * a handover: the leader logs a designation of the target, waits until the target holds it and
 * everything before it, records the target as the leader durably (it never leads again) and tells
 * the target, which opens a new term above every term it holds. So a request from a node that is
 * not the leader, in an older term or without a designation, is refused: neither a crafted append
 * nor one from an old life of the cluster moves leadership. The follower records the new leader
 * with the first term it persists from it (proven by the entries), so no request of the old
 * leader's terms is taken after that.
 */
export function leaderRefusal(view: Pick<FollowerView, 'leader_id' | 'current_term' | 'designated'>, leader_id: string, term: number, entries: readonly Pick<Entry, 'type' | 'payload'>[] = []): string | null {
  if (leader_id === view.leader_id) return null;
  if (term <= view.current_term) return `replication requests come from the leader ${view.leader_id}, not ${leader_id} (term ${term}, this node's term ${view.current_term})`;
  if (view.designated === leader_id || entries.some((e) => designationOf(e) === leader_id)) return null;
  return `replication requests come from the leader ${view.leader_id}; ${leader_id} was not designated to take over (the last designation this node holds names ${view.designated ?? 'nobody'})`;
}

/** Checks shape and integrity of a decoded request before any decision is made on it. */
export function validateAppend(req: AppendRequest): string | null {
  if (!Number.isSafeInteger(req.term) || req.term < 1) return 'term must be a positive integer';
  if (!Number.isSafeInteger(req.prev_index) || req.prev_index < 0) return 'prev_index must be a non-negative integer';
  if (!Number.isSafeInteger(req.prev_term) || req.prev_term < 0) return 'prev_term must be a non-negative integer';
  if (!Number.isSafeInteger(req.leader_commit) || req.leader_commit < 0) return 'leader_commit must be a non-negative integer';
  if (req.prev_term > req.term) return 'prev_term is newer than term';
  if (req.prev_index === 0 && req.prev_term !== 0) return 'prev_term must be 0 at prev_index 0';
  if (!Array.isArray(req.entries)) return 'entries must be an array';
  let expected = req.prev_index + 1;
  let lastTerm = req.prev_term;
  for (const e of req.entries) {
    if (e === null || typeof e !== 'object') return 'entry is not an object';
    if (e.index !== expected) return `entry index ${String(e.index)} where ${expected} was expected`;
    if (!Number.isSafeInteger(e.term) || e.term < lastTerm || e.term > req.term) return `entry ${expected} has an impossible term`;
    if (!Number.isSafeInteger(e.type)) return `entry ${expected} has no type`;
    if (!(e.payload instanceof Uint8Array)) return `entry ${expected} payload is not bytes`;
    if (!entryIsIntact(e)) return `entry ${expected} checksum mismatch`;
    lastTerm = e.term;
    expected++;
  }
  return null;
}

export function decideAppend(view: FollowerView, req: AppendRequest): AppendDecision {
  const problem = validateAppend(req);
  if (problem !== null) return { kind: 'invalid', status: 400, code: 'bad_append', message: problem };
  const refusal = leaderRefusal(view, req.leader_id, req.term, req.entries);
  if (refusal !== null) return { kind: 'invalid', status: 409, code: 'wrong_leader', message: refusal };
  const seen = seenTerm(view);
  if (req.term < seen) {
    return { kind: 'invalid', status: 409, code: 'stale_term', message: `stale term ${req.term} < ${seen}` };
  }
  const claim = req.term > view.claimed_term ? req.term : null;
  const claimed_term = req.term;
  const log = view.log;
  const last = log.lastIndex();
  const term = req.term;
  if (req.prev_index > last) {
    return { kind: 'reject', claim, response: { success: false, term, match_index: 0, last_index: last, reason: 'gap', claimed_term } };
  }

  // Entries at or below the snapshot are already part of state: skip them.
  let entries = req.entries;
  let prevIndex = req.prev_index;
  let prevTerm = req.prev_term;
  const snap = log.snapshotIndex();
  if (prevIndex < snap) {
    const skip = snap - prevIndex;
    if (skip >= entries.length) {
      // Everything sent is covered by our snapshot: nothing to do but report where we are.
      const match = Math.min(last, req.prev_index + req.entries.length);
      return accept(view, term, null, [], match, req, claim);
    }
    const boundary = entries[skip - 1] as Entry;
    prevIndex = boundary.index;
    prevTerm = boundary.term;
    entries = entries.slice(skip);
  }

  const localPrevTerm = log.termAt(prevIndex);
  if (localPrevTerm !== prevTerm) {
    // An applied entry differs from the leader's: no truncation can repair it, only a snapshot.
    if (prevIndex > snap && prevIndex <= view.commit_index) return diverged(term, last, prevIndex, claim);
    // Our entry at prev_index differs: the leader steps back and retries.
    return {
      kind: 'reject',
      claim,
      response: { success: false, term, match_index: 0, last_index: Math.max(snap, prevIndex - 1), reason: 'mismatch', claimed_term },
    };
  }

  // An entry we hold is the leader's only if term AND checksum agree: a same-term entry with other
  // bytes (written by anyone but this leader) is a conflict too.
  let truncateFrom: number | null = null;
  let firstNew = entries.length;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Entry;
    if (e.index > last) {
      firstNew = i;
      break;
    }
    if (log.termAt(e.index) !== e.term || log.checksumAt(e.index) !== e.checksum) {
      if (e.index <= view.commit_index) return diverged(term, last, e.index, claim);
      truncateFrom = e.index;
      firstNew = i;
      break;
    }
  }
  const append = entries.slice(firstNew);
  const match = prevIndex + entries.length;
  return accept(view, term, truncateFrom, append, match, req, claim);
}

function diverged(term: number, last: number, at: number, claim: number | null): AppendDecision {
  return { kind: 'reject', claim, response: { success: false, term, match_index: 0, last_index: last, reason: 'diverged', diverged_at: at, claimed_term: term } };
}

/**
 * The newest term this follower has seen: its entries' (current_term) or a request's it recorded
 * (claimed_term). A request or snapshot of an older term is stale: it comes from a leader life
 * that a newer one replaced, possibly after a loss of that leader's storage.
 */
export function seenTerm(view: Pick<FollowerView, 'current_term' | 'claimed_term'>): number {
  return Math.max(view.current_term, view.claimed_term);
}

/**
 * The term a follower persists after accepting an append: the request's term only when the log
 * proves it (an entry of that term in the request, or at prev_index, which the follower holds);
 * otherwise the term it had. So an append from the leader's new life that still carries only older
 * entries fences nothing yet, and the term a follower holds is always one some entry was written in.
 */
function provenTerm(view: FollowerView, req: AppendRequest): number {
  if (req.term <= view.current_term) return view.current_term;
  const proven = req.prev_term === req.term || req.entries.some((e) => e.term === req.term);
  return proven ? req.term : view.current_term;
}

function accept(view: FollowerView, term: number, truncateFrom: number | null, append: Entry[], match: number, req: AppendRequest, claim: number | null): AppendDecision {
  const leaderCommit = req.leader_commit;
  const lastAfter = append.length > 0 ? (append[append.length - 1] as Entry).index : truncateFrom !== null ? truncateFrom - 1 : view.log.lastIndex();
  // Only what the leader reports committed, and only what we hold that matches the leader.
  const commitTo = Math.max(view.commit_index, Math.min(leaderCommit, match));
  invariant(commitTo <= Math.max(lastAfter, view.commit_index), `commit ${commitTo} beyond last index ${lastAfter}`);
  const persistTerm = provenTerm(view, req);
  return {
    kind: 'accept',
    truncate_from: truncateFrom,
    append,
    term: persistTerm,
    commit_to: commitTo,
    designate: append.reduce<string | null>((d, e) => designationOf(e) ?? d, null),
    leader: req.leader_id !== view.leader_id && persistTerm > view.current_term ? req.leader_id : null,
    claim,
    response: { success: true, term, match_index: match, last_index: Math.max(lastAfter, match), claimed_term: req.term },
  };
}

/** A snapshot as its first chunk announces it. */
export interface SnapshotOffer {
  index: number;
  term: number;
  leader_term: number;
  /** Sent to repair a follower whose applied state diverged: installed whatever its index. */
  repair: boolean;
  /**
   * This node installed a snapshot of this id already (a late or repeated copy on the wire): never
   * installed again, since the state may have moved past it and the log been compacted since.
   */
  installed_before?: boolean;
}

export type SnapshotDecision =
  | { kind: 'refuse'; status: 409; code: 'stale_term'; message: string }
  /** Older than (or the same as) what the follower holds: answer ok, change nothing. */
  | { kind: 'ignore'; reason: string }
  /**
   * Replace the state. `keep_log`: the log holds the snapshot's index with its term, so the
   * entries after it stay (the log is compacted to the index): the leader may have counted them
   * toward a quorum; otherwise the log is reset to start after the index. `commit_to`: the commit
   * index to persist; for a repair, the snapshot's index, so nothing kept past it is applied before
   * the leader's appends confirmed it (by term and checksum).
   */
  | { kind: 'install'; keep_log: boolean; commit_to: number };

/**
 * Whether and how to install a snapshot. Resetting the log on every install can drop entries the
 * leader already counted toward a quorum (an append delayed on the wire lands before the
 * snapshot it overtook); installing one older than the applied state moves the state back.
 */
export function decideSnapshot(view: FollowerView, offer: SnapshotOffer, persisted_commit = offer.index): SnapshotDecision {
  if (offer.leader_term < seenTerm(view)) {
    return { kind: 'refuse', status: 409, code: 'stale_term', message: `snapshot from term ${offer.leader_term} < ${seenTerm(view)}` };
  }
  if (offer.installed_before === true) return { kind: 'ignore', reason: `snapshot at ${offer.index} was installed already (a late or repeated copy)` };
  const matches = view.log.termAt(offer.index) === offer.term && offer.index <= view.log.lastIndex();
  if (!offer.repair) {
    if (offer.index < view.commit_index) return { kind: 'ignore', reason: `snapshot at ${offer.index} is older than the applied index ${view.commit_index}` };
    if (offer.index === view.commit_index && matches) return { kind: 'ignore', reason: `already at ${offer.index}` };
  }
  const keep_log = matches;
  return { kind: 'install', keep_log, commit_to: keep_log && !offer.repair ? Math.max(offer.index, persisted_commit) : offer.index };
}

/** How far a node may apply: what is committed and durable in its own log. */
export function applyBound(commit: number, durable: number): number {
  return Math.min(commit, durable);
}

/**
 * Where a node may compact its log: only applied entries, keeping the newest `retain`, and on the
 * leader never what a follower that is not desynced still needs (`needed`: the lowest such index).
 */
export function compactionPoint(p: { applied: number; last: number; retain: number; needed?: number }): number {
  return Math.min(p.applied, p.last - p.retain, (p.needed ?? Number.POSITIVE_INFINITY) - 1);
}
