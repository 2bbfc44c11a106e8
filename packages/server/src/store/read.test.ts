import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { list_limit_max } from './document-store.ts';
import { InputError } from './errors.ts';
import { decodeCursor, encodeCursor } from './read.ts';
import type { ListPage } from './read.ts';
import { openTestStore } from './testing.ts';
import type { TestStore } from './testing.ts';

const t0 = 1_700_000_000_000; // testing.ts's fixedClock: one ms per read, one read per prepared write

async function withDocs(t: TestStore, ws: string, ids: string[]): Promise<void> {
  const r = await t.store.preparePutMany(ws, ids.map((id) => ({ id, content: `text of ${id}` })));
  if (r.op === null) throw new Error('expected an op');
  t.applyLogged(r.op);
}

function ids(page: ListPage): string[] {
  return page.documents.map((d) => d.id);
}

describe('get', () => {
  it('returns every stored field of a document, metadata parsed', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'd1', content: 'héllo world', path: 'notes/a.md', metadata: { z: [1, null], a: 'x' } });
    expect(t.store.get('ws', 'd1')).toEqual({
      id: 'd1', workspace: 'ws', content: 'héllo world', path: 'notes/a.md', language: 'markdown', metadata: { a: 'x', z: [1, null] },
      tokens: 4, content_hash: createHash('sha256').update('héllo world', 'utf8').digest('hex'), bytes: 12, created_at: t0, updated_at: t0,
    });
  });

  it('gives null metadata, path and language when none were sent, and null for an id absent from that workspace', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'plain', content: 'plain' });
    expect(t.store.get('ws', 'plain')).toMatchObject({ path: null, language: null, metadata: null });
    expect(t.store.get('other', 'plain')).toBeNull();
    expect(t.store.get('ws', 'absent')).toBeNull();
  });
});

describe('list', () => {
  it('lists summaries without content, in id order, one workspace only', async () => {
    using t = openTestStore();
    await withDocs(t, 'ws', ['b', 'a', 'c']);
    await withDocs(t, 'other', ['a0']);
    const page = t.store.list('ws');
    expect(ids(page)).toEqual(['a', 'b', 'c']);
    expect(page.next_cursor).toBeNull();
    expect(page.documents[0]).toEqual({
      id: 'a', workspace: 'ws', path: null, language: null, metadata: null, tokens: 3,
      content_hash: createHash('sha256').update('text of a', 'utf8').digest('hex'), bytes: 9, created_at: t0, updated_at: t0,
    });
    expect(page.documents[0]).not.toHaveProperty('content');
    expect(t.store.list('absent')).toEqual({ documents: [], next_cursor: null });
  });

  it('pages with the cursor until the last page, which has no cursor', async () => {
    using t = openTestStore();
    await withDocs(t, 'ws', ['a', 'b', 'c', 'd', 'e']);
    const first = t.store.list('ws', { limit: 2 });
    expect(ids(first)).toEqual(['a', 'b']);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = t.store.list('ws', { limit: 2, cursor: first.next_cursor });
    expect(ids(second)).toEqual(['c', 'd']);
    const third = t.store.list('ws', { limit: 2, cursor: second.next_cursor });
    expect(third).toMatchObject({ next_cursor: null });
    expect(ids(third)).toEqual(['e']);
  });

  it('gives no cursor when the page holds exactly the documents left', async () => {
    using t = openTestStore();
    await withDocs(t, 'ws', ['a', 'b', 'c', 'd']);
    const first = t.store.list('ws', { limit: 2 });
    const second = t.store.list('ws', { limit: 2, cursor: first.next_cursor });
    expect(ids(second)).toEqual(['c', 'd']);
    expect(second.next_cursor).toBeNull();
    expect(t.store.list('ws', { limit: 4 })).toMatchObject({ next_cursor: null });
    expect(ids(t.store.list('ws', { limit: 3 }))).toEqual(['a', 'b', 'c']);
    expect(t.store.list('ws', { limit: 3 }).next_cursor).not.toBeNull();
  });

  it('continues after the cursor id even when that document was deleted or others were added before it', async () => {
    using t = openTestStore();
    await withDocs(t, 'ws', ['b', 'd', 'f']);
    const first = t.store.list('ws', { limit: 1 });
    expect(ids(first)).toEqual(['b']);
    t.applyLogged(t.store.prepareDelete('ws', ['b']));
    await withDocs(t, 'ws', ['a', 'c']);
    expect(ids(t.store.list('ws', { limit: 10, cursor: first.next_cursor }))).toEqual(['c', 'd', 'f']);
  });

  it('clamps the limit to 1..list_limit_max', async () => {
    using t = openTestStore();
    await withDocs(t, 'ws', ['a', 'b', 'c']);
    expect(ids(t.store.list('ws', { limit: 0 }))).toEqual(['a']);
    expect(ids(t.store.list('ws', { limit: -3 }))).toEqual(['a']);
    expect(ids(t.store.list('ws', { limit: 2 }))).toEqual(['a', 'b']);
    expect(ids(t.store.list('ws', { limit: list_limit_max * 10 }))).toEqual(['a', 'b', 'c']);
  });

  it('refuses a cursor it did not give out', async () => {
    using t = openTestStore();
    await withDocs(t, 'ws', ['a']);
    const forged = [
      'not a cursor', Buffer.from('{"b":"a"}').toString('base64url'), Buffer.from('{"a":7}').toString('base64url'), Buffer.from('null').toString('base64url'),
    ];
    for (const cursor of forged) {
      const err = (() => {
        try {
          t.store.list('ws', { cursor });
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err, cursor).toBeInstanceOf(InputError);
      expect(err).toMatchObject({ code: 'invalid_cursor', field: 'cursor', message: 'cursor is not one this server returned', status: 400 });
    }
  });
});

describe('cursors', () => {
  it('round-trip any id, and are URL-safe', () => {
    for (const id of ['a', 'ids/with spaces?&=', 'ünïcode ✓', '"quoted"']) {
      const c = encodeCursor(id);
      expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeCursor(c)).toBe(id);
    }
  });
});
