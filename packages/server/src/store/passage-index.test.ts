// The passage index (topk/passage-index.ts) answers as passages_fts's bm25 ranking does: after any
// sequence of puts, replacements and deletes applied to a real state.db, the best passages for a
// query (and the passages of given documents) from the index equal, score for score, those of
// passages_fts over the same live documents written once each; so do the answers of an index
// built again from the database (a store opened over it, as after a snapshot install or a
// restart). passages_fts of the store itself is not the reference once something was deleted: a
// contentless_delete FTS5 table keeps a deleted row in its row count and mean length (measured:
// one row deleted of three, bm25 of the others still uses N = 3).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DocumentStore } from './document-store.ts';
import { HashingEmbedder } from '../embed/hashing.ts';
import { PassageSearcher } from './search.ts';
import type { PassageHit } from './search.ts';
import { openTestStore, propertyRuns } from './testing.ts';
import { Applier } from './apply.ts';
import { VectorIndexes } from './vectors.ts';
import type { Op } from './op.ts';
import { PassageIndexes } from './topk/passage-index.ts';

// Words with inflections the porter stemmer folds together, diacritics, and common words.
const vocabulary = [
  'index', 'indexes', 'indexing', 'indexed', 'run', 'running', 'runs', 'replica', 'replicas', 'replication', 'replicated',
  'café', 'cafe', 'naïve', 'naive', 'quorum', 'leader', 'leaders', 'follower', 'snapshot', 'snapshots', 'passage',
  'passages', 'token', 'tokens', 'search', 'searching', 'the', 'and', 'of', 'a', 'to', 'is', 'in', 'cluster', 'node',
  'nodes', 'write', 'writes', 'writing', 'happiness', 'happy', 'relational', 'conditional', 'generalization', 'x1', '42',
];

const word = fc.constantFrom(...vocabulary);
const paragraph = fc.array(word, { minLength: 1, maxLength: 40 }).map((ws) => ws.join(' '));
const content = fc.array(paragraph, { minLength: 1, maxLength: 6 }).map((ps) => ps.join('\n\n'));
const action = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('put' as const), id: fc.integer({ min: 0, max: 11 }), content, path: fc.option(fc.constantFrom('docs/index.md', 'ops/runs.md', 'a.md'), { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), id: fc.integer({ min: 0, max: 11 }) }) },
);
const query = fc.array(word, { minLength: 1, maxLength: 6 }).map((ws) => ws.join(' '));

const key = (h: PassageHit): string => `${h.doc_id}#${h.n}`;
const close = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/** The index's best passages equal FTS5's: the same scores rank by rank, each hit's score FTS5's for that passage. */
function expectSameRanking(fromIndex: PassageHit[], fromFts: PassageHit[], all: Map<string, number>, label: string): void {
  expect(fromIndex.map((h) => h.score).every((s, i) => close(s, fromFts[i]?.score ?? NaN)), `${label}: scores by rank\n${JSON.stringify(fromIndex)}\n${JSON.stringify(fromFts)}`).toBe(true);
  expect(fromIndex.length, label).toBe(fromFts.length);
  for (const h of fromIndex) {
    // a document's first passage stands in with score 0 when none of its passages matches
    if (h.score === 0) expect(fromFts.map(key), label).toContain(key(h));
    else expect(close(h.score, all.get(key(h)) ?? NaN), `${label}: ${key(h)} ${h.score} vs ${all.get(key(h))}`).toBe(true);
  }
}

