// TopKIndex against BM25 computed from scratch over a model of the rows: after random puts,
// replacements and removals (with the lists rebuilt along the way), search(q, k) is exactly the
// reference's top k: the same rows in the same order with the same scores, ties by row id.
// The vocabulary is small and Zipf-like and frequencies are small integers or halves, so equal
// scores are common and the tie rule is exercised.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { idf, saturation } from './bm25.ts';
import { k_max, query_terms_max, TopKIndex } from './index.ts';
import type { RowTerms, TopKHit } from './index.ts';
import { rowTerms, tokens } from './terms.ts';
import { mutationRun, propertyRuns, seededRandom } from '../testing.ts';

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
            expect(index.bruteForce(step.query, step.k)).toEqual(reference(model, step.query, step.k));
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

/** An index and its model of the same rows, for comparing answers with reference(). */
function indexed(rows: Iterable<[number, RowTerms]>, opts: ConstructorParameters<typeof TopKIndex>[0] = {}): { index: TopKIndex; model: Map<number, RowTerms> } {
  const index = new TopKIndex(opts);
  const model = new Map<number, RowTerms>();
  for (const [row, doc] of rows) {
    index.put(row, doc);
    model.set(row, doc);
  }
  return { index, model };
}

const one = (terms: Record<string, number>, length: number): RowTerms => ({ terms: new Map(Object.entries(terms)), length });

// MaxScore's bounds: a term's upper bound is the best score any block of its list could give, and
// a term whose bound falls below the k-th best score so far is only looked up for rows another
// term brought. A bound taken from the wrong block, or one too low, drops a row from the answer;
// one too high, or none used, scores rows that cannot make the top k (rowsScored counts them).
describe('TopKIndex pruning', () => {
  /**
   * 30 rows of a rarer word `y` (weak: half a use in 600 tokens) first, then 1,000 rows of `x`
   * (one use in 100 tokens) of which the one at `position` in x's list stands out (tf 20, or a
   * length of 1), then 1,970 rows of neither. The top 3 for [y, x] is that row and two y rows:
   * every other x row scores below every y row, so once the y rows fill the top 3, only x's
   * bound, which must come from the standout's block, keeps x's list walked.
   */
  function standout(position: number, kind: 'tf' | 'length'): { index: TopKIndex; model: Map<number, RowTerms>; row: number } {
    const rows: [number, RowTerms][] = [];
    for (let i = 0; i < 30; i++) rows.push([i, one({ y: 0.5 }, 600)]);
    for (let i = 0; i < 1000; i++) {
      const special = i === position;
      rows.push([1000 + i, special ? (kind === 'tf' ? one({ x: 20 }, 100) : one({ x: 1 }, 1)) : one({ x: 1 }, 100)]);
    }
    for (let i = 0; i < 1970; i++) rows.push([5000 + i, one({ z: 1 }, 100)]);
    return { ...indexed(rows), row: 1000 + position };
  }

  for (const kind of ['tf', 'length'] as const) {
    it(`finds the row whose ${kind === 'tf' ? 'frequency' : 'shortness'} tops its block, wherever that block is in the list`, () => {
      // first posting, inside and at the end of block 0, first of block 1, inside a middle block, the last
      for (const position of [0, 60, 127, 128, 300, 999]) {
        const { index, model, row } = standout(position, kind);
        const want = reference(model, ['y', 'x'], 3);
        expect(want.map((h) => h.row)).toEqual([row, 0, 1]);
        expect(index.search(['y', 'x'], 3)).toEqual(want);
        expect(index.search(['x', 'y'], 3)).toEqual(want);
      }
    });
  }

  /**
   * 5,000 rows, `common` in 40 % of them (tf 1 to 3, lengths 50 to 149), `rare` in 25 rows among
   * the first 125 (each with `common` too, at tf 4): once 10 rare rows are in the top 10, common's
   * bound is below the threshold and its list is only looked up by rare's rows.
   */
  function commonAndRare(): { index: TopKIndex; model: Map<number, RowTerms>; matching: number } {
    const rand = seededRandom(11);
    const rows: [number, RowTerms][] = [];
    let matching = 0;
    for (let row = 0; row < 5000; row++) {
      const terms: Record<string, number> = {};
      if (row < 125 && row % 5 === 0) {
        terms.rare = 4;
        terms.common = 1;
      } else if (rand() < 0.4) terms.common = 1 + Math.floor(rand() * 3);
      else terms.other = 1;
      if (terms.common !== undefined) matching += 1;
      rows.push([row, one(terms, 50 + Math.floor(rand() * 100))]);
    }
    return { ...indexed(rows), matching };
  }

  it('scores only the rows that can still make the top k once a common word cannot', () => {
    const { index, model, matching } = commonAndRare();
    expect(matching).toBeGreaterThan(1900);
    for (const query of [
      ['rare', 'common'],
      ['common', 'rare'],
    ]) {
      const [met, scored] = [index.rowsMet, index.rowsScored];
      expect(index.search(query, 10)).toEqual(reference(model, query, 10));
      // the rows met before ten rare ones are found (about 50 * 0.4 + 10), and rare's later 15;
      // once the top 10 is full, rows of common alone score below it and are not scored in full
      expect(index.rowsMet - met).toBeLessThan(100);
      // (here 35 met, 28 scored)
      expect(index.rowsScored - scored).toBeLessThanOrEqual(index.rowsMet - met - 5);
    }
    // With k as large as the matches, every matching row is met and scored: none can be ruled out.
    const [met, scored] = [index.rowsMet, index.rowsScored];
    expect(index.search(['rare', 'common'], 10_000)).toEqual(reference(model, ['rare', 'common'], 10_000));
    expect([index.rowsMet - met, index.rowsScored - scored]).toEqual([matching, matching]);
  });

  it('scores a row of length 0 and a query that names a word twice as if it named it once', () => {
    const { index, model } = indexed([
      [1, one({ a: 1 }, 0)],
      [2, one({ a: 1, b: 2 }, 5)],
      [3, one({ b: 1 }, 9)],
    ]);
    const want = reference(model, ['a', 'b'], 5);
    expect(want.map((h) => h.row).sort()).toEqual([1, 2, 3]);
    expect(index.search(['a', 'b'], 5)).toEqual(want);
    expect(index.search(['a', 'b', 'a', 'b'], 5)).toEqual(want);
    expect(index.scoreRows(['a', 'b', 'a'], [1, 2, 3])).toEqual(want);
    expect(index.bruteForce(['a', 'b', 'b'], 5)).toEqual(want);
    expect(index.bruteForce(['nothing'], 5)).toEqual([]);
  });

  it('breaks equal scores by the smaller row id when scoring given rows, in any order given', () => {
    const { index } = indexed([9, 3, 7, 1].map((row) => [row, one({ a: 1 }, 4)]));
    expect(index.scoreRows(['a'], [9, 7, 3, 1]).map((h) => h.row)).toEqual([1, 3, 7, 9]);
    // a tie met after the top k is full replaces the larger row
    expect(index.search(['a'], 2).map((h) => h.row)).toEqual([1, 3]);
  });
});

