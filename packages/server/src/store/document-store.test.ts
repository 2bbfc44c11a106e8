import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { HashingEmbedder } from '../embed/hashing.ts';
import { DocumentStore } from './document-store.ts';
import { InputError } from './errors.ts';
import { bytesToVector, decodeOp, encodeOp, op_version } from './op.ts';
import type { Op, PutOp } from './op.ts';
import { store_schema_version } from './schema.ts';
import { fixedClock, openTestStore, seededRandom } from './testing.ts';

const words = 'raft log leader follower snapshot vector index cluster token budget query workspace apple river stone'.split(' ');

async function lex(store: DocumentStore, q: string): Promise<string[]> {
  return (await store.searchHits('ws', q, 10, 'lexical')).map((h) => h.id);
}

function randomText(rand: () => number, n: number): string {
  return Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]).join(' ');
}

describe('DocumentStore writes', () => {
  it('prepares a bulk of many short documents (in the prepare pool, in groups) as each would be alone', async () => {
    using t = openTestStore({ embedder: new HashingEmbedder({ dim: 64 }) });
    const rand = seededRandom(5);
    const raws = Array.from({ length: 400 }, (_, i) => ({ id: `d${i}`, content: randomText(rand, 40 + (i % 17)) }));
    const bulk = await t.store.preparePutMany('ws', raws);
    expect(bulk.errors).toEqual([]);
    expect(bulk.op?.docs).toHaveLength(400);
    for (const [i, raw] of raws.entries()) {
      const alone = (await t.store.preparePut('ws', raw)).docs[0];
      const got = bulk.op?.docs[i];
      expect(got?.id).toBe(raw.id);
      expect(got?.tokens).toBe(alone?.tokens);
      expect(got?.content_hash).toBe(alone?.content_hash);
      expect(Buffer.from(got?.vector ?? [])).toEqual(Buffer.from(alone?.vector ?? []));
    }
  });

  it('checks documents against the limits it was given, not only the defaults', async () => {
    const store = new DocumentStore(new Database(':memory:'), {
      embedder: new HashingEmbedder({ dim: 64 }), clock: fixedClock(), limits: { document_bytes_max: 100, metadata_bytes_max: 64, metadata_depth_max: 2 },
    });
    try {
      await expect(store.preparePut('ws', { content: 'x'.repeat(101) })).rejects.toMatchObject({ code: 'document_too_large' });
      await expect(store.preparePut('ws', { content: 'ok', metadata: { a: { b: { c: 1 } } } })).rejects.toMatchObject({ code: 'metadata_too_deep' });
      await expect(store.preparePut('ws', { content: 'ok', metadata: { a: 'y'.repeat(80) } })).rejects.toMatchObject({ code: 'metadata_too_large' });
      expect((await store.preparePut('ws', { content: 'x'.repeat(100), metadata: { a: 1 } })).docs).toHaveLength(1);
    } finally {
      store.close();
    }
  });

  it('derives the id from the content when none is given, and the same content gives the same id', async () => {
    using t = openTestStore();
    const a = await t.put('default', { content: 'hello world' });
    const b = await t.put('default', { content: 'hello world' });
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(b).toBe(a);
    expect(t.store.workspaceStats().default?.document_count).toBe(1);
  });

  it('counts tokens with cl100k_base and stores path, language and metadata', async () => {
    using t = openTestStore();
    await t.put('ws1', { id: 'd1', content: 'hello world', path: 'src/a.ts', metadata: { b: 1, a: [true] } });
    const doc = t.store.get('ws1', 'd1');
    expect(doc).toMatchObject({ id: 'd1', tokens: 2, path: 'src/a.ts', language: 'typescript', metadata: { a: [true], b: 1 }, bytes: 11 });
  });

  it('treats writing an existing id as an update that keeps created_at', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'x', content: 'first version' });
    const before = t.store.get('ws', 'x');
    await t.put('ws', { id: 'x', content: 'second version, longer' });
    const after = t.store.get('ws', 'x');
    expect(after?.content).toBe('second version, longer');
    expect(after?.created_at).toBe(before?.created_at);
    expect(after?.updated_at).toBeGreaterThan(before?.updated_at ?? Infinity);
    expect(t.store.workspaceStats().ws?.document_count).toBe(1);
  });

  it('rejects bad documents with an InputError naming the field', async () => {
    using t = openTestStore();
    const cases: [unknown, string][] = [
      [{}, 'content'], [{ content: 5 }, 'content'], [{ content: '  ' }, 'content'], [{ content: 'x', id: 7 }, 'id'],
      [{ content: 'x', id: 'a\nb' }, 'id'], [{ content: 'x', metadata: [1] }, 'metadata'], [{ content: 'x', vector: 'no' }, 'vector'],
      [{ content: 'x', vector: [1, 'a'] }, 'vector'], [{ content: 'x', path: 3 }, 'path'], ['text', 'body'],
      [{ content: 'x', vector: new Array(64).fill(0) }, 'vector'],
    ];
    for (const [raw, field] of cases) {
      const err = await t.store.preparePut('ws', raw).catch((e: unknown) => e);
      expect(err, JSON.stringify(raw)).toBeInstanceOf(InputError);
      expect((err as InputError).field).toBe(field);
    }
    await expect(t.store.preparePut('bad/ws', { content: 'x' })).rejects.toMatchObject({ field: 'workspace' });
  });

  it('checks a client vector against the workspace dimension', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'a', content: 'a', vector: [1, 0, 0] });
    await expect(t.store.preparePut('ws', { content: 'b', vector: [1, 0] })).rejects.toMatchObject({ code: 'dimension_mismatch', field: 'vector' });
    await expect(t.store.preparePut('ws', { content: 'no vector, embedder is 64-d' })).rejects.toMatchObject({ code: 'dimension_mismatch' });
    await expect(t.store.preparePut('other', { content: 'b', vector: [1, 0] })).resolves.toMatchObject({ kind: 'put' });
  });

  it('reports bulk item errors by position and puts the valid items in one op', async () => {
    using t = openTestStore();
    const r = await t.store.preparePutMany('ws', [{ content: 'one' }, { content: 1 }, { id: 'three', content: 'three' }]);
    expect(r.ids).toHaveLength(2);
    expect(r.errors).toEqual([{ item: 1, error: expect.objectContaining({ field: '[1].content' }) }]);
    expect(r.op?.docs.map((d) => d.id)).toEqual([r.ids[0], 'three']);
  });

  it('makes ops msgpack-safe: vectors travel as little-endian float32 bytes', async () => {
    using t = openTestStore();
    const op = await t.store.preparePut('ws', { content: 'vectors', vector: [0.5, -2, 3] });
    const wire = decodeOp(encodeOp(op));
    expect(wire).toEqual({ ...op, docs: [expect.objectContaining({ id: op.docs[0]?.id })] });
    if (wire.kind !== 'put' || wire.docs[0] === undefined) throw new Error('expected a put');
    expect(Array.from(bytesToVector(wire.docs[0].vector))).toEqual([0.5, -2, 3]);
  });
});

