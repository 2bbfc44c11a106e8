import { Assigner } from './assigner.ts';
import { IvfError, assert } from './errors.ts';
import { VectorList } from './list-store.ts';
import {
  defaultNprobe, dim_max, exact_scan_size_max, k_max, nprobe_max, tags_max, vectors_max,
} from './params.ts';
import { retrainDue } from './policy.ts';
import { scanList, selectLists } from './scan.ts';
import { TopK } from './topk.ts';
import { checkAssignment, fingerprintWords, trainPlanFor, wordsOf } from './retrain.ts';
import type { Assignment, VectorSnapshot } from './retrain.ts';
import { trainCentroids } from './train.ts';
import type {
  IvfOptions, IvfStats, Metric, SearchHit, SearchOptions, TrainOptions, TrainingState,
} from './types.ts';
import { checkCentroids, checkId, checkTag, sameBytes } from './validate.ts';
import { checkVector, dot, l2sq, normalisedCopy } from './vector-math.ts';

export type {
  IvfOptions, IvfStats, Metric, SearchHit, SearchOptions, TrainOptions, TrainingState,
} from './types.ts';

/** Position of a vector: list * loc_list_stride + row. */
const loc_list_stride = 2 ** 26;
const metrics: readonly Metric[] = ['cosine', 'ip', 'l2'];

/**
 * IVF-Flat index. Untrained it holds one list and every search is an exact scan; after
 * applyCentroids() each vector sits in the list of its centroid and a search probes the
 * nprobe lists nearest to the query.
 */
export class IvfIndex {
  readonly dim: number;
  readonly metric: Metric;
  private readonly seed: number;
  private readonly exactScanSizeMax: number;
  private readonly scratch: Float32Array;
  private lists: VectorList[];
  private readonly loc = new Map<string, number>();
  private readonly tagCodes = new Map<string, number>();
  private assigner: Assigner | null = null;
  private trainedAtSize = 0;
  private imbalanceAtTrain = 1;
  /** Mean squared distance of a vector to its centroid right after training (0: unknown). */
  private residualAtTrain = 0;
  /** Sum over held vectors of the squared distance to their list's centroid (0 while untrained). */
  private residualSum = 0;
  /** listVariances() as computed while installing an assignment; dropped at the next change. */
  private variances: Float64Array | null = null;

  constructor(opts: IvfOptions) {
    const { dim, metric = 'cosine', seed = 1, exact_scan_size_max: exactMax = exact_scan_size_max } = opts;
    if (!Number.isInteger(dim) || dim < 1 || dim > dim_max) {
      throw new IvfError('bad_dim', `dim must be an integer in [1, ${dim_max}], got ${dim}`);
    }
    if (!metrics.includes(metric)) throw new IvfError('bad_metric', `metric must be cosine, ip or l2, got ${String(metric)}`);
    if (!Number.isInteger(seed)) throw new IvfError('bad_option', `seed must be an integer, got ${seed}`);
    if (!Number.isInteger(exactMax) || exactMax < 0) {
      throw new IvfError('bad_option', `exact_scan_size_max must be a non-negative integer, got ${exactMax}`);
    }
    this.dim = dim;
    this.metric = metric;
    this.seed = seed;
    this.exactScanSizeMax = exactMax;
    this.scratch = new Float32Array(dim);
    this.lists = [new VectorList(dim)];
  }

  get size(): number {
    return this.loc.size;
  }

  get nlist(): number {
    return this.assigner === null ? 0 : this.assigner.nlist;
  }

  /** Throws the IvfError add() would throw, without changing anything. */
  checkInput(id: string, vector: Float32Array, tag?: string): void {
    checkId(id);
    this.prepare(vector, 'vector');
    if (tag !== undefined) checkTag(tag);
  }

  add(id: string, vector: Float32Array, tag?: string): void {
    checkId(id);
    const v = this.prepare(vector, 'vector');
    const tagCode = this.tagCode(tag, true);
    if (this.loc.has(id)) this.remove(id);
    else if (this.loc.size >= vectors_max) throw new IvfError('size_limit', `index holds ${vectors_max} vectors at most`);
    const list = this.assigner === null ? 0 : this.assigner.assign(v, 0);
    this.place(id, v, list, tagCode);
  }

