// TopKIndex: the best k rows for an OR query under BM25 (bm25.ts) without scoring every row
// that matches.
//
// An in-memory inverted index over integer row ids (document rowids, or passage ids): one
// posting list per term, in insertion order of an internal document number that only grows, so
// a list is appended to and never re-sorted. Each block of `block_postings` postings keeps its
// largest frequency and its shortest row; a term's upper bound for a query is the best score a
// block's (largest frequency, shortest row) pair could give, taken over its blocks.
//
// search() runs MaxScore (Turtle & Flood 1995, as in Lucene and PISA): the terms sorted by upper
// bound; those whose bounds together stay below the k-th best score so far cannot put a row in
// the top k alone ("non-essential") and are only looked up, by galloping search, for rows that a
// rare ("essential") term brought and whose bound can still reach the top k. With common words
// in the query (a Zipf vocabulary: a word in 80 % of rows), their long lists are skipped.
//
// The answer is exact: the same rows and scores as scoring every row (bruteForce below), each
// row's score summed over the query's terms in query order, ties broken by the smaller row id.
// A bound is only used to skip a row when it is below the threshold by more than a relative
// `bound_slack`, so rounding in the bound's different order of summation never drops a tie.
//
// Replacing a row (put of a row id already held) removes the old version first. A removed
// version stays in the lists as a dead posting, skipped at search time, until dead postings pass
// `dead_postings_fraction_max` of all postings; then the lists are rebuilt without them.
//
// Memory (bytes of typed arrays, counted by bytesHeld()): a posting is 4 bytes of internal
// document number and 1 of frequency (twice the frequency in a byte: FTS5's column weights 1 and
// 0.5 give halves; a list that meets any other frequency keeps exact float32s, 4 bytes), in one
// buffer per list grown by doubling while short and by a quarter once long; trim() gives back the
// room left in the lists (the passage index does it after its build). Each row's term ids (needed
// to update the document frequencies when it is removed) are varint deltas, ~1.5 bytes a
// posting; row id, length and where its term ids start are 24 bytes a row; both in chunks (1 MiB,
// 512 KiB), since growing one large buffer by copying held the passage index's build for
// hundreds of ms (a buffer's pages are faulted in at ~3 ms a MB on this machine). Measured on the bench's
// 10,000-document state.db (104,888 passages, 6,301,569 postings): 6.9 bytes a posting of typed
// arrays, ~13 of heap and array buffers in all (the rest: an object and two views per term, and
// the row map), from 11.5 and ~29.5 with Int32 and Float32 lists grown by doubling.
//
// Not persisted: the owner builds it from its rows on start and keeps it in step with each
// apply. Its answers depend only on the rows it holds, never on the order they came in, so every
// replica holding the same rows answers the same.

import { idf, saturation } from './bm25.ts';
import { ShardedMap } from './sharded-map.ts';

export const block_postings = 128;
/** Postings a list reserves room for at first. */
const postings_capacity_min = 4;
/** A full list grows to this multiple of its size once it holds `postings_doubling_max` (so at most 1/5 of what it reserves is unused; trim() gives that back)... */
const postings_growth = 1.25;
/** ...and doubles below that: fewer reallocations of the many short lists, whose room is small in all. */
const postings_doubling_max = 4096;
const block_shift = 7;
/** Frequencies k/2 with k in [1, tf_halves_max] are held as k in one byte; a list holding any other frequency keeps float32s. */
const tf_halves_max = 255;
/** Row numbers per step of a row table's growth, at least. */
const rows_capacity_min = 64;
/** Rows per chunk of a row table (512 KiB of float64s), and bytes per chunk of the term ids. */
const row_chunk_shift = 16;
const row_chunk = 1 << row_chunk_shift;
const term_chunk_bytes = 1 << 20;
/** Rebuild the lists once dead postings are more than this fraction of all postings. */
export const dead_postings_fraction_max = 0.5;
/** ...and at least this many, so a small index is not rebuilt on every delete. */
export const dead_postings_compact_min = 4096;
/** Relative slack under which a bound is trusted to exclude a row (see the head comment). */
export const bound_slack = 1e-9;
export const query_terms_max = 64;
export const k_max = 10_000;

if (1 << block_shift !== block_postings) throw new Error('invariant: block_postings is 2^block_shift');

export interface TopKHit {
  row: number;
  score: number;
}

