import { describe, expect, it } from 'vitest';
import { checkPrecondition, documentEtag } from './etag.ts';
import type { EtagFields } from './etag.ts';
import { assertOp, conditional_op_version, decodeOp, encodeOp, op_version, passages_op_version } from './op.ts';
import type { DeleteOp, PutOp } from './op.ts';
import { openTestStore } from './testing.ts';

describe('documentEtag', () => {
  const base: EtagFields = { content_hash: 'a'.repeat(64), path: 'src/a.ts', language: 'typescript', metadata: '{"k":"v"}' };

  it('is 32 hex digits, the same for the same content hash, path, language and metadata', () => {
    expect(documentEtag(base)).toMatch(/^[0-9a-f]{32}$/);
    expect(documentEtag({ ...base })).toBe(documentEtag(base));
  });

  it('differs when the content, path, language or metadata differs', () => {
    const etag = documentEtag(base);
    const others = [
      { ...base, content_hash: 'b'.repeat(64) }, { ...base, path: 'src/b.ts' }, { ...base, path: null },
      { ...base, language: 'javascript' }, { ...base, language: null }, { ...base, metadata: '{"k":"w"}' }, { ...base, metadata: null },
    ];
    for (const o of others) expect(documentEtag(o), JSON.stringify(o)).not.toBe(etag);
  });

  it('does not confuse fields that would run together when concatenated', () => {
    expect(documentEtag({ ...base, path: 'ab', language: 'c' })).not.toBe(documentEtag({ ...base, path: 'a', language: 'bc' }));
  });

  it('is the same for the same document stored on two stores, and ignores the vector', async () => {
    using a = openTestStore();
    using b = openTestStore();
    await a.put('ws', { id: 'd', content: 'same words', path: 'n.md', metadata: { z: 1, a: 2 } });
    await b.put('ws', { id: 'd', content: 'same words', path: 'n.md', metadata: { a: 2, z: 1 }, vector: [1, 2, 3] });
    expect(a.store.etag('ws', 'd')).toMatch(/^[0-9a-f]{32}$/);
    expect(b.store.etag('ws', 'd')).toBe(a.store.etag('ws', 'd'));
    expect(a.store.etag('ws', 'absent')).toBeNull();
  });
});

describe('checkPrecondition', () => {
  it('holds for a listed ETag or * on an existing document, and for If-None-Match on an absent one', () => {
    expect(checkPrecondition('d', { if_match: ['x', 'e'] }, 'e')).toBeNull();
    expect(checkPrecondition('d', { if_match: '*' }, 'e')).toBeNull();
    expect(checkPrecondition('d', { if_none_match: true }, null)).toBeNull();
  });

  it('fails naming the header and the current ETag otherwise; a weak tag never matches', () => {
    expect(checkPrecondition('d', { if_match: ['x'] }, 'e')).toEqual({ id: 'd', field: 'If-Match', current_etag: 'e' });
    expect(checkPrecondition('d', { if_match: ['W/"e"'] }, 'e')).toEqual({ id: 'd', field: 'If-Match', current_etag: 'e' });
    expect(checkPrecondition('d', { if_match: '*' }, null)).toEqual({ id: 'd', field: 'If-Match', current_etag: null });
    expect(checkPrecondition('d', { if_none_match: true }, 'e')).toEqual({ id: 'd', field: 'If-None-Match', current_etag: 'e' });
  });
});

function doc(op: PutOp): PutOp['docs'][number] {
  const d = op.docs[0];
  if (d === undefined) throw new Error('a put without a document');
  return d;
}

