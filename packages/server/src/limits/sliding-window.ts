// A sliding-window sum with one-second buckets: how much was counted in the last
// `window_s` seconds. Memory is bounded (one slot per second of the window).

export class SlidingWindow {
  private readonly sums: Float64Array;
  private readonly seconds: Float64Array;

  constructor(
    readonly window_s: number,
    private readonly clock: () => number,
  ) {
    if (!Number.isInteger(window_s) || window_s < 1) throw new RangeError(`window_s must be a positive integer, got ${window_s}`);
    this.sums = new Float64Array(window_s);
    this.seconds = new Float64Array(window_s).fill(-Infinity);
  }

  private nowSecond(): number {
    return Math.floor(this.clock() / 1000);
  }

  /** Adds `n` (may be negative, to give back part of a reservation) to the current second. */
  add(n: number, at: number = this.nowSecond()): number {
    const slot = ((at % this.window_s) + this.window_s) % this.window_s;
    // A late adjustment for a second that has left the window (its slot reused) is dropped.
    if (at <= this.nowSecond() - this.window_s || (this.seconds[slot] ?? -Infinity) > at) return at;
    if (this.seconds[slot] !== at) {
      this.seconds[slot] = at;
      this.sums[slot] = 0;
    }
    this.sums[slot] = (this.sums[slot] ?? 0) + n;
    return at;
  }

  /** Sum over the last window_s seconds (the current one included). */
  total(): number {
    const now = this.nowSecond();
    let sum = 0;
    for (let i = 0; i < this.window_s; i++) {
      const s = this.seconds[i] ?? -Infinity;
      if (s > now - this.window_s && s <= now) sum += this.sums[i] ?? 0;
    }
    return sum;
  }

  /** Whole seconds until the oldest counted second leaves the window (at least 1). */
  secondsUntilRelief(): number {
    const now = this.nowSecond();
    let oldest = Infinity;
    for (let i = 0; i < this.window_s; i++) {
      const s = this.seconds[i] ?? -Infinity;
      if (s > now - this.window_s && s <= now && (this.sums[i] ?? 0) > 0) oldest = Math.min(oldest, s);
    }
    return oldest === Infinity ? 1 : Math.max(1, oldest + this.window_s - now);
  }
}