/** One row's terms: term -> (column-weighted) frequency, and its length in tokens. */
export interface RowTerms {
  terms: ReadonlyMap<string, number>;
  length: number;
}

function grown(size: number): number {
  return Math.max(postings_capacity_min, size < postings_doubling_max ? 2 * size : Math.ceil(size * postings_growth));
}

class Postings {
  // 4 bytes of row number and 1 of frequency a posting in one buffer (a list with a frequency that
  // is not a half-integer up to 127.5 moves its frequencies to float32s: FTS5's column weights 1
  // and 0.5 give only halves), grown by a quarter when full. A list's first block keeps its maxima
  // in fields, later blocks in one plain array (1/128 of the postings): most lists of a Zipf
  // vocabulary are short, and there the objects around the arrays cost more than the postings.
  docs: Int32Array;
  /** Twice each frequency, while every frequency of the list is k/2 with k in [1, 255] (same buffer as docs). */
  tfHalves: Uint8Array | null;
  /** The frequencies as float32, once one is not such a half. */
  tfFloats: Float32Array | null = null;
  /** Block 0's largest frequency and shortest row. */
  maxTf0 = 0;
  minLen0 = 0;
  /** Blocks 1.. as (largest frequency, shortest row) pairs. */
  blocksAfter0: number[] | null = null;
  size = 0;
  /** Live rows holding the term (dead postings excluded). */
  df = 0;

  constructor(capacity = postings_capacity_min) {
    const buffer = new ArrayBuffer(capacity * 5);
    this.docs = new Int32Array(buffer, 0, capacity);
    this.tfHalves = new Uint8Array(buffer, capacity * 4, capacity);
  }

  /** Bytes the arrays hold (reserved, not only used). */
  get bytes(): number {
    return this.docs.byteLength + (this.tfHalves?.byteLength ?? 0) + (this.tfFloats?.byteLength ?? 0);
  }

  /** The frequency of the posting at `p` (as float32 held it: halves are exact in float32). */
  tf(p: number): number {
    const halves = this.tfHalves;
    return halves !== null ? (halves[p] as number) * 0.5 : ((this.tfFloats as Float32Array)[p] as number);
  }

  private resize(capacity: number): void {
    const size = this.size;
    if (this.tfHalves !== null) {
      const buffer = new ArrayBuffer(capacity * 5);
      const docs = new Int32Array(buffer, 0, capacity);
      const halves = new Uint8Array(buffer, capacity * 4, capacity);
      docs.set(this.docs.subarray(0, size));
      halves.set(this.tfHalves.subarray(0, size));
      this.docs = docs;
      this.tfHalves = halves;
    } else {
      const docs = new Int32Array(capacity);
      docs.set(this.docs.subarray(0, size));
      this.docs = docs;
      const floats = new Float32Array(capacity);
      floats.set((this.tfFloats as Float32Array).subarray(0, size));
      this.tfFloats = floats;
    }
  }

  /** Gives back the room reserved beyond the postings held. */
  trim(): void {
    if (this.docs.length > this.size) this.resize(this.size);
  }

  push(doc: number, tf: number, length: number): void {
    const size = this.size;
    if (size > 0 && (this.docs[size - 1] as number) >= doc) throw new Error('invariant: postings appended out of order');
    if (size === this.docs.length) this.resize(grown(size));
    // float32, so that a rebuilt index holds the same frequencies
    const stored = Math.fround(tf);
    this.docs[size] = doc;
    const halves = this.tfHalves;
    const twice = stored * 2;
    if (halves !== null && Number.isInteger(twice) && twice >= 1 && twice <= tf_halves_max) {
      halves[size] = twice;
    } else {
      if (halves !== null) {
        const floats = new Float32Array(this.docs.length);
        for (let p = 0; p < size; p++) floats[p] = (halves[p] as number) * 0.5;
        this.tfFloats = floats;
        this.tfHalves = null;
      }
      (this.tfFloats as Float32Array)[size] = stored;
    }
    this.size = size + 1;
    const block = size >> block_shift;
    if (block === 0) {
      if (size === 0 || stored > this.maxTf0) this.maxTf0 = stored;
      if (size === 0 || length < this.minLen0) this.minLen0 = length;
      return;
    }
    const after = (this.blocksAfter0 ??= []);
    const at = 2 * (block - 1);
    if (at === after.length) {
      after.push(stored, length);
      return;
    }
    if (stored > (after[at] as number)) after[at] = stored;
    if (length < (after[at + 1] as number)) after[at + 1] = length;
  }

