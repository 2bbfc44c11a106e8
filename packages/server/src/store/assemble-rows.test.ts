// Assembly by passages reads the rows (fields and vector, Reader.summaries) and passage counts of
// the documents its packing looks at, not of every candidate's: a row's fields sit past its
// content's overflow pages, so reading one costs about as much as reading the content.

import { describe, expect, it } from 'vitest';
import { assemble } from './assemble.ts';
import { Reader } from './read.ts';
import { openTestStore } from './testing.ts';

class CountingReader extends Reader {
  summarised: string[] = [];

  override summaries(ws: string, ids: string[]): ReturnType<Reader['summaries']> {
    this.summarised.push(...ids);
    return super.summaries(ws, ids);
  }
}

describe('assembly by passages', () => {
  it('reads the rows and passage counts of the documents it looks at, not of all candidates', async () => {
    using t = openTestStore();
    for (let i = 0; i < 40; i++) {
      // Words of its own in each page, so that no two are near-duplicates (which would be looked at and refused).
      const own = Array.from({ length: 12 }, (_, j) => `w${(i * 31 + j * 17) % 997}x${String.fromCharCode(97 + ((i + j) % 26))}`).join(' ');
      const body = Array.from({ length: 6 }, (_, j) => `Paragraph ${j} of page ${i} on quorum replication and follower catch-up: ${own}.`).join('\n\n');
      await t.put('ws', { id: `p${i}`, path: `docs/p${i}.md`, content: body });
    }
    await t.store.passageIndexBuilt;
    const req = { query: 'quorum replication follower', max_tokens: 2000, max_documents: 3, include_patterns: [], exclude_patterns: [] };
    const reader = new CountingReader(t.db);
    const counted: string[] = [];
    const searcher = t.store.passageSearcher;
    const passageSearcher = Object.assign(Object.create(searcher) as typeof searcher, {
      counts: (ws: string, ids: string[]) => {
        counted.push(...ids);
        return searcher.counts(ws, ids);
      },
    });
    const source = { passageSearcher, queryVector: (w: string, q: string) => t.store.queryVector(w, q), searchHits: t.store.searchHits.bind(t.store) };
    const got = await assemble(source, reader, 'ws', req);
    const expected = await t.store.assemble('ws', req);
    expect(got.context).toBe(expected.context);
    expect(got.documents).toEqual(expected.documents);
    expect(got.documents).toHaveLength(3);
    expect(new Set(reader.summarised).size).toBe(reader.summarised.length); // each read once
    expect(reader.summarised.length).toBeLessThanOrEqual(6);
    expect(counted.length).toBeLessThanOrEqual(6);
    for (const d of got.documents) {
      expect(reader.summarised).toContain(d.id);
      expect(counted).toContain(d.id);
    }
  });
});
