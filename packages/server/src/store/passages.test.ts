// The passage splitter's properties on generated and real text: deterministic, covers the text
// exactly, never cuts inside a word or a character, respects the target except for one
// unsplittable unit, and cuts where the structure says (headings, code fences, man sections).

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assertPassagesCover, bytesToPassages, passagesToBytes, splitPassages, wholePassage } from './passages.ts';
import type { Passage } from './passages.ts';
import { seededRandom } from './testing.ts';
import { countTokens } from './tokens.ts';

const vocabulary = (
  'raft log leader follower snapshot vector index cluster token budget query workspace apple river stone ' +
  'résumé naïve 東京都の天気は晴れです данные λόγος 😀👩‍👩‍👧 <|endoftext|> don\'t 12345 3.14 e\u0301 -- end. why? ' +
  '\n \n\n # ## ``` ~~~ NAME SYNOPSIS .SH'
).split(' ');

function generated(rand: () => number, words: number): string {
  return Array.from({ length: words }, () => vocabulary[Math.floor(rand() * vocabulary.length)]).join(rand() < 0.8 ? ' ' : '\n');
}

const word_char = /[\p{L}\p{N}\p{M}]/u;

/** Offsets where a cut would split a word, a surrogate pair or a combining sequence. */
function badCut(text: string, at: number): string | null {
  if (at <= 0 || at >= text.length) return null;
  const before = text.charCodeAt(at - 1);
  if (before >= 0xd800 && before <= 0xdbff) return 'inside a surrogate pair';
  const prev = String.fromCodePoint(text.codePointAt(at - 1 - (before >= 0xdc00 && before <= 0xdfff ? 1 : 0)) ?? 0);
  const next = String.fromCodePoint(text.codePointAt(at) ?? 0);
  if (/\p{M}/u.test(next)) return 'before a combining mark';
  // Latin-like words: letters on both sides of the cut with no space is inside a word. Scripts
  // written without spaces (CJK) are cut by the word segmenter, which the check below accepts.
  if (word_char.test(prev) && word_char.test(next) && !/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u.test(prev + next)) {
    return `inside a word (${JSON.stringify(text.slice(at - 8, at + 8))})`;
  }
  return null;
}

function checkProperties(text: string, ps: Passage[], target: number, why: string): void {
  assertPassagesCover(ps, text.length, why);
  for (const p of ps) {
    const piece = text.slice(p.start, p.end);
    expect(p.tokens, why).toBe(countTokens(piece));
    const cut = badCut(text, p.start);
    expect(cut, `${why}: passage at ${p.start}`).toBeNull();
    // Valid UTF-8 on its own: encoding and decoding gives the same text back.
    expect(Buffer.from(piece, 'utf8').toString('utf8'), why).toBe(piece);
    if (p.tokens > target) {
      // Only an unsplittable unit may be over: a passage without any space, line break or word boundary inside.
      expect(/[\s]/u.test(piece.trim()), `${why}: passage of ${p.tokens} tokens over ${target}: ${JSON.stringify(piece.slice(0, 80))}`).toBe(false);
    }
    const before = text.slice(0, p.start);
    expect(p.line_start, why).toBe(before.split('\n').length);
  }
}