  /**
   * Adds a vector straight into `list` without routing: for loading lists that were assigned
   * before (SQLite's doc_cluster). `vector` is the caller's original vector (normalised here).
   */
  addAssigned(id: string, vector: Float32Array, list: number, tag?: string): void {
    checkId(id);
    const v = this.prepare(vector, 'vector');
    const lists = Math.max(1, this.nlist);
    if (!Number.isInteger(list) || list < 0 || list >= lists) {
      throw new IvfError('bad_option', `list ${list} is out of range [0, ${lists})`);
    }
    const tagCode = this.tagCode(tag, true);
    if (this.loc.has(id)) this.remove(id);
    else if (this.loc.size >= vectors_max) throw new IvfError('size_limit', `index holds ${vectors_max} vectors at most`);
    this.place(id, v, list, tagCode);
  }

  remove(id: string): boolean {
    checkId(id);
    const at = this.loc.get(id);
    if (at === undefined) return false;
    const list = Math.floor(at / loc_list_stride);
    const pos = at - list * loc_list_stride;
    const l = this.lists[list]!;
    assert(l.ids[pos] === id, 'location map agrees with the list');
    if (this.assigner !== null) {
      this.residualSum = Math.max(0, this.residualSum - this.assigner.residual(l.data, pos * this.dim, list));
    }
    this.variances = null;
    const moved = l.removeAt(pos);
    if (moved !== null) this.loc.set(moved, at);
    this.loc.delete(id);
    return true;
  }

  has(id: string): boolean {
    return this.loc.has(id);
  }

  /** The list holding id (0 while untrained), or -1 when absent. */
  listOf(id: string): number {
    const at = this.loc.get(id);
    return at === undefined ? -1 : Math.floor(at / loc_list_stride);
  }

  search(query: Float32Array, k: number, opts: SearchOptions = {}): SearchHit[] {
    if (!Number.isInteger(k) || k < 1 || k > k_max) throw new IvfError('bad_k', `k must be an integer in [1, ${k_max}], got ${k}`);
    const { nprobe, filter, exact = false } = opts;
    if (nprobe !== undefined && (!Number.isInteger(nprobe) || nprobe < 1 || nprobe > nprobe_max)) {
      throw new IvfError('bad_nprobe', `nprobe must be an integer in [1, ${nprobe_max}], got ${nprobe}`);
    }
    if (filter !== undefined) checkTag(filter);
    const q = this.prepare(query, 'query');
    const filterCode = filter === undefined ? 0 : this.tagCode(filter, false);
    const heap = new TopK(k);
    if (filterCode < 0 || this.size === 0) return [];
    const qnorm = dot(q, 0, q, 0, this.dim);
    const l2 = this.metric === 'l2';
    if (this.assigner === null || exact || this.size <= this.exactScanSizeMax) {
      for (const l of this.lists) scanList(l, q, qnorm, l2, filterCode, heap);
      return heap.sorted();
    }
    const probe = Math.min(nprobe ?? defaultNprobe(this.nlist), this.nlist);
    const order = selectLists(this.assigner, q, probe);
    let scanned = 0;
    for (; scanned < order.length; scanned++) scanList(this.lists[order[scanned]!]!, q, qnorm, l2, filterCode, heap);
    if (heap.size < k && order.length < this.nlist) {
      // Fewer than k hits (small lists or a selective filter): keep probing, nearest lists first.
      const rest = selectLists(this.assigner, q, this.nlist);
      for (let i = scanned; i < rest.length && heap.size < k; i++) {
        scanList(this.lists[rest[i]!]!, q, qnorm, l2, filterCode, heap);
      }
    }
    return heap.sorted();
  }

  /**
   * k-means over the current vectors. Returns nlist*dim centroids and does not change the index:
   * the caller logs them and every replica installs them with applyCentroids().
   */
  train(opts: TrainOptions = {}): Float32Array {
    const { nlist, seed, iterations } = trainPlanFor(this.size, opts, this.seed);
    const centroids = trainCentroids(this.lists, this.dim, {
      nlist, seed, iterations, routing: { spherical: this.metric === 'cosine' },
    });
    assert(centroids.length === nlist * this.dim, 'training returns nlist*dim floats');
    return centroids;
  }

