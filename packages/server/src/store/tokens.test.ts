import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from './testing.ts';
import { countTokens, countTokensAsync, countTokensExact, truncateToTokens } from './tokens.ts';

const alphabet = ['a', 'Z', 'é', '日本', '😀', ' ', '  ', '\n', '\r\n', '\t', '1', '234567', "'s", "'LL", '.', '!!', '-->', '<|endoftext|>', 'ß', '\u200b', 'x y'];

describe('countTokens', () => {
  it('equals the length of a whole-text encode on random text', () => {
    const rand = seededRandom(7);
    for (let i = 0; i < 200; i++) {
      const text = Array.from({ length: 1 + Math.floor(rand() * 60) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
      expect(countTokens(text), JSON.stringify(text)).toBe(countTokensExact(text));
    }
  });

  it('equals the length of a whole-text encode on real documents', () => {
    const root = resolve(import.meta.dirname, '../../../../node_modules');
    for (const pkg of ['typescript', 'hono', 'vitest', 'msgpackr', 'better-sqlite3', 'pino', 'yaml']) {
      const text = readFileSync(resolve(root, pkg, 'README.md'), 'utf8');
      expect(countTokens(text), pkg).toBe(countTokensExact(text));
    }
  });

  it('gives the same count when yielding to the event loop on a large text', async () => {
    const big = readFileSync(resolve(import.meta.dirname, '../../../../node_modules/typescript/README.md'), 'utf8').repeat(40);
    expect(big.length).toBeGreaterThan(64 * 1024);
    expect(await countTokensAsync(big)).toBe(countTokens(big));
  });

  it('counts special-token text as plain text instead of throwing', () => {
    expect(countTokens('<|endoftext|>')).toBeGreaterThan(1);
  });
});

describe('truncateToTokens', () => {
  it('keeps a prefix of at most the asked number of tokens and never splits a character', () => {
    const text = '日本語のテキスト😀 and some English words to cut somewhere';
    for (let n = 0; n < 20; n++) {
      const cut = truncateToTokens(text, n);
      expect(text.startsWith(cut)).toBe(true);
      expect(countTokensExact(cut)).toBeLessThanOrEqual(n);
    }
  });
});
