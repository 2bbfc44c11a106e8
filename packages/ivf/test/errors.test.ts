import { describe, expect, it } from 'vitest';
import { IvfError, IvfIndex } from '../src/index.ts';
import type { IvfErrorCode } from '../src/index.ts';

function code(fn: () => unknown): IvfErrorCode | 'no error' {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(IvfError);
    return (e as IvfError).code;
  }
  return 'no error';
}

describe('bad input', () => {
  const index = new IvfIndex({ dim: 3, metric: 'cosine' });
  index.add('a', new Float32Array([1, 2, 3]));
  const q = new Float32Array([1, 0, 0]);

  it('rejects bad construction options', () => {
    expect(code(() => new IvfIndex({ dim: 0 }))).toBe('bad_dim');
    expect(code(() => new IvfIndex({ dim: 2.5 }))).toBe('bad_dim');
    expect(code(() => new IvfIndex({ dim: 3, metric: 'manhattan' as 'l2' }))).toBe('bad_metric');
    expect(code(() => new IvfIndex({ dim: 3, seed: 0.5 }))).toBe('bad_option');
    expect(code(() => new IvfIndex({ dim: 3, exact_scan_size_max: -1 }))).toBe('bad_option');
  });

  it('rejects bad vectors on add and search, naming the problem', () => {
    expect(code(() => index.add('b', new Float32Array([1, 2])))).toBe('dimension_mismatch');
    expect(code(() => index.add('b', new Float32Array([])))).toBe('empty_vector');
    expect(code(() => index.add('b', new Float32Array([1, NaN, 3])))).toBe('not_finite');
    expect(code(() => index.add('b', new Float32Array([1, Infinity, 3])))).toBe('not_finite');
    expect(code(() => index.add('b', new Float32Array([0, 0, 0])))).toBe('zero_vector');
    expect(code(() => index.add('b', [1, 2, 3] as unknown as Float32Array))).toBe('bad_vector');
    expect(code(() => index.search(new Float32Array([1, 2]), 1))).toBe('dimension_mismatch');
    expect(code(() => index.search(new Float32Array([NaN, 0, 0]), 1))).toBe('not_finite');
    expect(code(() => index.search(new Float32Array(0), 1))).toBe('empty_vector');
    expect(() => index.add('b', new Float32Array([1, 2]))).toThrow(/2 dimensions, the index has 3/);
    expect(index.has('b')).toBe(false);
    expect(index.size).toBe(1);
  });

  it('rejects bad ids and tags', () => {
    expect(code(() => index.add('', q))).toBe('bad_id');
    expect(code(() => index.add('x'.repeat(2000), q))).toBe('bad_id');
    expect(code(() => index.add(7 as unknown as string, q))).toBe('bad_id');
    expect(code(() => index.remove(''))).toBe('bad_id');
    expect(code(() => index.add('c', q, 'x'.repeat(2000)))).toBe('bad_tag');
    expect(code(() => index.search(q, 1, { filter: 5 as unknown as string }))).toBe('bad_tag');
  });

  it('rejects bad k and nprobe', () => {
    expect(code(() => index.search(q, 0))).toBe('bad_k');
    expect(code(() => index.search(q, -1))).toBe('bad_k');
    expect(code(() => index.search(q, 1.5))).toBe('bad_k');
    expect(code(() => index.search(q, 1e9))).toBe('bad_k');
    expect(code(() => index.search(q, 1, { nprobe: 0 }))).toBe('bad_nprobe');
    expect(code(() => index.search(q, 1, { nprobe: 2.5 }))).toBe('bad_nprobe');
    expect(code(() => index.search(q, 1, { nprobe: NaN }))).toBe('bad_nprobe');
    expect(code(() => index.search(q, 1, { nprobe: 1e9 }))).toBe('bad_nprobe');
    expect(code(() => index.search(q, 1, { nprobe: 100 }))).toBe('no error'); // above nlist: clamped
  });

  it('rejects bad centroids and training options', () => {
    expect(code(() => index.applyCentroids(new Float32Array(0)))).toBe('bad_centroids');
    expect(code(() => index.applyCentroids(new Float32Array(4)))).toBe('bad_centroids');
    expect(code(() => index.applyCentroids(new Float32Array([1, NaN, 0])))).toBe('bad_centroids');
    expect(code(() => index.applyCentroids([1, 0, 0] as unknown as Float32Array))).toBe('bad_centroids');
    expect(code(() => index.train({ nlist: 0 }))).toBe('bad_nlist');
    expect(code(() => index.train({ nlist: 2 }))).toBe('bad_nlist'); // more lists than vectors
    expect(code(() => index.train({ iterations: -1 }))).toBe('bad_option');
    expect(code(() => new IvfIndex({ dim: 3 }).train())).toBe('too_few_vectors');
    expect(index.nlist).toBe(0);
  });
});
