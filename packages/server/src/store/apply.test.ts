import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { recent_outcomes_max, recent_skips_max } from './apply.ts';
import type { ApplyResult } from './apply.ts';
import { documentEtag } from './etag.ts';
import { conditional_op_version, decodeOp, encodeOp, op_version, passages_op_version, vectorToBytes } from './op.ts';
import type { CentroidsOp, DeleteOp, Op, OpDocument, PutOp } from './op.ts';
import { passagesToBytes } from './passages.ts';
import { openTestStore } from './testing.ts';
import type { TestStore } from './testing.ts';

// Ops are written out by hand here (fixed timestamps and vectors, no tokenizer or embedder), so
// each test states exactly what the op carries and what apply must make of it.

const dim = 4;

function vector(d: number = dim, seed = 1): Uint8Array {
  return vectorToBytes(Float32Array.from({ length: d }, (_, i) => seed + i));
}

function docOf(id: string, content: string, o: Partial<OpDocument> & { dim?: number } = {}): OpDocument {
  const { dim: d = dim, ...rest } = o;
  return {
    id, content, path: null, language: null, metadata: null, tokens: content.split(' ').length,
    content_hash: createHash('sha256').update(content).digest('hex'), bytes: Buffer.byteLength(content), vector: vector(d), ...rest,
  };
}

function putOp(ts: number, docs: OpDocument[], extra: Partial<PutOp> = {}): PutOp {
  return { kind: 'put', v: op_version, ws: 'ws', ts, docs, ...extra };
}

function deleteOp(ts: number, ids: string[], extra: Partial<DeleteOp> = {}): DeleteOp {
  return { kind: 'delete', v: op_version, ws: 'ws', ts, ids, ...extra };
}

/** Applies op after the msgpack round trip of the log, in one transaction, and returns apply's result. */
function apply(t: TestStore, op: Op): ApplyResult {
  const wire = decodeOp(encodeOp(op));
  return t.db.transaction(() => t.store.apply(wire))();
}

/** Runs applySteps(op) to the end in one transaction: how many times it stopped, and its result. */
function stepsOf(t: TestStore, op: Op): { stops: number; result: ApplyResult } {
  return t.db.transaction(() => {
    const g = t.store.applySteps(op);
    let stops = 0;
    for (;;) {
      const r = g.next();
      if (r.done === true) return { stops, result: r.value };
      stops += 1;
    }
  })();
}

function rowsOf(t: TestStore, sql: string, ...params: unknown[]): unknown[] {
  return t.db.prepare(sql).all(...params);
}

/** A document of three one-line passages, as a v4 put carries it. */
function threePassages(id: string): OpDocument {
  const content = 'aaaa\nbbbb\ncccc';
  const passages = passagesToBytes([
    { start: 0, end: 5, line_start: 1, line_end: 1, tokens: 1 },
    { start: 5, end: 10, line_start: 2, line_end: 2, tokens: 1 },
    { start: 10, end: 14, line_start: 3, line_end: 3, tokens: 1 },
  ]);
  return docOf(id, content, { passages });
}