describe('TopKIndex limits', () => {
  it('takes k and query terms up to their maxima and refuses one more', () => {
    const { index } = indexed([[1, one({ a: 1 }, 1)]]);
    expect(index.search(['a'], k_max)).toHaveLength(1);
    expect(() => index.search(['a'], k_max + 1)).toThrow(`k ${k_max + 1} not in [1, ${k_max}]`);
    expect(() => index.search(['a'], 1.5)).toThrow('k 1.5');
    const terms = Array.from({ length: query_terms_max }, (_, i) => (i === 0 ? 'a' : `t${i}`));
    expect(index.search(terms, 1)).toHaveLength(1);
    expect(() => index.search([...terms, 'more'], 1)).toThrow(`${query_terms_max + 1} query terms`);
    const rows = Array.from({ length: k_max }, (_, i) => i);
    expect(index.scoreRows(['a'], rows)).toHaveLength(1);
    expect(() => index.scoreRows(['a'], [...rows, k_max])).toThrow(`${k_max + 1} rows to score`);
  });

  it('refuses options, lengths and frequencies outside their ranges and takes those at the edge', () => {
    expect(() => new TopKIndex({ dead_postings_compact_min: 0 })).toThrow('dead_postings_compact_min 0');
    expect(() => new TopKIndex({ dead_postings_compact_min: 1.5 })).toThrow('dead_postings_compact_min 1.5');
    expect(() => new TopKIndex({ term_chunk_bytes: 15 })).toThrow('term_chunk_bytes 15');
    expect(() => new TopKIndex({ term_chunk_bytes: 16.5 })).toThrow('term_chunk_bytes 16.5');
    const index = new TopKIndex({ dead_postings_compact_min: 1, term_chunk_bytes: 16 });
    for (const length of [-1, Number.NaN, Infinity]) expect(() => index.put(1, one({ a: 1 }, length))).toThrow(`has length ${length}`);
    for (const tf of [0, -1, Number.NaN, Infinity]) expect(() => index.put(1, one({ a: tf }, 3))).toThrow(`has frequency ${tf}`);
    expect(index.size).toBe(0);
    index.put(1, one({ a: 1 }, 0));
    index.put(2, one({ b: 1 }, 4));
    expect(index.search(['a'], 1).map((h) => h.row)).toEqual([1]);
  });

  it('keeps the term ids of a row longer than a whole chunk, and answers as the rows left after removals', () => {
    // 16-byte chunks: each row's 30 term ids (30 bytes, room for 5 each) need a chunk of their own
    const rowOf = (row: number): RowTerms => one(Object.fromEntries(Array.from({ length: 30 }, (_, j) => [`t${(row + j * 3) % 90}`, 1 + (j % 2)])), 40);
    const { index, model } = indexed(
      Array.from({ length: 40 }, (_, row): [number, RowTerms] => [row, rowOf(row)]),
      { term_chunk_bytes: 16, dead_postings_compact_min: 1000 },
    );
    expect(index.termChunksHeld).toBeGreaterThan(20);
    for (let row = 0; row < 40; row += 4) {
      index.remove(row);
      model.delete(row);
    }
    // every word alone (a lost term id leaves its list's df, and so its idf, too high), and a few together
    for (let t = 0; t < 90; t++) expect(index.search([`t${t}`], 40)).toEqual(reference(model, [`t${t}`], 40));
    for (const q of [['t3', 't7'], ['t1', 't24', 't12']]) expect(index.search(q, 40)).toEqual(reference(model, q, 40));
  });
});

