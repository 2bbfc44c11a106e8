// Worker threads run below the event loop's priority. A node's main thread serves the API and
// takes part in replication (appends, heartbeats, /_raft/health); the CPU work moved off it (the
// prepare pool's tokens, hashes and vectors, state digests, snapshot copies and checkpoints,
// retraining) must not take its core when every core is busy. On Linux a nice value belongs to a
// thread, not to the process, so a worker that raises its own leaves the main thread's alone;
// the scheduler then gives a runnable main thread about 9x the CPU share of a worker at +10
// (weights 1024 and 110). Where threads share one nice value (other systems), the call changes
// the whole process, so it is made only on Linux.
import os from 'node:os';
import { isMainThread } from 'node:worker_threads';

/** How far below the main thread a worker thread runs (added to its nice value, at most 19). */
export const worker_nice_increment = 10;

/**
 * Lowers the calling thread's priority by `increment` (call it at the start of a worker thread).
 * Returns the thread's nice value after the call; the one before when it could not be changed.
 * On the main thread it changes nothing: that is the thread the others yield to.
 */
export function lowerThisThread(increment: number = worker_nice_increment): number {
  const before = os.getPriority();
  if (isMainThread || process.platform !== 'linux' || increment <= 0) return before;
  const target = Math.min(19, before + increment);
  try {
    os.setPriority(target);
    return target;
  } catch {
    return before;
  }
}