  /** The largest saturation any posting of the list can have at this avgdl. */
  maxSaturation(avgdl: number): number {
    if (this.size === 0) return 0;
    let best = saturation(this.maxTf0, this.minLen0, avgdl);
    const after = this.blocksAfter0;
    if (after === null) return best;
    for (let b = 0; b < after.length; b += 2) {
      const s = saturation(after[b] as number, after[b + 1] as number, avgdl);
      if (s > best) best = s;
    }
    return best;
  }

  /** The first position at or after `from` whose doc is >= doc (size when none). Galloping search. */
  seek(from: number, doc: number): number {
    const docs = this.docs;
    const size = this.size;
    if (from >= size || (docs[from] as number) >= doc) return from;
    let step = 1;
    let lo = from;
    let hi = from + 1;
    while (hi < size && (docs[hi] as number) < doc) {
      lo = hi;
      step *= 2;
      hi = from + step;
    }
    if (hi > size) hi = size;
    // docs[lo] < doc; answer in (lo, hi]
    let l = lo + 1;
    let h = hi;
    while (l < h) {
      const mid = (l + h) >> 1;
      if ((docs[mid] as number) < doc) l = mid + 1;
      else h = mid;
    }
    return l;
  }
}

/**
 * A growable column of numbers, one per internal document, in chunks of `row_chunk` (the first
 * grown by doubling up to that): a buffer grown by copying costs ~3 ms a MB on this machine (its
 * pages are faulted in), so no step allocates more than one chunk.
 */
class RowColumn {
  private readonly chunks: Float64Array[] = [new Float64Array(rows_capacity_min)];
  n = 0;

  get(i: number): number {
    return (this.chunks[i >>> row_chunk_shift] as Float64Array)[i & (row_chunk - 1)] as number;
  }

  set(i: number, v: number): void {
    (this.chunks[i >>> row_chunk_shift] as Float64Array)[i & (row_chunk - 1)] = v;
  }

  push(v: number): void {
    const c = this.n >>> row_chunk_shift;
    let chunk = this.chunks[c];
    if (chunk === undefined) {
      chunk = new Float64Array(row_chunk);
      this.chunks.push(chunk);
    } else if ((this.n & (row_chunk - 1)) === chunk.length) {
      const grown = new Float64Array(Math.min(row_chunk, chunk.length * 2));
      grown.set(chunk);
      chunk = grown;
      this.chunks[c] = chunk;
    }
    chunk[this.n & (row_chunk - 1)] = v;
    this.n += 1;
  }

  get bytes(): number {
    let n = 0;
    for (const c of this.chunks) n += c.byteLength;
    return n;
  }
}

/**
 * Each internal document's term ids (for a removal's df updates): ascending, as varint deltas
 * (7 bits a byte), in chunks of `term_chunk_bytes` (the first grown by doubling up to that; a
 * document's ids never span two). A document's address is chunk * 2^32 + offset.
 */
class TermArena {
  readonly chunks: Uint8Array[];
  readonly used: number[] = [0];

  constructor(private readonly chunkBytes: number) {
    this.chunks = [new Uint8Array(Math.min(1024, chunkBytes))];
  }

  /** Appends `need` bytes' room for one document; returns [chunk, offset]. */
  private room(need: number): [number, number] {
    const c = this.chunks.length - 1;
    let chunk = this.chunks[c] as Uint8Array;
    const used = this.used[c] as number;
    if (used + need <= chunk.length) return [c, used];
    if (chunk.length < this.chunkBytes && used + need <= this.chunkBytes) {
      const grown = new Uint8Array(Math.min(this.chunkBytes, Math.max(chunk.length * 2, used + need)));
      grown.set(chunk.subarray(0, used));
      chunk = grown;
      this.chunks[c] = chunk;
      return [c, used];
    }
    this.chunks.push(new Uint8Array(Math.max(this.chunkBytes, need)));
    this.used.push(0);
    return [c + 1, 0];
  }

