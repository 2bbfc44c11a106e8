// passage-search.ts: the granularity field, documents ranked by their passages (against fakes of
// the two searchers that record what they were asked, with the real fusion and aggregation), and
// the snippet cut around the first query word.

import { describe, expect, it } from 'vitest';
import { InputError } from './errors.ts';
import { hit_passages_max, parseGranularity, passage_depth_min, passage_depth_per_hit, rankByPassages, snippet_chars_max, snippetOf } from './passage-search.ts';
import { aggregatePassages, fuseScores, fusion_weight_lexical, fusion_weight_vector } from './search.ts';
import type { PassageHit, PassageSearcher, Searcher, SearchHit } from './search.ts';

describe('parseGranularity', () => {
  it('takes passage (the default, also for null) and document', () => {
    expect(parseGranularity(undefined)).toBe('passage');
    expect(parseGranularity(null)).toBe('passage');
    expect(parseGranularity('passage')).toBe('passage');
    expect(parseGranularity('document')).toBe('document');
  });

  it('refuses anything else with an error naming the field and the choices', () => {
    for (const bad of ['Passage', 'doc', '', 42, true, ['passage']]) {
      let err: unknown;
      try {
        parseGranularity(bad, 'assemble.granularity');
      } catch (e) {
        err = e;
      }
      expect(err, String(bad)).toBeInstanceOf(InputError);
      expect((err as InputError).code).toBe('invalid_value');
      expect((err as InputError).field).toBe('assemble.granularity');
      expect((err as InputError).message).toBe('assemble.granularity must be one of passage, document');
    }
    expect(() => parseGranularity('x')).toThrow('granularity must be one of passage, document');
  });
});

const passage = (doc_id: string, n: number, score: number): PassageHit => ({ doc_id, n, start: n * 10, end: n * 10 + 10, line_start: n + 1, line_end: n + 1, tokens: 3, score });

/** A PassageSearcher and a Searcher that answer fixed lists and record each call. */
function fakes(found: PassageHit[], vectorHits: SearchHit[], within: Map<string, PassageHit[]> = new Map()) {
  const calls: { lexical: [string, string, number][]; within: [string, string, string[], number][]; vector: [string, Float32Array | null, number][] } = { lexical: [], within: [], vector: [] };
  const passages = {
    lexical: (ws: string, text: string, depth: number) => (calls.lexical.push([ws, text, depth]), found),
    within: (ws: string, text: string, ids: string[], per: number) => {
      calls.within.push([ws, text, ids, per]);
      return new Map([...within].filter(([id]) => ids.includes(id)));
    },
  } as unknown as PassageSearcher;
  const searcher = { vector: (ws: string, q: Float32Array | null, k: number) => (calls.vector.push([ws, q, k]), vectorHits.slice(0, k)) } as unknown as Searcher;
  return { passages, searcher, calls };
}

