// What assembly asks of its searchers, at both granularities, on a real store whose source
// records each call: how many passages or documents deep it searches (more when paths are
// filtered, since filtered-out hits are dropped after the search), and which documents found by
// vector alone it brings in (those at least vector_only_cosine_min close to the query).

import { describe, expect, it } from 'vitest';
import { assemble, candidates_filtered, candidates_min, candidates_per_document, vector_only_cosine_min } from './assemble.ts';
import type { AssembleRequest, AssembleSource } from './assemble.ts';
import { passages_filtered, passages_min, passages_per_document, vector_depth_min } from './assemble-passages.ts';
import { Reader } from './read.ts';
import type { SearchHit } from './search.ts';
import { assembleRequest, openTestStore } from './testing.ts';
import type { TestStore } from './testing.ts';

interface Calls {
  lexicalDepth: number[];
  searchHits: [number, 'lexical' | 'vector'][];
  within: [string[], number][];
}

/** The store's own source, recording its calls; vector search answers `vectorHits` when given. */
function recording(t: TestStore, vectorHits?: SearchHit[]): { source: AssembleSource; calls: Calls } {
  const calls: Calls = { lexicalDepth: [], searchHits: [], within: [] };
  const searcher = t.store.passageSearcher;
  const passageSearcher = Object.assign(Object.create(searcher) as typeof searcher, {
    lexical: (ws: string, text: string, depth: number) => (calls.lexicalDepth.push(depth), searcher.lexical(ws, text, depth)),
    within: (ws: string, text: string, ids: string[], per: number) => (calls.within.push([ids, per]), searcher.within(ws, text, ids, per)),
  });
  const source: AssembleSource = {
    passageSearcher,
    queryVector: (w, q) => t.store.queryVector(w, q),
    searchHits: async (ws, query, k, mode, vector) => {
      calls.searchHits.push([k, mode]);
      if (mode === 'vector' && vectorHits !== undefined) return vectorHits.slice(0, k);
      return t.store.searchHits(ws, query, k, mode, vector);
    },
  };
  return { source, calls };
}

async function store(): Promise<TestStore> {
  const t = openTestStore();
  await t.put('ws', { id: 'lex', path: 'docs/lex.md', content: 'granite quarry notes on the north face' });
  await t.put('ws', { id: 'near', path: 'docs/near.md', content: 'basalt columns by the sea cliffs' });
  await t.put('ws', { id: 'far', path: 'docs/far.md', content: 'tidal tables for the harbour' });
  await t.put('ws', { id: 'edge', path: 'docs/edge.md', content: 'moss on old stone walls' });
  return t;
}

describe('assembly depths and vector-only documents', () => {
  for (const max_documents of [3, 10, 11, 40]) {
    it(`searches max(floor, per document x ${max_documents}) deep, and deeper when paths are filtered`, async () => {
      using t = await store();
      const reader = new Reader(t.db);
      const passage = recording(t);
      await assemble(passage.source, reader, 'ws', assembleRequest({ query: 'granite', granularity: 'passage', max_documents }));
      expect(passage.calls.lexicalDepth).toEqual([Math.max(passages_min, max_documents * passages_per_document)]);
      expect(passage.calls.searchHits).toEqual([[Math.max(vector_depth_min, 5 * max_documents), 'vector']]);
      const doc = recording(t);
      await assemble(doc.source, reader, 'ws', assembleRequest({ query: 'granite', granularity: 'document', max_documents }));
      const depth = Math.max(candidates_min, max_documents * candidates_per_document);
      expect(doc.calls.searchHits).toEqual([[depth, 'lexical'], [depth, 'vector']]);
      for (const over of [{ include_patterns: ['docs/**'] }, { exclude_patterns: ['*.txt'] }] as Partial<AssembleRequest>[]) {
        const fp = recording(t);
        await assemble(fp.source, reader, 'ws', assembleRequest({ query: 'granite', granularity: 'passage', max_documents, ...over }));
        expect(fp.calls.lexicalDepth).toEqual([passages_filtered]);
        const fd = recording(t);
        await assemble(fd.source, reader, 'ws', assembleRequest({ query: 'granite', granularity: 'document', max_documents, ...over }));
        expect(fd.calls.searchHits.map(([k]) => k)).toEqual([candidates_filtered, candidates_filtered]);
      }
    });
  }

  it('brings in a document found by vector alone only when it is vector_only_cosine_min close, at both granularities', async () => {
    using t = await store();
    const reader = new Reader(t.db);
    // near: close enough; edge: exactly at the minimum; far: below it; lex: found lexically too
    const hits: SearchHit[] = [
      { id: 'near', score: 0.9 },
      { id: 'lex', score: 0.6 },
      { id: 'edge', score: vector_only_cosine_min },
      { id: 'far', score: vector_only_cosine_min - 0.01 },
    ];
    const passage = recording(t, hits);
    const r = await assemble(passage.source, reader, 'ws', assembleRequest({ query: 'granite', granularity: 'passage' }));
    expect(passage.calls.within).toEqual([[['near', 'edge'], 3]]);
    expect(r.documents.map((d) => d.id).sort()).toEqual(['edge', 'lex', 'near']);
    const doc = recording(t, hits);
    const rd = await assemble(doc.source, reader, 'ws', assembleRequest({ query: 'granite', granularity: 'document' }));
    expect(rd.documents.map((d) => d.id).sort()).toEqual(['edge', 'lex', 'near']);
  });
});