  /** Appends one document's ids (sorted here); returns its address. */
  append(ids: Int32Array): number {
    ids.sort();
    const [c, at] = this.room(5 * ids.length);
    const b = this.chunks[c] as Uint8Array;
    let n = at;
    let prev = -1;
    for (const id of ids) {
      let v = id - prev - 1;
      prev = id;
      while (v >= 0x80) {
        b[n++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      b[n++] = v;
    }
    this.used[c] = n;
    return c * 2 ** 32 + at;
  }

  /** The bytes of the document at `address`, the next document's address given (or -1 for the last). */
  bytesOf(address: number, next: number): Uint8Array {
    const c = Math.floor(address / 2 ** 32);
    const from = address - c * 2 ** 32;
    const to = next >= 0 && Math.floor(next / 2 ** 32) === c ? next - c * 2 ** 32 : (this.used[c] as number);
    return (this.chunks[c] as Uint8Array).subarray(from, to);
  }

  /** Appends bytes already coded (a document moved by a compaction); returns its address. */
  appendBytes(bytes: Uint8Array): number {
    const [c, at] = this.room(bytes.length);
    (this.chunks[c] as Uint8Array).set(bytes, at);
    this.used[c] = at + bytes.length;
    return c * 2 ** 32 + at;
  }

  /** Calls `each` with every id held in `bytes`. */
  static forEach(bytes: Uint8Array, each: (id: number) => void): void {
    let id = -1;
    let p = 0;
    while (p < bytes.length) {
      let v = 0;
      let shift = 0;
      let byte: number;
      do {
        byte = bytes[p++] as number;
        v += (byte & 0x7f) * 2 ** shift;
        shift += 7;
      } while (byte >= 0x80);
      id += v + 1;
      each(id);
    }
  }

  get bytes(): number {
    let n = 0;
    for (const c of this.chunks) n += c.byteLength;
    return n;
  }
}

interface QueryTerm {
  /** Position of the term in the query (scores are summed in this order). */
  slot: number;
  list: Postings;
  idf: number;
  upper: number;
  pos: number;
}

/** A bounded set of the best hits: worst first (lowest score, then largest row). */
class TopHeap {
  readonly scores: number[] = [];
  readonly rows: number[] = [];
  constructor(readonly k: number) {}

  get full(): boolean {
    return this.scores.length >= this.k;
  }

  /** The k-th best score once full, else -Infinity. */
  get threshold(): number {
    return this.full ? (this.scores[0] as number) : -Infinity;
  }

  private worse(i: number, j: number): boolean {
    const si = this.scores[i] as number;
    const sj = this.scores[j] as number;
    return si < sj || (si === sj && (this.rows[i] as number) > (this.rows[j] as number));
  }

  private swap(i: number, j: number): void {
    const s = this.scores[i] as number;
    this.scores[i] = this.scores[j] as number;
    this.scores[j] = s;
    const r = this.rows[i] as number;
    this.rows[i] = this.rows[j] as number;
    this.rows[j] = r;
  }

  /** Offers a hit; true when it was kept. */
  offer(score: number, row: number): boolean {
    if (!this.full) {
      this.scores.push(score);
      this.rows.push(row);
      let i = this.scores.length - 1;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.worse(i, parent)) break;
        this.swap(i, parent);
        i = parent;
      }
      return true;
    }
    const top = this.scores[0] as number;
    if (score < top || (score === top && row > (this.rows[0] as number))) return false;
    this.scores[0] = score;
    this.rows[0] = row;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < this.scores.length && this.worse(l, m)) m = l;
      if (r < this.scores.length && this.worse(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return true;
  }

  sorted(): TopKHit[] {
    return this.scores
      .map((score, i) => ({ row: this.rows[i] as number, score }))
      .sort((a, b) => b.score - a.score || a.row - b.row);
  }
}

export class TopKIndex {
  // sharded: a Map of a million entries rehashes in one step of ~650 ms (sharded-map.ts)
  private readonly termIds = new ShardedMap<string, number>();
  private lists: Postings[] = [];
  /** internal doc -> row id, length (-1: dead), where its term ids start in `terms` */
  private docRow = new RowColumn();
  private docLength = new RowColumn();
  private docTermsAt = new RowColumn();
  private terms: TermArena;
  private readonly rowDoc = new ShardedMap<number, number>();
  private totalLength = 0;
  private postings = 0;
  private deadPostings = 0;
  private readonly compactMin: number;

  private readonly termChunkBytes: number;

