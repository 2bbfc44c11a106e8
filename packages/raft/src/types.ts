// Shared vocabulary of the replication core. Entries are opaque bytes to this package:
// the daemon defines what a payload means.

export const ENTRY_NOOP = 0;
export const ENTRY_COMMAND = 1;

export interface Entry {
  index: number;
  term: number;
  /** ENTRY_NOOP (a leader's first entry in its term) or ENTRY_COMMAND. */
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
  /** Why it was rejected, when it was. */
  reason?: 'gap' | 'mismatch';
}

export class RaftInvariantError extends Error {
  override readonly name = 'RaftInvariantError';
}

/** Crash on a broken invariant: it is never served as a 500 and carried on from. */
export function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new RaftInvariantError(message);
}
