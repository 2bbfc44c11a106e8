import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from './ports.ts';

describe('the system clock of the replication drivers', () => {
  afterEach(() => vi.restoreAllMocks());

  it('reads as a Unix time in ms and does not follow the wall clock when it is stepped', () => {
    const before = systemClock.now();
    expect(Math.abs(before - Date.now())).toBeLessThan(60_000);
    // The wall clock set 11 hours ahead, then 11 hours back (an operator, NTP, a VM resumed).
    const wall = Date.now();
    const spy = vi.spyOn(Date, 'now').mockReturnValue(wall + 11 * 3_600_000);
    const ahead = systemClock.now();
    spy.mockReturnValue(wall - 11 * 3_600_000);
    const back = systemClock.now();
    expect(ahead - before).toBeGreaterThanOrEqual(0);
    expect(ahead - before).toBeLessThan(1_000);
    expect(back).toBeGreaterThanOrEqual(ahead);
    expect(back - before).toBeLessThan(1_000);
  });
});
