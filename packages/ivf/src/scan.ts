import type { Assigner } from './assigner.ts';
import { assert } from './errors.ts';
import { routeScore } from './kmeans.ts';
import type { VectorList } from './list-store.ts';
import type { TopK } from './topk.ts';
import { dot } from './vector-math.ts';

/**
 * Scores every row of `list` against q and offers it to `heap`. The tag filter is checked
 * before the distance, so filtered-out rows cost one integer compare. L2 uses the stored
 * squared norms: -(|q|^2 + |x|^2 - 2 q.x).
 */
export function scanList(
  list: VectorList, q: Float32Array, qnorm: number, l2: boolean, filterCode: number, heap: TopK,
): void {
  const { data, norms, tags, ids, count, dim } = list;
  let threshold = heap.threshold();
  for (let j = 0; j < count; j++) {
    if (filterCode !== 0 && tags[j] !== filterCode) continue;
    const d = dot(q, 0, data, j * dim, dim);
    const s = l2 ? Math.min(0, 2 * d - norms[j]! - qnorm) : d;
    if (s < threshold) continue;
    heap.push(s, ids[j]!);
    threshold = heap.threshold();
  }
}

/** The `probe` lists nearest to q, nearest first (ties: lower list number first). */
export function selectLists(assigner: Assigner, q: Float32Array, probe: number): Int32Array {
  const { nlist, dim, centroids, cnorms, spherical } = assigner;
  assert(Number.isInteger(probe) && probe >= 1 && probe <= nlist, 'probe count is in [1, nlist]');
  const scores = new Float64Array(nlist);
  for (let c = 0; c < nlist; c++) scores[c] = routeScore(q, 0, centroids, c, cnorms, dim, spherical);
  if (probe * 4 >= nlist) {
    const all = new Int32Array(nlist);
    for (let c = 0; c < nlist; c++) all[c] = c;
    all.sort((a, b) => scores[b]! - scores[a]! || a - b);
    return all.subarray(0, probe);
  }
  // Min-heap of the best `probe` lists; root is the worst kept.
  const heap = new Int32Array(probe);
  let size = 0;
  const worse = (a: number, b: number): boolean => scores[a]! < scores[b]! || (scores[a] === scores[b] && a > b);
  for (let c = 0; c < nlist; c++) {
    if (size < probe) {
      let i = size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(c, heap[p]!)) break;
        heap[i] = heap[p]!;
        i = p;
      }
      heap[i] = c;
      continue;
    }
    if (!worse(heap[0]!, c)) continue;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) break;
      const r = l + 1;
      const m = r < size && worse(heap[r]!, heap[l]!) ? r : l;
      if (!worse(heap[m]!, c)) break;
      heap[i] = heap[m]!;
      i = m;
    }
    heap[i] = c;
  }
  heap.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return heap;
}