  /** `term_chunk_bytes`: the term ids' chunk size (tests make it small to span chunks with few rows). */
  constructor(opts: { dead_postings_compact_min?: number; term_chunk_bytes?: number } = {}) {
    this.compactMin = opts.dead_postings_compact_min ?? dead_postings_compact_min;
    if (!(Number.isInteger(this.compactMin) && this.compactMin >= 1)) throw new Error(`invariant: dead_postings_compact_min ${this.compactMin}`);
    this.termChunkBytes = opts.term_chunk_bytes ?? term_chunk_bytes;
    if (!(Number.isInteger(this.termChunkBytes) && this.termChunkBytes >= 16)) throw new Error(`invariant: term_chunk_bytes ${this.termChunkBytes}`);
    this.terms = new TermArena(this.termChunkBytes);
  }

  /** Chunks of term ids held (more than one once they pass term_chunk_bytes). */
  get termChunksHeld(): number {
    return this.terms.chunks.length;
  }

  /** Rows held. */
  get size(): number {
    return this.rowDoc.size;
  }

  /** Postings held (dead ones included until a compaction). */
  get postingsHeld(): number {
    return this.postings;
  }

  /** Distinct terms held (lists, some perhaps only of dead postings). */
  get termsHeld(): number {
    return this.lists.length;
  }

  /** Bytes reserved by the posting lists' typed arrays. */
  postingBytes(): number {
    let n = 0;
    for (const l of this.lists) n += l.bytes;
    return n;
  }

  /** Bytes reserved by every typed array of the index: the lists and the per-row tables and term ids. */
  bytesHeld(): number {
    return this.postingBytes() + this.docRow.bytes + this.docLength.bytes + this.docTermsAt.bytes + this.terms.bytes;
  }

  /**
   * Gives back the room the lists reserved beyond their postings, for lists [from, from + count);
   * returns the next list to trim (termsHeld once all are). The row tables and the term ids keep
   * theirs (at most a fifth of ~2 bytes a posting): copying them is one step of ~100 MB at a
   * million rows, which held the passage index's build for 727 ms.
   */
  trim(from = 0, count = Infinity): number {
    const to = Math.min(this.lists.length, from + count);
    for (let i = from; i < to; i++) (this.lists[i] as Postings).trim();
    return to;
  }

  has(row: number): boolean {
    return this.rowDoc.has(row);
  }

  /** Adds a row, or replaces the row with this id. */
  put(row: number, doc: RowTerms): void {
    assertRow(row);
    if (!(Number.isFinite(doc.length) && doc.length >= 0)) throw new Error(`invariant: row ${row} has length ${doc.length}`);
    this.remove(row);
    if (this.docRow.n >= 2 ** 31 - 1) this.compact();
    const internal = this.docRow.n;
    const ids = new Int32Array(doc.terms.size);
    let i = 0;
    for (const [term, tf] of doc.terms) {
      if (!(Number.isFinite(tf) && tf > 0)) throw new Error(`invariant: term ${term} of row ${row} has frequency ${tf}`);
      let id = this.termIds.get(term);
      if (id === undefined) {
        id = this.lists.length;
        this.termIds.set(term, id);
        this.lists.push(new Postings());
      }
      const list = this.lists[id] as Postings;
      list.push(internal, tf, doc.length);
      list.df += 1;
      ids[i++] = id;
    }
    this.docRow.push(row);
    this.docLength.push(doc.length);
    this.docTermsAt.push(this.terms.append(ids));
    this.rowDoc.set(row, internal);
    this.totalLength += doc.length;
    this.postings += ids.length;
  }

  /** The coded term ids of an internal document. */
  private termBytes(internal: number): Uint8Array {
    const next = internal + 1 < this.docTermsAt.n ? this.docTermsAt.get(internal + 1) : -1;
    return this.terms.bytesOf(this.docTermsAt.get(internal), next);
  }

  /** Removes a row; absent rows are ignored. */
  remove(row: number): void {
    const internal = this.rowDoc.get(row);
    if (internal === undefined) return;
    const length = this.docLength.get(internal);
    if (length < 0) throw new Error(`invariant: row ${row} maps to a dead document`);
    let held = 0;
    TermArena.forEach(this.termBytes(internal), (id) => {
      (this.lists[id] as Postings).df -= 1;
      held += 1;
    });
    this.docLength.set(internal, -1);
    this.rowDoc.delete(row);
    this.totalLength -= length;
    this.deadPostings += held;
    if (this.deadPostings >= this.compactMin && this.deadPostings > dead_postings_fraction_max * this.postings) this.compact();
  }

