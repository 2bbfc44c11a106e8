// A bounded pool of worker threads for the CPU work of large puts (prepare-work.ts: tokens,
// sha256, the hashing embedder's vector), so that a 1 MiB document does not hold the event loop
// that serves the API and takes part in replication. piscina runs the threads; this bounds them:
// at most threads_max threads and queue_max tasks waiting, and a task beyond that is refused
// with OverloadedError (503 overloaded, Retry-After) instead of queueing without end.
//
// Threads start on first use and stop after idle_ms without work; an idle pool holds no thread
// and does not keep the process alive.

import { Piscina } from 'piscina';
import type { PrepareResult, PrepareTask } from './prepare-work.ts';

export const prepare_threads_max_default = 2;
export const prepare_queue_max_default = 16;
const idle_ms = 30_000;
const entry = new URL('./prepare-entry.mjs', import.meta.url).href;

/** The pool's queue is full: answered 503 `overloaded` with Retry-After. */
export class OverloadedError extends Error {
  override readonly name = 'OverloadedError';
  readonly status = 503;
  readonly code = 'overloaded';
  constructor(
    message: string,
    readonly retry_after_s = 1,
  ) {
    super(message);
  }

  toJSON(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

export interface PreparePoolOptions {
  threads_max?: number;
  queue_max?: number;
  /** The worker entry; tests substitute a slow one. */
  filename?: string;
}

export class PreparePool {
  readonly threads_max: number;
  readonly queue_max: number;
  private readonly pool: Piscina;

  constructor(opts: PreparePoolOptions = {}) {
    this.threads_max = opts.threads_max ?? prepare_threads_max_default;
    this.queue_max = opts.queue_max ?? prepare_queue_max_default;
    if (!Number.isInteger(this.threads_max) || this.threads_max < 1) throw new RangeError(`threads_max: expected a positive integer, got ${this.threads_max}`);
    if (!Number.isInteger(this.queue_max) || this.queue_max < 0) throw new RangeError(`queue_max: expected a non-negative integer, got ${this.queue_max}`);
    this.pool = new Piscina({
      filename: opts.filename ?? entry,
      minThreads: 0,
      maxThreads: this.threads_max,
      maxQueue: this.queue_max,
      idleTimeout: idle_ms,
      concurrentTasksPerWorker: 1,
    });
  }

  /** Tasks submitted and not yet settled (running or waiting). */
  pending = 0;

  /** Runs one task on a worker thread; rejects with OverloadedError when the queue is full. */
  async run(task: PrepareTask): Promise<PrepareResult> {
    return (await this.runTask(task)) as PrepareResult;
  }

  /** Runs a group of small tasks, in order, as one task on a worker thread. */
  async runGroup(tasks: PrepareTask[]): Promise<PrepareResult[]> {
    const out = (await this.runTask(tasks)) as PrepareResult[];
    if (out.length !== tasks.length) throw new Error(`invariant: ${tasks.length} tasks prepared as ${out.length}`);
    return out;
  }

  private async runTask(task: PrepareTask | PrepareTask[]): Promise<PrepareResult | PrepareResult[]> {
    if (this.pending >= this.threads_max + this.queue_max) {
      throw new OverloadedError(`the prepare pool is full (${this.threads_max} threads busy, ${this.queue_max} tasks queued): retry later`);
    }
    this.pending += 1;
    try {
      return (await this.pool.run(task)) as PrepareResult | PrepareResult[];
    } catch (err) {
      if (err instanceof Error && /queue is at limit/i.test(err.message)) throw new OverloadedError(`the prepare pool is full: ${err.message}`);
      throw err;
    } finally {
      this.pending -= 1;
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

let shared: PreparePool | null = null;

/** The process's pool, built on first use. */
export function sharedPreparePool(): PreparePool {
  shared ??= new PreparePool();
  return shared;
}
