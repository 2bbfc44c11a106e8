// The simulated clock: one time base for the whole cluster and one queue of callbacks, ordered by
// time then by the order they were scheduled. Each node life gets its own Clock (ports.ts) whose
// timers and immediates go into the shared queue; when the node dies (kill) its callbacks are
// dropped. The runner advances time and runs due callbacks one at a time, draining the microtask
// queue after each one, so promise chains started by a callback finish before the next callback
// runs. Nothing else in the process does I/O or reads a clock, so the order of everything is a
// function of the seed.
import type { Clock, TimerHandle } from '../../src/replication/ports.ts';

interface Task {
  at: number;
  seq: number;
  fn: () => void;
  owner: SimClock;
  /** Set by clearTimeout/clearInterval; the task is skipped when it comes up. */
  cancelled: boolean;
  /** Period of an interval, or 0 for a timeout/immediate. */
  every: number;
}

/** Called with any error a callback throws (in a real process, an uncaught exception: it exits). */
export type CrashHandler = (node: string, err: unknown) => void;

/**
 * Resolves once every microtask queued so far, and every microtask those queue, has run.
 * process.nextTick callbacks run after the microtask queue is drained to exhaustion; nothing in
 * the simulated world schedules its own nextTick or I/O, so the order stays deterministic.
 */
export function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

export class Scheduler {
  private nowMs = 0;
  private seq = 0;
  private readonly heap: Task[] = [];
  /** Callbacks run so far (for cost measurements), and immediates queued. */
  ran = 0;
  immediates = 0;
  private onCrash: CrashHandler = (node, err) => {
    throw new Error(`${node}: uncaught ${(err as Error).stack ?? String(err)}`);
  };

  now(): number {
    return this.nowMs;
  }

  setCrashHandler(handler: CrashHandler): void {
    this.onCrash = handler;
  }

  /** A Clock for one life of a node. */
  clock(node: string): SimClock {
    return new SimClock(this, node);
  }

  /** @internal */
  push(owner: SimClock, at: number, fn: () => void, every: number): Task {
    const task: Task = { at: Math.max(at, this.nowMs), seq: this.seq++, fn, owner, cancelled: false, every };
    this.heapPush(task);
    return task;
  }

  /** Time of the next live callback, or null with none queued. */
  nextAt(): number | null {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined) return null;
      if (!top.cancelled && top.owner.alive) return top.at;
      this.heapPop();
    }
  }

  pending(): number {
    return this.heap.length;
  }

  /**
   * Runs every callback due at or before `until` in (time, sequence) order, each followed by a
   * full drain of the microtask queue, then sets the clock to `until`.
   */
  async runUntil(until: number): Promise<void> {
    await drainMicrotasks();
    for (;;) {
      const at = this.nextAt();
      if (at === null || at > until) break;
      const task = this.heapPop() as Task;
      this.nowMs = task.at;
      if (task.every > 0) {
        task.at += task.every;
        task.seq = this.seq++;
        this.heapPush(task);
      }
      this.ran++;
      try {
        task.fn();
      } catch (err) {
        this.onCrash(task.owner.node, err);
      }
      await drainMicrotasks();
    }
    if (until > this.nowMs) this.nowMs = until;
  }

  private heapPush(task: Task): void {
    const h = this.heap;
    h.push(task);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(task, h[parent] as Task)) break;
      h[i] = h[parent] as Task;
      i = parent;
    }
    h[i] = task;
  }

  private heapPop(): Task | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && before(h[r] as Task, h[l] as Task) ? r : l;
      if (!before(h[c] as Task, last)) break;
      h[i] = h[c] as Task;
      i = c;
    }
    h[i] = last;
    return top;
  }
}

function before(a: Task, b: Task): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** One node life's clock. After kill() nothing it scheduled runs, and nothing new is queued. */
export class SimClock implements Clock {
  alive = true;

  constructor(
    private readonly sched: Scheduler,
    readonly node: string,
  ) {}

  now(): number {
    return this.sched.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.sched.push(this, this.sched.now() + Math.max(0, ms), fn, 0);
  }

  clearTimeout(timer: TimerHandle): void {
    cancel(timer);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    // Node runs an interval of 0 (or less) every 1 ms.
    const every = Math.max(1, ms);
    return this.sched.push(this, this.sched.now() + every, fn, every);
  }

  clearInterval(timer: TimerHandle): void {
    cancel(timer);
  }

  setImmediate(fn: () => void): void {
    this.sched.immediates++;
    this.sched.push(this, this.sched.now(), fn, 0);
  }

  /** The process died: its timers and immediates never run. */
  kill(): void {
    this.alive = false;
  }
}

function cancel(timer: TimerHandle | null | undefined): void {
  if (timer !== null && timer !== undefined && 'cancelled' in timer) (timer as Task).cancelled = true;
}
