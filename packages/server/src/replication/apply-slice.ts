// How a node applies committed entries to its state: in transactions of bounded size, and for at
// most apply_slice_ms at a time before it yields to the event loop (the rest follows at the next
// turn), so a backlog never keeps a node from answering appends, health checks and reads.
import { applyBound } from '@cairn/raft';
import type { ReplicaLog, ReplicaState } from './ports.ts';

/** Applying committed entries yields to the event loop after this long. */
export const apply_slice_ms = 20;
/** Entries applied per state transaction at most. */
export const apply_chunk_entries_max = 256;
/** Payload bytes applied per state transaction at most (the first entry always goes in). */
export const apply_chunk_bytes_max = 512 * 1024;

/**
 * Applies committed entries, up to `target` and never past what the log holds durably, in
 * transactions of bounded size, for at most apply_slice_ms. Returns whether anything was applied
 * and whether more remains (the caller schedules the rest for the next turn). Errors of the state
 * (a full disk, an entry that fails to apply) are thrown to the caller, with nothing of the failed
 * transaction applied.
 */
export function applySlice(log: ReplicaLog, state: ReplicaState, target: number): { applied: boolean; more: boolean } {
  const started = performance.now();
  let applied = false;
  for (;;) {
    const to = applyBound(target, log.durableIndex());
    const from = state.appliedIndex() + 1;
    if (to < from) return { applied, more: false };
    state.applyEntries(log.entries(from, Math.min(to, from + apply_chunk_entries_max - 1) + 1, apply_chunk_bytes_max));
    applied = true;
    if (performance.now() - started > apply_slice_ms) return { applied, more: applyBound(target, log.durableIndex()) > state.appliedIndex() };
  }
}
