// How a node applies committed entries to its state: in transactions of bounded size, and for at
// most apply_slice_ms at a time before it yields to the event loop (the rest follows at the next
// turn; a transaction may stay open across turns, between two documents), so a backlog or one
// large batch never keeps a node from answering appends, health checks and reads.
import { applyBound } from '@cairn/raft';
import type { ReplicaLog, ReplicaState } from './ports.ts';

/** Applying committed entries yields to the event loop after this long. */
export const apply_slice_ms = 10;
/** Entries applied per state transaction at most. */
export const apply_chunk_entries_max = 256;
/** Payload bytes applied per state transaction at most (the first entry always goes in). */
export const apply_chunk_bytes_max = 512 * 1024;

/**
 * Applies committed entries, up to `target` and never past what the log holds durably, in
 * transactions of bounded size, for at most apply_slice_ms. A batch whose documents take longer
 * is left open at the deadline and goes on at the next call (ReplicaState.startApply): a bulk
 * write of a thousand documents costs the event loop slices, not one long stop. Returns whether
 * anything was committed and whether more remains (the caller schedules the rest for the next
 * turn). Errors of the state (a full disk, an entry that fails to apply) are thrown to the
 * caller, with nothing of the failed transaction applied.
 */
export function applySlice(log: ReplicaLog, state: ReplicaState, target: number): { applied: boolean; more: boolean } {
  const deadline = performance.now() + apply_slice_ms;
  const remains = (): boolean => state.applyOpen() || applyBound(target, log.durableIndex()) > state.appliedIndex();
  if (state.applyOpen()) {
    if (!state.continueApply(deadline)) return { applied: false, more: true };
    // A batch that spanned turns ends its slice once it commits, so what waits for it (vector
    // reads: StateContext.applyIdle) runs before the next batch opens.
    return { applied: true, more: remains() };
  }
  let applied = false;
  for (;;) {
    const to = applyBound(target, log.durableIndex());
    const from = state.appliedIndex() + 1;
    if (to < from) return { applied, more: false };
    if (!state.startApply(log.entries(from, Math.min(to, from + apply_chunk_entries_max - 1) + 1, apply_chunk_bytes_max), deadline)) return { applied, more: true };
    applied = true;
    if (performance.now() > deadline) return { applied, more: remains() };
  }
}
