// Promises that resolve when a watched index reaches a target (applied index, commit index),
// or reject at their deadline. Bounded: beyond waiters_max new waits are refused.
import { systemClock } from './ports.ts';
import type { Clock, TimerHandle } from './ports.ts';

interface Waiter {
  target: number;
  resolve: (ok: boolean) => void;
  timer: TimerHandle;
}

export class IndexWaiters {
  private waiters: Waiter[] = [];

  constructor(
    private readonly current: () => number,
    private readonly clock: Clock = systemClock,
    private readonly waiters_max = 100_000,
  ) {}

  /** Resolves true when current() >= target, false at the deadline. */
  wait(target: number, timeout_ms: number): Promise<boolean> {
    if (this.current() >= target) return Promise.resolve(true);
    if (this.waiters.length >= this.waiters_max) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        target,
        resolve,
        timer: this.clock.setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          resolve(false);
        }, timeout_ms),
      };
      this.waiters.push(waiter);
    });
  }

  /** Call after current() may have grown. */
  notify(): void {
    if (this.waiters.length === 0) return;
    const now = this.current();
    const keep: Waiter[] = [];
    for (const w of this.waiters) {
      if (w.target <= now) {
        this.clock.clearTimeout(w.timer);
        w.resolve(true);
      } else keep.push(w);
    }
    this.waiters = keep;
  }

  /** Resolves every waiter false (shutdown). */
  cancelAll(): void {
    for (const w of this.waiters) {
      this.clock.clearTimeout(w.timer);
      w.resolve(false);
    }
    this.waiters = [];
  }

  get size(): number {
    return this.waiters.length;
  }
}
