import { describe, expect, it } from 'vitest';
import { formatDuration, Progress, progressLine } from './progress.ts';

describe('progress', () => {
  it('shows a bar, documents/s and an ETA', () => {
    expect(progressLine({ done: 500, written: 20 }, 1000, 10_000, true)).toBe('[##########..........]  50%  500/1000 docs  20 written  50.0 docs/s  ETA 10s');
    expect(progressLine({ done: 0, written: 0 }, 10, 0, false)).toBe('0%, 0/10 docs, 0 written, 0.0 docs/s, ETA ?');
  });

  it('formats durations', () => {
    expect(formatDuration(59.4)).toBe('59s');
    expect(formatDuration(61)).toBe('1m01s');
    expect(formatDuration(7322)).toBe('2h02m');
  });

  it('writes a plain line per N documents without a terminal', () => {
    const lines: string[] = [];
    let now = 0;
    const p = new Progress({ write: (t) => lines.push(t) > 0, isTTY: false }, 10, 4, () => now);
    for (let done = 1; done <= 10; done++) {
      now += 100;
      p.update({ done, written: done });
    }
    p.finish({ done: 10, written: 10 });
    expect(lines.map((l) => l.split(',')[1]?.trim())).toEqual(['4/10 docs', '8/10 docs', '10/10 docs']);
  });

  it('redraws one line in place on a terminal and clears it before other lines', () => {
    const out: string[] = [];
    let now = 0;
    const p = new Progress({ write: (t) => out.push(t) > 0, isTTY: true }, 2, 1, () => now);
    p.update({ done: 1, written: 1 });
    p.say('ingest: skipped x: empty');
    now += 1000;
    p.finish({ done: 2, written: 1 });
    expect(out[0]).toMatch(/^\r\x1b\[K\[#{10}\.{10}\]/);
    expect(out.slice(1, 3)).toEqual(['\r\x1b[K', 'ingest: skipped x: empty\n']);
    expect(out[3]).toMatch(/^\r\x1b\[K\[#{20}\] 100%.*\n$/);
  });
});
