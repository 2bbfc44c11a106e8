import { describe, expect, it } from 'vitest';
import { Scheduler } from './clock.ts';

describe('simulated clock', () => {
  it('runs callbacks in time then sequence order, with promise chains drained in between', async () => {
    const s = new Scheduler();
    const a = s.clock('a');
    const b = s.clock('b');
    const seen: string[] = [];
    a.setTimeout(() => seen.push('a10'), 10);
    b.setTimeout(() => {
      seen.push('b5');
      void Promise.resolve()
        .then(() => Promise.resolve())
        .then(() => seen.push('b5-chain'));
    }, 5);
    a.setTimeout(() => seen.push('a5'), 5);
    b.setImmediate(() => seen.push('b-now'));
    await s.runUntil(7);
    expect(seen).toEqual(['b-now', 'b5', 'b5-chain', 'a5']);
    expect(s.now()).toBe(7);
    await s.runUntil(20);
    expect(seen.at(-1)).toBe('a10');
    expect(s.now()).toBe(20);
  });

  it('sets now() to the time of the callback that runs', async () => {
    const s = new Scheduler();
    const c = s.clock('x');
    const at: number[] = [];
    c.setTimeout(() => at.push(c.now()), 3);
    c.setTimeout(() => c.setTimeout(() => at.push(c.now()), 4), 6);
    await s.runUntil(100);
    expect(at).toEqual([3, 10]);
  });

  it('clears timeouts and intervals, and repeats intervals', async () => {
    const s = new Scheduler();
    const c = s.clock('x');
    let ticks = 0;
    const iv = c.setInterval(() => ticks++, 10);
    const t = c.setTimeout(() => ticks += 100, 15);
    c.clearTimeout(t);
    await s.runUntil(35);
    expect(ticks).toBe(3);
    c.clearInterval(iv);
    await s.runUntil(100);
    expect(ticks).toBe(3);
  });

  it('drops every callback of a killed life, and only of that life', async () => {
    const s = new Scheduler();
    const old = s.clock('n');
    const other = s.clock('m');
    const seen: string[] = [];
    old.setTimeout(() => seen.push('old'), 5);
    old.setInterval(() => seen.push('old-iv'), 2);
    other.setTimeout(() => seen.push('other'), 5);
    old.kill();
    const next = s.clock('n');
    next.setTimeout(() => seen.push('new'), 5);
    await s.runUntil(50);
    expect(seen).toEqual(['other', 'new']);
  });

  it('reports an exception thrown by a callback as that node crashing', async () => {
    const s = new Scheduler();
    const crashes: string[] = [];
    s.setCrashHandler((node, err) => crashes.push(`${node}: ${(err as Error).message}`));
    s.clock('f1').setTimeout(() => {
      throw new Error('boom');
    }, 1);
    await s.runUntil(5);
    expect(crashes).toEqual(['f1: boom']);
  });

  it('costs a few microseconds per callback', async () => {
    const s = new Scheduler();
    const c = s.clock('x');
    let n = 0;
    c.setInterval(() => {
      n++;
      void Promise.resolve().then(() => n++);
    }, 1);
    const started = performance.now();
    await s.runUntil(50_000);
    const us = ((performance.now() - started) * 1000) / 50_000;
    expect(n).toBe(100_000);
    expect(us).toBeLessThan(50);
  });
});
