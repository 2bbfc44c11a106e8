import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import { describe, expect, it } from 'vitest';
import { bytePairEncode } from './bpe.ts';
import { encodeTokens, encodeTokensWhole, truncateToTokens, vocab } from './tokens.ts';

const reference = new Tiktoken(cl100k);

function randomText(seed: number, length: number): string {
  let s = seed;
  const rnd = (): number => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  let t = '';
  for (let i = 0; i < length; i++) t += String.fromCodePoint(rnd() < 0.7 ? 32 + Math.floor(rnd() * 95) : 0x80 + Math.floor(rnd() * 0x2f00));
  return t;
}

describe('the vocabulary read from js-tiktoken\'s ranks', () => {
  it('holds every token js-tiktoken holds, at its rank', () => {
    const theirs = (reference as unknown as { rankMap: Map<string, number> }).rankMap;
    const { ranks, bytes } = vocab();
    expect(ranks.size).toBe(theirs.size);
    for (const [commaKey, rank] of theirs) {
      const key = String.fromCharCode(...commaKey.split(',').map(Number));
      expect(ranks.get(key)).toBe(rank);
      expect(bytes[rank]?.toString('latin1')).toBe(key);
    }
  });

  it('decodes a cut as js-tiktoken does (a character cut in two is U+FFFD, then dropped)', () => {
    const text = 'naïve café — 東京 🌋 and ' + 'ab'.repeat(40);
    const ids = reference.encode(text, [], []);
    for (let n = 0; n <= ids.length; n++) {
      const expected = reference.decode(ids.slice(0, n));
      const cut = truncateToTokens(text, n);
      expect(expected.startsWith(cut), `${n} tokens`).toBe(true);
      expect(cut.endsWith('\uFFFD')).toBe(false);
    }
  });
});

describe('the O(n log n) byte-pair encoder', () => {
  it('gives the same token ids as js-tiktoken on prose, code, unicode and long runs', () => {
    const texts = [
      'The quick brown fox jumps over the lazy dog.',
      'const x = await fetch(`${base}/api/v1/documents`, { method: "POST" });',
      'naïve café — 東京 🌋 <|endoftext|> special text stays text',
      'x'.repeat(500),
      'ab'.repeat(300),
      'aGVsbG8gd29ybGQ='.repeat(30),
      ...Array.from({ length: 60 }, (_, i) => randomText(i + 1, 40 + i * 7)),
    ];
    for (const t of texts) expect(encodeTokensWhole(t), JSON.stringify(t.slice(0, 40))).toEqual(reference.encode(t, [], []));
  });

  it('skips a queued pair whose part was merged away since (words where that order decides the ids)', () => {
    // In each word a part made by one merge is then merged into its left neighbour while its own
    // pair with its right neighbour is still queued; taking that stale pair changes the ids.
    const { ranks } = vocab();
    const words: [string, number[]][] = [
      ['allowNamespaces', [7331, 8139, 28438]],
      [' compliancy', [4684, 1122, 11377]],
      [' createSocketCount', [1893, 10498, 2568]],
      ['preserveParens', [93982, 47, 548, 4511]],
    ];
    for (const [word, ids] of words) {
      expect(bytePairEncode(new TextEncoder().encode(word), ranks), word).toEqual(ids);
      expect(reference.encode(word, [], []), word).toEqual(ids);
    }
  });

  it('encodes one unbroken run in work linear in its length (the library\'s merge is quadratic)', () => {
    // Work is counted, not timed: every rank lookup and the bytes of its key. A merge that rescans
    // every pair after each merge (js-tiktoken's) does n lookups per merge; this one does two.
    const { ranks } = vocab();
    const work = (n: number): number => {
      let units = 0;
      const counting = new (class extends Map<string, number> {
        override get(k: string): number | undefined {
          units += 1 + k.length;
          return super.get(k);
        }
      })(ranks);
      const ids = bytePairEncode(new TextEncoder().encode('q'.repeat(n)), counting);
      expect(ids.length).toBeGreaterThan(0);
      return units;
    };
    const small = work(2_000);
    const large = work(8_000);
    expect(small).toBeGreaterThan(2_000);
    // Linear: 4x the run, ~4x the work (quadratic would be 16x).
    expect(large / small).toBeLessThan(4.5);
    expect(large / small).toBeGreaterThan(3.5);
  });
});

describe('encodeTokens', () => {
  it('gives the ids of a whole-text encode on text without long pre-tokens', () => {
    const texts = ['The quick brown fox jumps over the lazy dog.', ...Array.from({ length: 40 }, (_, i) => randomText(i + 100, 50 + i * 90))];
    for (const t of texts) expect(encodeTokens(t), JSON.stringify(t.slice(0, 40))).toEqual(reference.encode(t, [], []));
  });

  it('encodes a long run in pieces whose ids still decode to the text', () => {
    const text = `start ${'😀a'.repeat(700)} 日本${'語'.repeat(3000)} end`;
    expect(reference.decode(encodeTokens(text))).toBe(text);
  });
});
