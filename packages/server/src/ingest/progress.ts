// Progress of an ingest on stderr: on a terminal one bar redrawn in place (at most every
// redraw_ms), elsewhere (a pipe, a log file) one plain line every `every` documents.
//
//   [##########..........]  52%  2301/4460 docs  118 written  412.3 docs/s  ETA 5s

export const redraw_ms = 100;
export const bar_chars = 20;

export interface ProgressCounts {
  /** Documents handled: found unchanged, skipped, or answered by the cluster. */
  done: number;
  written: number;
}

export interface ProgressSink {
  write(text: string): boolean;
  isTTY?: boolean;
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const t = Math.max(0, Math.round(s));
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

/** The line for `counts` of `total` after `elapsedMs` (the bar only when `bar`). */
export function progressLine(counts: ProgressCounts, total: number, elapsedMs: number, bar: boolean): string {
  const rate = elapsedMs > 0 ? (counts.done * 1000) / elapsedMs : 0;
  const left = total - counts.done;
  const eta = left <= 0 ? 0 : rate > 0 ? left / rate : Infinity;
  const pct = total === 0 ? 100 : Math.floor((counts.done * 100) / total);
  const filled = total === 0 ? bar_chars : Math.min(bar_chars, Math.floor((counts.done * bar_chars) / total));
  const head = bar ? `[${'#'.repeat(filled)}${'.'.repeat(bar_chars - filled)}] ${String(pct).padStart(3)}%  ` : `${pct}%, `;
  const sep = bar ? '  ' : ', ';
  return `${head}${counts.done}/${total} docs${sep}${counts.written} written${sep}${rate.toFixed(1)} docs/s${sep}ETA ${formatDuration(eta)}`;
}

export class Progress {
  private readonly started: number;
  private lastDraw = -Infinity;
  private lastLineAt = 0;
  private drawn = false;

  constructor(
    private readonly out: ProgressSink,
    private readonly total: number,
    private readonly every: number,
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.started = clock();
  }

  private get tty(): boolean {
    return this.out.isTTY === true;
  }

  update(c: ProgressCounts): void {
    const now = this.clock();
    if (this.tty) {
      if (now - this.lastDraw < redraw_ms) return;
      this.lastDraw = now;
      this.out.write(`\r\x1b[K${progressLine(c, this.total, now - this.started, true)}`);
      this.drawn = true;
      return;
    }
    if (c.done - this.lastLineAt < this.every) return;
    this.lastLineAt = c.done - (c.done % this.every);
    this.out.write(`ingest: ${progressLine(c, this.total, now - this.started, false)}\n`);
  }

  /** A line that must not be drawn over: clears the bar first. */
  say(line: string): void {
    if (this.tty && this.drawn) {
      this.out.write('\r\x1b[K');
      this.lastDraw = -Infinity;
    }
    this.out.write(`${line}\n`);
  }

  finish(c: ProgressCounts): void {
    if (this.tty) {
      this.out.write(`\r\x1b[K${progressLine(c, this.total, this.clock() - this.started, true)}\n`);
      return;
    }
    if (c.done !== this.lastLineAt) this.out.write(`ingest: ${progressLine(c, this.total, this.clock() - this.started, false)}\n`);
  }
}
