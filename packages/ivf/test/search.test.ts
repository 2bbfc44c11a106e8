import { describe, expect, it } from 'vitest';
import { IvfIndex } from '../src/index.ts';
import type { Metric } from '../src/index.ts';
import { bruteForce, build, dataset, meanRecall, queries } from './helpers.ts';

const metrics: Metric[] = ['cosine', 'ip', 'l2'];

describe('search', () => {
  for (const metric of metrics) {
    it(`exact mode returns the brute-force top k (${metric})`, () => {
      const d = dataset(600, 16);
      const index = build(d, metric);
      for (const q of queries(d, 10)) {
        const got = index.search(q, 10, { exact: true });
        const want = bruteForce(d, q, 10, metric);
        expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
        got.forEach((h, i) => expect(h.score).toBeCloseTo(want[i]!.score, 4));
      }
    });

    it(`nprobe = nlist returns the brute-force top k after training (${metric})`, () => {
      const d = dataset(1200, 16);
      const index = build(d, metric);
      index.applyCentroids(index.train({ nlist: 32 }));
      expect(index.nlist).toBe(32);
      for (const q of queries(d, 10)) {
        const got = index.search(q, 10, { nprobe: 32 });
        expect(got.map((h) => h.id)).toEqual(bruteForce(d, q, 10, metric).map((h) => h.id));
      }
    });
  }

  it('scans every vector while untrained', () => {
    const d = dataset(300, 8);
    const index = build(d);
    expect(index.nlist).toBe(0);
    const q = queries(d, 1)[0]!;
    expect(index.search(q, 5).map((h) => h.id)).toEqual(bruteForce(d, q, 5, 'cosine').map((h) => h.id));
  });

  it('reaches high recall on clustered data with a few probes', () => {
    const d = dataset(3000, 32);
    const index = build(d);
    index.applyCentroids(index.train());
    expect(index.nlist).toBeGreaterThan(32);
    expect(meanRecall(index, d, queries(d, 40), 16)).toBeGreaterThanOrEqual(0.9);
  });

  it('applies the filter during the scan and still returns k hits when enough match', () => {
    const d = dataset(1500, 16);
    const index = build(d);
    index.applyCentroids(index.train({ nlist: 64 }));
    for (const q of queries(d, 10)) {
      const got = index.search(q, 20, { nprobe: 1, filter: 'ws-a' });
      expect(got).toHaveLength(20);
      const tagOf = new Map(d.ids.map((id, i) => [id, d.tags[i]]));
      for (const h of got) expect(tagOf.get(h.id)).toBe('ws-a');
      const exact = index.search(q, 20, { exact: true, filter: 'ws-a' });
      expect(exact.map((h) => h.id)).toEqual(bruteForce(d, q, 20, 'cosine', 'ws-a').map((h) => h.id));
    }
    expect(index.search(queries(d, 1)[0]!, 5, { filter: 'nobody' })).toEqual([]);
  });

  it('returns every vector when k exceeds the size', () => {
    const index = new IvfIndex({ dim: 2, metric: 'l2' });
    index.add('a', new Float32Array([0, 0]));
    index.add('b', new Float32Array([3, 4]));
    expect(index.search(new Float32Array([0, 0]), 10)).toEqual([
      { id: 'a', score: 0 },
      { id: 'b', score: -25 },
    ]);
  });

  it('breaks score ties by id whatever the insertion order', () => {
    const a = new IvfIndex({ dim: 2, metric: 'ip' });
    const b = new IvfIndex({ dim: 2, metric: 'ip' });
    const ids = ['x3', 'x1', 'x2', 'x0'];
    for (const id of ids) a.add(id, new Float32Array([1, 1]));
    for (const id of [...ids].reverse()) b.add(id, new Float32Array([1, 1]));
    const q = new Float32Array([1, 0]);
    expect(a.search(q, 2)).toEqual(b.search(q, 2));
    expect(a.search(q, 2).map((h) => h.id)).toEqual(['x0', 'x1']);
  });
});