describe('splitPassages', () => {
  it.each([1, 2, 3, 4, 5, 6])('covers generated text exactly, cuts only between words and stays under the target (seed %i)', (seed) => {
    const rand = seededRandom(seed);
    for (let n = 0; n < 20; n++) {
      const text = generated(rand, Math.floor(rand() * 1500));
      const target = [16, 32, 64, 256][n % 4] as number;
      const ps = splitPassages(text, target);
      checkProperties(text, ps, target, `seed ${seed}, text ${n}, target ${target}`);
      expect(splitPassages(text, target), 'deterministic').toEqual(ps);
    }
  });

  it('cuts real Markdown (this package\'s READMEs) at headings and keeps fenced code together', () => {
    const text = readFileSync(resolve(import.meta.dirname, '../../../../README.md'), 'utf8');
    const ps = splitPassages(text, 256);
    checkProperties(text, ps, 256, 'README.md');
    expect(ps.length).toBeGreaterThan(10);
    const starts = new Set(ps.map((p) => p.start));
    // Every second-level heading starts a passage unless the passage before it is still small.
    const headings = [...text.matchAll(/^## .*$/gm)].map((m) => m.index);
    const started = headings.filter((h) => starts.has(h)).length;
    expect(started / headings.length).toBeGreaterThanOrEqual(0.8);
    // A heading goes with its section: no passage is a lone heading while text follows it.
    for (const p of ps.slice(0, -1)) expect(/^#{1,6} [^\n]*\n*$/.test(text.slice(p.start, p.end)), `lone heading at ${p.start}`).toBe(false);
    // No passage starts inside a fenced code block that fits the target.
    const fences = [...text.matchAll(/^```[^\n]*\n[\s\S]*?^```$/gm)];
    for (const f of fences) {
      if (countTokens(f[0]) > 256) continue;
      for (const s of starts) expect(s > f.index && s < f.index + f[0].length, `a cut inside the fence at ${f.index}`).toBe(false);
    }
  });

  it('starts passages at man page sections', () => {
    const body = (w: string): string => `       ${w} `.repeat(60).trimEnd() + '\n\n';
    const text = `NAME\n       tool - does things\n\nSYNOPSIS\n${body('tool [options]')}DESCRIPTION\n${body('describes the tool')}SEE ALSO\n       other(1)\n`;
    const ps = splitPassages(text, 128);
    checkProperties(text, ps, 128, 'man page');
    for (const h of ['SYNOPSIS', 'DESCRIPTION']) expect(ps.some((p) => text.startsWith(h, p.start)), h).toBe(true);
  });

  it('keeps a word longer than the target whole, and cuts text without spaces at word boundaries', () => {
    const long = 'x'.repeat(5000);
    const text = `before ${long} after`;
    const ps = splitPassages(text, 16);
    checkProperties(text, ps, 16, 'long word');
    expect(ps.some((p) => text.slice(p.start, p.end).includes(long))).toBe(true);
    const cjk = '東京都の天気は晴れです。'.repeat(200);
    const cps = splitPassages(cjk, 32);
    checkProperties(cjk, cps, 32, 'cjk');
    expect(cps.length).toBeGreaterThan(10);
  });

  it('gives one passage for a short or empty text, and round-trips through the op encoding', () => {
    expect(splitPassages('one line', 256)).toEqual([{ start: 0, end: 8, line_start: 1, line_end: 1, tokens: countTokens('one line') }]);
    expect(splitPassages('', 256)).toEqual([{ start: 0, end: 0, line_start: 1, line_end: 1, tokens: 0 }]);
    expect(wholePassage('a\nb\n', 3)).toEqual({ start: 0, end: 4, line_start: 1, line_end: 2, tokens: 3 });
    const ps = splitPassages(generated(seededRandom(9), 2000), 64);
    expect(bytesToPassages(passagesToBytes(ps))).toEqual(ps);
    expect(() => splitPassages('x', 8)).toThrow(/passage target/);
  });
});

describe('the op encoding of passages', () => {
  it('decodes a view into a larger buffer and refuses a length that is not whole passages', () => {
    const ps: Passage[] = [{ start: 0, end: 9, line_start: 1, line_end: 2, tokens: 4 }, { start: 9, end: 70_000, line_start: 2, line_end: 900, tokens: 65_536 }];
    const bytes = passagesToBytes(ps);
    expect(bytes.byteLength).toBe(40);
    const padded = new Uint8Array(48);
    padded.set(bytes, 8);
    expect(bytesToPassages(padded.subarray(8))).toEqual(ps);
    expect(bytesToPassages(new Uint8Array(0))).toEqual([]);
    for (const n of [19, 25, 41]) {
      expect(() => bytesToPassages(new Uint8Array(n))).toThrow(new RangeError(`passage bytes: length ${n} is not a multiple of 20`));
    }
  });
});

describe('assertPassagesCover', () => {
  const p = (start: number, end: number, line_start = 1, line_end = 1): Passage => ({ start, end, line_start, line_end, tokens: 1 });

  it('accepts passages that cover the text in order, and one empty passage for an empty text', () => {
    expect(() => assertPassagesCover([p(0, 5), p(5, 10, 1, 2)], 10, 'doc')).not.toThrow();
    expect(() => assertPassagesCover(splitPassages(''), 0, 'empty')).not.toThrow();
  });

  it.each<[string, Passage[], number, string]>([
    ['no passage', [], 0, 'invariant: doc has no passage'],
    ['a gap', [p(0, 5), p(6, 10)], 10, 'invariant: doc: a passage starts at 6, expected 5'],
    ['an overlap', [p(0, 5), p(4, 10)], 10, 'invariant: doc: a passage starts at 4, expected 5'],
    ['a backward passage', [p(0, 5), p(5, 3), p(3, 10)], 10, 'invariant: doc: an empty or backward passage at 5'],
    ['an empty passage in a text', [p(0, 0), p(0, 10)], 10, 'invariant: doc: an empty or backward passage at 0'],
    ['line 0', [p(0, 10, 0, 1)], 10, 'invariant: doc: lines 0-1'],
    ['lines backward', [p(0, 10, 3, 2)], 10, 'invariant: doc: lines 3-2'],
    ['a short end', [p(0, 5)], 10, 'invariant: doc: passages end at 5, the content at 10'],
  ])('refuses %s', (_what, ps, length, message) => {
    expect(() => assertPassagesCover(ps, length, 'doc')).toThrow(new Error(message));
  });
});
