// Assembly by passages reads the content of the documents whose passages it looks at, not of every
// candidate: with 40 documents matching and max_documents 3, a handful of contents are read, and
// the answer is the store's.

import { describe, expect, it } from 'vitest';
import { assemble } from './assemble.ts';
import { Reader } from './read.ts';
import { openTestStore } from './testing.ts';

class CountingReader extends Reader {
  contents: string[] = [];
  manyCalls = 0;

  override content(ws: string, id: string): string | null {
    this.contents.push(id);
    return super.content(ws, id);
  }

  override many(ws: string, ids: string[]): ReturnType<Reader['many']> {
    this.manyCalls += 1;
    return super.many(ws, ids);
  }
}

describe('assembly by passages', () => {
  it('reads the contents of the documents it packs from, not of all candidates', async () => {
    using t = openTestStore();
    for (let i = 0; i < 40; i++) {
      const body = Array.from({ length: 6 }, (_, j) => `Paragraph ${j} of page ${i} on quorum replication and follower catch-up, number ${i * 7 + j}.`).join('\n\n');
      await t.put('ws', { id: `p${i}`, path: `docs/p${i}.md`, content: body });
    }
    await t.store.passageIndexBuilt;
    const req = { query: 'quorum replication follower', max_tokens: 400, max_documents: 3, include_patterns: [], exclude_patterns: [] };
    const reader = new CountingReader(t.db);
    const source = { passageSearcher: t.store.passageSearcher, queryVector: (w: string, q: string) => t.store.queryVector(w, q), searchHits: t.store.searchHits.bind(t.store) };
    const got = await assemble(source, reader, 'ws', req);
    const expected = await t.store.assemble('ws', req);
    expect(got.context).toBe(expected.context);
    expect(got.documents.map((d) => d.id)).toEqual(expected.documents.map((d) => d.id));
    expect(got.documents).toHaveLength(3);
    expect(got.context).toContain('quorum replication');
    expect(reader.manyCalls).toBe(0);
    expect(new Set(reader.contents).size).toBe(reader.contents.length); // each read once
    expect(reader.contents.length).toBeLessThanOrEqual(6);
    for (const d of got.documents) expect(reader.contents).toContain(d.id);
  });
});
