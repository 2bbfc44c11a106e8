// Workspace isolation both ways. properties.test.ts shows that no read of a workspace returns
// another workspace's document; this file shows the other half: a workspace's own matches are
// found, in full, when another workspace holds many more (and better-ranked) matching documents.
// Searching across workspaces and dropping the other workspaces' hits afterwards would pass the
// first property and fail this one.

import { describe, expect, it } from 'vitest';
import { openTestStore } from './testing.ts';
import type { TestStore } from './testing.ts';

const crowd_documents = 120;

/** "small" holds 3 documents that mention raft once each; "crowd" holds 120 short ones that say little else (bm25 ranks them above). */
async function crowd(t: TestStore): Promise<string[]> {
  // Distinct enough that assembly keeps all three (no near-duplicates).
  const own = {
    s1: 'Garden notes: tomatoes, basil and chives along the south fence; a raft of ducks crossed the pond at dawn.',
    s2: 'Boat trip on the lake. We built a raft from pallets and barrels, paddled to the island and back before lunch.',
    s3: 'Reading list for winter: a history of river transport, where the timber raft carried logs down to the mills.',
  };
  const small = Object.keys(own);
  for (const [id, content] of Object.entries(own)) await t.put('small', { id, content });
  const docs = Array.from({ length: crowd_documents }, (_, i) => ({ id: `c${i}`, content: `raft raft raft raft ${i}` }));
  const prepared = await t.store.preparePutMany('crowd', docs);
  expect(prepared.errors).toEqual([]);
  if (prepared.op) t.applyLogged(prepared.op);
  expect(t.store.workspaceStats().crowd?.document_count).toBe(crowd_documents);
  return small;
}

describe('workspace isolation both ways', () => {
  it("finds all of a workspace's own lexical matches when another workspace has many more, better-ranked ones", async () => {
    using t = openTestStore();
    const small = await crowd(t);

    const lexical = await t.store.searchHits('small', 'raft', 10, 'lexical');
    expect(lexical.map((h) => h.id).sort()).toEqual(small);
    const results = await t.store.search('small', { query: 'raft', k: 10, mode: 'lexical' });
    expect(results.map((r) => r.id).sort()).toEqual(small);
  });

  it('finds them in hybrid search and assembly too, and the crowded workspace sees only its own', async () => {
    using t = openTestStore();
    const small = await crowd(t);

    const hybrid = await t.store.search('small', { query: 'raft', k: 10, mode: 'hybrid' });
    expect(hybrid.map((r) => r.id).sort()).toEqual(small);
    // Lexical ranks are part of assembly's reasons: each own document was found lexically.
    const assembled = await t.store.assemble('small', { query: 'raft', max_tokens: 4000, max_documents: 10, include_patterns: [], exclude_patterns: [] });
    expect(assembled.documents.map((d) => d.id).sort()).toEqual(small);
    for (const d of assembled.documents) expect(d.inclusion_reason, d.id).toMatch(/lexical #[1-3]\b/);

    const other = await t.store.search('crowd', { query: 'raft', k: 10, mode: 'lexical' });
    expect(other).toHaveLength(10);
    for (const r of other) expect(r.id).toMatch(/^c\d+$/);
  });
});