describe('DocumentStore apply determinism', () => {
  it('gives byte-identical state (same checksum) on two fresh databases applying the same ops', async () => {
    using leader = openTestStore();
    using follower = openTestStore({ clock: () => 0 });
    const rand = seededRandom(42);
    const log: Op[] = [];
    const workspaces = ['a', 'b', 'c'];
    for (let i = 0; i < 150; i++) {
      const ws = workspaces[Math.floor(rand() * 3)] ?? 'a';
      const id = `doc-${Math.floor(rand() * 60)}`;
      const op = rand() < 0.2
        ? leader.store.prepareDelete(ws, [id])
        : (await leader.store.preparePutMany(ws, [{ id, content: randomText(rand, 8) }, { content: randomText(rand, 5) }])).op;
      if (op === null) continue;
      leader.applyLogged(op);
      log.push(op);
    }
    const retrain = leader.store.prepareRetrain('a');
    expect(retrain.kind).toBe('centroids');
    leader.applyLogged(retrain);
    log.push(retrain);
    const after = await leader.store.preparePut('a', { content: 'written after the retrain' });
    leader.applyLogged(after);
    log.push(after);
    for (const op of log) follower.applyLogged(op);
    expect(follower.store.checksum()).toBe(leader.store.checksum());
    expect(follower.store.workspaceStats()).toEqual(leader.store.workspaceStats());
  });

  it('changes the checksum when any document changes', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'a', content: 'one' });
    const before = t.store.checksum();
    await t.put('ws', { id: 'a', content: 'two' });
    expect(t.store.checksum()).not.toBe(before);
  });

  it('covers embeddings and centroids: same documents with other vectors or centroids differ', async () => {
    using a = openTestStore();
    using b = openTestStore();
    a.applyLogged(await a.store.preparePut('ws', { id: 'x', content: 'same text', vector: [1, 0, 0] }));
    b.applyLogged(await b.store.preparePut('ws', { id: 'x', content: 'same text', vector: [0, 1, 0] }));
    const docs = (t: typeof a): unknown => ({ ...t.store.get('ws', 'x'), created_at: 0, updated_at: 0 });
    expect(docs(a)).toEqual(docs(b));
    expect(a.store.checksum()).not.toBe(b.store.checksum());
    b.applyLogged(await b.store.preparePut('ws', { id: 'x', content: 'same text', vector: [1, 0, 0] }));
    const before = b.store.checksum();
    b.applyLogged(b.store.prepareRetrain('ws'));
    expect(b.store.checksum()).not.toBe(before);
  });

  it('can be built again on a reopened database and reads the same state', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'a', content: 'persistent river stone' });
    const sum = t.store.checksum();
    const file = t.db.name;
    t.store.close();
    t.db.close();
    const db = new Database(file);
    const again = new DocumentStore(db, { embedder: new HashingEmbedder({ dim: 64 }), clock: fixedClock() });
    expect(again.checksum()).toBe(sum);
    expect((await again.search('ws', { query: 'river', mode: 'vector' })).map((r) => r.id)).toEqual(['a']);
    again.close();
    db.close();
  });
});

