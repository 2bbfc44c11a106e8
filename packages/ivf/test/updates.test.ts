import { describe, expect, it } from 'vitest';
import { IvfIndex } from '../src/index.ts';
import { build, bruteForce, dataset, meanRecall, queries } from './helpers.ts';
import type { Dataset } from './helpers.ts';

describe('updates', () => {
  it('adds, replaces and removes vectors', () => {
    const index = new IvfIndex({ dim: 3, metric: 'l2' });
    index.add('a', new Float32Array([1, 0, 0]));
    index.add('b', new Float32Array([0, 1, 0]));
    expect(index.size).toBe(2);
    expect(index.has('a')).toBe(true);
    index.add('a', new Float32Array([0, 0, 5]));
    expect(index.size).toBe(2);
    expect(index.search(new Float32Array([0, 0, 5]), 1)).toEqual([{ id: 'a', score: 0 }]);
    expect(index.remove('a')).toBe(true);
    expect(index.remove('a')).toBe(false);
    expect(index.has('a')).toBe(false);
    expect(index.size).toBe(1);
    expect(index.search(new Float32Array([0, 0, 5]), 5).map((h) => h.id)).toEqual(['b']);
  });

  it('keeps search exact through removals in a trained index', () => {
    const d = dataset(1000, 16);
    const index = build(d, 'ip');
    index.applyCentroids(index.train({ nlist: 16 }));
    for (let i = 0; i < 1000; i += 3) expect(index.remove(d.ids[i]!)).toBe(true);
    const kept: Dataset = { ...d, ids: [], vectors: [], tags: [] };
    d.ids.forEach((id, i) => {
      if (i % 3 !== 0) {
        kept.ids.push(id);
        kept.vectors.push(d.vectors[i]!);
        kept.tags.push(d.tags[i]!);
      }
    });
    expect(index.size).toBe(kept.ids.length);
    for (const q of queries(d, 5)) {
      expect(index.search(q, 10, { nprobe: 16 }).map((h) => h.id)).toEqual(bruteForce(kept, q, 10, 'ip').map((h) => h.id));
    }
  });

  it('trains deterministically whatever the insertion order, and replicas get the same lists', () => {
    const d = dataset(1500, 16);
    const a = build(d);
    const b = new IvfIndex({ dim: 16, exact_scan_size_max: 0 });
    for (let i = d.ids.length - 1; i >= 0; i--) b.add(d.ids[i]!, d.vectors[i]!, d.tags[i]);
    const ca = a.train({ nlist: 100, seed: 42 });
    const cb = b.train({ nlist: 100, seed: 42 });
    expect(Buffer.from(ca.buffer).equals(Buffer.from(cb.buffer))).toBe(true);
    expect(a.nlist).toBe(0); // train() does not change the index
    const other = a.train({ nlist: 100, seed: 43 });
    expect(Buffer.from(ca.buffer).equals(Buffer.from(other.buffer))).toBe(false);
    a.applyCentroids(ca);
    b.applyCentroids(cb);
    for (const id of d.ids) expect(a.listOf(id)).toBe(b.listOf(id));
    for (const q of queries(d, 5)) expect(a.search(q, 10, { nprobe: 3 })).toEqual(b.search(q, 10, { nprobe: 3 }));
    expect(a.centroids()).toEqual(ca);
  });

  it('uses two-level training above 64 lists and still gives each list vectors', () => {
    const d = dataset(4000, 16);
    const index = build(d);
    index.applyCentroids(index.train({ nlist: 200 }));
    const s = index.stats();
    expect(s.nlist).toBe(200);
    expect(s.imbalance).toBeLessThan(3);
    expect(Array.from(index.listSizes()).filter((n) => n === 0).length).toBeLessThan(10);
  });

  it('signals retraining when untrained and large, grown, or unbalanced', () => {
    const d = dataset(2000, 16);
    const index = new IvfIndex({ dim: 16, exact_scan_size_max: 500 });
    for (let i = 0; i < 400; i++) index.add(d.ids[i]!, d.vectors[i]!);
    expect(index.retrainDue()).toBe(false);
    for (let i = 400; i < 600; i++) index.add(d.ids[i]!, d.vectors[i]!);
    expect(index.retrainDue()).toBe(true);
    index.applyCentroids(index.train());
    expect(index.retrainDue()).toBe(false);
    expect(index.stats().trained_at_size).toBe(600);
    for (let i = 600; i < 1199; i++) index.add(d.ids[i]!, d.vectors[i]!);
    expect(index.retrainDue()).toBe(false);
    index.add(d.ids[1199]!, d.vectors[1199]!);
    expect(index.retrainDue()).toBe(true);

    // Unbalanced: everything lands near one centroid.
    const skew = new IvfIndex({ dim: 2, metric: 'l2', exact_scan_size_max: 0 });
    for (let i = 0; i < 100; i++) skew.add(`p${i}`, new Float32Array([i % 10, Math.floor(i / 10)]));
    skew.applyCentroids(skew.train({ nlist: 10 }));
    expect(skew.retrainDue()).toBe(false);
    for (let i = 0; i < 99; i++) skew.add(`q${i}`, new Float32Array([0.01 * (i % 9), 0.01 * Math.floor(i / 9)]));
    expect(skew.size).toBe(199);
    expect(skew.stats().imbalance).toBeGreaterThan(3);
    expect(skew.size).toBeLessThan(200); // not grown 2x: the imbalance alone is the signal
    expect(skew.retrainDue()).toBe(true);
  });

  it('signals retraining when new topics arrive far from every centroid, before the size doubles', () => {
    const d = dataset(3000, 32, { topics: 40 });
    const index = new IvfIndex({ dim: 32, exact_scan_size_max: 0 });
    const old = d.ids.map((_, i) => i).filter((i) => d.mixture.topicOf(i) < 20);
    const fresh = d.ids.map((_, i) => i).filter((i) => d.mixture.topicOf(i) >= 20);
    for (const i of old) index.add(d.ids[i]!, d.vectors[i]!);
    index.applyCentroids(index.train({ nlist: 32 }));
    expect(index.stats().residual_growth).toBeCloseTo(1, 6);
    const extra = Math.ceil(old.length * 0.5);
    for (const i of fresh.slice(0, extra)) index.add(d.ids[i]!, d.vectors[i]!);
    expect(index.size).toBeLessThan(2 * old.length);
    expect(index.stats().residual_growth).toBeGreaterThan(1.25);
    expect(index.retrainDue()).toBe(true);
    for (const i of fresh.slice(0, extra)) index.remove(d.ids[i]!);
    expect(index.stats().residual_growth).toBeCloseTo(1, 6);
    expect(index.retrainDue()).toBe(false);
  });

  it('keeps recall when the index grows 4x after training, with the retrain policy applied', () => {
    const d = dataset(4000, 32, { topics: 40 });
    // Drift: train on vectors of the first half of the topics, then insert everything else.
    const firstHalf = d.ids.map((_, i) => i).filter((i) => d.mixture.topicOf(i) < 20).slice(0, 1000);
    const inFirst = new Set(firstHalf);
    const rest = d.ids.map((_, i) => i).filter((i) => !inFirst.has(i));
    const qs = queries(d, 40);
    const run = (policy: boolean): { recall: number; imbalance: number; retrains: number } => {
      const index = new IvfIndex({ dim: 32, exact_scan_size_max: 0 });
      for (const i of firstHalf) index.add(d.ids[i]!, d.vectors[i]!);
      index.applyCentroids(index.train({ nlist: 64 }));
      let retrains = 0;
      rest.forEach((i, n) => {
        index.add(d.ids[i]!, d.vectors[i]!);
        if (policy && n % 250 === 0 && index.retrainDue()) {
          index.applyCentroids(index.train());
          retrains++;
        }
      });
      if (policy && index.retrainDue()) {
        index.applyCentroids(index.train());
        retrains++;
      }
      // Same fraction of lists probed in both runs (about 1/8).
      const nprobe = Math.max(1, Math.round(index.nlist / 8));
      return { recall: meanRecall(index, d, qs, nprobe), imbalance: index.stats().imbalance, retrains };
    };
    const without = run(false);
    const withPolicy = run(true);
    expect(withPolicy.retrains).toBeGreaterThan(0);
    expect(withPolicy.recall).toBeGreaterThanOrEqual(0.95);
    expect(withPolicy.recall).toBeGreaterThan(without.recall);
  });
});
