// search.ts's pure parts: the words a query looks for, the fusion of lexical and vector lists,
// and documents scored from their passages.

import { describe, expect, it } from 'vitest';
import { aggregatePassages, fuseScores, query_terms_max, queryWords } from './search.ts';
import type { PassageHit, SearchHit } from './search.ts';

describe('queryWords', () => {
  it('lower-cases, keeps one word per stem in order, and drops stopwords when two other words remain', () => {
    expect(queryWords('Indexes and the INDEX of Leaders')).toEqual(['indexes', 'leaders']);
    expect(queryWords('running runs, RUN: the replicas')).toEqual(['running', 'replicas']);
    expect(queryWords('x1_y2 -- café')).toEqual(['x1', 'y2', 'café']);
  });

  it('keeps the stopwords when fewer than two other words remain', () => {
    expect(queryWords('the index')).toEqual(['the', 'index']);
    expect(queryWords('the and of')).toEqual(['the', 'and', 'of']);
    expect(queryWords('the index leader')).toEqual(['index', 'leader']);
    expect(queryWords('')).toEqual([]);
    expect(queryWords('?? --')).toEqual([]);
  });

  it('keeps at most query_terms_max words, the first ones', () => {
    const many = Array.from({ length: query_terms_max + 10 }, (_, i) => `word${i}x`);
    expect(queryWords(many.join(' '))).toEqual(many.slice(0, query_terms_max));
  });
});

const ids = (hits: SearchHit[]): string[] => hits.map((h) => h.id);

describe('fuseScores', () => {
  it('sums each list\'s min-max normalised scores times its weight, best first', () => {
    const fused = fuseScores([
      { hits: [{ id: 'b', score: 5 }, { id: 'a', score: 10 }, { id: 'c', score: 0 }], weight: 0.7 },
      { hits: [{ id: 'd', score: 0.1 }, { id: 'b', score: 0.9 }, { id: 'e', score: 0.5 }], weight: 0.3 },
    ]);
    expect(ids(fused)).toEqual(['a', 'b', 'e', 'c', 'd']);
    const score = new Map(fused.map((h) => [h.id, h.score]));
    expect(score.get('a')).toBeCloseTo(0.7, 12);
    expect(score.get('b')).toBeCloseTo(0.35 + 0.3, 12);
    expect(score.get('e')).toBeCloseTo(0.15, 12);
    expect(score.get('c')).toBe(0);
    expect(score.get('d')).toBe(0);
  });

  it('gives every hit of a list whose scores are all equal the full weight, and skips an empty list', () => {
    const fused = fuseScores([
      { hits: [], weight: 0.7 },
      { hits: [{ id: 'x', score: 3 }, { id: 'y', score: 3 }], weight: 0.3 },
    ]);
    expect(fused).toEqual([{ id: 'x', score: 0.3 }, { id: 'y', score: 0.3 }]);
    expect(fuseScores([])).toEqual([]);
  });

  it('breaks equal scores by id whatever order they came in', () => {
    const fused = fuseScores([{ hits: ['d', 'b', 'e', 'a', 'c'].map((id) => ({ id, score: 1 })), weight: 1 }]);
    expect(ids(fused)).toEqual(['a', 'b', 'c', 'd', 'e']);
    const mixed = fuseScores([{ hits: [{ id: 'q', score: 2 }, { id: 'p', score: 1 }, { id: 'z', score: 2 }, { id: 'm', score: 1 }, { id: 'r', score: 3 }], weight: 1 }]);
    expect(ids(mixed)).toEqual(['r', 'q', 'z', 'm', 'p']);
  });
});

const hit = (doc_id: string, n: number, score: number): PassageHit => ({ doc_id, n, start: 0, end: 1, line_start: 1, line_end: 1, tokens: 1, score });

describe('aggregatePassages', () => {
  const hits = [hit('a', 0, 2), hit('b', 0, 3), hit('a', 1, 4), hit('a', 2, 1), hit('a', 3, 8), hit('c', 0, 3), hit('b', 4, 1)];

  it('scores a document by its best passage by default (max), ties by id', () => {
    expect(aggregatePassages(hits)).toEqual([{ id: 'a', score: 8 }, { id: 'b', score: 3 }, { id: 'c', score: 3 }]);
    expect(aggregatePassages(hits, 'max')).toEqual(aggregatePassages(hits));
  });

  it('adds the next best at 1/2 and 1/4 when decayed, ignoring the rest', () => {
    // a: 8 + 4/2 + 2/4 (1 ignored); b: 3 + 1/2; c: 3
    expect(aggregatePassages(hits, 'decayed')).toEqual([{ id: 'a', score: 10.5 }, { id: 'b', score: 3.5 }, { id: 'c', score: 3 }]);
  });

  it('breaks equal document scores by id whatever order they came in', () => {
    const tied = ['d', 'b', 'e', 'a', 'c'].map((id) => hit(id, 0, 1));
    expect(ids(aggregatePassages(tied))).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(aggregatePassages([])).toEqual([]);
  });
});
