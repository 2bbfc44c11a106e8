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
// Not persisted: the owner builds it from its rows on start and keeps it in step with each
// apply. Its answers depend only on the rows it holds, never on the order they came in, so every
// replica holding the same rows answers the same.

import { idf, saturation } from './bm25.ts';

export const block_postings = 128;
/** Postings a list reserves room for at first. */
const postings_capacity_min = 4;
const block_shift = 7;
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

class Postings {
  // Typed arrays grown by doubling (4 + 4 bytes a posting, at most twice that reserved); the block
  // maxima are 1/128 of the postings and stay plain arrays.
  docs: Int32Array = new Int32Array(postings_capacity_min);
  tfs: Float32Array = new Float32Array(postings_capacity_min);
  readonly blockMaxTf: number[] = [];
  readonly blockMinLen: number[] = [];
  size = 0;
  /** Live rows holding the term (dead postings excluded). */
  df = 0;

  /** Bytes the two arrays hold (reserved, not only used). */
  get bytes(): number {
    return this.docs.byteLength + this.tfs.byteLength;
  }

  push(doc: number, tf: number, length: number): void {
    const size = this.size;
    if (size > 0 && (this.docs[size - 1] as number) >= doc) throw new Error('invariant: postings appended out of order');
    if (size === this.docs.length) {
      const docs = new Int32Array(size * 2);
      docs.set(this.docs);
      this.docs = docs;
      const tfs = new Float32Array(size * 2);
      tfs.set(this.tfs);
      this.tfs = tfs;
    }
    // float32, so that a rebuilt index holds the same frequencies
    const stored = Math.fround(tf);
    this.docs[size] = doc;
    this.tfs[size] = stored;
    this.size = size + 1;
    const block = size >> block_shift;
    if (block === this.blockMaxTf.length) {
      this.blockMaxTf.push(stored);
      this.blockMinLen.push(length);
      return;
    }
    if (stored > (this.blockMaxTf[block] as number)) this.blockMaxTf[block] = stored;
    if (length < (this.blockMinLen[block] as number)) this.blockMinLen[block] = length;
  }

