import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { HashingEmbedder } from '../embed/hashing.ts';
import type { Embedder } from '../embed/types.ts';
import { DocumentStore, prepare_group_chars, prepare_inline_chars_max, preview_chars_max } from './document-store.ts';
import { InputError } from './errors.ts';
import { conditional_op_version, op_version } from './op.ts';
import type { PreparePool } from './prepare-pool.ts';
import { prepareWork } from './prepare-work.ts';
import type { PrepareResult, PrepareTask } from './prepare-work.ts';
import { fixedClock, openTestStore } from './testing.ts';

const closed_message = 'DocumentStore is closed; build a new one on the reopened database';

function sha256(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

/** An embedder that is not the built-in hashing one: 4-d, records every call, gives zeros for texts holding "blank". */
class RecordingEmbedder implements Embedder {
  readonly dim = 4;
  readonly name = 'recording-4';
  readonly calls: string[][] = [];
  embed(texts: string[]): Promise<Float32Array[]> {
    this.calls.push([...texts]);
    return Promise.resolve(texts.map((t) => (t.includes('blank') ? new Float32Array(4) : Float32Array.from([t.length, 1, 0, 0]))));
  }
}

/** The hashing embedder, counting the texts it embeds and failing on demand (a remote embedder that is down). */
class FlakyHashingEmbedder extends HashingEmbedder {
  embedded = 0;
  down = false;
  override embed(texts: string[]): Promise<Float32Array[]> {
    if (this.down) return Promise.reject(new Error('embedder unreachable'));
    this.embedded += texts.length;
    return super.embed(texts);
  }
}

function storeWith(opts: { embedder?: Embedder; preparePool?: () => PreparePool; requestId?: () => string } = {}): DocumentStore & Disposable {
  const db = new Database(':memory:');
  const store = new DocumentStore(db, { embedder: opts.embedder ?? new HashingEmbedder({ dim: 64 }), clock: fixedClock(), ...opts });
  return Object.assign(store, {
    [Symbol.dispose]: () => {
      store.close();
      db.close();
    },
  });
}

interface PoolCall {
  kind: 'run' | 'group';
  /** Content lengths of the tasks, in order. */
  chars: number[];
}

/** A prepare pool that does the work on this thread and records what it was given and how many jobs ran at once. */
function recordingPool(threads_max: number): { pool: PreparePool; calls: PoolCall[]; concurrent_max: () => number } {
  const calls: PoolCall[] = [];
  let running = 0;
  let most = 0;
  const job = async <T>(call: PoolCall, work: () => Promise<T>): Promise<T> => {
    calls.push(call);
    running += 1;
    most = Math.max(most, running);
    await new Promise((resolve) => setImmediate(resolve));
    try {
      return await work();
    } finally {
      running -= 1;
    }
  };
  const pool = {
    threads_max,
    run: (task: PrepareTask): Promise<PrepareResult> => job({ kind: 'run', chars: [task.content.length] }, () => prepareWork(task)),
    runGroup: (tasks: PrepareTask[]): Promise<PrepareResult[]> =>
      job({ kind: 'group', chars: tasks.map((t) => t.content.length) }, () => Promise.all(tasks.map((t) => prepareWork(t)))),
  };
  return { pool: pool as unknown as PreparePool, calls, concurrent_max: () => most };
}

/** A document of exactly `chars` characters, distinct per `i`, with a client vector (no embedding work). */
function sized(i: number, chars: number): { id: string; content: string; vector: number[] } {
  const content = `doc${i} ${'stone river '.repeat(Math.ceil(chars / 12))}`.slice(0, chars - 1) + 'x';
  return { id: `d${i}`, content, vector: [1] };
}

describe('DocumentStore prepare: dimensions and embedding', () => {
  it('names the workspace, both dimensions and the field when a vector does not fit the workspace', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'a', content: 'three dims', vector: [1, 0, 0] });
    await expect(t.store.preparePut('ws', { content: 'two', vector: [1, 0] })).rejects.toMatchObject({
      code: 'dimension_mismatch', field: 'vector', message: 'vector has 2 dimensions; workspace ws holds 3',
    });
    await expect(t.store.preparePut('ws', { content: 'embedded by the 64-d embedder' })).rejects.toMatchObject({
      code: 'dimension_mismatch', field: 'vector', message: 'workspace ws holds 3-dimensional vectors and the embedder hashing-64 gives 64: send vector',
    });
    const bulk = await t.store.preparePutMany('ws', [{ content: 'fits', vector: [0, 1, 0] }, { content: 'embedded' }, { content: 'one', vector: [1] }]);
    expect(bulk.errors).toEqual([
      { item: 1, error: { code: 'dimension_mismatch', field: '[1].vector', message: 'workspace ws holds 3-dimensional vectors and the embedder hashing-64 gives 64: send [1].vector' } },
      { item: 2, error: { code: 'dimension_mismatch', field: '[2].vector', message: '[2].vector has 1 dimensions; workspace ws holds 3' } },
    ]);
    expect(bulk.items).toEqual([0]);
  });

  it('takes a new workspace dimension from the first valid item of a bulk', async () => {
    using t = openTestStore();
    const bulk = await t.store.preparePutMany('fresh', [{ content: 5 }, { content: 'two', vector: [1, 2] }, { content: 'three', vector: [1, 2, 3] }]);
    expect(bulk.items).toEqual([1]);
    expect(bulk.errors.map((e) => [e.item, e.error.code])).toEqual([[0, 'invalid_type'], [2, 'dimension_mismatch']]);
  });

  it('gives no op and no ids when no item of a bulk is valid', async () => {
    using t = openTestStore();
    const r = await t.store.preparePutMany('ws', [{ content: '' }, 'text']);
    expect(r).toEqual({
      op: null, ids: [], items: [],
      errors: [
        { item: 0, error: { code: 'invalid_value', field: '[0].content', message: '[0].content must not be empty' } },
        { item: 1, error: expect.objectContaining({ code: 'invalid_type', field: '[1]' }) },
      ],
    });
  });

  it('asks another embedder only for the contents without a client vector, in one call, and stores its vectors', async () => {
    const embedder = new RecordingEmbedder();
    using store = storeWith({ embedder });
    const r = await store.preparePutMany('ws', [{ id: 'a', content: 'alpha' }, { id: 'b', content: 'given', vector: [0, 0, 1, 0] }, { id: 'c', content: 'gamma!' }]);
    expect(embedder.calls).toEqual([['alpha', 'gamma!']]);
    expect(r.errors).toEqual([]);
    expect(r.op?.docs.map((d) => [d.id, Array.from(new Float32Array(d.vector.slice().buffer))])).toEqual([
      ['a', [5, 1, 0, 0]], ['b', [0, 0, 1, 0]], ['c', [6, 1, 0, 0]],
    ]);
    await store.preparePut('ws', { content: 'has one', vector: [1, 1, 1, 1] });
    expect(embedder.calls).toHaveLength(1);
  });

  it('refuses a document whose embedding is all zeros: nothing to embed', async () => {
    const embedder = new RecordingEmbedder();
    using store = storeWith({ embedder });
    const err = await store.preparePut('ws', { content: 'blank page' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect(err).toMatchObject({ code: 'invalid_value', field: 'content', message: 'content has nothing to embed' });
    const bulk = await store.preparePutMany('ws', [{ id: 'z', content: 'blank' }, { id: 'ok', content: 'words' }, { content: 7 }]);
    expect(bulk.errors).toEqual([
      { item: 0, error: { code: 'invalid_value', field: '[0].content', message: '[0].content has nothing to embed' } },
      { item: 2, error: expect.objectContaining({ field: '[2].content' }) },
    ]);
    expect(bulk.ids).toEqual(['ok']);
    expect(bulk.items).toEqual([1]);
    expect(bulk.op?.docs.map((d) => d.id)).toEqual(['ok']);
    const none = await store.preparePutMany('ws', [{ content: 'blank one' }, { content: 'blank two' }]);
    expect(none.op).toBeNull();
    expect(none.ids).toEqual([]);
    expect(none.items).toEqual([]);
    expect(none.errors.map((e) => e.item)).toEqual([0, 1]);
  });
});

