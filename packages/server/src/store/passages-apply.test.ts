// Passages through apply on a real SQLite file: a put stores exactly the passages its op carries
// (rows and full-text index), a replace and a delete take the old ones with them, an op logged
// before passages gives one passage, a store upgraded from schema 2 holds what a replica that
// applied the log holds, and the state checksum changes when any passage does.

import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HashingEmbedder } from '../embed/hashing.ts';
import { DocumentStore } from './document-store.ts';
import { op_version } from './op.ts';
import type { PutOp } from './op.ts';
import { splitPassages } from './passages.ts';
import { openTestStore } from './testing.ts';
import type { TestStore } from './testing.ts';

const section = (name: string, word: string): string =>
  `## ${name}\n\n${`The ${name} section talks about ${word} and other things at some length. `.repeat(12)}\n\n`;
const long = ['alpha', 'beta', 'gamma', 'delta'].map((n, i) => section(n, `uniqueword${i}`)).join('');

interface Row { n: number; start: number; end: number; line_start: number; line_end: number; tokens: number }

function passages(t: TestStore, id: string): Row[] {
  return t.db.prepare('SELECT n, start, "end", line_start, line_end, tokens FROM passages WHERE workspace = ? AND doc_id = ? ORDER BY n').all('ws', id) as Row[];
}

/** Passage numbers of `id` whose indexed text matches `word`. */
function matching(t: TestStore, word: string): { doc_id: string; n: number }[] {
  return t.db.prepare(
    `SELECT p.doc_id, p.n FROM passages_fts JOIN passages p ON p.rowid = passages_fts.rowid WHERE passages_fts MATCH ? ORDER BY p.doc_id, p.n`,
  ).all(`"${word}"`) as { doc_id: string; n: number }[];
}

function ftsRows(t: TestStore): number {
  // A contentless table has one row per indexed rowid; count them through a term every passage holds.
  return (t.db.prepare(`SELECT count(*) AS c FROM passages_fts WHERE passages_fts MATCH '"the"'`).get() as { c: number }).c;
}

