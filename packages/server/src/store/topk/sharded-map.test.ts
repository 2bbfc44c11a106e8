// ShardedMap answers as a Map does, for number keys (negative ones too) and string keys, and
// spreads its entries over its shards so that no shard's rehash moves more than a small share.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShardedMap, map_shards } from './sharded-map.ts';

/** The entries per shard (the private shards read directly). */
const shardSizes = <K extends number | string>(map: ShardedMap<K, number>): number[] =>
  (map as unknown as { shards: (Map<K, number> | undefined)[] }).shards.map((m) => m?.size ?? 0);

type Step<K> = { kind: 'set'; key: K; value: number } | { kind: 'delete'; key: K } | { kind: 'clear' };

function steps<K>(key: fc.Arbitrary<K>): fc.Arbitrary<Step<K>[]> {
  return fc.array(
    fc.oneof(
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), key, value: fc.integer() }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), key }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('clear' as const) }) },
    ),
    { maxLength: 200 },
  );
}

function check<K extends number | string>(all: Step<K>[], probe: readonly K[]): void {
  const map = new ShardedMap<K, number>();
  const model = new Map<K, number>();
  for (const s of all) {
    if (s.kind === 'set') {
      map.set(s.key, s.value);
      model.set(s.key, s.value);
    } else if (s.kind === 'delete') {
      expect(map.delete(s.key)).toBe(model.delete(s.key));
    } else {
      map.clear();
      model.clear();
    }
    expect(map.size).toBe(model.size);
  }
  for (const k of [...probe, ...model.keys()]) {
    expect(map.get(k)).toBe(model.get(k));
    expect(map.has(k)).toBe(model.has(k));
  }
}

describe('ShardedMap', () => {
  it('answers as a Map for number keys', () => {
    const key = fc.oneof(fc.integer({ min: -600, max: 600 }), fc.maxSafeInteger(), fc.constant(Number.MIN_SAFE_INTEGER));
    fc.assert(fc.property(steps(key), fc.array(key, { maxLength: 20 }), (all, probe) => check(all, probe)), { numRuns: 200 });
  });

  it('answers as a Map for string keys', () => {
    const key = fc.oneof(fc.string({ maxLength: 3 }), fc.string({ minLength: 15, maxLength: 40 }), fc.constantFrom('index', 'indexes', 'x'.repeat(17), 'x'.repeat(18)));
    fc.assert(fc.property(steps(key), fc.array(key, { maxLength: 20 }), (all, probe) => check(all, probe)), { numRuns: 200 });
  });

  it('spreads number keys evenly over its shards, negative ones too', () => {
    const map = new ShardedMap<number, number>();
    for (let k = -65_536; k < 65_536; k++) map.set(k, k);
    const sizes = shardSizes(map);
    expect(sizes).toHaveLength(map_shards);
    expect(new Set(sizes)).toEqual(new Set([512]));
  });

  it('spreads string keys over its shards, the fullest under twice the mean', () => {
    const map = new ShardedMap<string, number>();
    for (let i = 0; i < 65_536; i++) map.set(`doc-${i}`, i);
    const sizes = shardSizes(map);
    expect(sizes).toHaveLength(map_shards);
    expect(Math.max(...sizes)).toBeLessThan(2 * (65_536 / map_shards));
    expect(Math.min(...sizes)).toBeGreaterThan(0);
  });

  it('hashes only the first 16 characters of a key and its length, so a long key costs no more than a short one', () => {
    const map = new ShardedMap<string, number>();
    const prefix = 'p'.repeat(16);
    for (let i = 0; i < 1_000; i++) map.set(`${prefix}${String(i).padStart(4, '0')}`, i);
    expect(shardSizes(map).filter((n) => n > 0)).toEqual([1_000]);
    expect(map.get(`${prefix}0999`)).toBe(999);
  });
});