  /**
   * A copy of held vectors, as stored (normalised for cosine), for training or assigning elsewhere
   * (trainSnapshot, assignSnapshot). Without `only`: every vector, in list order. With it: those
   * of its ids that are held, in its order. Row i belongs to ids[i].
   */
  exportVectors(only?: Iterable<string>): VectorSnapshot {
    const dim = this.dim;
    if (only !== undefined) {
      const ids: string[] = [];
      const at: number[] = [];
      for (const id of only) {
        const loc = this.loc.get(id);
        if (loc === undefined) continue;
        ids.push(id);
        at.push(loc);
      }
      const data = new Float32Array(ids.length * dim);
      at.forEach((loc, i) => {
        const li = Math.floor(loc / loc_list_stride);
        data.set(this.lists[li]!.row(loc - li * loc_list_stride), i * dim);
      });
      return { dim, metric: this.metric, ids, data };
    }
    const n = this.size;
    const data = new Float32Array(n * dim);
    const ids = new Array<string>(n);
    let i = 0;
    for (const l of this.lists) {
      data.set(l.data.subarray(0, l.count * dim), i * dim);
      for (let p = 0; p < l.count; p++) ids[i + p] = l.ids[p]!;
      i += l.count;
    }
    assert(i === n, 'export holds every vector');
    return { dim, metric: this.metric, ids, data };
  }