describe('conditional ops', () => {
  it('are v4 puts (v3 deletes) with a request id and the precondition on the document, and survive the msgpack round trip', async () => {
    using t = openTestStore();
    const op = await t.store.preparePut('ws', { id: 'd', content: 'hello' }, { if_match: ['abc', 'W/"def"'] });
    expect(op).toMatchObject({ v: passages_op_version, rid: expect.any(String), docs: [{ id: 'd', if_match: ['abc', 'W/"def"'] }] });
    const wire = decodeOp(encodeOp(op));
    expect({ ...wire, docs: [] }).toEqual({ ...op, docs: [] });
    expect(wire.kind === 'put' && { ...wire.docs[0], vector: null, passages: null }).toEqual({ ...doc(op), vector: null, passages: null });
    const create = await t.store.preparePut('ws', { id: 'd', content: 'hello' }, { if_none_match: true });
    expect(decodeOp(encodeOp(create))).toMatchObject({ v: passages_op_version, docs: [{ if_none_match: true }] });
    const del = t.store.prepareDelete('ws', ['d'], { if_match: '*' });
    expect(decodeOp(encodeOp(del))).toEqual({ kind: 'delete', v: conditional_op_version, ws: 'ws', ts: del.ts, ids: ['d'], if_match: '*', rid: del.rid });
  });

  it('leave unconditional ops without a precondition field (puts v4 with passages, deletes v1)', async () => {
    using t = openTestStore();
    const op = await t.store.preparePut('ws', { id: 'd', content: 'hello' });
    expect(op.v).toBe(passages_op_version);
    expect(Object.keys(op).sort()).toEqual(['docs', 'kind', 'ts', 'v', 'ws']);
    expect(Object.keys(op.docs[0] ?? {}).sort()).toEqual(['bytes', 'content', 'content_hash', 'id', 'language', 'metadata', 'passages', 'path', 'tokens', 'vector']);
    expect(Object.keys(t.store.prepareDelete('ws', ['d'])).sort()).toEqual(['ids', 'kind', 'ts', 'v', 'ws']);
  });

  it('are refused by assertOp when a precondition field is malformed or the version does not match', async () => {
    using t = openTestStore();
    const put = await t.store.preparePut('ws', { id: 'd', content: 'hello' }, { if_match: ['abc'] });
    const d = doc(put);
    const del: DeleteOp = t.store.prepareDelete('ws', ['d'], { if_match: ['abc'] });
    const bad: [unknown, RegExp][] = [
      [{ ...put, v: op_version }, /passages need v4/],
      [{ ...put, v: conditional_op_version }, /passages need v4/],
      [{ ...put, v: op_version, docs: [{ ...d, passages: undefined }] }, /needs v3/],
      [{ ...put, docs: [{ ...d, passages: undefined }] }, /op.docs\[\].passages/],
      [{ ...put, docs: [{ ...d, passages: new Uint8Array(19) }] }, /op.docs\[\].passages/],
      [{ ...put, rid: undefined }, /op.rid/],
      [{ ...put, rid: '' }, /op.rid/],
      [{ ...put, rid: 'x'.repeat(65) }, /op.rid/],
      [{ ...put, docs: [{ ...d, if_match: [] }] }, /if_match/],
      [{ ...put, docs: [{ ...d, if_match: 'abc' }] }, /if_match/],
      [{ ...put, docs: [{ ...d, if_match: ['a"b'] }] }, /malformed entity tag/],
      [{ ...put, docs: [{ ...d, if_match: [7] }] }, /malformed entity tag/],
      [{ ...put, docs: [{ ...d, if_match: Array.from({ length: 17 }, (_, i) => `e${i}`) }] }, /if_match/],
      [{ ...put, docs: [{ ...d, if_match: undefined, if_none_match: false }] }, /if_none_match/],
      [{ ...put, docs: [{ ...d, if_none_match: true }] }, /both/],
      [{ ...put, docs: [{ ...d, if_match: undefined }] }, /no precondition/],
      [{ ...put, v: 5 }, /op.v/],
      [{ ...del, v: op_version }, /needs v3|a precondition needs v3|op.rid/],
      [{ ...del, if_match: undefined }, /op.if_match/],
      [{ ...del, ids: ['d', 'e'] }, /exactly one id/],
      [{ kind: 'noop', v: conditional_op_version, ts: 1 }, /op.v/],
      [{ kind: 'centroids', v: conditional_op_version, ws: 'ws', ts: 1, dim: 1, centroids: new Uint8Array(4) }, /op.v/],
    ];
    for (const [op, re] of bad) expect(() => assertOp(op), JSON.stringify(op, (_k, v: unknown) => (v instanceof Uint8Array ? '<bytes>' : v))).toThrow(re);
    const unconditionalWithRid: PutOp = { ...(await t.store.preparePut('ws', { content: 'x' })), rid: 'r' };
    expect(() => assertOp(unconditionalWithRid)).toThrow(/no precondition/);
  });
});