describe('apply: put', () => {
  it('creates the workspace with its first document: count 1, bytes of content + metadata + vector, its dim, the op time', () => {
    using t = openTestStore();
    const r = apply(t, putOp(100, [docOf('a', 'hello', { metadata: '{"k":"v"}', path: 'a.md' })]));
    expect(r).toEqual({ changed: 1, skipped: [] });
    expect(t.store.workspaceStats()).toEqual({ ws: { document_count: 1, bytes: 5 + 9 + 4 * dim, dim, last_write_ms: 100 } });
    expect(rowsOf(t, 'SELECT created_at, last_write_at FROM workspaces')).toEqual([{ created_at: 100, last_write_at: 100 }]);
    expect(t.store.get('ws', 'a')).toMatchObject({ content: 'hello', path: 'a.md', metadata: { k: 'v' }, created_at: 100, updated_at: 100 });
  });

  it('replaces an existing id: counted once, its old bytes and passages replaced by the new, created_at kept', () => {
    using t = openTestStore();
    apply(t, putOp(100, [docOf('a', 'hello'), docOf('b', 'other')]));
    const r = apply(t, putOp(200, [docOf('a', 'hello world!', { metadata: '{}' })]));
    expect(r).toEqual({ changed: 1, skipped: [] });
    expect(t.store.workspaceStats()).toEqual({ ws: { document_count: 2, bytes: 12 + 2 + 4 * dim + 5 + 4 * dim, dim, last_write_ms: 200 } });
    expect(t.store.get('ws', 'a')).toMatchObject({ content: 'hello world!', created_at: 100, updated_at: 200 });
    expect(rowsOf(t, "SELECT n, start, \"end\" FROM passages WHERE doc_id = 'a'")).toEqual([{ n: 0, start: 0, end: 12 }]);
  });

  it('never moves last_write_at back: an op stamped earlier than the last write leaves it', () => {
    using t = openTestStore();
    apply(t, putOp(200, [docOf('a', 'first')]));
    apply(t, putOp(150, [docOf('b', 'second')]));
    expect(t.store.workspaceStats().ws).toMatchObject({ document_count: 2, last_write_ms: 200 });
  });

  it('refuses a vector of no float or of a partial float as a broken invariant', () => {
    using t = openTestStore();
    const bad = (bytes: number): PutOp => putOp(100, [{ ...docOf('a', 'x'), vector: new Uint8Array(bytes) }]);
    expect(() => apply(t, bad(6))).toThrow('invariant: op vector of a has 6 bytes');
    expect(() => apply(t, bad(0))).toThrow('invariant: op vector of a has 0 bytes');
    expect(t.store.workspaceStats()).toEqual({});
  });

  it('skips a document of another vector dimension than the workspace, writes the others, and remembers why for that op only', () => {
    using t = openTestStore();
    apply(t, putOp(100, [docOf('a', 'first')]));
    const op = putOp(200, [docOf('b', 'three floats', { dim: 3 }), docOf('c', 'four floats')]);
    const reason = `vector dimension 3, workspace holds ${dim}`;
    expect(apply(t, op)).toEqual({ changed: 1, skipped: [{ id: 'b', reason }] });
    expect(t.store.get('ws', 'b')).toBeNull();
    expect(t.store.workspaceStats().ws).toMatchObject({ document_count: 2, dim, last_write_ms: 200 });
    expect(t.store.skippedDocuments(op)).toEqual([{ id: 'b', reason }]);
    // The same ids in another op (another time, another workspace) were not skipped.
    expect(t.store.skippedDocuments({ ...op, ts: 201 })).toEqual([]);
    expect(t.store.skippedDocuments({ ...op, ws: 'other' })).toEqual([]);
  });

  it(`remembers the skips of the last ${recent_skips_max} documents, forgetting the oldest first`, () => {
    using t = openTestStore();
    apply(t, putOp(100, [docOf('a', 'first')]));
    const docs = Array.from({ length: recent_skips_max + 1 }, (_, i) => docOf(`d${i}`, 'x', { dim: 3 }));
    const op = putOp(200, docs);
    expect(apply(t, op).skipped).toHaveLength(recent_skips_max + 1);
    const remembered = t.store.skippedDocuments(op);
    expect(remembered).toHaveLength(recent_skips_max);
    expect(remembered[0]?.id).toBe('d1');
    expect(remembered.at(-1)?.id).toBe(`d${recent_skips_max}`);
  });

  it('records a dimension skip of a conditional put in its outcome, not among the unconditional skips', () => {
    using t = openTestStore();
    apply(t, putOp(100, [docOf('a', 'first')]));
    const op = putOp(200, [docOf('b', 'three floats', { dim: 3, if_none_match: true })], { v: conditional_op_version, rid: 'r1' });
    const reason = `vector dimension 3, workspace holds ${dim}`;
    expect(apply(t, op)).toEqual({ changed: 0, skipped: [{ id: 'b', reason }] });
    expect(t.store.conditionalOutcome(op)).toEqual({ failed: [], skipped: [{ id: 'b', reason }] });
    // An unconditional op of the same workspace, time and id finds nothing remembered.
    expect(t.store.skippedDocuments({ ...op, v: op_version, rid: undefined })).toEqual([]);
  });

  it('leaves no workspace behind when every document of a put fails its precondition', () => {
    using t = openTestStore();
    const op = putOp(100, [docOf('a', 'x', { if_match: ['abc'] })], { v: conditional_op_version, rid: 'r1' });
    expect(apply(t, op)).toEqual({ changed: 0, skipped: [{ id: 'a', reason: 'precondition_failed', current_etag: null }] });
    expect(t.store.workspaceStats()).toEqual({});
    expect(t.store.conditionalOutcome(op)).toEqual({ failed: [{ id: 'a', field: 'If-Match', current_etag: null }], skipped: [] });
  });

  it('stops between documents and between passages when run as steps, and ends in the same state as apply', () => {
    using t = openTestStore();
    using u = openTestStore();
    const first = putOp(100, [threePassages('a')], { v: passages_op_version });
    // Three passages: two stops between them.
    expect(stepsOf(t, first)).toEqual({ stops: 2, result: { changed: 1, skipped: [] } });
    // Replacing it: two stops while its three passages leave the passage index, two between the
    // new ones, one before the second document, two between that one's passages.
    const again = putOp(200, [threePassages('a'), threePassages('b')], { v: passages_op_version });
    expect(stepsOf(t, again)).toEqual({ stops: 7, result: { changed: 2, skipped: [] } });
    apply(u, first);
    apply(u, again);
    expect(t.store.checksum()).toBe(u.store.checksum());
    expect(rowsOf(t, "SELECT n, start, \"end\" FROM passages WHERE doc_id = 'a' ORDER BY n")).toEqual([
      { n: 0, start: 0, end: 5 }, { n: 1, start: 5, end: 10 }, { n: 2, start: 10, end: 14 },
    ]);
  });

  it('refuses with a broken invariant when the workspace counters would go negative, and writes nothing', () => {
    using t = openTestStore();
    apply(t, putOp(100, [docOf('a', 'hello')]));
    t.db.prepare('UPDATE workspaces SET document_count = 0').run();
    expect(() => apply(t, deleteOp(200, ['a']))).toThrow('invariant: workspace ws counters went negative');
    expect(t.store.get('ws', 'a')).not.toBeNull();
    t.db.prepare('UPDATE workspaces SET document_count = 1, bytes = 0').run();
    expect(() => apply(t, deleteOp(200, ['a']))).toThrow('invariant: workspace ws counters went negative');
    expect(t.store.get('ws', 'a')).not.toBeNull();
  });
});

