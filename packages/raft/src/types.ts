// Shared vocabulary of the replication core. Entries are opaque bytes to this package:
// the daemon defines what a payload means.

export const ENTRY_NOOP = 0;
export const ENTRY_COMMAND = 1;
/**
 * A leader's designation of the follower it hands leadership to (payload: that node's id, UTF-8).
 * A follower takes a newer term from a node other than its leader only from the node the last
 * designation it holds (or the append carrying it) names: see leaderRefusal.
 */
export const ENTRY_LEADER = 2;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** The payload of a designation of `id`. */
export function designationPayload(id: string): Uint8Array {
  return utf8.encode(id);
}

/** The node an entry designates as the next leader, or null when it is no designation. */
export function designationOf(e: Pick<Entry, 'type' | 'payload'>): string | null {
  return e.type === ENTRY_LEADER ? utf8Decoder.decode(e.payload) : null;
}

export interface Entry {
  index: number;
  term: number;
  /** ENTRY_NOOP (a leader's first entry in its term), ENTRY_COMMAND or ENTRY_LEADER. */
  type: number;
  payload: Uint8Array;
  /** crc32 over index, term, type and payload (see checksum.ts). */
  checksum: number;
}

export type FollowerHealth = 'unknown' | 'healthy' | 'lagging' | 'desynced';

/** What the leader sends to one follower: POST /_raft/append. */
export interface AppendRequest {
  cluster_id: string;
  term: number;
  leader_id: string;
  prev_index: number;
  prev_term: number;
  entries: Entry[];
  leader_commit: number;
}

export interface AppendResponse {
  success: boolean;
  term: number;
  /** Highest index the follower holds that matches the leader's log (valid when success). */
  match_index: number;
  /** The follower's last log index: on a rejection, where the leader should jump back to. */
  last_index: number;
  /**
   * Why it was rejected, when it was: `gap` (its log ends before prev_index), `mismatch` (its
   * entry at prev_index differs, the leader steps back), `diverged` (an entry it already applied
   * differs from the leader's: only a snapshot repairs it).
   */
  reason?: 'gap' | 'mismatch' | 'diverged';
  /** With `diverged`: the index where the follower's applied entries differ from the leader's. */
  diverged_at?: number;
  /** The follower's storage id: a new one means its data is gone (the leader treats it as empty). */
  storage_id?: string;
  /**
   * The highest term the follower has recorded a replication request of (its claimed term),
   * durable before it answered. A leader creates no entry in a term until one follower holds the
   * term this way (LeaderCore, "term claim"), so losing the leader's storage cannot lose the term.
   */
  claimed_term?: number;
}

/** Write concerns: when a proposed entry counts as acknowledged. */
export type WriteConcern = 'leader' | 'quorum' | 'all';

export class RaftInvariantError extends Error {
  override readonly name = 'RaftInvariantError';
}

/**
 * Crash on a broken invariant: it is never served as a 500 and carried on from. The daemon ends
 * the process on a RaftInvariantError (its supervisor restarts it).
 */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new RaftInvariantError(message);
}