describe('the passage index', () => {
  it('ranks passages as passages_fts does, through puts, replacements and deletes, and when built again', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 16 }), fc.array(query, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 30 }), async (actions, queries, depth) => {
        using t = openTestStore({ passage_tokens: 16 });
        await t.store.passageIndexBuilt;
        for (const a of actions) {
          if (a.kind === 'put') await t.put('ws', { id: `d${a.id}`, content: a.content, path: a.path });
          else if (t.store.get('ws', `d${a.id}`) !== null) t.applyLogged(t.store.prepareDelete('ws', [`d${a.id}`]));
        }
        // The reference: passages_fts over the live documents alone, written once each (a
        // contentless_delete FTS5 table keeps a deleted row in its row count and mean length).
        using ref = openTestStore({ passage_tokens: 16 });
        await ref.store.passageIndexBuilt;
        for (let i = 0; i < 12; i++) {
          const d = t.store.get('ws', `d${i}`);
          if (d !== null) await ref.put('ws', { id: d.id, content: d.content, path: d.path });
        }
        const fts = new PassageSearcher(ref.db);
        const again = new DocumentStore(t.db, { embedder: new HashingEmbedder({ dim: 64 }) });
        try {
          await again.passageIndexBuilt;
          expect(again.passageIndex.size('ws')).toBe(t.store.passageIndex.size('ws'));
          const ids = Array.from({ length: 12 }, (_, i) => `d${i}`);
          expect(ref.store.passageIndex.size('ws')).toBe(t.store.passageIndex.size('ws'));
          for (const q of queries) {
            const all = new Map(fts.lexical('ws', q, 10_000).map((h) => [key(h), h.score]));
            const expected = fts.lexical('ws', q, depth);
            for (const [name, s] of [['kept current', t.store.passageSearcher], ['built again', again.passageSearcher], ['written once', ref.store.passageSearcher]] as const) {
              const got = s.lexical('ws', q, depth);
              expect(s.lastFromIndex, name).toBe(true);
              expectSameRanking(got, expected, all, `${name}, "${q}", depth ${depth}`);
              if (depth >= all.size) expect(new Set(got.map(key)), name).toEqual(new Set(expected.map(key)));
              const within = s.within('ws', q, ids, 3);
              const ftsWithin = fts.within('ws', q, ids, 3);
              expect([...within.keys()].sort(), name).toEqual([...ftsWithin.keys()].sort());
              for (const [id, hits] of ftsWithin) expectSameRanking(within.get(id) ?? [], hits, all, `${name} within ${id}, "${q}"`);
            }
          }
        } finally {
          again.close();
        }
      }),
      { numRuns: propertyRuns(50), seed: 16 },
    );
  });

  it('answers from passages_fts until built, and from the index after', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'a', content: 'quorum replicas answer the leader' });
    const fresh = new DocumentStore(t.db, { embedder: new HashingEmbedder({ dim: 64 }) });
    try {
      expect(fresh.passageIndex.ready()).toBe(false);
      const before = fresh.passageSearcher.lexical('ws', 'quorum', 5);
      expect(fresh.passageSearcher.lastFromIndex).toBe(false);
      const built = await fresh.passageIndexBuilt;
      expect(built).toMatchObject({ documents: 1, passages: 1 });
      const after = fresh.passageSearcher.lexical('ws', 'quorum', 5);
      expect(fresh.passageSearcher.lastFromIndex).toBe(true);
      expect(after.map(key)).toEqual(before.map(key));
      expect(close(after[0]?.score ?? NaN, before[0]?.score ?? NaN)).toBe(true);
    } finally {
      fresh.close();
    }
  });

  it('holds what a build over the final state holds when it stops after every passage, with documents replaced and deleted between its slices', async () => {
    using t = openTestStore({ passage_tokens: 16 });
    const long = (seed: number, paragraphs: number): string =>
      Array.from({ length: paragraphs }, (_, p) => Array.from({ length: 20 }, (_, w) => vocabulary[(seed * 7 + p * 13 + w * 5) % vocabulary.length]).join(' ')).join('\n\n');
    await t.put('ws', { id: 'big', content: long(1, 30), path: 'docs/index.md' });
    await t.put('ws', { id: 'a', content: long(2, 6) });
    await t.put('ws', { id: 'b', content: long(3, 12) });
    await t.put('ws', { id: 'c', content: long(4, 3) });
    // Writes prepared now, applied by the building index's own Applier while its build is under way.
    const writes = new Map<number, Op>([
      [5, await t.store.preparePut('ws', { id: 'big', content: long(5, 25), path: 'ops/runs.md' })],
      [40, t.store.prepareDelete('ws', ['b'])],
      [44, await t.store.preparePut('ws', { id: 'd', content: long(6, 4) })],
      [46, t.store.prepareDelete('ws', ['a'])],
    ]);
    const index = new PassageIndexes();
    const applier = new Applier(t.db, new VectorIndexes(t.db), index);
    let slice = 0;
    const writerBusy = (): boolean => {
      slice += 1;
      const op = writes.get(slice);
      if (op !== undefined) t.db.transaction(() => applier.apply(op))();
      return false;
    };
    const built = await index.build(t.db, writerBusy, async () => {}, { slice_ms: 0 });
    expect(slice).toBeGreaterThan(46);
    // one passage a slice: the build stopped inside documents, and the writes fell inside them
    expect(built.slices).toBeGreaterThan(built.passages);
    const reference = new PassageIndexes();
    await reference.build(t.db, () => false, async () => {});
    expect(index.size('ws')).toBe(reference.size('ws'));
    expect(index.size('ws')).toBe((t.db.prepare("SELECT count(*) AS n FROM passages WHERE workspace = 'ws'").get() as { n: number }).n);
    for (const q of [['index'], ['run', 'leader', 'the'], ['snapshot', 'node', 'cafe', 'write'], ['quorum', 'replica']]) {
      const terms = q.flatMap((w) => [...PassageIndexes.terms(w, null).terms.keys()]);
      expect(index.search('ws', terms, 1000)).toEqual(reference.search('ws', terms, 1000));
    }
  });
});
