import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  countTokens,
  countTokensAsync,
  countTokensExact,
  encodeTokens,
  encodeTokensAsync,
  pre_token_chars_max,
  slice_ms_max,
  tokenPieces,
  truncateToTokens,
  truncateToTokensAsync,
} from './tokens.ts';
import type * as Tokens from './tokens.ts';

/** True when `s` holds no lone surrogate (every piece is whole characters, valid UTF-8). */
function wellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

function expectWholePieces(text: string): string[] {
  const pieces = [...tokenPieces(text)];
  expect(pieces.join('')).toBe(text);
  for (const [i, p] of pieces.entries()) {
    expect(wellFormed(p), `piece ${i} ends ${JSON.stringify(p.slice(-2))}`).toBe(true);
    expect(p.length, `piece ${i}`).toBeLessThanOrEqual(pre_token_chars_max);
  }
  return pieces;
}

describe('tokenPieces cutting a long pre-token', () => {
  it('ends a piece one code unit early rather than between the halves of a surrogate pair', () => {
    // One punctuation pre-token: "!" then emoji, so every cut at 256 would land inside a pair.
    const pieces = expectWholePieces('!' + '😀'.repeat(200));
    expect(pieces.map((p) => p.length)).toEqual([255, 146]);
  });

  it('treats the first and the last high surrogates (U+D800, U+DBFF) as halves of a pair', () => {
    for (const c of ['\u{10000}', '\u{103FF}', '\u{10FC00}', '\u{10FFFD}']) {
      expect(c.length).toBe(2);
      const pieces = expectWholePieces('!' + c.repeat(200));
      expect(pieces.map((p) => p.length), c.codePointAt(0)?.toString(16)).toEqual([255, 146]);
    }
  });

  it('keeps surrogate pairs whole where a long pre-token crosses the 4096-character window', () => {
    // The pair at 4095-4096 straddles the first window's end in both texts.
    const odd = expectWholePieces('!' + '😀'.repeat(3000));
    expect(odd.length).toBe(24);
    const shifted = expectWholePieces('!'.repeat(3841) + '😀'.repeat(500));
    expect(shifted.map((p) => p.length)).toEqual([...Array<number>(15).fill(256), 255, 256, 256, 234]);
  });

  it('keeps a lone high surrogate at the very end of a long run as its own piece', () => {
    // Text from a client can hold an unpaired surrogate; it is counted (as U+FFFD), not an error.
    const text = '!'.repeat(pre_token_chars_max) + '\uD800';
    expect([...tokenPieces(text)]).toEqual(['!'.repeat(pre_token_chars_max), '\uD800']);
    expect(countTokens(text)).toBe(encodeTokens(text).length);
  });

  it('does not cut a pre-token of exactly pre_token_chars_max, and cuts one a unit longer in two', () => {
    expect([...tokenPieces('!'.repeat(pre_token_chars_max))]).toEqual(['!'.repeat(pre_token_chars_max)]);
    expect([...tokenPieces('!'.repeat(pre_token_chars_max + 1))]).toEqual(['!'.repeat(pre_token_chars_max), '!']);
  });
});

describe('token counts at the edges', () => {
  it('counts the empty text as 0 tokens, sync, async and exact', async () => {
    expect(countTokens('')).toBe(0);
    expect(countTokensExact('')).toBe(0);
    expect(await countTokensAsync('')).toBe(0);
    expect(encodeTokens('')).toEqual([]);
    expect(await encodeTokensAsync('')).toEqual([]);
  });

  it('gives cl100k ids for known text', async () => {
    expect(encodeTokens('The quick brown fox')).toEqual([791, 4062, 14198, 39935]);
    expect(await encodeTokensAsync('The quick brown fox')).toEqual([791, 4062, 14198, 39935]);
    expect(countTokens('a🌋')).toBe(4);
  });
});