describe('TopKIndex memory and compaction', () => {
  it('reserves posting room by doubling up to 4,096 and by a quarter after, 5 bytes a posting of halves and 8 of other frequencies', () => {
    // an empty index: three row tables of 64 float64s, 1 KiB of term ids
    const empty = new TopKIndex();
    expect(empty.postingBytes()).toBe(0);
    expect(empty.bytesHeld()).toBe(3 * 64 * 8 + 1024);
    const cases: [number, number, number, number][] = [
      // [postings, frequency, postings the list reserves room for, bytes a posting]
      [4, 1, 4, 5],
      [5, 1, 8, 5],
      [4096, 1, 4096, 5],
      [4097, 1, 5120, 5],
      [5121, 1, 6400, 5],
      [100, 0.5, 128, 5],
      [100, 127.5, 128, 5],
      [100, 128, 128, 8],
      [100, 0.3, 128, 8],
    ];
    for (const [postings, tf, room, bytes] of cases) {
      const index = new TopKIndex();
      for (let row = 0; row < postings; row++) index.put(row, one({ x: tf }, 10));
      expect(index.postingBytes()).toBe(room * bytes);
      index.trim();
      expect(index.postingBytes()).toBe(postings * bytes);
      // the row tables: 64 rows doubled up to the postings (one row each), and 1 KiB of term ids
      // doubled up to one byte a row and room for the next row's 5 (the arena grows before it is full)
      const tables = 3 * 8 * Math.max(64, 2 ** Math.ceil(Math.log2(postings)));
      const ids = Math.max(1024, 2 ** Math.ceil(Math.log2(postings + 4)));
      expect(index.bytesHeld() - index.postingBytes()).toBe(tables + ids);
    }
  });

  it('rebuilds its lists on the removal that leaves more dead postings than the minimum and half of all', () => {
    // the half binds at 10 (at 22 dead postings: more than 20), the minimum at 24 (at 24)
    for (const compactMin of [10, 24]) {
      // 20 rows sharing `x` (a list with room to spare), each with one word of its own: 40 postings
      const { index, model } = indexed(Array.from({ length: 20 }, (_, row): [number, RowTerms] => [row, one({ x: 1, [`own${row}`]: 2 }, 5)]), {
        dead_postings_compact_min: compactMin,
      });
      expect(index.postingsHeld).toBe(40);
      // removing rows from the last: 2 dead postings each; the first row (internal 0) stays
      let removed = 0;
      const due = Math.max(compactMin, 21);
      for (let row = 19; row > 0; row--) {
        index.remove(row);
        model.delete(row);
        removed += 1;
        expect(index.compactions).toBe(2 * removed >= due ? 1 : 0);
        if (index.compactions === 1) break;
      }
      expect(index.postingsHeld).toBe(40 - 2 * removed);
      expect(index.search(['x', 'own0', 'own1'], 20)).toEqual(reference(model, ['x', 'own0', 'own1'], 20));
    }
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