describe('apply: delete', () => {
  it('removes the document with its passages and vector; the counters drop by what it accounted for; last_write_at moves on', () => {
    using t = openTestStore();
    apply(t, putOp(100, [docOf('a', 'hello', { metadata: '{"k":1}' }), docOf('b', 'other')]));
    expect(apply(t, deleteOp(300, ['a']))).toEqual({ changed: 1, skipped: [] });
    expect(t.store.workspaceStats()).toEqual({ ws: { document_count: 1, bytes: 5 + 4 * dim, dim, last_write_ms: 300 } });
    expect(t.store.get('ws', 'a')).toBeNull();
    expect(rowsOf(t, "SELECT n FROM passages WHERE doc_id = 'a'")).toEqual([]);
    expect(rowsOf(t, 'SELECT doc_id FROM embeddings')).toEqual([{ doc_id: 'b' }]);
    expect(apply(t, deleteOp(400, ['b', 'absent']))).toEqual({ changed: 1, skipped: [] });
    expect(t.store.workspaceStats()).toEqual({ ws: { document_count: 0, bytes: 0, dim, last_write_ms: 400 } });
  });

  it('changes nothing for ids that are absent, and creates no workspace', () => {
    using t = openTestStore();
    expect(apply(t, deleteOp(100, ['a', 'b']))).toEqual({ changed: 0, skipped: [] });
    expect(t.store.workspaceStats()).toEqual({});
    apply(t, putOp(200, [docOf('a', 'hello')]));
    expect(apply(t, deleteOp(100, ['b']))).toEqual({ changed: 0, skipped: [] });
    expect(t.store.workspaceStats().ws).toMatchObject({ document_count: 1, last_write_ms: 200 });
  });

  it('leaves a document whose ETag is not the one a conditional delete names, and reports it', () => {
    using t = openTestStore();
    apply(t, putOp(100, [docOf('a', 'hello')]));
    const etag = t.store.etag('ws', 'a');
    expect(etag).toBe(documentEtag({ content_hash: docOf('a', 'hello').content_hash, path: null, language: null, metadata: null }));
    const op = deleteOp(200, ['a'], { v: conditional_op_version, if_match: ['not-it'], rid: 'r1' });
    expect(apply(t, op)).toEqual({ changed: 0, skipped: [{ id: 'a', reason: 'precondition_failed', current_etag: etag }] });
    expect(t.store.conditionalOutcome(op)).toEqual({ failed: [{ id: 'a', field: 'If-Match', current_etag: etag }], skipped: [] });
    expect(t.store.workspaceStats().ws).toMatchObject({ document_count: 1 });
    const right = deleteOp(300, ['a'], { v: conditional_op_version, if_match: [etag ?? ''], rid: 'r2' });
    expect(apply(t, right)).toEqual({ changed: 1, skipped: [] });
    expect(t.store.conditionalOutcome(right)).toEqual({ failed: [], skipped: [] });
    expect(t.store.workspaceStats().ws).toMatchObject({ document_count: 0, bytes: 0 });
  });

  it('stops between the passages of a document and after each document when run as steps', () => {
    using t = openTestStore();
    const b = docOf('b', 'one passage', { passages: passagesToBytes([{ start: 0, end: 11, line_start: 1, line_end: 1, tokens: 2 }]) });
    apply(t, putOp(100, [threePassages('a'), b], { v: passages_op_version }));
    // a: two stops between its three passages, one after it; b: one after it.
    expect(stepsOf(t, deleteOp(200, ['a', 'b']))).toEqual({ stops: 4, result: { changed: 2, skipped: [] } });
    expect(rowsOf(t, 'SELECT doc_id FROM passages')).toEqual([]);
  });
});