  /** Times the lists were rebuilt without their dead postings. */
  compactions = 0;

  /**
   * The work search() has done since the index was made, against the rows that match (what
   * scoring every row costs): rows met in the lists it walked (those of its essential terms), and
   * of those, rows scored in full (the rest were ruled out by their bounds).
   */
  rowsMet = 0;
  rowsScored = 0;

  /** Rebuilds every list without dead postings (internal numbers renumbered in order). */
  private compact(): void {
    this.compactions += 1;
    const count = this.docRow.n;
    const lengths = this.docLength;
    const renumbered = new Int32Array(count);
    let live = 0;
    for (let d = 0; d < count; d++) renumbered[d] = lengths.get(d) >= 0 ? live++ : -1;
    this.lists = this.lists.map((old) => {
      const list = new Postings(old.df);
      for (let p = 0; p < old.size; p++) {
        const d = old.docs[p] as number;
        const nd = renumbered[d] as number;
        if (nd >= 0) list.push(nd, old.tf(p), lengths.get(d));
      }
      list.df = old.df;
      if (list.size !== list.df) throw new Error(`invariant: a list holds ${list.size} live postings, df ${list.df}`);
      return list;
    });
    const docRow = new RowColumn();
    const docLength = new RowColumn();
    const docTermsAt = new RowColumn();
    const terms = new TermArena(this.termChunkBytes);
    for (let d = 0; d < count; d++) {
      const nd = renumbered[d] as number;
      if (nd < 0) continue;
      docTermsAt.push(terms.appendBytes(this.termBytes(d)));
      docRow.push(this.docRow.get(d));
      docLength.push(lengths.get(d));
      this.rowDoc.set(this.docRow.get(d), nd);
    }
    this.docRow = docRow;
    this.docLength = docLength;
    this.docTermsAt = docTermsAt;
    this.terms = terms;
    this.postings -= this.deadPostings;
    this.deadPostings = 0;
  }

  /** The query's distinct terms held by live rows, in query order. */
  private queryTerms(terms: readonly string[]): QueryTerm[] {
    const n = this.rowDoc.size;
    const avgdl = this.totalLength / n;
    const seen = new Set<string>();
    const out: QueryTerm[] = [];
    for (const term of terms) {
      if (seen.has(term)) continue;
      seen.add(term);
      const id = this.termIds.get(term);
      const list = id === undefined ? undefined : this.lists[id];
      if (list === undefined || list.df === 0) continue;
      const termIdf = idf(n, list.df);
      out.push({ slot: seen.size - 1, list, idf: termIdf, upper: termIdf * list.maxSaturation(avgdl), pos: 0 });
    }
    return out;
  }

