// TopKIndex against BM25 computed from scratch over a model of the rows: after random puts,
// replacements and removals (with the lists rebuilt along the way), search(q, k) is exactly the
// reference's top k: the same rows in the same order with the same scores, ties by row id.
// The vocabulary is small and Zipf-like and frequencies are small integers or halves, so equal
// scores are common and the tie rule is exercised.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { idf, saturation } from './bm25.ts';
import { TopKIndex } from './index.ts';
import type { RowTerms, TopKHit } from './index.ts';
import { rowTerms, tokens } from './terms.ts';
import { mutationRun, propertyRuns } from '../testing.ts';

const vocabulary = Array.from({ length: 40 }, (_, i) => `w${i}`);

/** BM25 over the model, independent of the index's lists. */
function reference(rows: Map<number, RowTerms>, query: readonly string[], k: number): TopKHit[] {
  const n = rows.size;
  if (n === 0) return [];
  let total = 0;
  for (const r of rows.values()) total += r.length;
  const avgdl = total / n;
  const distinct = [...new Set(query)];
  const idfs = distinct.map((t) => {
    let df = 0;
    for (const r of rows.values()) if (r.terms.has(t)) df += 1;
    return df === 0 ? 0 : idf(n, df);
  });
  const hits: TopKHit[] = [];
  for (const [row, r] of rows) {
    let score = 0;
    let matched = false;
    distinct.forEach((t, i) => {
      const tf = r.terms.get(t);
      // float32 frequencies, as the index holds them
      score += tf === undefined ? 0 : (idfs[i] as number) * saturation(Math.fround(tf), r.length, avgdl);
      matched ||= tf !== undefined;
    });
    if (matched) hits.push({ row, score });
  }
  return hits.sort((a, b) => b.score - a.score || a.row - b.row).slice(0, k);
}

const zipfWord = fc.integer({ min: 0, max: 999 }).map((x) => vocabulary[Math.floor(vocabulary.length * (x / 1000) ** 3)] as string);

const rowArb = fc
  .record({
    // mostly halves (held in a byte), now and then one that is not (the list moves to float32s)
    words: fc.array(fc.tuple(zipfWord, fc.constantFrom(0.5, 1, 1, 2, 3, 1, 2, 0.5, 1, 0.3, 200)), { minLength: 0, maxLength: 12 }),
    extra: fc.integer({ min: 0, max: 20 }),
  })
  .map(({ words, extra }): RowTerms => {
    const terms = new Map<string, number>();
    for (const [w, f] of words) terms.set(w, (terms.get(w) ?? 0) + f);
    let length = extra;
    for (const f of terms.values()) length += Math.ceil(f);
    return { terms, length };
  });

type Step = { kind: 'put'; row: number; doc: RowTerms } | { kind: 'remove'; row: number } | { kind: 'search'; query: string[]; k: number } | { kind: 'trim' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('put' as const), row: fc.integer({ min: 0, max: 60 }), doc: rowArb }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), row: fc.integer({ min: 0, max: 60 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('trim' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('search' as const),
      query: fc.array(zipfWord, { minLength: 1, maxLength: 8 }),
      k: fc.integer({ min: 1, max: 15 }),
    }),
  },
);