  /**
   * Installs centroids (copied) with a precomputed assignment (trainSnapshot() over an earlier
   * copy of this index). A held vector whose id is in the assignment with the same fingerprint
   * goes to the given list; every other held vector (added or replaced since the copy) is routed
   * here; ids no longer held are skipped. Lists are filled in assignment order, then the routed
   * vectors by id, so the result depends only on the assignment and the set of held vectors,
   * never on the previous list layout.
   */
  applyAssignedCentroids(centroids: Float32Array, assignment: Assignment): { assigned: number; routed: number } {
    const nlist = checkAssignment(centroids, this.dim, assignment);
    const dim = this.dim;
    const assigner = this.assigner !== null && sameBytes(this.assigner.centroids, centroids)
      ? this.assigner
      : new Assigner(centroids.slice(), nlist, dim, this.metric === 'cosine');
    const total = this.size;
    const old = this.lists;
    const words = old.map((l) => wordsOf(l.data));
    const taken = old.map((l) => new Uint8Array(l.count));
    // Placement order: (old list, old row, new list), assignment order first.
    const srcList: number[] = [];
    const srcRow: number[] = [];
    const dst: number[] = [];
    const counts = new Int32Array(nlist);
    const { ids, lists, fingerprints } = assignment;
    let assigned = 0;
    for (let i = 0; i < ids.length; i++) {
      const at = this.loc.get(ids[i]!);
      if (at === undefined) continue; // removed since the copy
      const li = Math.floor(at / loc_list_stride);
      const p = at - li * loc_list_stride;
      if (taken[li]![p] === 1) continue; // a repeated id: its first entry counts
      taken[li]![p] = 1;
      const same = fingerprintWords(words[li]!, p * dim, dim) === fingerprints[i];
      const list = same ? lists[i]! : assigner.assign(old[li]!.data, p * dim);
      if (same) assigned++;
      srcList.push(li);
      srcRow.push(p);
      dst.push(list);
      counts[list]!++;
    }
    const rest: { id: string; li: number; p: number }[] = [];
    old.forEach((l, li) => {
      for (let p = 0; p < l.count; p++) if (taken[li]![p] === 0) rest.push({ id: l.ids[p]!, li, p });
    });
    rest.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const r of rest) {
      const list = assigner.assign(old[r.li]!.data, r.p * dim);
      srcList.push(r.li);
      srcRow.push(r.p);
      dst.push(list);
      counts[list]!++;
    }
    const next = Array.from(counts, (c) => new VectorList(dim, c));
    // Per-list sums of squared distances, added in row order: exactly what listVariances() sums.
    const sums = new Float64Array(nlist);
    this.residualSum = 0;
    for (let k = 0; k < dst.length; k++) {
      const l = old[srcList[k]!]!;
      const p = srcRow[k]!;
      const list = dst[k]!;
      const pos = next[list]!.appendFrom(l, p);
      this.loc.set(l.ids[p]!, list * loc_list_stride + pos);
      const r = assigner.residual(l.data, p * dim, list);
      sums[list] = sums[list]! + r;
      this.residualSum += r;
    }
    this.lists = next;
    this.assigner = assigner;
    this.markTrained();
    this.variances = sums.map((sum, li) => (counts[li] === 0 ? 0 : sum / counts[li]!));
    assert(this.size === total && dst.length === total, 'installing an assignment keeps every vector');
    return { assigned, routed: total - assigned };
  }

  /**
   * Installs centroids (copied) and moves every vector to its list. Deterministic: the lists
   * depend only on the centroid bytes and the vectors.
   */
  applyCentroids(centroids: Float32Array): void {
    const nlist = checkCentroids(centroids, this.dim);
    this.variances = null;
    if (this.assigner !== null && sameBytes(this.assigner.centroids, centroids)) {
      // Same centroids: every vector already sits where a reassignment would put it (add() routes
      // with the same assigner), so only the training bookkeeping changes.
      this.markTrained();
      return;
    }
    const assigner = new Assigner(centroids.slice(), nlist, this.dim, this.metric === 'cosine');
    const total = this.size;
    const target: Int32Array[] = this.lists.map((l) => {
      const t = new Int32Array(l.count);
      for (let p = 0; p < l.count; p++) t[p] = assigner.assign(l.data, p * this.dim);
      return t;
    });
    const counts = new Int32Array(nlist);
    for (const t of target) for (const c of t) counts[c]!++;
    const next = Array.from(counts, (c) => new VectorList(this.dim, c));
    for (let li = 0; li < this.lists.length; li++) {
      const l = this.lists[li]!;
      const t = target[li]!;
      for (let p = 0; p < l.count; p++) {
        const list = t[p]!;
        const pos = next[list]!.append(l.ids[p]!, l.row(p), l.tags[p]!);
        this.loc.set(l.ids[p]!, list * loc_list_stride + pos);
      }
      this.lists[li] = new VectorList(this.dim, 0); // release the old rows early
    }
    this.lists = next;
    this.assigner = assigner;
    this.residualSum = 0;
    for (let li = 0; li < nlist; li++) {
      const l = next[li]!;
      for (let p = 0; p < l.count; p++) this.residualSum += assigner.residual(l.data, p * this.dim, li);
    }
    this.markTrained();
    assert(this.size === total, 'reassignment keeps every vector');
  }

  /** The retrain policy (see policy.ts): grown, shrunk, unbalanced or drifted since training. */
  retrainDue(): boolean {
    if (this.assigner === null) return this.size > this.exactScanSizeMax;
    const s = this.stats();
    return retrainDue(s, this.trainingState(), this.exactScanSizeMax);
  }

  /**
   * Mean squared distance of the vectors to their centroids, relative to its value right after
   * training (1 when unknown). New topics far from every centroid raise it even when they spread
   * evenly over the lists and leave the imbalance flat.
   */
  residualGrowth(): number {
    if (this.assigner === null || this.size === 0 || !(this.residualAtTrain > 0)) return 1;
    return this.residualSum / this.size / this.residualAtTrain;
  }

  /**
   * Restores the training bookkeeping after a load (the lists were filled with addAssigned):
   * retrainDue() then answers as it did before the restart.
   */
  restoreTrainingState(state: TrainingState): void {
    assert(Number.isInteger(state.trained_at_size) && state.trained_at_size >= 0, 'trained_at_size is a count');
    assert(Number.isFinite(state.imbalance_at_train) && state.imbalance_at_train >= 0, 'imbalance is finite');
    assert(Number.isFinite(state.residual_at_train) && state.residual_at_train >= 0, 'residual is finite');
    this.trainedAtSize = state.trained_at_size;
    this.imbalanceAtTrain = state.imbalance_at_train;
    this.residualAtTrain = state.residual_at_train;
  }

  trainingState(): TrainingState {
    return {
      trained_at_size: this.trainedAtSize, imbalance_at_train: this.imbalanceAtTrain, residual_at_train: this.residualAtTrain,
    };
  }

  centroids(): Float32Array | null {
    return this.assigner === null ? null : this.assigner.centroids.slice();
  }

  stats(): IvfStats {
    const n = this.size;
    let max = 0;
    let sq = 0;
    for (const l of this.lists) {
      if (l.count > max) max = l.count;
      sq += l.count * l.count;
    }
    const nlist = this.nlist;
    const imbalance = n === 0 ? 1 : (sq * Math.max(1, nlist)) / (n * n);
    return {
      size: n, nlist, list_size_max: max, imbalance, trained_at_size: this.trainedAtSize,
      residual_growth: this.residualGrowth(),
    };
  }

  /** Sizes of the lists (one entry while untrained). */
  listSizes(): Int32Array {
    return Int32Array.from(this.lists, (l) => l.count);
  }

  /** Vectors a search with these options would scan (for benchmarks), excluding extra probing. */
  scanCount(query: Float32Array, nprobe?: number): number {
    if (this.assigner === null || this.size <= this.exactScanSizeMax) return this.size;
    const q = this.prepare(query, 'query');
    const order = selectLists(this.assigner, q, Math.min(nprobe ?? defaultNprobe(this.nlist), this.nlist));
    let n = 0;
    for (const li of order) n += this.lists[li]!.count;
    return n;
  }

  /** Makes room for `capacity` vectors in `list` (for loading: avoids regrowing). */
  reserve(list: number, capacity: number): void {
    const lists = Math.max(1, this.nlist);
    if (!Number.isInteger(list) || list < 0 || list >= lists) throw new IvfError('bad_option', `list ${list} is out of range [0, ${lists})`);
    if (!Number.isInteger(capacity) || capacity < 0 || capacity > vectors_max) {
      throw new IvfError('bad_option', `capacity must be an integer in [0, ${vectors_max}]`);
    }
    this.lists[list]!.reserve(capacity);
  }

  /** Calls fn(id, list) for every vector (list 0 while untrained), list by list. */
  forEachAssignment(fn: (id: string, list: number) => void): void {
    this.lists.forEach((l, li) => {
      for (let p = 0; p < l.count; p++) fn(l.ids[p]!, li);
    });
  }

  /** Mean squared L2 distance of each list's vectors to its centroid (empty while untrained). */
  listVariances(): Float64Array {
    const a = this.assigner;
    if (a === null) return new Float64Array(0);
    if (this.variances !== null) return this.variances.slice();
    const out = new Float64Array(a.nlist);
    this.lists.forEach((l, li) => {
      let sum = 0;
      for (let p = 0; p < l.count; p++) sum += l2sq(l.data, p * this.dim, a.centroids, li * this.dim, this.dim);
      out[li] = l.count === 0 ? 0 : sum / l.count;
    });
    return out;
  }

  /** Bytes held in typed arrays by the lists and centroids (ids and maps excluded). */
  typedBytes(): number {
    let b = 0;
    for (const l of this.lists) b += l.typedBytes();
    if (this.assigner !== null) b += this.assigner.centroids.byteLength;
    return b;
  }

  private markTrained(): void {
    this.trainedAtSize = this.size;
    this.imbalanceAtTrain = this.stats().imbalance;
    this.residualAtTrain = this.size === 0 ? 0 : this.residualSum / this.size;
  }

  private place(id: string, v: Float32Array, list: number, tagCode: number): void {
    this.variances = null;
    if (this.assigner !== null) this.residualSum += this.assigner.residual(v, 0, list);
    const pos = this.lists[list]!.append(id, v, tagCode);
    assert(pos < loc_list_stride, 'list row fits the location encoding');
    this.loc.set(id, list * loc_list_stride + pos);
  }

  /**
   * Validates a vector; for cosine returns it normalised into a scratch buffer that is only valid
   * until the next call (stored vectors are copied into their list, queries get their own copy).
   */
  private prepare(vector: Float32Array, what: 'vector' | 'query'): Float32Array {
    const v = checkVector(vector, this.dim, what);
    if (this.metric !== 'cosine') return v;
    return normalisedCopy(v, what, what === 'query' ? new Float32Array(this.dim) : this.scratch);
  }

  /** Tag code (0: no tag). Unknown tags get a new code when `create`, else -1. */
  private tagCode(tag: string | undefined, create: boolean): number {
    if (tag === undefined) return 0;
    checkTag(tag);
    const code = this.tagCodes.get(tag);
    if (code !== undefined) return code;
    if (!create) return -1;
    if (this.tagCodes.size >= tags_max) throw new IvfError('size_limit', `at most ${tags_max} distinct tags`);
    const next = this.tagCodes.size + 1;
    this.tagCodes.set(tag, next);
    return next;
  }
}
