import { describe, expect, it } from 'vitest';
import {
  assertOp, bytesToUint32, bytesToVector, centroids_assigned_op_version, conditional_op_version, decodeOp, encodeOp, op_version,
  passages_op_version, rid_chars_max, uint32ToBytes, vectorToBytes,
} from './op.ts';
import type { CentroidsOp, DeleteOp, NoopOp, OpDocument, PutOp } from './op.ts';
import { passage_fields, passagesToBytes } from './passages.ts';

/** What assertOp throws for `op`, as `Name: message`; 'accepted' when it does not throw. */
function refusal(op: unknown): string {
  try {
    assertOp(op);
    return 'accepted';
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
}

const doc: OpDocument = {
  id: 'd', content: 'hello', path: null, language: null, metadata: null, tokens: 1, content_hash: 'h', bytes: 5, vector: new Uint8Array(8),
};
const passages = passagesToBytes([{ start: 0, end: 5, line_start: 1, line_end: 1, tokens: 1 }]);
const put: PutOp = { kind: 'put', v: op_version, ws: 'ws', ts: 1, docs: [doc] };
const put4: PutOp = { kind: 'put', v: passages_op_version, ws: 'ws', ts: 1, docs: [{ ...doc, passages }] };
const del: DeleteOp = { kind: 'delete', v: op_version, ws: 'ws', ts: 1, ids: ['d'] };
const delIf: DeleteOp = { kind: 'delete', v: conditional_op_version, ws: 'ws', ts: 1, ids: ['d'], if_match: '*', rid: 'r' };
const centroids: CentroidsOp = { kind: 'centroids', v: op_version, ws: 'ws', ts: 1, dim: 2, centroids: new Uint8Array(8) };
const assigned: CentroidsOp = {
  ...centroids, v: centroids_assigned_op_version, ids: ['a', 'b'], lists: new Uint8Array(8), fingerprints: new Uint8Array(8),
};
const noop: NoopOp = { kind: 'noop', v: op_version, ts: 1 };

describe('vector and uint32 bytes', () => {
  it('round-trip little-endian, from a view at any offset', () => {
    const v = Float32Array.from([1.5, -2, 0.25]);
    const b = vectorToBytes(v);
    expect([...b.subarray(0, 4)]).toEqual([0, 0, 0xc0, 0x3f]);
    expect(bytesToVector(b)).toEqual(v);
    const shifted = new Uint8Array(16);
    shifted.set(b, 4);
    expect(bytesToVector(shifted.subarray(4))).toEqual(v);
    const u = Uint32Array.from([1, 0xdeadbeef, 7]);
    const ub = uint32ToBytes(u);
    expect([...ub.subarray(4, 8)]).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect(bytesToUint32(ub)).toEqual(u);
  });

  it('refuse a length that is not a whole number of 4-byte values, naming it', () => {
    expect(() => bytesToVector(new Uint8Array(6))).toThrow(new RangeError('vector bytes: length 6 is not a multiple of 4'));
    expect(() => bytesToUint32(new Uint8Array(6))).toThrow(new RangeError('uint32 bytes: length 6 is not a multiple of 4'));
    expect(bytesToVector(new Uint8Array(0))).toEqual(new Float32Array(0));
    expect(bytesToUint32(new Uint8Array(0))).toEqual(new Uint32Array(0));
  });
});

describe('assertOp', () => {
  it('accepts each kind of op in each version it knows, and decodes them back to the same bytes', () => {
    for (const op of [put, put4, del, delIf, centroids, assigned, noop]) {
      expect(refusal(op), `${op.kind} v${op.v}`).toBe('accepted');
      const wire = Buffer.from(encodeOp(op)).toString('hex');
      expect(Buffer.from(encodeOp(decodeOp(Buffer.from(wire, 'hex')))).toString('hex')).toBe(wire);
    }
  });

  it('refuses what is not an object', () => {
    for (const v of [null, undefined, 5, 'put']) expect(refusal(v)).toBe('TypeError: op: not an object');
    expect(() => decodeOp(Uint8Array.of(0xc0))).toThrow(new TypeError('op: not an object')); // msgpack nil
  });

  it('refuses a timestamp that is not a finite number', () => {
    for (const ts of ['1', undefined, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      for (const op of [put, del, centroids, noop]) expect(refusal({ ...op, ts }), `${op.kind} ts ${String(ts)}`).toBe('TypeError: op.ts: not a finite number');
    }
  });

  it('refuses an unknown kind, naming it', () => {
    expect(refusal({ kind: 'truncate', v: op_version, ts: 1 })).toBe('TypeError: op.kind: unknown kind truncate');
    expect(refusal({ v: op_version, ts: 1 })).toBe('TypeError: op.kind: unknown kind undefined');
  });

  it('refuses a put whose workspace, documents or document fields are of the wrong type', () => {
    const cases: [unknown, string][] = [
      [{ ...put, ws: 1 }, 'op.ws: not a string'],
      [{ ...put, docs: { 0: doc } }, 'op.docs: not an array'],
      [{ ...put, docs: [{ ...doc, id: 1 }] }, 'op.docs[]: id/content not strings'],
      [{ ...put, docs: [{ ...doc, content: null }] }, 'op.docs[]: id/content not strings'],
      [{ ...put, docs: [{ ...doc, tokens: '1' }] }, 'op.docs[]: tokens/bytes not numbers'],
      [{ ...put, docs: [{ ...doc, bytes: undefined }] }, 'op.docs[]: tokens/bytes not numbers'],
      [{ ...put, docs: [{ ...doc, content_hash: 1 }] }, 'op.docs[]: content_hash not a string'],
      [{ ...put, docs: [{ ...doc, vector: [0, 0, 0, 0] }] }, 'op.docs[]: vector not bytes'],
      [{ ...put, docs: [doc, { ...doc, vector: null }] }, 'op.docs[]: vector not bytes'],
    ];
    for (const [op, message] of cases) expect(refusal(op)).toBe(`TypeError: ${message}`);
  });

  it(`takes the passages of a v4 put only as a non-empty whole number of ${passage_fields}-field passages`, () => {
    const message = `TypeError: op.docs[].passages: not a non-empty multiple of ${passage_fields * 4} bytes`;
    expect(message).toContain('multiple of 20 bytes');
    for (const p of [undefined, new Uint8Array(0), new Uint8Array(10), new Uint8Array(21), [...passages]]) {
      expect(refusal({ ...put4, docs: [{ ...doc, passages: p }] })).toBe(message);
    }
    expect(refusal({ ...put4, docs: [{ ...doc, passages: new Uint8Array(40) }] })).toBe('accepted');
    expect(refusal({ ...put, docs: [{ ...doc, passages }] })).toBe('TypeError: op.docs[].passages: passages need v4');
  });

  it('refuses a request id on an unconditional op, and takes one of 1 to 64 characters on a conditional one', () => {
    expect(refusal({ ...put, rid: 'r' })).toBe('TypeError: op.rid: a request id needs v3');
    expect(refusal({ ...del, rid: 'r' })).toBe('TypeError: op.rid: a request id needs v3');
    const conditional = { ...put4, rid: 'r', docs: [{ ...doc, passages, if_none_match: true }] };
    expect(refusal(conditional)).toBe('accepted');
    expect(refusal({ ...conditional, rid: 'x'.repeat(rid_chars_max) })).toBe('accepted');
    for (const rid of ['', 'x'.repeat(rid_chars_max + 1)]) {
      expect(refusal({ ...conditional, rid })).toBe(`TypeError: op.rid: not a string of 1..${rid_chars_max} characters`);
      expect(refusal({ ...delIf, rid })).toBe(`TypeError: op.rid: not a string of 1..${rid_chars_max} characters`);
    }
  });

  it('counts the preconditions of a conditional put: none is refused, one or more on any documents is accepted', () => {
    const base: PutOp = { ...put, v: conditional_op_version, rid: 'r' };
    expect(refusal({ ...base, docs: [doc, doc] })).toBe('TypeError: op.docs: a v3 put carries no precondition');
    expect(refusal({ ...base, docs: [doc, { ...doc, if_match: '*' }] })).toBe('accepted');
    expect(refusal({ ...base, docs: [{ ...doc, if_none_match: true }, { ...doc, if_match: ['e'] }] })).toBe('accepted');
  });

  it('refuses a delete whose workspace or ids are of the wrong type, or a precondition on a v1 delete', () => {
    const cases: [unknown, string][] = [
      [{ ...del, ws: null }, 'op.ws: not a string'],
      [{ ...del, ids: 'd' }, 'op.ids: not an array of strings'],
      [{ ...del, ids: [1] }, 'op.ids: not an array of strings'],
      [{ ...del, ids: ['d', 1] }, 'op.ids: not an array of strings'],
      [{ ...del, if_match: '*' }, 'op.if_match: a precondition needs v3'],
    ];
    for (const [op, message] of cases) expect(refusal(op)).toBe(`TypeError: ${message}`);
    expect(refusal({ ...del, ids: [] })).toBe('accepted');
  });

  it('refuses centroids of the wrong shape, and an assignment on v1 or a malformed one on v2', () => {
    const cases: [unknown, string][] = [
      [{ ...centroids, ws: 7 }, 'op.ws: not a string'],
      [{ ...centroids, dim: '2' }, 'op.centroids: malformed'],
      [{ ...centroids, centroids: [0, 0] }, 'op.centroids: malformed'],
      [{ ...centroids, ids: ['a'] }, 'op.ids: an assignment needs v2'],
      [{ ...centroids, lists: new Uint8Array(4) }, 'op.ids: an assignment needs v2'],
      [{ ...centroids, fingerprints: new Uint8Array(4) }, 'op.ids: an assignment needs v2'],
      [{ ...assigned, ids: undefined }, 'op.ids: not an array of strings'],
      [{ ...assigned, ids: ['a', 2] }, 'op.ids: not an array of strings'],
      [{ ...assigned, lists: new Uint8Array(4) }, 'op.lists: not 4 bytes per id'],
      [{ ...assigned, lists: [0, 0] }, 'op.lists: not 4 bytes per id'],
      [{ ...assigned, fingerprints: new Uint8Array(12) }, 'op.fingerprints: not 4 bytes per id'],
      [{ ...assigned, fingerprints: undefined }, 'op.fingerprints: not 4 bytes per id'],
    ];
    for (const [op, message] of cases) expect(refusal(op)).toBe(`TypeError: ${message}`);
  });

  it('names every version it knows when refusing one', () => {
    expect(refusal({ ...noop, v: 2 })).toBe(
      `TypeError: op.v: expected ${op_version} (or ${centroids_assigned_op_version} for centroids, ${conditional_op_version} for conditional put/delete, ${passages_op_version} for put with passages), got 2`,
    );
  });
});
