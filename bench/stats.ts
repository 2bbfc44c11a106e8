// Small statistics helpers and the machine's load, noted next to every figure.

import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function median(values: number[]): number {
  return percentile(values, 50);
}

/** The 1-minute load average, rounded. */
export function load1(): number {
  return Math.round((loadavg()[0] as number) * 10) / 10;
}

export function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** CPU seconds (user + system) each process has used so far, from /proc (NaN when unreadable). */
export function cpuSeconds(pids: number[]): number[] {
  return pids.map((pid) => {
    try {
      // Fields after the command name: state is field 3; utime and stime are fields 14 and 15.
      const fields = (readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      return Number.NaN;
    }
  });
}