describe('rankByPassages', () => {
  // a: four matching passages, b: two, c: one; d matches by vector only
  const found = [passage('a', 0, 9), passage('b', 1, 8), passage('a', 2, 7), passage('a', 3, 6), passage('c', 0, 5), passage('a', 5, 4), passage('b', 4, 3)];
  const vectorHits: SearchHit[] = [{ id: 'd', score: 0.9 }, { id: 'c', score: 0.8 }, { id: 'a', score: 0.1 }];
  const q = new Float32Array([1, 0]);

  it('ranks lexically by the aggregated passages, asking for max(200, 20 k) of them, with each hit its best three in rank order', () => {
    const f = fakes(found, vectorHits);
    const r = rankByPassages(f.searcher, f.passages, 'ws', 'the query', null, 2, 'lexical');
    expect(f.calls.lexical).toEqual([['ws', 'the query', passage_depth_min]]);
    expect(f.calls.vector).toEqual([]);
    expect(r.hits).toEqual(aggregatePassages(found).slice(0, 2));
    expect(r.hits).toHaveLength(2);
    for (const h of r.hits) {
      expect(r.passages.get(h.id)).toEqual(found.filter((p) => p.doc_id === h.id).slice(0, hit_passages_max));
    }
    expect(r.passages.get('a')).toHaveLength(3);
    // only the hits' passages
    expect([...r.passages.keys()].sort()).toEqual(r.hits.map((h) => h.id).sort());
    const deep = fakes(found, vectorHits);
    rankByPassages(deep.searcher, deep.passages, 'ws', 'the query', null, 30, 'lexical');
    expect(deep.calls.lexical[0]?.[2]).toBe(30 * passage_depth_per_hit);
  });

  it('ranks by the vector alone in vector mode, reading no passages lexically, and finds the hits\' passages within them', () => {
    const within = new Map([['d', [passage('d', 2, 1)]], ['c', [passage('c', 0, 5)]]]);
    const f = fakes(found, vectorHits, within);
    const r = rankByPassages(f.searcher, f.passages, 'ws', 'the query', q, 2, 'vector');
    expect(f.calls.lexical).toEqual([]);
    expect(f.calls.vector).toEqual([['ws', q, 2]]);
    expect(r.hits).toEqual(vectorHits.slice(0, 2));
    expect(f.calls.within).toEqual([['ws', 'the query', ['d', 'c'], hit_passages_max]]);
    expect(r.passages).toEqual(within);
  });

  it('fuses the lexical and vector lists in hybrid mode, asking the vector for max(50, 4 k), and looks within only the hits the lexical passages left out', () => {
    const within = new Map([['d', [passage('d', 2, 1)]]]);
    const f = fakes(found, vectorHits, within);
    const r = rankByPassages(f.searcher, f.passages, 'ws', 'the query', q, 4, 'hybrid');
    expect(f.calls.vector).toEqual([['ws', q, 50]]);
    const expected = fuseScores([
      { hits: aggregatePassages(found), weight: fusion_weight_lexical },
      { hits: vectorHits, weight: fusion_weight_vector },
    ]).slice(0, 4);
    expect(r.hits).toEqual(expected);
    expect(r.hits.map((h) => h.id).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(f.calls.within).toEqual([['ws', 'the query', ['d'], hit_passages_max]]);
    expect(r.passages.get('d')).toEqual([passage('d', 2, 1)]);
    expect(r.passages.get('b')).toEqual([passage('b', 1, 8), passage('b', 4, 3)]);
    const wide = fakes(found, vectorHits);
    rankByPassages(wide.searcher, wide.passages, 'ws', 'the query', q, 20, 'hybrid');
    expect(wide.calls.vector[0]?.[2]).toBe(80);
  });
});

/** Words w000 w001 ... (4 characters and a space each). */
const words = (n: number, from = 0): string => Array.from({ length: n }, (_, i) => `w${String(from + i).padStart(3, '0')}`).join(' ');

describe('snippetOf', () => {
  it('gives a short passage whole, trimmed', () => {
    const content = `head  ${'x'.repeat(100)}  tail`;
    expect(snippetOf(content, { start: 4, end: content.length - 4 }, 'x')).toBe('x'.repeat(100));
    const exact = 'y'.repeat(snippet_chars_max);
    expect(snippetOf(exact, { start: 0, end: exact.length }, 'zzz')).toBe(exact);
  });

  it('cuts a long passage at spaces, around the first word of the query it holds, within snippet_chars_max', () => {
    const text = words(200); // 999 characters
    // "w150" is the earlier of the two query words in the text ("w190" later, "zz" too short, "nope" absent)
    const s = snippetOf(text, { start: 0, end: text.length }, 'w150 nope W190, zz');
    const at = text.indexOf('w150');
    const from = text.indexOf(s);
    expect(from).toBeGreaterThan(0);
    expect(s.length).toBeLessThanOrEqual(snippet_chars_max);
    expect(s.length).toBeGreaterThan(snippet_chars_max / 2);
    // whole words: it starts after a space and ends before one
    expect(text[from - 1]).toBe(' ');
    expect(text[from + s.length]).toBe(' ');
    // the word sits about a third of the way in: at most snippet_chars_max / 3 after the start
    expect(at - from).toBeGreaterThan(snippet_chars_max / 3 - 7);
    expect(at - from).toBeLessThanOrEqual(snippet_chars_max / 3);
    expect(s).toBe(text.slice(from, from + s.length));
    expect(s.startsWith('w135 ')).toBe(true);
    expect(s.endsWith(' w182')).toBe(true);
  });

  it('starts at the passage start when no query word is in it, or when the first is near the start', () => {
    const text = words(200);
    for (const query of ['absent words', 'w', 'w010']) {
      const s = snippetOf(text, { start: 0, end: text.length }, query);
      expect(s.startsWith('w000 '), query).toBe(true);
      expect(s.length).toBeLessThanOrEqual(snippet_chars_max);
      expect(text[s.length], query).toBe(' ');
    }
  });

  it('reads the passage from the content at its offsets', () => {
    const content = `${words(50)} ${words(200, 500)}`;
    const start = content.indexOf('w500');
    const s = snippetOf(content, { start, end: content.length }, 'w650');
    expect(s).toContain('w650');
    expect(s).not.toContain('w049');
    const inner = snippetOf(content, { start, end: start + 400 }, 'zzz');
    expect(inner.startsWith('w500 ')).toBe(true);
  });

  it('cuts a passage with no spaces at snippet_chars_max, never between the halves of a surrogate pair', () => {
    // 'a' then pairs: the 240th unit is the low half of a pair, so the end steps back one
    const tail = `a${'😀'.repeat(300)}`;
    const s1 = snippetOf(tail, { start: 0, end: tail.length }, 'zzz');
    expect(s1).toBe(`a${'😀'.repeat(119)}`);
    // the word found at 301: the start (221) would be a low half, so it steps on one
    const head = `${'😀'.repeat(150)}ctarget${'😀'.repeat(150)}`;
    const s2 = snippetOf(head, { start: 0, end: head.length }, 'target');
    expect(s2.startsWith('😀')).toBe(true);
    expect(s2).toContain('ctarget');
    expect(/^[\udc00-\udfff]/.test(s2)).toBe(false);
    expect(/[\ud800-\udbff]$/.test(s2)).toBe(false);
    expect(s2).toBe(head.slice(222, 461));
  });

  it('takes a query word of three characters, not of two', () => {
    const text = `${words(120)} xyz ${words(80, 500)}`;
    expect(snippetOf(text, { start: 0, end: text.length }, 'xyz')).toContain('xyz');
    const two = `${words(120)} xy ${words(80, 500)}`;
    expect(snippetOf(two, { start: 0, end: two.length }, 'xy').startsWith('w000 ')).toBe(true);
  });

  it('cuts mid-word at snippet_chars_max when the last space is in the first half', () => {
    const text = `target ${'k'.repeat(400)}`;
    expect(snippetOf(text, { start: 0, end: text.length }, 'target')).toBe(`target ${'k'.repeat(snippet_chars_max - 7)}`);
  });

  it('steps back from a cut at the low half U+DC00 too', () => {
    // U+10000 is the pair D800 DC00
    const text = `a${'\u{10000}'.repeat(300)}`;
    expect(snippetOf(text, { start: 0, end: text.length }, 'zzz')).toBe(`a${'\u{10000}'.repeat(119)}`);
  });

  it('keeps a long first word whole when the next space is too far', () => {
    // the space after the start is more than snippet_chars_max / 3 away: the cut is mid-word
    const text = `${'k'.repeat(400)}target ${words(100)}`;
    const s = snippetOf(text, { start: 0, end: text.length }, 'target');
    expect(s.startsWith('k'.repeat(80) + 'target')).toBe(true);
    // the end is at a space more than half-way in
    expect(text[text.indexOf(s) + s.length]).toBe(' ');
  });
});
