// The two helpers both assembly paths share (assemble-passages.ts): cosine(), which decides what
// is a near-duplicate of a document already taken, and slicer(), which gives the event loop a
// turn once slice_ms_max has passed (on a clock the test drives).

import { afterEach, describe, expect, it, vi } from 'vitest';
import { cosine, slicer } from './assemble-passages.ts';
import { slice_ms_max } from './tokens.ts';

const v = (...xs: number[]): Float32Array => Float32Array.from(xs);

describe('cosine', () => {
  it('is 1 for a vector and itself or any positive multiple, -1 for its opposite, 0 for orthogonal ones', () => {
    const a = v(3, -4, 12);
    expect(cosine(a, a)).toBeCloseTo(1, 6);
    expect(cosine(a, v(6, -8, 24))).toBeCloseTo(1, 6);
    expect(cosine(a, v(-3, 4, -12))).toBeCloseTo(-1, 6);
    expect(cosine(v(1, 0), v(0, 5))).toBe(0);
  });

  it('is the dot product over the product of the norms', () => {
    // (1,2,2)·(2,0,1) = 4; |a| = 3, |b| = sqrt 5
    expect(cosine(v(1, 2, 2), v(2, 0, 1))).toBeCloseTo(4 / (3 * Math.sqrt(5)), 6);
    expect(cosine(v(2, 0, 1), v(1, 2, 2))).toBeCloseTo(4 / (3 * Math.sqrt(5)), 6);
    // only the first entries differ in sign: (1,1)·(-1,1) = 0 despite equal norms
    expect(cosine(v(1, 1), v(-1, 1))).toBe(0);
    expect(cosine(v(2, 1), v(1, 3))).toBeCloseTo(5 / (Math.sqrt(5) * Math.sqrt(10)), 6);
  });

  it('is 0 when either vector is all zeros or their lengths differ', () => {
    expect(cosine(v(0, 0, 0), v(1, 2, 3))).toBe(0);
    expect(cosine(v(1, 2, 3), v(0, 0, 0))).toBe(0);
    expect(cosine(v(1, 2, 3), v(1, 2))).toBe(0);
    expect(cosine(v(1, 2), v(1, 2, 3))).toBe(0);
  });
});

describe('slicer', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** Whether awaiting `step` let a setImmediate queued before it run (the event loop had a turn). */
  async function yielded(step: () => Promise<void>): Promise<boolean> {
    let ran = false;
    const handle = setImmediate(() => {
      ran = true;
    });
    await step();
    clearImmediate(handle);
    return ran;
  }

  it('gives the event loop a turn only once slice_ms_max has passed since it was made or last gave one', async () => {
    let now = 1000;
    vi.spyOn(performance, 'now').mockImplementation(() => now);
    const slice = slicer();
    now += slice_ms_max - 0.5;
    expect(await yielded(slice)).toBe(false);
    now += 0.5; // exactly slice_ms_max since it was made
    expect(await yielded(slice)).toBe(true);
    // the turn restarts the count
    now += slice_ms_max - 0.25;
    expect(await yielded(slice)).toBe(false);
    now += 0.5;
    expect(await yielded(slice)).toBe(true);
    expect(await yielded(slice)).toBe(false);
  });
});
