import { describe, expect, it } from 'vitest';
import { HashingEmbedder } from './hashing.ts';

function cos(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] ?? 0) * (b[i] ?? 0);
  return s;
}

describe('HashingEmbedder', () => {
  const e = new HashingEmbedder();

  it('returns L2-normalised vectors of 384 dimensions by default', async () => {
    const [v] = await e.embed(['The quick brown fox jumps over the lazy dog']);
    expect(v).toHaveLength(384);
    expect(cos(v!, v!)).toBeCloseTo(1, 5);
  });

  it('gives identical bytes for identical text, on every call', async () => {
    const [a, b] = await e.embed(['replicated log', 'replicated log']);
    expect(Buffer.from(a!.buffer)).toEqual(Buffer.from(b!.buffer));
  });

  it('places related texts closer than unrelated ones', async () => {
    const [q, near, far] = await e.embed([
      'leader ships the replicated log to followers',
      'the leader replicates its log entries to every follower',
      'bake the bread at two hundred degrees for forty minutes',
    ]);
    expect(cos(q!, near!)).toBeGreaterThan(cos(q!, far!) + 0.2);
  });

  it('gives symbol-only text a non-zero vector', async () => {
    const [v] = await e.embed(['=> !== ...']);
    expect(cos(v!, v!)).toBeCloseTo(1, 5);
  });

  it('refuses a dimension out of range', () => {
    expect(() => new HashingEmbedder({ dim: 2 })).toThrow(/embedding\.dim/);
  });
});
