// ShardedMap answers as a Map does, for number keys (negative ones too) and string keys.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ShardedMap } from './sharded-map.ts';

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
});
