// Ops: what the leader proposes to the log and every replica applies.
//
// An op is a plain object with msgpack-safe fields only (strings, numbers, booleans, null,
// arrays, plain objects, Uint8Array). Everything derived (id, tokens, hash, embedding, the
// timestamp) is computed once by `prepare*` on the leader and carried here, so `apply` on every
// replica is a pure function of (state, op) and leaves byte-identical state.

import { Packr } from 'msgpackr';
import { assertIfMatch } from './etag.ts';
import type { IfMatch } from './etag.ts';
import { passage_fields } from './passages.ts';

export const op_version = 1;
/**
 * Version of a centroids op that carries the assignment of the vectors the leader trained on
 * (ids, lists, fingerprints). Version 1 centroids ops (no assignment) still apply: every vector
 * is then routed at apply time.
 */
export const centroids_assigned_op_version = 2;
/**
 * Version of a put or delete op that carries a precondition (If-Match / If-None-Match) and the
 * request id `rid` of the write that proposed it. A node that knows only v1 refuses it as a
 * broken invariant instead of applying it unconditionally. Unconditional ops stay v1, without
 * these fields.
 */
export const conditional_op_version = 3;
/**
 * Version of a put op whose documents carry their passages (offsets, lines and token counts,
 * computed at prepare time, passages.ts), conditional or not: a conditional v4 put carries `rid`
 * and its preconditions as v3 does. v1 and v3 puts (logged before passages) still apply: each of
 * their documents is stored as one passage (passages.ts wholePassage), on every replica alike.
 */
export const passages_op_version = 4;
/** Longest request id of a conditional op (a UUID is 36). */
export const rid_chars_max = 64;

/** One document as carried in a put op. */
export interface OpDocument {
  id: string;
  content: string;
  path: string | null;
  language: string | null;
  /** Metadata as canonical JSON text (object keys sorted), or null. */
  metadata: string | null;
  /** cl100k_base token count of `content`. */
  tokens: number;
  /** sha256 of `content`, hex. */
  content_hash: string;
  /** UTF-8 byte length of `content`. */
  bytes: number;
  /** Embedding: little-endian float32 bytes, length = 4 * workspace dim. */
  vector: Uint8Array;
  /** v4: the passages (passages.ts passagesToBytes: 5 little-endian uint32 each), covering `content`. */
  passages?: Uint8Array;
  /** v3: apply only when the current document's ETag is one of these (`*`: it exists). */
  if_match?: IfMatch;
  /** v3: apply only when the document is absent. Never together with if_match. */
  if_none_match?: true;
}

export interface PutOp {
  kind: 'put';
  v: number;
  ws: string;
  /** Wall-clock ms taken at prepare time on the leader. */
  ts: number;
  docs: OpDocument[];
  /** v3: unique id of the write, drawn at prepare time, under which apply records the outcome. */
  rid?: string;
}

export interface DeleteOp {
  kind: 'delete';
  v: number;
  ws: string;
  ts: number;
  ids: string[];
  /** v3 (then exactly one id): delete only when the document's ETag is one of these (`*`: it exists). */
  if_match?: IfMatch;
  /** v3: as in PutOp. */
  rid?: string;
}

/**
 * A retrain result for one workspace: new centroids every replica installs as they are. With
 * v = centroids_assigned_op_version it also carries where each vector the leader trained on goes,
 * so replicas route only the vectors written since (see apply.ts).
 */
export interface CentroidsOp {
  kind: 'centroids';
  v: number;
  ws: string;
  ts: number;
  dim: number;
  /** nlist * dim little-endian float32 values. */
  centroids: Uint8Array;
  /** v2: the ids of the training copy, in the order of `lists` and `fingerprints`. */
  ids?: string[];
  /** v2: little-endian uint32 per id: its list under the new centroids. */
  lists?: Uint8Array;
  /** v2: little-endian uint32 per id: fingerprint of the (stored) vector that was assigned. */
  fingerprints?: Uint8Array;
}

export interface NoopOp {
  kind: 'noop';
  v: number;
  ts: number;
}

export type Op = PutOp | DeleteOp | CentroidsOp | NoopOp;

/** Float32Array -> little-endian bytes (a copy; independent of the platform's byte order). */
export function vectorToBytes(v: Float32Array): Uint8Array {
  const out = new Uint8Array(v.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) view.setFloat32(i * 4, v[i] ?? 0, true);
  return out;
}