describe('DocumentStore FTS exactness', () => {
  it('forgets the old terms of a replaced document and every term of a deleted one', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'd', content: 'alpha beta' });
    expect(await lex(t.store, 'alpha')).toEqual(['d']);
    await t.put('ws', { id: 'd', content: 'gamma delta' });
    expect(await lex(t.store, 'alpha')).toEqual([]);
    expect(await lex(t.store, 'gamma')).toEqual(['d']);
    t.applyLogged(t.store.prepareDelete('ws', ['d']));
    expect(await lex(t.store, 'gamma')).toEqual([]);
    expect(() => t.db.prepare("INSERT INTO documents_fts(documents_fts, rank) VALUES ('integrity-check', 1)").run()).not.toThrow();
    expect(t.db.prepare('SELECT count(*) AS n FROM documents_fts').get()).toEqual({ n: 0 });
  });

  it("never finds a deleted document's words in the document written after it (in any workspace)", async () => {
    // The index is external-content: a delete that left the old row's terms behind stays hidden
    // while no row has that rowid, and shows once SQLite gives the rowid to the next document.
    using t = openTestStore();
    await t.put('ws', { id: 'kept', content: 'common words only' });
    for (const [round, ws] of ['ws', 'other', 'ws'].entries()) {
      const word = `zebra${round}`;
      await t.put('ws', { id: `gone-${round}`, content: `common ${word} crossing` });
      expect(await lex(t.store, word)).toEqual([`gone-${round}`]);
      t.applyLogged(t.store.prepareDelete('ws', [`gone-${round}`]));
      await t.put(ws, { id: `next-${round}`, content: `common yak${round}` });
      for (const w of ['ws', 'other']) {
        expect(await t.store.searchHits(w, word, 10, 'lexical'), `${word} in ${w} after the delete`).toEqual([]);
        expect(await t.store.search(w, { query: word, mode: 'lexical', k: 10 }), `${word} in ${w} (search)`).toEqual([]);
      }
      expect((await t.store.searchHits(ws, `yak${round}`, 10, 'lexical')).map((h) => h.id)).toEqual([`next-${round}`]);
    }
    expect(t.db.prepare("SELECT count(*) AS n FROM documents_fts WHERE documents_fts MATCH 'zebra0 OR zebra1 OR zebra2'").get()).toEqual({ n: 0 });
  });

  it('never lets FTS5 syntax in a query raise an error', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'd', content: 'NEAR the "quoted" column:value and star*' });
    for (const q of ['"', 'NEAR(', 'a OR', 'column:value', '*', '-x', '(((', 'AND AND', '^start', '{x}', "'", 'star*']) {
      await expect(lex(t.store, q)).resolves.toBeInstanceOf(Array);
    }
    expect(await lex(t.store, 'column:value')).toEqual(['d']);
  });
});

