import { assert } from './errors.ts';
import { dot } from './vector-math.ts';

/** Capacity of a list on its first growth, in vectors. Lists then grow by doubling. */
export const list_capacity_min = 8;

/**
 * One inverted list: every vector in one contiguous Float32Array (row-major, `dim` floats a
 * row), with parallel arrays for the squared norm, the tag code and the id. No object per vector.
 * Removal swaps the last row into the hole, so rows stay dense.
 */
export class VectorList {
  readonly dim: number;
  data: Float32Array;
  norms: Float32Array;
  tags: Int32Array;
  ids: string[];
  count = 0;

  constructor(dim: number, capacity: number = 0) {
    assert(Number.isInteger(dim) && dim > 0, 'list dim must be a positive integer');
    assert(Number.isInteger(capacity) && capacity >= 0, 'list capacity is a count');
    const cap = capacity;
    this.dim = dim;
    this.data = new Float32Array(cap * dim);
    this.norms = new Float32Array(cap);
    this.tags = new Int32Array(cap);
    this.ids = [];
  }

  get capacity(): number {
    return this.norms.length;
  }

  /** Appends a row; returns its position. `vector` must already be validated (and normalised). */
  append(id: string, vector: Float32Array, tag: number): number {
    assert(vector.length === this.dim, 'appended vector has the list dimension');
    if (this.count === this.capacity) this.grow(Math.max(list_capacity_min, this.capacity * 2));
    const pos = this.count++;
    this.data.set(vector, pos * this.dim);
    this.norms[pos] = dot(vector, 0, vector, 0, this.dim);
    this.tags[pos] = tag;
    this.ids.push(id);
    assert(this.ids.length === this.count, 'ids parallel to rows');
    return pos;
  }

  /** Appends row `pos` of another list of the same dim (its stored vector, norm, tag and id); returns its position. */
  appendFrom(src: VectorList, pos: number): number {
    assert(src.dim === this.dim && pos >= 0 && pos < src.count, 'copied row exists and has the list dimension');
    if (this.count === this.capacity) this.grow(Math.max(list_capacity_min, this.capacity * 2));
    const at = this.count++;
    this.data.set(src.data.subarray(pos * this.dim, (pos + 1) * this.dim), at * this.dim);
    this.norms[at] = src.norms[pos]!;
    this.tags[at] = src.tags[pos]!;
    this.ids.push(src.ids[pos]!);
    return at;
  }

  /**
   * Removes the row at `pos` by moving the last row into it. Returns the id that moved into
   * `pos`, or null when `pos` was the last row.
   */
  removeAt(pos: number): string | null {
    assert(Number.isInteger(pos) && pos >= 0 && pos < this.count, 'removed position is in range');
    const last = this.count - 1;
    let moved: string | null = null;
    if (pos !== last) {
      this.data.copyWithin(pos * this.dim, last * this.dim, (last + 1) * this.dim);
      this.norms[pos] = this.norms[last]!;
      this.tags[pos] = this.tags[last]!;
      moved = this.ids[last]!;
      this.ids[pos] = moved;
    }
    this.ids.pop();
    this.count = last;
    assert(this.ids.length === this.count, 'ids parallel to rows');
    return moved;
  }

  /** Grows the capacity to at least `capacity` rows. */
  reserve(capacity: number): void {
    if (capacity > this.capacity) this.grow(capacity);
  }

  /** A view (no copy) of row `pos`. */
  row(pos: number): Float32Array {
    assert(pos >= 0 && pos < this.count, 'row position is in range');
    return this.data.subarray(pos * this.dim, (pos + 1) * this.dim);
  }

  /** Bytes held by the typed arrays (capacity, not count). */
  typedBytes(): number {
    return this.data.byteLength + this.norms.byteLength + this.tags.byteLength;
  }

  private grow(capacity: number): void {
    assert(capacity > this.capacity, 'lists only grow');
    const data = new Float32Array(capacity * this.dim);
    data.set(this.data.subarray(0, this.count * this.dim));
    const norms = new Float32Array(capacity);
    norms.set(this.norms.subarray(0, this.count));
    const tags = new Int32Array(capacity);
    tags.set(this.tags.subarray(0, this.count));
    this.data = data;
    this.norms = norms;
    this.tags = tags;
  }
}
