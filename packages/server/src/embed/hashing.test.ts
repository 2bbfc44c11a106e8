import { createHash } from 'node:crypto';
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

describe('HashingEmbedder output is pinned', () => {
  // Seeded texts: random letters (Latin, accented, Cyrillic, CJK, emoji), digits, punctuation,
  // words over word_chars_max, texts of up to 20,000 characters, symbol-only and empty texts.
  function corpus(): string[] {
    let x = 12345;
    const rnd = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const alphabet = 'abcdefghijklmnopqrstuvwxyzéüßЖж漢字😀0123456789 .,;!?-_<>/\n\t';
    const out: string[] = ['', '!!!', '-> =>', 'a', 'x'.repeat(100), 'Straße ÉCOLE 東京 naïve'];
    for (let i = 0; i < 200; i++) {
      const n = Math.floor(rnd() * (i % 10 === 0 ? 20000 : 1500));
      let s = '';
      for (let j = 0; j < n; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      out.push(s);
    }
    return out;
  }

  // Stored vectors and query vectors must agree across versions: these digests were taken from
  // the first release's embedder; a change here silently degrades search on existing data.
  it.each([
    [384, '8dbc317c74150d3337d65f0e47994ad629ffea5494c7db0edf8fb49384a31975'],
    [64, '743880850c8bd67584a1fdb4e9c72fce55c411043a27b52a10e3e4e08b8ca837'],
  ])('dim %i: the same bytes as every earlier version', async (dim, digest) => {
    const e = new HashingEmbedder({ dim });
    const h = createHash('sha256');
    for (const t of corpus()) {
      const [v] = await e.embed([t]);
      h.update(Buffer.from((v as Float32Array).buffer));
    }
    expect(h.digest('hex')).toBe(digest);
  });
});

describe('HashingEmbedder on a large text', () => {
  it('gives the event loop turns while it works, with the same bytes every time', async () => {
    // Under 20,000 words: the previous embedder, yielding every 20,000 words, gave no turn at all.
    const text = Array.from({ length: 9_500 }, (_, i) => `alphabetical${i % 977} characters${i % 313}`).join(' ');
    const e = new HashingEmbedder();
    let turns = 0;
    let ticking = true;
    const tick = (): void => {
      turns += 1;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const [a] = await e.embed([text]);
    ticking = false;
    expect(turns).toBeGreaterThan(0);
    const [b] = await e.embed([text]);
    expect(Buffer.from((a as Float32Array).buffer)).toEqual(Buffer.from((b as Float32Array).buffer));
  });
});
