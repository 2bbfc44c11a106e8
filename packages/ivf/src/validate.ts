import { IvfError } from './errors.ts';
import { id_length_max, nlist_max, tag_length_max } from './params.ts';

/** Checks a centroid array for an index of dimension `dim`; returns nlist. */
export function checkCentroids(centroids: Float32Array, dim: number): number {
  if (!(centroids instanceof Float32Array)) throw new IvfError('bad_centroids', 'centroids must be a Float32Array');
  if (centroids.length === 0 || centroids.length % dim !== 0) {
    throw new IvfError('bad_centroids', `centroids length ${centroids.length} is not a positive multiple of dim ${dim}`);
  }
  const nlist = centroids.length / dim;
  if (nlist > nlist_max) throw new IvfError('bad_centroids', `${nlist} centroids, at most ${nlist_max}`);
  for (let i = 0; i < centroids.length; i++) {
    if (!Number.isFinite(centroids[i])) throw new IvfError('bad_centroids', `centroids[${i}] is ${centroids[i]}`);
  }
  return nlist;
}

export function sameBytes(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Int32Array(a.buffer, a.byteOffset, a.length);
  const y = new Int32Array(b.buffer, b.byteOffset, b.length); // float32 views are always 4-byte aligned
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

export function checkId(id: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > id_length_max) {
    throw new IvfError('bad_id', `id must be a non-empty string of at most ${id_length_max} characters`);
  }
}

export function checkTag(tag: string): void {
  if (typeof tag !== 'string' || tag.length > tag_length_max) {
    throw new IvfError('bad_tag', `tag must be a string of at most ${tag_length_max} characters`);
  }
}