describe('DocumentStore prepare: where the work runs', () => {
  it('prepares small contents of a request on the event loop while they are at most prepare_inline_chars_max in all', async () => {
    const rec = recordingPool(2);
    using store = storeWith({ preparePool: () => rec.pool });
    const half = prepare_inline_chars_max / 2;
    const r = await store.preparePutMany('ws', [sized(0, half), sized(1, half)]);
    expect(rec.calls).toEqual([]);
    expect(r.op?.docs.map((d) => d.bytes)).toEqual([half, half]);
  });

  it('sends small contents one character over that total to the pool as one group', async () => {
    const rec = recordingPool(2);
    using store = storeWith({ preparePool: () => rec.pool });
    const half = prepare_inline_chars_max / 2;
    const raws = [sized(0, half), sized(1, half + 1)];
    const r = await store.preparePutMany('ws', raws);
    expect(rec.calls).toEqual([{ kind: 'group', chars: [half, half + 1] }]);
    expect(r.op?.docs.map((d) => d.content_hash)).toEqual(raws.map((x) => sha256(x.content)));
  });

  it('sends a content over prepare_inline_chars_max to the pool alone', async () => {
    const rec = recordingPool(2);
    using store = storeWith({ preparePool: () => rec.pool });
    const big = sized(0, prepare_inline_chars_max + 1);
    const op = await store.preparePut('ws', big);
    expect(rec.calls).toEqual([{ kind: 'run', chars: [prepare_inline_chars_max + 1] }]);
    expect(op.docs[0]?.content_hash).toBe(sha256(big.content));
  });

  it('closes a group when it reaches prepare_group_chars, and holds at most threads_max jobs at a time', async () => {
    const n = prepare_group_chars / prepare_inline_chars_max; // contents of the largest small size that fill one group exactly
    const raws = Array.from({ length: n + 1 }, (_, i) => sized(i, prepare_inline_chars_max));
    const rec = recordingPool(1);
    using store = storeWith({ preparePool: () => rec.pool });
    const exact = await store.preparePutMany('ws', raws.slice(0, n));
    expect(rec.calls).toEqual([{ kind: 'group', chars: Array(n).fill(prepare_inline_chars_max) }]);
    expect(exact.op?.docs).toHaveLength(n);
    rec.calls.length = 0;
    const r = await store.preparePutMany('ws', raws);
    expect(rec.calls).toEqual([
      { kind: 'group', chars: Array(n).fill(prepare_inline_chars_max) },
      { kind: 'group', chars: [prepare_inline_chars_max] },
    ]);
    expect(rec.concurrent_max()).toBe(1);
    expect(r.op?.docs.map((d) => d.content_hash)).toEqual(raws.map((x) => sha256(x.content)));
  });

  it('runs a large content alone and the small ones grouped, up to threads_max jobs at once, each result in its place', async () => {
    const rec = recordingPool(2);
    using store = storeWith({ preparePool: () => rec.pool });
    const raws = [
      sized(0, 100), sized(1, prepare_inline_chars_max + 1), sized(2, prepare_inline_chars_max), sized(3, prepare_inline_chars_max + 2), sized(4, 50),
    ];
    const r = await store.preparePutMany('ws', raws);
    expect(rec.calls).toEqual([
      { kind: 'run', chars: [prepare_inline_chars_max + 1] },
      { kind: 'run', chars: [prepare_inline_chars_max + 2] },
      { kind: 'group', chars: [100, prepare_inline_chars_max, 50] },
    ]);
    expect(rec.concurrent_max()).toBe(2);
    expect(r.op?.docs.map((d) => [d.id, d.content_hash])).toEqual(raws.map((x) => [x.id, sha256(x.content)]));
  });
});