describe('Applier on conditional ops', () => {
  it('decides a compare-and-set race by log order: of two puts expecting the same ETag, the first applies, the second fails', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'd', content: 'version 0' });
    const etag0 = t.store.etag('ws', 'd');
    if (etag0 === null) throw new Error('no etag');
    const first = await t.store.preparePut('ws', { id: 'd', content: 'version 1 from A' }, { if_match: [etag0] });
    const second = await t.store.preparePut('ws', { id: 'd', content: 'version 1 from B' }, { if_match: [etag0] });
    t.applyLogged(first);
    t.applyLogged(second);
    expect(t.store.conditionalOutcome(first)).toEqual({ failed: [], skipped: [] });
    const etag1 = t.store.etag('ws', 'd');
    expect(etag1).not.toBe(etag0);
    expect(t.store.conditionalOutcome(second)).toEqual({ failed: [{ id: 'd', field: 'If-Match', current_etag: etag1 }], skipped: [] });
    expect(t.store.get('ws', 'd')?.content).toBe('version 1 from A');
  });

  it('reports a failed precondition as skipped with the current ETag and leaves state as it was', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'd', content: 'kept' });
    const stats = t.store.workspaceStats().ws;
    const op = await t.store.preparePut('ws', { id: 'd', content: 'refused' }, { if_none_match: true });
    const r = t.db.transaction(() => t.store.apply(decodeOp(encodeOp(op))))();
    expect(r).toEqual({ changed: 0, skipped: [{ id: 'd', reason: 'precondition_failed', current_etag: t.store.etag('ws', 'd') }] });
    expect(t.store.get('ws', 'd')?.content).toBe('kept');
    expect(t.store.workspaceStats().ws?.document_count).toBe(stats?.document_count);
    expect(t.store.workspaceStats().ws?.bytes).toBe(stats?.bytes);
    expect(t.store.skippedDocuments(op)).toEqual([]);
  });

  it('creates with If-None-Match only when absent, and leaves no workspace behind when If-Match finds nothing', async () => {
    using t = openTestStore();
    const create = await t.store.preparePut('ws', { id: 'n', content: 'new' }, { if_none_match: true });
    t.applyLogged(create);
    expect(t.store.conditionalOutcome(create)?.failed).toEqual([]);
    expect(t.store.get('ws', 'n')?.content).toBe('new');
    const update = await t.store.preparePut('fresh', { id: 'n', content: 'x' }, { if_match: '*' });
    t.applyLogged(update);
    expect(t.store.conditionalOutcome(update)?.failed).toEqual([{ id: 'n', field: 'If-Match', current_etag: null }]);
    expect(t.store.workspaceStats().fresh).toBeUndefined();
  });

  it('deletes with If-Match only when the ETag matches', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'd', content: 'doc' });
    const etag = t.store.etag('ws', 'd') ?? '';
    const wrong = t.store.prepareDelete('ws', ['d'], { if_match: ['0'.repeat(32)] });
    t.applyLogged(wrong);
    expect(t.store.conditionalOutcome(wrong)?.failed).toEqual([{ id: 'd', field: 'If-Match', current_etag: etag }]);
    expect(t.store.get('ws', 'd')).not.toBeNull();
    const right = t.store.prepareDelete('ws', ['d'], { if_match: [etag] });
    t.applyLogged(right);
    expect(t.store.conditionalOutcome(right)?.failed).toEqual([]);
    expect(t.store.get('ws', 'd')).toBeNull();
    const absent = t.store.prepareDelete('nowhere', ['d'], { if_match: '*' });
    t.applyLogged(absent);
    expect(t.store.conditionalOutcome(absent)?.failed).toEqual([{ id: 'd', field: 'If-Match', current_etag: null }]);
  });

  it('gives the same state on two replicas applying the same conditional ops', async () => {
    using leader = openTestStore();
    using replica = openTestStore();
    const ops = [
      await leader.store.preparePut('ws', { id: 'd', content: 'one' }, { if_none_match: true }),
      await leader.store.preparePut('ws', { id: 'd', content: 'two' }, { if_none_match: true }),
      await leader.store.preparePut('ws', { id: 'd', content: 'three' }, { if_match: '*' }),
      leader.store.prepareDelete('ws', ['d'], { if_match: ['stale'] }),
    ];
    for (const op of ops) {
      leader.applyLogged(op);
      replica.applyLogged(op);
    }
    expect(replica.store.checksum()).toBe(leader.store.checksum());
    expect(replica.store.get('ws', 'd')?.content).toBe('three');
    expect(ops.map((op) => replica.store.conditionalOutcome(op)?.failed.length)).toEqual([0, 1, 0, 1]);
  });
});