describe(`apply: outcomes of conditional ops`, () => {
  it(`are kept for the last ${recent_outcomes_max} ops, forgetting the oldest first`, () => {
    using t = openTestStore();
    const doc = docOf('a', 'x', { if_match: ['nope'] });
    const ops = Array.from({ length: recent_outcomes_max + 1 }, (_, i) => putOp(100 + i, [doc], { v: conditional_op_version, rid: `r${i}` }));
    t.db.transaction(() => {
      for (const op of ops) t.store.apply(op);
    })();
    const failed = { failed: [{ id: 'a', field: 'If-Match', current_etag: null }], skipped: [] };
    expect(t.store.conditionalOutcome(ops[0] as PutOp)).toBeUndefined();
    expect(t.store.conditionalOutcome(ops[1] as PutOp)).toEqual(failed);
    expect(t.store.conditionalOutcome(ops[recent_outcomes_max] as PutOp)).toEqual(failed);
  });
});

describe('apply: centroids and noop', () => {
  const centroidsOp = (d: number, floats: number): CentroidsOp => ({
    kind: 'centroids', v: op_version, ws: 'ws', ts: 500, dim: d, centroids: vectorToBytes(Float32Array.from({ length: floats }, (_, i) => i + 1)),
  });

  it('skips centroids for an absent workspace or one of another dimension, naming both dimensions', () => {
    using t = openTestStore();
    expect(apply(t, centroidsOp(dim, 2 * dim))).toEqual({ changed: 0, skipped: [{ id: '', reason: `centroids of dim ${dim} for workspace dim none` }] });
    apply(t, putOp(100, [docOf('a', 'hello')]));
    expect(apply(t, centroidsOp(3, 6))).toEqual({ changed: 0, skipped: [{ id: '', reason: `centroids of dim 3 for workspace dim ${dim}` }] });
    expect(rowsOf(t, 'SELECT cluster_id FROM clusters')).toEqual([]);
  });

  it('installs the centroids and counts them as changed', () => {
    using t = openTestStore();
    apply(t, putOp(100, [docOf('a', 'hello'), docOf('b', 'world', { vector: vector(dim, 9) }), docOf('c', 'again')]));
    expect(apply(t, centroidsOp(dim, 2 * dim))).toEqual({ changed: 2, skipped: [] });
    expect(rowsOf(t, 'SELECT cluster_id FROM clusters ORDER BY cluster_id')).toEqual([{ cluster_id: 0 }, { cluster_id: 1 }]);
    expect(t.store.workspaceStats().ws).toMatchObject({ document_count: 3, last_write_ms: 100 });
  });

  it('refuses centroids of no float or not a whole number of vectors as a broken invariant', () => {
    using t = openTestStore();
    apply(t, putOp(100, [docOf('a', 'hello')]));
    expect(() => apply(t, centroidsOp(dim, 0))).toThrow(`invariant: centroids op holds 0 floats for dim ${dim}`);
    expect(() => apply(t, centroidsOp(dim, dim + 2))).toThrow(`invariant: centroids op holds ${dim + 2} floats for dim ${dim}`);
  });

  it('applies a noop as no change at all', () => {
    using t = openTestStore();
    apply(t, putOp(100, [docOf('a', 'hello')]));
    const before = t.store.checksum();
    expect(apply(t, { kind: 'noop', v: op_version, ts: 900 })).toEqual({ changed: 0, skipped: [] });
    expect(t.store.checksum()).toBe(before);
    expect(t.store.workspaceStats().ws).toMatchObject({ last_write_ms: 100 });
  });
});