describe('passages through apply', () => {
  it('stores the passages the op carries, each indexed with its own text', async () => {
    using t = openTestStore({ passage_tokens: 128 });
    await t.put('ws', { id: 'doc', path: 'doc.md', content: long });
    const expected = splitPassages(long, 128);
    expect(expected.length).toBeGreaterThanOrEqual(4);
    expect(passages(t, 'doc')).toEqual(expected.map((p, n) => ({ n, ...p })));
    for (let i = 0; i < 4; i++) {
      const hits = matching(t, `uniqueword${i}`);
      expect(hits.length).toBeGreaterThan(0);
      for (const h of hits) expect(long.slice(expected[h.n]?.start, expected[h.n]?.end)).toContain(`uniqueword${i}`);
    }
    expect(ftsRows(t)).toBe(expected.length);
  });

  it('replaces every passage on a put of the same id, and removes them on delete', async () => {
    using t = openTestStore({ passage_tokens: 128 });
    await t.put('ws', { id: 'doc', path: 'doc.md', content: long });
    await t.put('ws', { id: 'other', content: 'the other document stays' });
    const replacement = section('epsilon', 'freshword');
    await t.put('ws', { id: 'doc', path: 'doc.md', content: replacement });
    expect(passages(t, 'doc')).toEqual(splitPassages(replacement, 128).map((p, n) => ({ n, ...p })));
    for (let i = 0; i < 4; i++) expect(matching(t, `uniqueword${i}`)).toEqual([]);
    expect(matching(t, 'freshword').every((h) => h.doc_id === 'doc')).toBe(true);
    expect(ftsRows(t)).toBe(passages(t, 'doc').length + 1);
    t.applyLogged(t.store.prepareDelete('ws', ['doc']));
    expect(passages(t, 'doc')).toEqual([]);
    expect(matching(t, 'freshword')).toEqual([]);
    expect(ftsRows(t)).toBe(1);
    expect(passages(t, 'other')).toHaveLength(1);
  });

  it('stores a document of an op logged before passages (v1) as one passage', async () => {
    using t = openTestStore({ passage_tokens: 128 });
    const op = await t.store.preparePut('ws', { id: 'old', content: long });
    const v1: PutOp = { ...op, v: op_version, docs: op.docs.map(({ passages: _p, ...d }) => d) };
    t.applyLogged(v1);
    const lines = long.slice(0, -1).split('\n').length;
    expect(passages(t, 'old')).toEqual([{ n: 0, start: 0, end: long.length, line_start: 1, line_end: lines, tokens: op.docs[0]?.tokens }]);
    expect(matching(t, 'uniqueword3')).toEqual([{ doc_id: 'old', n: 0 }]);
  });

  it('refuses, as a broken invariant, passages that do not cover the content', async () => {
    using t = openTestStore();
    const op = await t.store.preparePut('ws', { id: 'd', content: long });
    const d = op.docs[0];
    if (d?.passages === undefined) throw new Error('no passages');
    const full = d.passages;
    expect(full.byteLength).toBeGreaterThan(20);
    const short = full.slice(0, full.byteLength - 20);
    expect(() => t.applyLogged({ ...op, docs: [{ ...d, passages: short }] })).toThrow(/invariant: passages of d/);
    expect(passages(t, 'd')).toEqual([]);
  });

  it('gives a different checksum when one passage differs, and the same on two stores applying the same ops', async () => {
    using a = openTestStore({ passage_tokens: 128 });
    using b = openTestStore({ passage_tokens: 128 });
    const op = await a.store.preparePut('ws', { id: 'doc', path: 'doc.md', content: long });
    a.applyLogged(op);
    b.applyLogged(op);
    expect(b.store.checksum()).toBe(a.store.checksum());
    for (const change of ['tokens = tokens + 1', '"end" = "end" - 1', 'line_end = line_end + 1', 'n = n + 100']) {
      const before = b.store.checksum();
      b.db.prepare(`UPDATE passages SET ${change} WHERE doc_id = 'doc' AND n = (SELECT max(n) FROM passages WHERE doc_id = 'doc')`).run();
      expect(b.store.checksum(), change).not.toBe(before);
    }
    // Splitting the same document at another target gives other passages: another state.
    using c = openTestStore({ passage_tokens: 64 });
    c.applyLogged(await c.store.preparePut('ws', { id: 'doc', path: 'doc.md', content: long }));
    expect(c.store.checksum()).not.toBe(a.store.checksum());
  });

  it('upgrades a schema 2 database to one passage per document, as a replica applying v1 ops holds', async () => {
    using t = openTestStore();
    const op = await t.store.preparePut('ws', { id: 'old', path: 'old.md', content: long });
    const v1: PutOp = { ...op, v: op_version, docs: op.docs.map(({ passages: _p, ...d }) => d) };
    t.applyLogged(v1);
    const replica = t.store.checksum();
    const file = join(t.dir, 'upgraded.db');
    const db = new Database(file);
    const fresh = new DocumentStore(db, { embedder: new HashingEmbedder({ dim: 64 }) });
    db.transaction(() => fresh.apply(v1))();
    // What a schema 2 store held: no passages tables, version 2.
    db.exec(`DROP TABLE passages; DROP TABLE passages_fts; UPDATE cairn_store_meta SET value = '2' WHERE key = 'schema_version'`);
    fresh.close();
    const upgraded = new DocumentStore(db, { embedder: new HashingEmbedder({ dim: 64 }) });
    expect(upgraded.checksum()).toBe(replica);
    expect((db.prepare(`SELECT value FROM cairn_store_meta WHERE key = 'schema_version'`).get() as { value: string }).value).toBe('3');
    expect((db.prepare(`SELECT count(*) AS c FROM passages_fts WHERE passages_fts MATCH '"uniqueword2"'`).get() as { c: number }).c).toBe(1);
    upgraded.close();
    db.close();
  });
});