describe('DocumentStore schema', () => {
  const version = (db: Database.Database): unknown =>
    (db.prepare(`SELECT value FROM cairn_store_meta WHERE key = 'schema_version'`).get() as { value: string } | undefined)?.value;

  it('records the schema version in a new database, and opens it again as it is', async () => {
    using t = openTestStore();
    expect(store_schema_version).toBe(3);
    expect(version(t.db)).toBe('3');
    await t.put('ws', { id: 'a', content: 'kept across opens' });
    const again = new DocumentStore(t.db, { embedder: new HashingEmbedder({ dim: 64 }), clock: fixedClock() });
    expect(version(t.db)).toBe('3');
    expect(again.get('ws', 'a')?.content).toBe('kept across opens');
    expect(t.db.prepare('SELECT count(*) AS n FROM passages').get()).toEqual({ n: 1 });
    again.close();
  });

  it('refuses a database of a schema version it does not read, naming both versions', () => {
    using t = openTestStore();
    t.db.prepare(`UPDATE cairn_store_meta SET value = '7' WHERE key = 'schema_version'`).run();
    expect(() => new DocumentStore(t.db, { embedder: new HashingEmbedder({ dim: 64 }) })).toThrow(
      'state.db: document store schema version 7, this build reads 3',
    );
    expect(version(t.db)).toBe('7');
  });

  it('upgrades a schema 2 database of more documents than one page, in every workspace, to one passage each', async () => {
    using t = openTestStore();
    const per_ws = 251; // two workspaces: more than the upgrade's page of 500 rows
    for (const ws of ['Alpha', 'beta']) {
      const r = await t.store.preparePutMany(ws, Array.from({ length: per_ws }, (_, i) => ({ id: `d${i}`, content: `word${i} of ${ws}`, vector: [1] })));
      if (r.op === null) throw new Error('expected an op');
      const v1: PutOp = { ...r.op, v: op_version, docs: r.op.docs.map(({ passages: _p, ...d }) => d) };
      t.applyLogged(v1);
    }
    t.store.close();
    t.db.exec(`DROP TABLE passages; DROP TABLE passages_fts; UPDATE cairn_store_meta SET value = '2' WHERE key = 'schema_version'`);
    const upgraded = new DocumentStore(t.db, { embedder: new HashingEmbedder({ dim: 64 }) });
    try {
      expect(version(t.db)).toBe('3');
      const rows = t.db.prepare('SELECT workspace, count(*) AS n, min(n) AS first, max(n) AS last FROM passages GROUP BY workspace ORDER BY workspace').all();
      expect(rows).toEqual([{ workspace: 'Alpha', n: per_ws, first: 0, last: 0 }, { workspace: 'beta', n: per_ws, first: 0, last: 0 }]);
      const uncovered = t.db.prepare('SELECT count(*) AS n FROM passages p JOIN documents d ON d.workspace = p.workspace AND d.id = p.doc_id WHERE p.start != 0 OR p."end" != length(d.content)').get();
      expect(uncovered).toEqual({ n: 0 });
      for (const [ws, word] of [['Alpha', 'word0'], ['beta', 'word250']] as const) {
        expect((await upgraded.searchPassages(ws, word, 5, 'lexical')).hits.map((h) => h.id), `${word} in ${ws}`).toEqual([word.replace('word', 'd')]);
      }
    } finally {
      upgraded.close();
    }
  });
});