describe('TopKIndex', () => {
  it('answers exactly the top k of BM25 over every row, through puts, replacements and removals', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 120 }), fc.integer({ min: 1, max: 40 }), (steps, compactMin) => {
        const index = new TopKIndex({ dead_postings_compact_min: compactMin });
        const model = new Map<number, RowTerms>();
        for (const step of steps) {
          if (step.kind === 'put') {
            index.put(step.row, step.doc);
            model.set(step.row, step.doc);
          } else if (step.kind === 'trim') {
            // in two parts, as the passage index's build does it a few lists at a time
            const half = Math.floor(index.termsHeld / 2);
            expect(index.trim(0, half)).toBe(half);
            expect(index.trim(half)).toBe(index.termsHeld);
          } else if (step.kind === 'remove') {
            index.remove(step.row);
            model.delete(step.row);
          } else {
            expect(index.search(step.query, step.k)).toEqual(reference(model, step.query, step.k));
            // restricted to some rows (and one never written): the reference's hits among them
            const some = [...model.keys()].filter((r) => r % 3 === step.k % 3).concat([1000]);
            const among = new Set(some);
            expect(index.scoreRows(step.query, some)).toEqual(reference(model, step.query, model.size + 1).filter((h) => among.has(h.row)));
          }
        }
        expect(index.size).toBe(model.size);
        // A final check of every query word once more, with k large enough to list every match.
        for (const w of vocabulary.slice(0, 5)) expect(index.search([w, 'w7', 'w30'], 100)).toEqual(reference(model, [w, 'w7', 'w30'], 100));
      }),
      { numRuns: propertyRuns(300) },
    );
  });

  it('rebuilds its lists when removed versions pile up and still answers the same', () => {
    const index = new TopKIndex({ dead_postings_compact_min: 10 });
    const model = new Map<number, RowTerms>();
    for (let round = 0; round < 5; round++) {
      for (let row = 0; row < 50; row++) {
        const doc = rowTerms([{ text: `w${row % 7} w${(row * round) % 11} common common`, weight: 1 }]);
        index.put(row, doc);
        model.set(row, doc);
      }
    }
    expect(index.compactions).toBeGreaterThan(0);
    expect(index.search(['w3', 'common', 'w5'], 10)).toEqual(reference(model, ['w3', 'common', 'w5'], 10));
  });

  it('holds at most 7.5 bytes of typed arrays a posting once its lists are trimmed, and 10.5 while they have room to grow', () => {
    // Rows of 60 distinct words from a Zipf-like vocabulary of 5,000 (frequencies 1 to 4 and halves, as
    // content 1 and path 0.5 give): 4 bytes of row number and 1 of frequency a posting, the term
    // ids of each row for removals (about 1.5 bytes), 24 bytes a row of row tables (these two keep
    // their spare room: here the first chunks, grown by doubling, so up to twice).
    const index = new TopKIndex();
    let seed = 7;
    const rand = (): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let row = 0; row < 5_000; row++) {
      const terms = new Map<string, number>();
      while (terms.size < 60) terms.set(`t${Math.floor(5_000 ** rand())}`, 1 + Math.floor(rand() * 4) + (rand() < 0.2 ? 0.5 : 0));
      index.put(row, { terms, length: 80 });
    }
    expect(index.postingsHeld).toBe(5_000 * 60);
    const growing = index.bytesHeld() / index.postingsHeld;
    expect(growing).toBeLessThanOrEqual(10.5);
    const hits = index.search(['t1', 't2', 't300', 't7000'], 10);
    expect(index.trim()).toBe(index.termsHeld);
    const trimmed = index.bytesHeld() / index.postingsHeld;
    expect(trimmed).toBeLessThanOrEqual(7.5);
    expect(index.postingBytes()).toBe(5 * index.postingsHeld);
    expect(index.search(['t1', 't2', 't300', 't7000'], 10)).toEqual(hits);
  });

  // The same check at the shipped chunk size (1 MiB: 8,000 rows of 200 terms, ~1.6 MB of coded
  // term ids) and at 4 KiB (600 rows, ~30 chunks). The first takes a minute under StrykerJS's
  // instrumentation, so mutation runs take the second only (mutationRun).
  it.skipIf(mutationRun)('answers as an index of the rows left after removals whose term ids span several chunks', () => {
    // ~1.6 MB of coded term ids (a byte each), more than one 1 MiB chunk
    spanChunks(8000, {}, (index) => expect(index.bytesHeld() - index.postingBytes() - 3 * 8 * 8192).toBeGreaterThan(2 ** 20));
  });

  it('answers the same with term id chunks of 4 KiB, spanned by a few rows each', () => {
    spanChunks(600, { term_chunk_bytes: 4096 }, (index) => expect(index.termChunksHeld).toBeGreaterThan(25));
  });

  it('breaks equal scores by the smaller row id, also among rows added in another order', () => {
    const index = new TopKIndex();
    for (const row of [9, 3, 7, 1, 5]) index.put(row, rowTerms([{ text: 'same words here', weight: 1 }]));
    index.put(4, rowTerms([{ text: 'other text entirely', weight: 1 }]));
    expect(index.search(['words'], 3).map((h) => h.row)).toEqual([1, 3, 5]);
  });

  it('answers nothing for words no row holds, or after every row is removed', () => {
    const index = new TopKIndex();
    expect(index.search(['anything'], 5)).toEqual([]);
    index.put(1, rowTerms([{ text: 'alpha beta', weight: 1 }]));
    expect(index.search(['gamma'], 5)).toEqual([]);
    index.remove(1);
    expect(index.search(['alpha'], 5)).toEqual([]);
  });

  it('refuses a k or a row id outside its limits', () => {
    const index = new TopKIndex();
    expect(() => index.search(['a'], 0)).toThrow(/k 0/);
    expect(() => index.put(1.5, rowTerms([]))).toThrow(/row id/);
  });
});

describe('terms', () => {
  it('cuts text into lower-case words without diacritics, weighting columns', () => {
    expect(tokens('Résumé of the NAÏVE café, 2024-03 東京')).toEqual(['resume', 'of', 'the', 'naive', 'cafe', '2024', '03', '東京']);
    const r = rowTerms([{ text: 'index the Index', weight: 1 }, { text: 'docs/index.md', weight: 0.5 }]);
    expect(r.terms.get('index')).toBe(2.5);
    expect(r.length).toBe(6);
  });
});

/**
 * `rows` rows of 200 distinct terms, 60 % removed, then every seventh, then all: each time the
 * index answers as one holding only the rows left, and each list's df goes back to 0 (a
 * compaction checks it); `afterPuts` sees the index once every row is in.
 */
function spanChunks(rows: number, opts: { term_chunk_bytes?: number }, afterPuts: (index: TopKIndex) => void): void {
  const rowOf = (row: number): RowTerms => {
    const terms = new Map<string, number>();
    for (let j = 0; terms.size < 200; j++) terms.set(`t${(row * 7919 + j * j * 31) % 3000}`, 1 + ((row + j) % 3));
    return { terms, length: 250 + (row % 17) };
  };
  const index = new TopKIndex(opts);
  const left = new TopKIndex();
  for (let row = 0; row < rows; row++) index.put(row, rowOf(row));
  afterPuts(index);
  for (let row = 0; row < rows; row++) {
    if (row % 5 < 3) index.remove(row);
    else left.put(row, rowOf(row));
  }
  expect(index.compactions).toBeGreaterThan(0);
  for (const q of [['t1'], ['t5', 't77', 't2999'], ['t100', 't200', 't300', 't400']]) expect(index.search(q, 50)).toEqual(left.search(q, 50));
  for (let row = 0; row < rows; row += 7) index.remove(row);
  for (let row = 0; row < rows; row += 7) left.remove(row);
  expect(index.search(['t5', 't77', 't2999'], 50)).toEqual(left.search(['t5', 't77', 't2999'], 50));
  // every row out, the one at each chunk's end included
  for (let row = 0; row < rows; row++) index.remove(row);
  expect(index.size).toBe(0);
  for (let row = 0; row < 10; row++) index.put(row, rowOf(row));
  expect(index.search(['t5', 't77'], 50)).toEqual(index.bruteForce(['t5', 't77'], 50));
}
