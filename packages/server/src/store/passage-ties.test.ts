// The passage searcher's order when scores tie, from passages_fts and from the passage index
// alike: score descending, then document id, then passage number. The index breaks its own ties
// by row (the order passages were written), so documents written in descending id order and a
// document of identical paragraphs show whether the searcher puts its answer back in that order.
// Also: within() keeps each document's best passages (the first one, score 0, when none
// matches), and a depth beyond the index's k_max is answered by passages_fts.

import { describe, expect, it } from 'vitest';
import { DocumentStore } from './document-store.ts';
import { HashingEmbedder } from '../embed/hashing.ts';
import type { PassageHit } from './search.ts';
import { openTestStore } from './testing.ts';
import type { TestStore } from './testing.ts';
import { k_max } from './topk/index.ts';

const key = (h: PassageHit): string => `${h.doc_id}#${h.n}`;

async function tiedStore(): Promise<TestStore> {
  // passages of at most 16 tokens, so that each paragraph below (13 words) is a passage of its own
  const t = openTestStore({ passage_tokens: 16 });
  const same = 'quorum replicas agree on every write before the leader answers its client';
  for (let i = 9; i >= 0; i--) await t.put('ws', { id: `k${i}`, content: same });
  await t.put('ws', { id: 'rep', content: [same, same, same].join('\n\n') });
  await t.put('ws', {
    id: 'mix',
    content: [
      'leader notes here about nothing much at all in this paragraph today',
      'quorum once only and then other words fill this paragraph up nicely',
      'quorum quorum quorum and then other words fill this paragraph up nicely',
    ].join('\n\n'),
  });
  await t.put('ws', { id: 'none', content: 'nothing to find here at all in this first paragraph of words\n\nstill nothing' });
  await t.put('other', { id: 'k00', content: same });
  return t;
}

/** The lexical answer and within()'s, from passages_fts and then from the built index, of a store opened over t's file. */
async function bothWays(t: TestStore, run: (s: DocumentStore) => unknown): Promise<[unknown, unknown]> {
  const fresh = new DocumentStore(t.db, { embedder: new HashingEmbedder({ dim: 64 }), passage_tokens: 16 });
  try {
    expect(fresh.passageIndex.ready()).toBe(false);
    const fromFts = run(fresh);
    expect(fresh.passageSearcher.lastFromIndex).toBe(false);
    await fresh.passageIndexBuilt;
    const fromIndex = run(fresh);
    expect(fresh.passageSearcher.lastFromIndex).toBe(true);
    return [fromFts, fromIndex];
  } finally {
    fresh.close();
  }
}

describe('passage search ties', () => {
  it('orders equal scores by document id, then passage number, from passages_fts and from the index', async () => {
    using t = await tiedStore();
    const [fromFts, fromIndex] = await bothWays(t, (s) => s.passageSearcher.lexical('ws', 'replicas', 50).map(key));
    // the ten one-passage documents tie with each other, rep's three passages with each other
    const ones = Array.from({ length: 10 }, (_, i) => `k${i}#0`);
    const reps = ['rep#0', 'rep#1', 'rep#2'];
    for (const answer of [fromFts, fromIndex] as string[][]) {
      expect(answer).toHaveLength(13);
      expect(answer.filter((k) => k.startsWith('k'))).toEqual(ones);
      expect(answer.filter((k) => k.startsWith('rep'))).toEqual(reps);
    }
    expect(fromIndex).toEqual(fromFts);
  });

  it('keeps the best passages of each document asked, ties by passage number, and the first when none matches', async () => {
    using t = await tiedStore();
    const ask = (s: DocumentStore, per: number) =>
      [...s.passageSearcher.within('ws', 'quorum', ['mix', 'rep', 'none', 'k3', 'absent', 'k00'], per)].map(([id, hits]) => [id, hits.map((h) => [h.n, h.score > 0])]);
    const [fts1, index1] = await bothWays(t, (s) => ask(s, 1));
    const one = new Map([
      ['mix', [[2, true]]], // "quorum quorum quorum" outscores "quorum once only"
      ['rep', [[0, true]]],
      ['k3', [[0, true]]],
      ['none', [[0, false]]],
    ]);
    expect(new Map(fts1 as [string, unknown][])).toEqual(one);
    expect(new Map(index1 as [string, unknown][])).toEqual(one);
    const [fts2, index2] = await bothWays(t, (s) => ask(s, 2));
    const two = new Map([
      ['mix', [[2, true], [1, true]]],
      ['rep', [[0, true], [1, true]]],
      ['k3', [[0, true]]],
      ['none', [[0, false]]],
    ]);
    expect(new Map(fts2 as [string, unknown][])).toEqual(two);
    expect(new Map(index2 as [string, unknown][])).toEqual(two);
  });

  it('answers a depth beyond the index k_max from passages_fts, with every match', async () => {
    using t = await tiedStore();
    const fresh = new DocumentStore(t.db, { embedder: new HashingEmbedder({ dim: 64 }), passage_tokens: 16 });
    try {
      await fresh.passageIndexBuilt;
      const deep = fresh.passageSearcher.lexical('ws', 'quorum', k_max + 1);
      expect(fresh.passageSearcher.lastFromIndex).toBe(false);
      const atMax = fresh.passageSearcher.lexical('ws', 'quorum', k_max);
      expect(fresh.passageSearcher.lastFromIndex).toBe(true);
      expect(deep.map(key)).toEqual(atMax.map(key));
      // ten k documents, rep's three passages, mix's two
      expect(deep).toHaveLength(15);
    } finally {
      fresh.close();
    }
  });
});