describe('DocumentStore prepare: deletes, preconditions and centroids', () => {
  it('names the bad id of a delete: "id" for one, "ids[i]" for several', () => {
    using t = openTestStore();
    expect(() => t.store.prepareDelete('ws', [''])).toThrow(expect.objectContaining({ field: 'id', message: expect.stringMatching(/^id must be 1\.\.256 characters/) }));
    expect(() => t.store.prepareDelete('ws', ['ok', 'a\nb'])).toThrow(
      expect.objectContaining({ code: 'invalid_value', field: 'ids[1]', message: expect.stringMatching(/^ids\[1\] must be 1\.\.256 characters/) }),
    );
    expect(() => t.store.prepareDelete('bad/ws', ['ok'])).toThrow(expect.objectContaining({ field: 'workspace' }));
    expect(t.store.prepareDelete('ws', ['a', 'b'])).toEqual({ kind: 'delete', v: op_version, ws: 'ws', ts: expect.any(Number), ids: ['a', 'b'] });
  });

  it('makes a delete conditional on If-Match only, for exactly one id', () => {
    using store = storeWith({ requestId: () => 'rid-1' });
    expect(store.prepareDelete('ws', ['d'], { if_match: ['e1'] })).toEqual({
      kind: 'delete', v: conditional_op_version, ws: 'ws', ts: expect.any(Number), ids: ['d'], if_match: ['e1'], rid: 'rid-1',
    });
    for (const p of [{ if_none_match: true as const }, { if_match: '*' as const, if_none_match: true as const }, {}]) {
      const err = (() => {
        try {
          store.prepareDelete('ws', ['d'], p);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err, JSON.stringify(p)).toBeInstanceOf(InputError);
      expect(err).toMatchObject({ code: 'invalid_value', field: 'If-None-Match', message: 'a delete takes If-Match only' });
    }
    expect(() => store.prepareDelete('ws', ['a', 'b'], { if_match: '*' })).toThrow('invariant: a conditional delete of 2 ids');
  });

  it('refuses If-Match with If-None-Match on a put, and a precondition with neither', async () => {
    using store = storeWith({ requestId: () => 'rid-2' });
    await expect(store.preparePut('ws', { content: 'x' }, { if_match: ['e'], if_none_match: true })).rejects.toMatchObject({
      code: 'invalid_value', field: 'If-None-Match', message: 'If-Match and If-None-Match cannot be combined',
    });
    await expect(store.preparePut('ws', { content: 'x' }, {})).rejects.toThrow('invariant: a precondition with neither if_match nor if_none_match');
    const op = await store.preparePut('ws', { id: 'x', content: 'x' }, { if_match: ['e'] });
    expect(op.rid).toBe('rid-2');
    expect(op.docs[0]).toMatchObject({ id: 'x', if_match: ['e'] });
    expect(op.docs[0]).not.toHaveProperty('if_none_match');
  });

  it('refuses an assignment whose lists, fingerprints or centroids do not fit its ids', () => {
    using t = openTestStore();
    const ids = ['a', 'b'];
    const two = Uint32Array.from([0, 1]);
    const one = Uint32Array.from([0]);
    const c = new Float32Array(6);
    expect(() => t.store.centroidsOp('ws', 3, c, { ids, lists: one, fingerprints: two })).toThrow('invariant: an assignment of 2 ids has 1 lists, 2 fingerprints');
    expect(() => t.store.centroidsOp('ws', 3, c, { ids, lists: two, fingerprints: one })).toThrow('invariant: an assignment of 2 ids has 2 lists, 1 fingerprints');
    expect(() => t.store.centroidsOp('ws', 4, c, { ids, lists: two, fingerprints: two })).toThrow('invariant: an assignment of 2 ids has 2 lists, 2 fingerprints');
    expect(t.store.centroidsOp('ws', 3, c, { ids, lists: two, fingerprints: two })).toMatchObject({ kind: 'centroids', ws: 'ws', dim: 3, ids });
  });
});

describe('DocumentStore apply outcomes', () => {
  it('reports the documents an unconditional put could not write because another write set the dimension first', async () => {
    using t = openTestStore();
    const first = await t.store.preparePut('ws', { id: 'a', content: 'three', vector: [1, 0, 0] });
    const second = await t.store.preparePutMany('ws', [{ id: 'b', content: 'two', vector: [1, 0] }, { id: 'c', content: 'also two', vector: [0, 1] }]);
    if (second.op === null) throw new Error('expected an op');
    t.applyLogged(first);
    t.applyLogged(second.op);
    expect(t.store.skippedDocuments(first)).toEqual([]);
    expect(t.store.skippedDocuments(second.op)).toEqual([
      { id: 'b', reason: 'vector dimension 2, workspace holds 3' }, { id: 'c', reason: 'vector dimension 2, workspace holds 3' },
    ]);
    expect(() => t.store.conditionalOutcome(first)).toThrow('invariant: the outcome of an unconditional op was asked for');
  });

  it('reports the documents a conditional put could not write because of the dimension, from its outcome', async () => {
    using t = openTestStore();
    const first = await t.store.preparePut('ws', { id: 'a', content: 'three', vector: [1, 0, 0] });
    const second = await t.store.preparePut('ws', { id: 'b', content: 'two', vector: [1, 0] }, { if_none_match: true });
    t.applyLogged(first);
    t.applyLogged(second);
    expect(t.store.skippedDocuments(second)).toEqual([{ id: 'b', reason: 'vector dimension 2, workspace holds 3' }]);
    expect(t.store.conditionalOutcome(second)).toEqual({ failed: [], skipped: [{ id: 'b', reason: 'vector dimension 2, workspace holds 3' }] });
  });

  it('gives the bytes a put adds to its workspace, new and replaced documents together', async () => {
    using t = openTestStore();
    const first = await t.store.preparePut('ws', { id: 'a', content: 'short', metadata: { k: 'v' } });
    const d = first.docs[0];
    // content + canonical metadata + float32 vector
    expect(t.store.storageDelta(first)).toBe(5 + '{"k":"v"}'.length + 64 * 4);
    expect(d?.bytes).toBe(5);
    t.applyLogged(first);
    expect(t.store.storageBytes('ws')).toBe(5 + 9 + 256);
    const next = await t.store.preparePutMany('ws', [{ id: 'a', content: 'a longer text' }, { id: 'b', content: 'new' }]);
    if (next.op === null) throw new Error('expected an op');
    const delta = t.store.storageDelta(next.op);
    expect(delta).toBe(13 + 256 - (5 + 9 + 256) + 3 + 256);
    const before = t.store.storageBytes('ws');
    t.applyLogged(next.op);
    expect(t.store.storageBytes('ws')).toBe(before + delta);
    expect(t.store.storageBytes('absent')).toBe(0);
  });

  it('keeps document count, bytes, dimension and last write time per workspace through writes, replaces and deletes', async () => {
    using t = openTestStore();
    const a = await t.store.preparePut('one', { id: 'a', content: 'abc', vector: [1, 2] });
    t.applyLogged(a);
    const b = await t.store.preparePut('one', { id: 'b', content: 'defgh', vector: [3, 4], metadata: { x: 1 } });
    t.applyLogged(b);
    const other = await t.store.preparePut('two', { id: 'a', content: 'z', vector: [1, 0, 0] });
    t.applyLogged(other);
    expect(t.store.workspaceStats()).toEqual({
      one: { document_count: 2, bytes: 3 + 8 + 5 + 7 + 8, dim: 2, last_write_ms: b.ts },
      two: { document_count: 1, bytes: 1 + 12, dim: 3, last_write_ms: other.ts },
    });
    const replace = await t.store.preparePut('one', { id: 'a', content: 'abcdefghij', vector: [1, 1] });
    t.applyLogged(replace);
    expect(t.store.workspaceStats().one).toEqual({ document_count: 2, bytes: 10 + 8 + 5 + 7 + 8, dim: 2, last_write_ms: replace.ts });
    const del = t.store.prepareDelete('one', ['b', 'never-written']);
    t.applyLogged(del);
    expect(t.store.workspaceStats().one).toEqual({ document_count: 1, bytes: 10 + 8, dim: 2, last_write_ms: del.ts });
    expect(t.store.workspaceDim('one')).toBe(2);
    expect(t.store.workspaceDim('absent')).toBeNull();
    expect(t.store.workspaceStats().two).toEqual({ document_count: 1, bytes: 13, dim: 3, last_write_ms: other.ts });
  });
});

describe('DocumentStore search results', () => {
  const long = `granite ${'obsidian basalt quartz '.repeat(40)}end`;

  it('ranks by passages by default: each hit has its passages, a snippet and a preview of preview_chars_max characters', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'g', content: long, path: 'rocks.md' });
    const [hit, ...rest] = await t.store.search('ws', { query: 'granite', mode: 'lexical' });
    expect(rest).toEqual([]);
    expect(hit).toMatchObject({ id: 'g', path: 'rocks.md', language: 'markdown', tokens: expect.any(Number), preview: long.slice(0, preview_chars_max) });
    expect(hit?.preview).toHaveLength(preview_chars_max);
    expect(hit?.passages?.length).toBeGreaterThan(0);
    expect(hit?.passages?.[0]).toEqual({ n: 0, start: 0, end: expect.any(Number), line_start: 1, line_end: 1, tokens: expect.any(Number), score: expect.any(Number) });
    expect(hit?.snippet).toContain('granite');
  });

  it('gives a hit holding none of the query words its first passage with score 0', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'g', content: long });
    const [vector] = await t.store.embedder.embed([long]);
    const hits = await t.store.search('ws', { query: 'zebra', mode: 'vector', ...(vector === undefined ? {} : { vector }) });
    expect(hits.map((h) => h.id)).toEqual(['g']);
    expect(hits[0]?.passages).toEqual([{ n: 0, start: 0, end: long.length, line_start: 1, line_end: 1, tokens: t.store.get('ws', 'g')?.tokens, score: 0 }]);
  });

  it('ranks whole documents with granularity "document": no passages or snippet, the same preview', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'g', content: long, path: 'rocks.md' });
    await t.put('ws', { id: 'h', content: 'granite only' });
    const hits = await t.store.search('ws', { query: 'granite obsidian', mode: 'lexical', granularity: 'document' });
    expect(hits).toEqual([
      { id: 'g', score: expect.any(Number), path: 'rocks.md', language: 'markdown', tokens: t.store.get('ws', 'g')?.tokens, preview: long.slice(0, preview_chars_max) },
      { id: 'h', score: expect.any(Number), path: null, language: null, tokens: 3, preview: 'granite only' },
    ]);
  });

  it('searches lexically without embedding the query, so it answers while the embedder is down', async () => {
    const embedder = new FlakyHashingEmbedder({ dim: 64 });
    using t = openTestStore({ embedder });
    await t.put('ws', { id: 'g', content: 'granite basalt' });
    const before = embedder.embedded;
    embedder.down = true;
    expect((await t.store.search('ws', { query: 'granite', mode: 'lexical' })).map((h) => h.id)).toEqual(['g']);
    expect((await t.store.searchPassages('ws', 'granite', 5, 'lexical')).hits.map((h) => h.id)).toEqual(['g']);
    await expect(t.store.search('ws', { query: 'granite', mode: 'hybrid' })).rejects.toThrow('embedder unreachable');
    embedder.down = false;
    expect((await t.store.search('ws', { query: 'granite', mode: 'hybrid' })).map((h) => h.id)).toEqual(['g']);
    expect(embedder.embedded).toBe(before + 1);
  });

  it('does not embed a query for a workspace of another dimension than the embedder', async () => {
    const embedder = new FlakyHashingEmbedder({ dim: 64 });
    using t = openTestStore({ embedder });
    await t.put('ws', { id: 'a', content: 'client vectors', vector: [1, 0, 0] });
    await t.put('same', { id: 'b', content: 'embedded here' });
    const before = embedder.embedded;
    expect(await t.store.queryVector('ws', 'client')).toBeNull();
    expect(await t.store.queryVector('absent', 'client')).toBeNull();
    expect(embedder.embedded).toBe(before);
    expect(await t.store.queryVector('same', 'embedded')).toHaveLength(64);
    expect(embedder.embedded).toBe(before + 1);
  });
});

describe('DocumentStore after close', () => {
  it('refuses reads and writes, naming what to do', async () => {
    const t = openTestStore();
    try {
      await t.put('ws', { id: 'a', content: 'kept' });
      const noop = t.store.prepareNoop();
      t.store.close();
      for (const call of [
        () => t.store.get('ws', 'a'), () => t.store.list('ws'), () => t.store.etag('ws', 'a'), () => t.store.workspaceStats(),
        () => t.store.checksum(), () => t.store.prepareDelete('ws', ['a']), () => t.store.retrainCandidates(), () => t.store.apply(noop),
      ]) {
        expect(call).toThrow(closed_message);
      }
      await expect(t.store.preparePut('ws', { content: 'x' })).rejects.toThrow(closed_message);
      await expect(t.store.search('ws', { query: 'kept' })).rejects.toThrow(closed_message);
    } finally {
      t.close();
    }
  });
});