  /** The best k rows holding any of `terms`, best first, ties by the smaller row. */
  search(terms: readonly string[], k: number): TopKHit[] {
    if (!(Number.isInteger(k) && k >= 1 && k <= k_max)) throw new Error(`invariant: k ${k} not in [1, ${k_max}]`);
    if (terms.length > query_terms_max) throw new Error(`invariant: ${terms.length} query terms, at most ${query_terms_max}`);
    if (this.rowDoc.size === 0) return [];
    const avgdl = this.totalLength / this.rowDoc.size;
    const qs = this.queryTerms(terms).sort((a, b) => a.upper - b.upper);
    if (qs.length === 0) return [];
    const slots = Math.max(...qs.map((q) => q.slot)) + 1;
    const contrib = new Float64Array(slots);
    // prefix[i]: the sum of the upper bounds of qs[0..i]
    const prefix = new Float64Array(qs.length);
    let acc = 0;
    qs.forEach((q, i) => {
      acc += q.upper;
      prefix[i] = acc;
    });
    const heap = new TopHeap(k);
    const docLength = this.docLength;
    // qs[firstEssential..] are essential: a row in none of them scores below the threshold.
    let firstEssential = 0;
    let threshold = -Infinity;
    for (;;) {
      let doc = 2 ** 31;
      for (let i = firstEssential; i < qs.length; i++) {
        const q = qs[i] as QueryTerm;
        if (q.pos < q.list.size) {
          const d = q.list.docs[q.pos] as number;
          if (d < doc) doc = d;
        }
      }
      if (doc === 2 ** 31) break;
      const length = docLength.get(doc);
      contrib.fill(0);
      let partial = 0;
      for (let i = firstEssential; i < qs.length; i++) {
        const q = qs[i] as QueryTerm;
        if (q.pos < q.list.size && q.list.docs[q.pos] === doc) {
          if (length >= 0) {
            const c = q.idf * saturation(q.list.tf(q.pos), length, avgdl);
            contrib[q.slot] = c;
            partial += c;
          }
          q.pos += 1;
        }
      }
      if (length < 0) continue; // a removed version
      this.rowsMet += 1;
      const cut = threshold - bound_slack * Math.abs(threshold);
      let bound = partial + (firstEssential > 0 ? (prefix[firstEssential - 1] as number) : 0);
      let candidate = bound >= cut;
      for (let i = firstEssential - 1; candidate && i >= 0; i--) {
        const q = qs[i] as QueryTerm;
        bound -= q.upper;
        q.pos = q.list.seek(q.pos, doc);
        if (q.pos < q.list.size && q.list.docs[q.pos] === doc) {
          const c = q.idf * saturation(q.list.tf(q.pos), length, avgdl);
          contrib[q.slot] = c;
          bound += c;
        }
        candidate = bound >= cut;
      }
      if (!candidate) continue;
      this.rowsScored += 1;
      let score = 0;
      for (let s = 0; s < slots; s++) score += contrib[s] as number;
      if (!heap.offer(score, this.docRow.get(doc)) || !heap.full) continue;
      threshold = heap.threshold;
      const essentialCut = threshold - bound_slack * Math.abs(threshold);
      while (firstEssential < qs.length && (prefix[firstEssential] as number) < essentialCut) firstEssential += 1;
    }
    return heap.sorted();
  }

  /**
   * The scores of the given rows that hold any of `terms` (absent and non-matching rows left
   * out), best first, ties by the smaller row: search() restricted to these rows, at the cost of
   * a binary search per row and term rather than a walk over every posting.
   */
  scoreRows(terms: readonly string[], rows: readonly number[]): TopKHit[] {
    if (rows.length > k_max) throw new Error(`invariant: ${rows.length} rows to score, at most ${k_max}`);
    if (this.rowDoc.size === 0) return [];
    const avgdl = this.totalLength / this.rowDoc.size;
    const qs = this.queryTerms(terms);
    const hits: TopKHit[] = [];
    for (const row of new Set(rows)) {
      const doc = this.rowDoc.get(row);
      if (doc === undefined) continue;
      const length = this.docLength.get(doc);
      let score = 0;
      let matched = false;
      // summed in query order, as search() does (its absent terms add 0)
      for (const q of qs) {
        const p = q.list.seek(0, doc);
        if (p < q.list.size && q.list.docs[p] === doc) {
          score += q.idf * saturation(q.list.tf(p), length, avgdl);
          matched = true;
        }
      }
      if (matched) hits.push({ row, score });
    }
    return hits.sort((a, b) => b.score - a.score || a.row - b.row);
  }

  /** Scores every live row (the reference search() must equal); for tests and checks. */
  bruteForce(terms: readonly string[], k: number): TopKHit[] {
    if (this.rowDoc.size === 0) return [];
    const avgdl = this.totalLength / this.rowDoc.size;
    const qs = this.queryTerms(terms);
    const slots = qs.length === 0 ? 0 : Math.max(...qs.map((q) => q.slot)) + 1;
    const byDoc = new Map<number, Float64Array>();
    for (const q of qs) {
      for (let p = 0; p < q.list.size; p++) {
        const d = q.list.docs[p] as number;
        const length = this.docLength.get(d);
        if (length < 0) continue;
        let c = byDoc.get(d);
        if (c === undefined) {
          c = new Float64Array(slots);
          byDoc.set(d, c);
        }
        c[q.slot] = q.idf * saturation(q.list.tf(p), length, avgdl);
      }
    }
    const hits: TopKHit[] = [];
    for (const [d, c] of byDoc) {
      let score = 0;
      for (let s = 0; s < slots; s++) score += c[s] as number;
      hits.push({ row: this.docRow.get(d), score });
    }
    return hits.sort((a, b) => b.score - a.score || a.row - b.row).slice(0, k);
  }
}

function assertRow(row: number): void {
  if (!Number.isSafeInteger(row)) throw new Error(`invariant: row id ${row} is not a safe integer`);
}