  /** The largest saturation any posting of the list can have at this avgdl. */
  maxSaturation(avgdl: number): number {
    let best = 0;
    const blocks = this.blockMaxTf.length;
    for (let b = 0; b < blocks; b++) {
      const s = saturation(this.blockMaxTf[b] as number, this.blockMinLen[b] as number, avgdl);
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
  private readonly termIds = new Map<string, number>();
  private lists: Postings[] = [];
  /** internal doc -> row id, length (-1: dead), term ids */
  private docRow: number[] = [];
  private docLength: number[] = [];
  private docTerms: (Int32Array | null)[] = [];
  private readonly rowDoc = new Map<number, number>();
  private totalLength = 0;
  private postings = 0;
  private deadPostings = 0;
  private readonly compactMin: number;

  constructor(opts: { dead_postings_compact_min?: number } = {}) {
    this.compactMin = opts.dead_postings_compact_min ?? dead_postings_compact_min;
    if (!(Number.isInteger(this.compactMin) && this.compactMin >= 1)) throw new Error(`invariant: dead_postings_compact_min ${this.compactMin}`);
  }

  /** Rows held. */
  get size(): number {
    return this.rowDoc.size;
  }

  /** Postings held (dead ones included until a compaction). */
  get postingsHeld(): number {
    return this.postings;
  }

  /** Bytes reserved by the posting lists' typed arrays. */
  postingBytes(): number {
    let n = 0;
    for (const l of this.lists) n += l.bytes;
    return n;
  }

  has(row: number): boolean {
    return this.rowDoc.has(row);
  }

  /** Adds a row, or replaces the row with this id. */
  put(row: number, doc: RowTerms): void {
    assertRow(row);
    if (!(Number.isFinite(doc.length) && doc.length >= 0)) throw new Error(`invariant: row ${row} has length ${doc.length}`);
    this.remove(row);
    const internal = this.docRow.length;
    if (internal >= 2 ** 31 - 1) this.compact();
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
      list.push(this.docRow.length, tf, doc.length);
      list.df += 1;
      ids[i++] = id;
    }
    this.docRow.push(row);
    this.docLength.push(doc.length);
    this.docTerms.push(ids);
    this.rowDoc.set(row, this.docRow.length - 1);
    this.totalLength += doc.length;
    this.postings += ids.length;
  }

  /** Removes a row; absent rows are ignored. */
  remove(row: number): void {
    const internal = this.rowDoc.get(row);
    if (internal === undefined) return;
    const ids = this.docTerms[internal];
    const length = this.docLength[internal] as number;
    if (ids === null || ids === undefined || length < 0) throw new Error(`invariant: row ${row} maps to a dead document`);
    for (const id of ids) (this.lists[id] as Postings).df -= 1;
    this.docTerms[internal] = null;
    this.docLength[internal] = -1;
    this.rowDoc.delete(row);
    this.totalLength -= length;
    this.deadPostings += ids.length;
    if (this.deadPostings >= this.compactMin && this.deadPostings > dead_postings_fraction_max * this.postings) this.compact();
  }

  /** Times the lists were rebuilt without their dead postings. */
  compactions = 0;

  /** Rebuilds every list without dead postings (internal numbers renumbered in order). */
  private compact(): void {
    this.compactions += 1;
    const lists = this.lists.map(() => new Postings());
    const docRow: number[] = [];
    const docLength: number[] = [];
    const docTerms: (Int32Array | null)[] = [];
    for (let d = 0; d < this.docRow.length; d++) {
      const ids = this.docTerms[d];
      if (ids === null || ids === undefined) continue;
      const nd = docRow.length;
      const length = this.docLength[d] as number;
      for (const id of ids) {
        const old = this.lists[id] as Postings;
        const p = old.seek(0, d);
        const list = lists[id] as Postings;
        list.push(nd, old.tfs[p] as number, length);
        list.df += 1;
      }
      docRow.push(this.docRow[d] as number);
      docLength.push(length);
      docTerms.push(ids);
      this.rowDoc.set(this.docRow[d] as number, nd);
    }
    this.lists = lists;
    this.docRow = docRow;
    this.docLength = docLength;
    this.docTerms = docTerms;
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
      const length = docLength[doc] as number;
      contrib.fill(0);
      let partial = 0;
      for (let i = firstEssential; i < qs.length; i++) {
        const q = qs[i] as QueryTerm;
        if (q.pos < q.list.size && q.list.docs[q.pos] === doc) {
          if (length >= 0) {
            const c = q.idf * saturation(q.list.tfs[q.pos] as number, length, avgdl);
            contrib[q.slot] = c;
            partial += c;
          }
          q.pos += 1;
        }
      }
      if (length < 0) continue; // a removed version
      const cut = threshold - bound_slack * Math.abs(threshold);
      let bound = partial + (firstEssential > 0 ? (prefix[firstEssential - 1] as number) : 0);
      let candidate = bound >= cut;
      for (let i = firstEssential - 1; candidate && i >= 0; i--) {
        const q = qs[i] as QueryTerm;
        bound -= q.upper;
        q.pos = q.list.seek(q.pos, doc);
        if (q.pos < q.list.size && q.list.docs[q.pos] === doc) {
          const c = q.idf * saturation(q.list.tfs[q.pos] as number, length, avgdl);
          contrib[q.slot] = c;
          bound += c;
        }
        candidate = bound >= cut;
      }
      if (!candidate) continue;
      let score = 0;
      for (let s = 0; s < slots; s++) score += contrib[s] as number;
      if (!heap.offer(score, this.docRow[doc] as number) || !heap.full) continue;
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
      const length = this.docLength[doc] as number;
      let score = 0;
      let matched = false;
      // summed in query order, as search() does (its absent terms add 0)
      for (const q of qs) {
        const p = q.list.seek(0, doc);
        if (p < q.list.size && q.list.docs[p] === doc) {
          score += q.idf * saturation(q.list.tfs[p] as number, length, avgdl);
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
        const length = this.docLength[d] as number;
        if (length < 0) continue;
        let c = byDoc.get(d);
        if (c === undefined) {
          c = new Float64Array(slots);
          byDoc.set(d, c);
        }
        c[q.slot] = q.idf * saturation(q.list.tfs[p] as number, length, avgdl);
      }
    }
    const hits: TopKHit[] = [];
    for (const [d, c] of byDoc) {
      let score = 0;
      for (let s = 0; s < slots; s++) score += c[s] as number;
      hits.push({ row: this.docRow[d] as number, score });
    }
    return hits.sort((a, b) => b.score - a.score || a.row - b.row).slice(0, k);
  }
}

function assertRow(row: number): void {
  if (!Number.isSafeInteger(row)) throw new Error(`invariant: row id ${row} is not a safe integer`);
}
