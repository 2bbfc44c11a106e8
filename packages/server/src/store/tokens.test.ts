import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from './testing.ts';
import { countTokens, countTokensAsync, countTokensExact, cut_tokens_drift_max, encodeTokens, pre_token_chars_max, tokenPieces, truncateToTokens } from './tokens.ts';

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

describe('countTokens on pathological runs', () => {
  it('counts 1 MiB without a space in work linear in its length (the whole-piece merge took 3 s)', () => {
    const rand = seededRandom(11);
    const letters = Array.from({ length: 1 << 20 }, () => String.fromCharCode(97 + Math.floor(rand() * 26))).join('');
    expect(countTokens('x'.repeat(1 << 20))).toBeGreaterThan(0);
    // Every piece the counter encodes is bounded, so the work is linear: count the pieces.
    const pieces = [...tokenPieces(letters)];
    expect(pieces.length).toBe(Math.ceil(letters.length / pre_token_chars_max));
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThanOrEqual(pre_token_chars_max);
  });

  it('never cuts a surrogate pair', () => {
    const text = 'a' + '😀'.repeat(1000);
    const pieces = [...tokenPieces(text)];
    expect(pieces.join('')).toBe(text);
    for (const p of pieces) expect(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(p), JSON.stringify(p.slice(-2))).toBe(false);
  });

  it('stays within cut_tokens_drift_max of the reference per cut on long runs', () => {
    const rand = seededRandom(3);
    const runs = [
      'x'.repeat(5000),
      Array.from({ length: 5000 }, () => String.fromCharCode(97 + Math.floor(rand() * 26))).join(''),
      Array.from({ length: 3000 }, () => String.fromCharCode(0x4e00 + Math.floor(rand() * 20000))).join(''),
      Buffer.from(Array.from({ length: 6000 }, () => Math.floor(rand() * 256))).toString('base64').replace(/[^a-zA-Z]/g, 'Q'),
      ' '.repeat(3000) + 'x',
    ];
    for (const run of runs) {
      const cuts = [...tokenPieces(run)].length - 1;
      expect(cuts).toBeGreaterThan(0);
      expect(Math.abs(countTokens(run) - countTokensExact(run)), run.slice(0, 20)).toBeLessThanOrEqual(cuts * cut_tokens_drift_max);
    }
  });

  it('gives the same count every time, sync and sliced', async () => {
    const text = `${'語'.repeat(20_000)} ${'x'.repeat(70_000)}`;
    const n = countTokens(text);
    expect(countTokens(text)).toBe(n);
    expect(await countTokensAsync(text)).toBe(n);
    expect(encodeTokens(text).length).toBe(n);
  });
});