/** Little-endian bytes -> Float32Array (a copy). Throws when the length is not a multiple of 4. */
export function bytesToVector(b: Uint8Array): Float32Array {
  if (b.byteLength % 4 !== 0) throw new RangeError(`vector bytes: length ${b.byteLength} is not a multiple of 4`);
  const out = new Float32Array(b.byteLength / 4);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

const packr = new Packr({ useRecords: false, moreTypes: false });

/** Op -> msgpack bytes, for callers that want this module's encoding. */
export function encodeOp(op: Op): Uint8Array {
  assertOp(op);
  return packr.pack(op);
}

/** Uint32Array -> little-endian bytes (a copy). */
export function uint32ToBytes(v: Uint32Array): Uint8Array {
  const out = new Uint8Array(v.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) view.setUint32(i * 4, v[i] ?? 0, true);
  return out;
}

/** Little-endian bytes -> Uint32Array (a copy). Throws when the length is not a multiple of 4. */
export function bytesToUint32(b: Uint8Array): Uint32Array {
  if (b.byteLength % 4 !== 0) throw new RangeError(`uint32 bytes: length ${b.byteLength} is not a multiple of 4`);
  const out = new Uint32Array(b.byteLength / 4);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getUint32(i * 4, true);
  return out;
}

/** msgpack bytes -> Op; throws when the bytes do not hold a well-formed op. */
export function decodeOp(bytes: Uint8Array): Op {
  const op: unknown = packr.unpack(bytes);
  assertOp(op);
  return op;
}

/** Asserts the shape of an op arriving from the log. A malformed op is a broken invariant. */
export function assertOp(op: unknown): asserts op is Op {
  const o = op as Record<string, unknown>;
  if (typeof o !== 'object' || o === null) throw new TypeError('op: not an object');
  const versionKnown =
    o.v === op_version ||
    (o.v === centroids_assigned_op_version && o.kind === 'centroids') ||
    (o.v === conditional_op_version && (o.kind === 'put' || o.kind === 'delete')) ||
    (o.v === passages_op_version && o.kind === 'put');
  if (!versionKnown) {
    throw new TypeError(
      `op.v: expected ${op_version} (or ${centroids_assigned_op_version} for centroids, ${conditional_op_version} for conditional put/delete, ${passages_op_version} for put with passages), got ${String(o.v)}`,
    );
  }
  const withPassages = o.v === passages_op_version;
  // A v4 put is conditional when it carries a request id (then as v3: at least one precondition).
  const conditional = o.v === conditional_op_version || (withPassages && o.rid !== undefined);
  if (typeof o.ts !== 'number' || !Number.isFinite(o.ts)) throw new TypeError('op.ts: not a finite number');
  switch (o.kind) {
    case 'noop':
      return;
    case 'put':
      if (typeof o.ws !== 'string') throw new TypeError('op.ws: not a string');
      if (!Array.isArray(o.docs)) throw new TypeError('op.docs: not an array');
      for (const d of o.docs as Record<string, unknown>[]) {
        if (typeof d.id !== 'string' || typeof d.content !== 'string') throw new TypeError('op.docs[]: id/content not strings');
        if (typeof d.tokens !== 'number' || typeof d.bytes !== 'number') throw new TypeError('op.docs[]: tokens/bytes not numbers');
        if (typeof d.content_hash !== 'string') throw new TypeError('op.docs[]: content_hash not a string');
        if (!(d.vector instanceof Uint8Array)) throw new TypeError('op.docs[]: vector not bytes');
        if (withPassages) {
          if (!(d.passages instanceof Uint8Array) || d.passages.byteLength === 0 || d.passages.byteLength % (passage_fields * 4) !== 0) {
            throw new TypeError(`op.docs[].passages: not a non-empty multiple of ${passage_fields * 4} bytes`);
          }
        } else if (d.passages !== undefined) {
          throw new TypeError('op.docs[].passages: passages need v4');
        }
      }
      assertPutPreconditions(o, conditional);
      return;
    case 'delete':
      if (typeof o.ws !== 'string') throw new TypeError('op.ws: not a string');
      if (!Array.isArray(o.ids) || !o.ids.every((x) => typeof x === 'string')) throw new TypeError('op.ids: not an array of strings');
      assertRid(o, conditional);
      if (!conditional) {
        if (o.if_match !== undefined) throw new TypeError('op.if_match: a precondition needs v3');
        return;
      }
      if (o.ids.length !== 1) throw new TypeError(`op.ids: a conditional delete names exactly one id, not ${o.ids.length}`);
      assertIfMatch(o.if_match, 'op.if_match');
      return;
    case 'centroids':
      if (typeof o.ws !== 'string') throw new TypeError('op.ws: not a string');
      if (typeof o.dim !== 'number' || !(o.centroids instanceof Uint8Array)) throw new TypeError('op.centroids: malformed');
      if (o.v === op_version) {
        if (o.ids !== undefined || o.lists !== undefined || o.fingerprints !== undefined) throw new TypeError('op.ids: an assignment needs v2');
        return;
      }
      if (!Array.isArray(o.ids) || !o.ids.every((x) => typeof x === 'string')) throw new TypeError('op.ids: not an array of strings');
      if (!(o.lists instanceof Uint8Array) || o.lists.byteLength !== o.ids.length * 4) throw new TypeError('op.lists: not 4 bytes per id');
      if (!(o.fingerprints instanceof Uint8Array) || o.fingerprints.byteLength !== o.ids.length * 4) {
        throw new TypeError('op.fingerprints: not 4 bytes per id');
      }
      return;
    default:
      throw new TypeError(`op.kind: unknown kind ${String(o.kind)}`);
  }
}

/** v3 ops carry a request id; others carry none. */
function assertRid(o: Record<string, unknown>, conditional: boolean): void {
  if (!conditional) {
    if (o.rid !== undefined) throw new TypeError('op.rid: a request id needs v3');
    return;
  }
  if (typeof o.rid !== 'string' || o.rid.length === 0 || o.rid.length > rid_chars_max) {
    throw new TypeError(`op.rid: not a string of 1..${rid_chars_max} characters`);
  }
}

/** A v3 put carries at least one precondition, each document at most one; a v1 put none. */
function assertPutPreconditions(o: Record<string, unknown>, conditional: boolean): void {
  assertRid(o, conditional);
  let carried = 0;
  for (const d of o.docs as Record<string, unknown>[]) {
    if (d.if_match === undefined && d.if_none_match === undefined) continue;
    if (!conditional) throw new TypeError('op.docs[]: a precondition needs v3, or v4 with a request id (op.rid)');
    if (d.if_match !== undefined && d.if_none_match !== undefined) throw new TypeError('op.docs[]: both if_match and if_none_match');
    if (d.if_match !== undefined) assertIfMatch(d.if_match, 'op.docs[].if_match');
    if (d.if_none_match !== undefined && d.if_none_match !== true) throw new TypeError('op.docs[].if_none_match: not true');
    carried += 1;
  }
  if (conditional && carried === 0) throw new TypeError('op.docs: a v3 put carries no precondition');
}
