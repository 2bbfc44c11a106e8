// Per-second write and query rates of one node over the last minutes, for the overview and the
// dashboard's charts. Sampled once a second from monotonic counters (applied index, request
// counts): no work on the request path.

/** Seconds of history kept (and drawn). */
export const rate_history_s_max = 300;
/** Window of the "current" rate, seconds. */
export const rate_window_s = 10;

export interface RateSources {
  /** Entries applied on this node so far (its applied index). */
  entries(): number;
  /** Queries (search, assemble, document reads) served so far. */
  queries(): number;
}

/** Rates per second, one value per whole second, oldest first; `start_s` is the first second. */
export interface RateHistory {
  start_s: number;
  write: number[];
  query: number[];
}

export class RateSampler {
  private readonly write: number[] = [];
  private readonly query: number[] = [];
  private lastSecond: number | null = null;
  private lastEntries = 0;
  private lastQueries = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly sources: RateSources,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Samples every second; the timer does not keep the process alive. */
  start(): void {
    if (this.timer !== null) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** True between start() and stop(). */
  get running(): boolean {
    return this.timer !== null;
  }

  /** Records the counts of the second that ended; missed seconds get the average of the gap. */
  sample(): void {
    const second = Math.floor(this.clock() / 1000);
    const entries = this.sources.entries();
    const queries = this.sources.queries();
    if (this.lastSecond === null) {
      this.lastSecond = second;
      this.lastEntries = entries;
      this.lastQueries = queries;
      return;
    }
    const gap = second - this.lastSecond;
    if (gap <= 0) return;
    // A snapshot install can move the applied index by a lot at once: that is not a write rate.
    const writes = Math.max(0, entries - this.lastEntries) / gap;
    const reads = Math.max(0, queries - this.lastQueries) / gap;
    for (let i = 0; i < Math.min(gap, rate_history_s_max); i++) {
      this.write.push(round(writes));
      this.query.push(round(reads));
    }
    if (this.write.length > rate_history_s_max) {
      this.write.splice(0, this.write.length - rate_history_s_max);
      this.query.splice(0, this.query.length - rate_history_s_max);
    }
    this.lastSecond = second;
    this.lastEntries = entries;
    this.lastQueries = queries;
  }

  history(): RateHistory {
    const end = this.lastSecond ?? Math.floor(this.clock() / 1000);
    return { start_s: end - this.write.length, write: [...this.write], query: [...this.query] };
  }

  /** Rates of the last whole second sampled, and which second that was. */
  last(): { at_s: number; write: number; query: number } {
    return { at_s: this.lastSecond ?? 0, write: this.write.at(-1) ?? 0, query: this.query.at(-1) ?? 0 };
  }

  /** Mean rates over the last rate_window_s seconds. */
  current(): { write_per_s: number; query_per_s: number } {
    return { write_per_s: round(mean(this.write.slice(-rate_window_s))), query_per_s: round(mean(this.query.slice(-rate_window_s))) };
  }
}

function mean(xs: number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Adds histories second by second (cluster query rate = sum over nodes). */
export function sumHistories(histories: RateHistory[], pick: 'write' | 'query'): RateHistory {
  const valid = histories.filter((h) => h[pick].length > 0);
  if (valid.length === 0) return { start_s: 0, write: [], query: [] };
  const end = Math.max(...valid.map((h) => h.start_s + h[pick].length));
  const start = end - rate_history_s_max;
  const out = new Array<number>(rate_history_s_max).fill(0);
  for (const h of valid) h[pick].forEach((v, i) => {
    const at = h.start_s + i - start;
    if (at >= 0 && at < out.length) out[at] = round((out[at] ?? 0) + v);
  });
  const firstUsed = Math.max(0, Math.min(...valid.map((h) => h.start_s - start)));
  const series = out.slice(firstUsed);
  return { start_s: start + firstUsed, write: pick === 'write' ? series : [], query: pick === 'query' ? series : [] };
}