describe('truncateToTokens', () => {
  const text = 'The quick brown fox';

  it('keeps exactly the first N tokens on token boundaries', async () => {
    const expected = ['', 'The', 'The quick', 'The quick brown', text, text];
    for (const [n, prefix] of expected.entries()) {
      expect(truncateToTokens(text, n), `${n} tokens`).toBe(prefix);
      expect(await truncateToTokensAsync(text, n), `${n} tokens, async`).toBe(prefix);
    }
  });

  it('gives the empty string for 0 or a negative budget', async () => {
    expect(truncateToTokens(text, 0)).toBe('');
    expect(truncateToTokens(text, -1)).toBe('');
    expect(await truncateToTokensAsync(text, 0)).toBe('');
    expect(await truncateToTokensAsync(text, -3)).toBe('');
  });

  it('drops every token of a character it would cut (🌋 is 3 tokens)', () => {
    expect(['', 'a', 'a', 'a', 'a🌋', 'a🌋'].map((_, n) => truncateToTokens('a🌋', n))).toEqual(['', 'a', 'a', 'a', 'a🌋', 'a🌋']);
  });

  it('returns a text that fits its budget unchanged, even one holding a lone surrogate', async () => {
    // Decoding its ids would give "ab\uFFFDcd"; a text within the budget is not decoded.
    const lone = 'ab\uD800cd';
    expect(countTokens(lone)).toBe(3);
    expect(truncateToTokens(lone, 3)).toBe(lone);
    expect(truncateToTokens(lone, 4)).toBe(lone);
    expect(await truncateToTokensAsync(lone, 3)).toBe(lone);
  });
});

describe('the async variants giving the event loop turns', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** Counts the event loop turns other work gets while `work` runs. */
  async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
    let turns = 0;
    let running = true;
    const other = (): void => {
      if (!running) return;
      turns += 1;
      setImmediate(other);
    };
    setImmediate(other);
    const result = await work();
    running = false;
    return { result, turns };
  }

  /** A clock that reads `readings` in order, then the last one for ever. */
  function clock(...readings: number[]): void {
    let i = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => readings[Math.min(i++, readings.length - 1)] as number);
  }

  // 8 pieces of exactly pre_token_chars_max characters (one long run of letters).
  const run = 'x'.repeat(8 * pre_token_chars_max);

  it('takes no turn while the work stays within slice_ms_max', async () => {
    clock(1000);
    const counted = await turnsDuring(() => countTokensAsync(run));
    const encoded = await turnsDuring(() => encodeTokensAsync(run));
    expect(counted).toEqual({ result: countTokens(run), turns: 0 });
    expect(encoded.turns).toBe(0);
    expect(encoded.result).toEqual(encodeTokens(run));
  });

  it('takes a turn once slice_ms_max has passed, and not before', async () => {
    clock(0, slice_ms_max - 0.5);
    expect((await turnsDuring(() => countTokensAsync(run))).turns).toBe(0);
    vi.restoreAllMocks();
    // Exactly slice_ms_max after the start: one turn, then the slice starts again at that time.
    clock(0, slice_ms_max);
    expect((await turnsDuring(() => countTokensAsync(run))).turns).toBe(1);
  });

  it('looks at the clock after every 512 characters and yields each time the slice is used up', async () => {
    // Every clock reading is slice_ms_max later than the one before: each look finds it used up.
    let t = 0;
    vi.spyOn(performance, 'now').mockImplementation(() => (t += slice_ms_max));
    const counted = await turnsDuring(() => countTokensAsync(run));
    expect(counted).toEqual({ result: countTokens(run), turns: run.length / 512 });
    const encoded = await turnsDuring(() => encodeTokensAsync(run));
    expect(encoded.turns).toBe(run.length / 512);
    expect(encoded.result).toEqual(encodeTokens(run));
  });
});

describe('reading the rank table', () => {
  afterEach(() => {
    vi.doUnmock('js-tiktoken/ranks/cl100k_base');
    vi.resetModules();
  });

  /** tokens.ts loaded afresh over a rank table with `bpe_ranks` as its text. */
  async function tokensOver(bpe_ranks: string): Promise<typeof Tokens> {
    vi.resetModules();
    vi.doMock('js-tiktoken/ranks/cl100k_base', async (importOriginal) => {
      const real = (await importOriginal<{ default: { pat_str: string } }>()).default;
      return { default: { ...real, bpe_ranks } };
    });
    return import('./tokens.ts');
  }

  it('numbers each line\'s tokens from its first rank and skips empty lines', async () => {
    // "a" 0, "b" 1, then "ab" 2 on a later line, with empty lines around.
    const t = await tokensOver('! 0 YQ== Yg==\n\n! 2 YWI=\n');
    expect(t.vocab().ranks).toEqual(new Map([['a', 0], ['b', 1], ['ab', 2]]));
    expect(t.encodeTokens('abba')).toEqual([2, 1, 0]);
  });

  it('refuses a table whose line lacks its first rank', async () => {
    const t = await tokensOver('! 0 YQ==\n! YWI=');
    expect(() => t.vocab()).toThrow('cl100k ranks: a line without its first rank (js-tiktoken format changed?)');
  });
});
