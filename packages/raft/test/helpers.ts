// Small builders shared by the unit tests.
import { ENTRY_COMMAND, MemoryLog, makeEntry } from '../src/index.ts';
import type { AppendRequest, AppendResponse, Entry, LeaderAction, LeaderOptions } from '../src/index.ts';

/** Entries prev+1.. with the given terms, payload = the index as one byte (or `bytes` bytes). */
export function entries(prev: number, terms: number[], bytes = 1): Entry[] {
  return terms.map((term, i) => makeEntry(prev + 1 + i, term, ENTRY_COMMAND, new Uint8Array(bytes).fill((prev + 1 + i) & 0xff)));
}

/** A log holding entries 1..terms.length with these terms, compacted to `compactedTo` if given. */
export function logOf(terms: number[], opts: { compactedTo?: number; bytes?: number } = {}): MemoryLog {
  const log = new MemoryLog();
  log.append(entries(0, terms, opts.bytes ?? 1));
  if (opts.compactedTo !== undefined) log.compactTo(opts.compactedTo);
  return log;
}

export function request(over: Partial<AppendRequest> & Pick<AppendRequest, 'prev_index' | 'prev_term' | 'entries'>): AppendRequest {
  return { cluster_id: 'c', term: 1, leader_id: 'leader', leader_commit: 0, ...over };
}

export function leaderOptions(over: Partial<LeaderOptions> = {}): LeaderOptions {
  return {
    followers: ['a', 'b'],
    batch_entries_max: 10,
    batch_bytes_max: 1 << 20,
    inflight_batches_max: 2,
    resync_threshold: 100,
    lag_healthy_max: 5,
    failures_lagging: 3,
    silence_lagging_ms: 1000,
    heartbeat_ms: 100,
    snapshots_inflight_max: 1,
    snapshot_backoff_ms_min: 50,
    snapshot_backoff_ms_max: 400,
    retry_backoff_ms_max: 800,
    quorum_acks: 1,
    ...over,
  };
}

export function ok(match: number, term = 1): AppendResponse {
  return { success: true, term, match_index: match, last_index: match };
}

export function reject(last: number, reason: 'gap' | 'mismatch' = 'gap', term = 1): AppendResponse {
  return { success: false, term, match_index: 0, last_index: last, reason };
}

export type AppendAction = Extract<LeaderAction, { kind: 'append' }>;

export function appendsTo(actions: LeaderAction[], follower: string): AppendAction[] {
  return actions.filter((a): a is AppendAction => a.kind === 'append' && a.follower === follower);
}

/** [first, last] index of each append (empty appends as [prev+1, prev]). */
export function ranges(actions: AppendAction[]): [number, number][] {
  return actions.map((a) => [a.prev_index + 1, a.prev_index + a.entries.length]);
}

/** The match index an append would produce when accepted. */
export function matchOf(a: AppendAction): number {
  return a.prev_index + a.entries.length;
}
