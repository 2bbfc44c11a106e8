// A follower's decision on one append request. Pure: it reads the log through LogReader and
// returns what to persist and what to answer; the daemon persists (truncate + append + term in
// one transaction, fsynced) BEFORE it answers, then applies entries up to `commit_to`.
import { entryIsIntact } from './checksum.ts';
import type { LogReader } from './log.ts';
import { invariant } from './types.ts';
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
      response: AppendResponse;
    }
  | { kind: 'reject'; response: AppendResponse }
  /** The request itself is bad: answered with 4xx, nothing persisted. */
  | { kind: 'invalid'; status: 400 | 409; message: string };

export interface FollowerView {
  log: LogReader;
  current_term: number;
  commit_index: number;
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
  if (problem !== null) return { kind: 'invalid', status: 400, message: problem };
  if (req.term < view.current_term) {
    return { kind: 'invalid', status: 409, message: `stale term ${req.term} < ${view.current_term}` };
  }
  const log = view.log;
  const last = log.lastIndex();
  const term = req.term;
  if (req.prev_index > last) {
    return { kind: 'reject', response: { success: false, term, match_index: 0, last_index: last, reason: 'gap' } };
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
      return accept(view, term, null, [], match, req.leader_commit);
    }
    const boundary = entries[skip - 1] as Entry;
    prevIndex = boundary.index;
    prevTerm = boundary.term;
    entries = entries.slice(skip);
  }

  const localPrevTerm = log.termAt(prevIndex);
  if (localPrevTerm !== prevTerm) {
    // Our entry at prev_index differs: the leader steps back and retries.
    return {
      kind: 'reject',
      response: { success: false, term, match_index: 0, last_index: Math.max(snap, prevIndex - 1), reason: 'mismatch' },
    };
  }

  let truncateFrom: number | null = null;
  let firstNew = entries.length;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as Entry;
    if (e.index > last) {
      firstNew = i;
      break;
    }
    if (log.termAt(e.index) !== e.term) {
      invariant(e.index > view.commit_index, `conflict at committed index ${e.index} (commit ${view.commit_index})`);
      truncateFrom = e.index;
      firstNew = i;
      break;
    }
  }
  const append = entries.slice(firstNew);
  const match = prevIndex + entries.length;
  return accept(view, term, truncateFrom, append, match, req.leader_commit);
}

function accept(
  view: FollowerView,
  term: number,
  truncateFrom: number | null,
  append: Entry[],
  match: number,
  leaderCommit: number,
): AppendDecision {
  const lastAfter = append.length > 0 ? (append[append.length - 1] as Entry).index : truncateFrom !== null ? truncateFrom - 1 : view.log.lastIndex();
  // Only what the leader reports committed, and only what we hold that matches the leader.
  const commitTo = Math.max(view.commit_index, Math.min(leaderCommit, match));
  invariant(commitTo <= Math.max(lastAfter, view.commit_index), `commit ${commitTo} beyond last index ${lastAfter}`);
  return {
    kind: 'accept',
    truncate_from: truncateFrom,
    append,
    term,
    commit_to: commitTo,
    response: { success: true, term, match_index: match, last_index: Math.max(lastAfter, match) },
  };
}
