import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import { describe, expect, it } from 'vitest';
import { encodeTokens, encodeTokensWhole } from './tokens.ts';

const reference = new Tiktoken(cl100k);

function randomText(seed: number, length: number): string {
  let s = seed;
  const rnd = (): number => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  let t = '';
  for (let i = 0; i < length; i++) t += String.fromCodePoint(rnd() < 0.7 ? 32 + Math.floor(rnd() * 95) : 0x80 + Math.floor(rnd() * 0x2f00));
  return t;
}

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

  it('encodes one 200,000-character unbroken run without the quadratic blow-up (the library takes minutes)', () => {
    const started = performance.now();
    const ids = encodeTokensWhole('q'.repeat(200_000));
    expect(ids.length).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(5_000);
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
