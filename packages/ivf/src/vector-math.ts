import { IvfError } from './errors.ts';

/**
 * Dot product of a[aOff .. aOff+dim) and b[bOff .. bOff+dim). Four accumulators in a fixed
 * order: the result is bit-identical on every node for the same inputs.
 */
export function dot(a: Float32Array, aOff: number, b: Float32Array, bOff: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  const end4 = dim - (dim & 3);
  for (; i < end4; i += 4) {
    s0 += a[aOff + i]! * b[bOff + i]!;
    s1 += a[aOff + i + 1]! * b[bOff + i + 1]!;
    s2 += a[aOff + i + 2]! * b[bOff + i + 2]!;
    s3 += a[aOff + i + 3]! * b[bOff + i + 3]!;
  }
  for (; i < dim; i++) s0 += a[aOff + i]! * b[bOff + i]!;
  return s0 + s1 + (s2 + s3);
}

/** Squared L2 distance, same accumulation scheme as dot(). */
export function l2sq(a: Float32Array, aOff: number, b: Float32Array, bOff: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  const end4 = dim - (dim & 3);
  for (; i < end4; i += 4) {
    const d0 = a[aOff + i]! - b[bOff + i]!;
    const d1 = a[aOff + i + 1]! - b[bOff + i + 1]!;
    const d2 = a[aOff + i + 2]! - b[bOff + i + 2]!;
    const d3 = a[aOff + i + 3]! - b[bOff + i + 3]!;
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; i < dim; i++) {
    const d = a[aOff + i]! - b[bOff + i]!;
    s0 += d * d;
  }
  return s0 + s1 + (s2 + s3);
}

/** Throws IvfError unless v is a Float32Array of length dim with finite entries. */
export function checkVector(v: unknown, dim: number, what: string): Float32Array {
  if (!(v instanceof Float32Array)) throw new IvfError('bad_vector', `${what} must be a Float32Array`);
  if (v.length === 0) throw new IvfError('empty_vector', `${what} is empty (expected ${dim} dimensions)`);
  if (v.length !== dim) {
    throw new IvfError('dimension_mismatch', `${what} has ${v.length} dimensions, the index has ${dim}`);
  }
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i])) throw new IvfError('not_finite', `${what}[${i}] is ${v[i]}`);
  }
  return v;
}

/**
 * Writes v scaled to unit L2 norm into `out` (a new array when omitted) and returns it. Throws
 * zero_vector when v has norm 0.
 */
export function normalisedCopy(v: Float32Array, what: string, out: Float32Array = new Float32Array(v.length)): Float32Array {
  const norm = Math.sqrt(dot(v, 0, v, 0, v.length));
  if (!(norm > 0) || !Number.isFinite(norm)) {
    throw new IvfError('zero_vector', `${what} has norm ${norm}; cosine needs a non-zero vector`);
  }
  for (let i = 0; i < v.length; i++) out[i] = v[i]! / norm;
  return out;
}
