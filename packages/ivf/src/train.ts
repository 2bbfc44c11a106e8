import { assert } from './errors.ts';
import { centroidNorms, kmeans, nearestCentroid } from './kmeans.ts';
import type { Routing } from './kmeans.ts';
import type { VectorList } from './list-store.ts';
import { train_flat_nlist_max, train_sample_per_centroid_max } from './params.ts';
import { Prng, hash32, hashString } from './prng.ts';

export interface TrainPlan {
  readonly nlist: number;
  readonly seed: number;
  readonly iterations: number;
  readonly routing: Routing;
}

/**
 * Trains nlist centroids over the vectors held in `lists`. The training sample is chosen by a
 * seeded hash of each id and ordered by (hash, id), so the result depends only on the set of
 * (id, vector) pairs and the seed, never on insertion order or list layout.
 *
 * nlist <= train_flat_nlist_max: one flat k-means. Above: two levels, as FAISS's hierarchical
 * option does: sqrt(nlist) coarse centroids, then each coarse cell gets a share of nlist
 * proportional to its sample count and runs its own k-means. This keeps training at about
 * O(sample * (sqrt(nlist) + nlist/sqrt(nlist)) * dim) per iteration instead of O(sample * nlist * dim).
 */
export function trainCentroids(lists: readonly VectorList[], dim: number, plan: TrainPlan): Float32Array {
  const { nlist, seed, iterations, routing } = plan;
  const sampleCap = nlist * train_sample_per_centroid_max;
  const sample = gatherSample(lists, dim, sampleCap, seed);
  const m = sample.length / dim;
  assert(Number.isInteger(m) && m >= nlist, 'training sample holds at least nlist rows');
  const prng = new Prng(seed);
  if (nlist <= train_flat_nlist_max) return kmeans(sample, m, dim, nlist, iterations, prng, routing);

  const k1 = Math.ceil(Math.sqrt(nlist));
  // The sample is in hash order, so any prefix is a uniform random subset.
  const coarseRows = Math.min(m, k1 * train_sample_per_centroid_max);
  const coarse = kmeans(sample, coarseRows, dim, k1, iterations, prng, routing);
  const cnorms = centroidNorms(coarse, k1, dim);
  const cell = new Int32Array(m);
  const cellSize = new Int32Array(k1);
  for (let i = 0; i < m; i++) {
    const c = nearestCentroid(sample, i * dim, coarse, cnorms, k1, dim, routing.spherical);
    cell[i] = c;
    cellSize[c]!++;
  }
  const share = allocateShares(cellSize, nlist);
  const out = new Float32Array(nlist * dim);
  let written = 0;
  for (let c = 0; c < k1; c++) {
    const kc = share[c]!;
    if (kc === 0) continue;
    const rows = Math.min(cellSize[c]!, kc * train_sample_per_centroid_max);
    const group = new Float32Array(rows * dim);
    let g = 0;
    for (let i = 0; i < m && g < rows; i++) {
      if (cell[i] !== c) continue;
      group.set(sample.subarray(i * dim, (i + 1) * dim), g * dim);
      g++;
    }
    assert(g === rows, 'coarse cell gathered its rows');
    const sub = kmeans(group, rows, dim, kc, iterations, new Prng(hash32(seed, c + 1)), routing);
    out.set(sub, written * dim);
    written += kc;
  }
  assert(written === nlist, 'two-level training produced nlist centroids');
  return out;
}

/**
 * Splits nlist among cells in proportion to their sizes (largest remainder, ties to the lower
 * cell), never giving a cell more centroids than rows.
 */
export function allocateShares(sizes: Int32Array, nlist: number): Int32Array {
  let total = 0;
  for (const s of sizes) total += s;
  assert(total >= nlist, 'cells hold at least nlist rows');
  const share = new Int32Array(sizes.length);
  const rem = new Float64Array(sizes.length);
  let given = 0;
  for (let c = 0; c < sizes.length; c++) {
    const exact = (nlist * sizes[c]!) / total;
    share[c] = Math.min(sizes[c]!, Math.floor(exact));
    rem[c] = exact - share[c]!;
    given += share[c]!;
  }
  while (given < nlist) {
    let best = -1;
    for (let c = 0; c < sizes.length; c++) {
      if (share[c]! >= sizes[c]!) continue;
      if (best < 0 || rem[c]! > rem[best]!) best = c;
    }
    assert(best >= 0, 'a cell has room for another centroid');
    share[best]!++;
    rem[best] = rem[best]! - 1;
    given++;
  }
  return share;
}

/**
 * Up to `cap` rows, chosen as the smallest (hash(id, seed), id) pairs, copied in that order into
 * one contiguous array.
 */
function gatherSample(lists: readonly VectorList[], dim: number, cap: number, seed: number): Float32Array {
  let n = 0;
  for (const l of lists) n += l.count;
  assert(n > 0, 'training needs vectors');
  const hashes = new Uint32Array(n);
  const listOf = new Int32Array(n);
  const posOf = new Int32Array(n);
  let i = 0;
  for (let li = 0; li < lists.length; li++) {
    const l = lists[li]!;
    for (let p = 0; p < l.count; p++) {
      hashes[i] = hashString(l.ids[p]!, seed);
      listOf[i] = li;
      posOf[i] = p;
      i++;
    }
  }
  const take = Math.min(cap, n);
  let threshold = 0xffffffff;
  if (take < n) threshold = hashes.slice().sort()[take - 1]!;
  const chosen: number[] = [];
  for (let j = 0; j < n; j++) if (hashes[j]! <= threshold) chosen.push(j);
  const idAt = (j: number): string => lists[listOf[j]!]!.ids[posOf[j]!]!;
  chosen.sort((a, b) => hashes[a]! - hashes[b]! || (idAt(a) < idAt(b) ? -1 : idAt(a) > idAt(b) ? 1 : 0));
  chosen.length = Math.min(chosen.length, take);
  assert(chosen.length === take, 'sample has the planned size');
  const out = new Float32Array(take * dim);
  for (let r = 0; r < take; r++) {
    const j = chosen[r]!;
    out.set(lists[listOf[j]!]!.row(posOf[j]!), r * dim);
  }
  return out;
}
