import { assert } from './errors.ts';
import type { Prng } from './prng.ts';
import { dot, l2sq } from './vector-math.ts';

/** Relative perturbation used when an empty cluster takes over half of a big one (as FAISS does). */
const split_epsilon = 1 / 1024;

/**
 * How vectors are routed to centroids. `spherical`: vectors and centroids are unit length and
 * the nearest centroid is the one with the largest dot product (cosine). Otherwise the nearest
 * in L2, computed as the largest `x.c - |c|^2/2`.
 */
export interface Routing {
  readonly spherical: boolean;
}

/** Squared norms of k centroids (used by L2 routing). */
export function centroidNorms(centroids: Float32Array, k: number, dim: number): Float64Array {
  assert(centroids.length === k * dim, 'centroid array is k*dim');
  const out = new Float64Array(k);
  for (let c = 0; c < k; c++) out[c] = dot(centroids, c * dim, centroids, c * dim, dim);
  return out;
}

/** Routing score of x against centroid c: higher is nearer. */
export function routeScore(
  x: Float32Array, xOff: number, centroids: Float32Array, c: number, cnorms: Float64Array, dim: number,
  spherical: boolean,
): number {
  const d = dot(x, xOff, centroids, c * dim, dim);
  return spherical ? d : d - 0.5 * cnorms[c]!;
}

/** Index of the nearest centroid to x (ties: the lowest index). */
export function nearestCentroid(
  x: Float32Array, xOff: number, centroids: Float32Array, cnorms: Float64Array, k: number, dim: number,
  spherical: boolean,
): number {
  assert(k > 0, 'at least one centroid');
  let best = 0;
  let bestScore = -Infinity;
  for (let c = 0; c < k; c++) {
    const s = routeScore(x, xOff, centroids, c, cnorms, dim, spherical);
    if (s > bestScore) {
      bestScore = s;
      best = c;
    }
  }
  return best;
}

/**
 * Flat k-means over n rows of `data` (row-major, dim floats a row): k-means++ initialisation
 * from `prng`, at most `iterations` Lloyd steps (stops early when no assignment changes),
 * empty clusters repaired by splitting a large one. Returns k*dim centroids.
 */
export function kmeans(
  data: Float32Array, n: number, dim: number, k: number, iterations: number, prng: Prng, routing: Routing,
): Float32Array {
  assert(Number.isInteger(n) && n > 0 && data.length >= n * dim, 'kmeans data holds n rows');
  assert(Number.isInteger(k) && k > 0 && k <= n, 'kmeans needs 1 <= k <= n');
  assert(Number.isInteger(iterations) && iterations >= 0, 'kmeans iterations is a count');
  const centroids = initPlusPlus(data, n, dim, k, prng);
  if (routing.spherical) normaliseRows(centroids, k, dim);
  const assign = new Int32Array(n).fill(-1);
  const sums = new Float64Array(k * dim);
  const sizes = new Int32Array(k);
  for (let it = 0; it < iterations; it++) {
    const cnorms = centroidNorms(centroids, k, dim);
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const c = nearestCentroid(data, i * dim, centroids, cnorms, k, dim, routing.spherical);
      if (assign[i] !== c) changed++;
      assign[i] = c;
    }
    if (changed === 0) break;
    sums.fill(0);
    sizes.fill(0);
    for (let i = 0; i < n; i++) {
      const c = assign[i]!;
      sizes[c]!++;
      const off = c * dim;
      const xOff = i * dim;
      for (let j = 0; j < dim; j++) sums[off + j]! += data[xOff + j]!;
    }
    for (let c = 0; c < k; c++) {
      const size = sizes[c]!;
      if (size === 0) continue;
      for (let j = 0; j < dim; j++) centroids[c * dim + j] = sums[c * dim + j]! / size;
    }
    repairEmpty(centroids, sizes, n, k, dim, prng);
    if (routing.spherical) normaliseRows(centroids, k, dim);
  }
  for (let i = 0; i < centroids.length; i++) assert(Number.isFinite(centroids[i]), 'centroids are finite');
  return centroids;
}

/** k-means++: each next centroid drawn with probability proportional to squared distance. */
function initPlusPlus(data: Float32Array, n: number, dim: number, k: number, prng: Prng): Float32Array {
  const centroids = new Float32Array(k * dim);
  const dist = new Float64Array(n).fill(Infinity);
  let pick = prng.int(n);
  for (let c = 0; c < k; c++) {
    centroids.set(data.subarray(pick * dim, (pick + 1) * dim), c * dim);
    if (c === k - 1) break;
    let total = 0;
    for (let i = 0; i < n; i++) {
      const d = l2sq(data, i * dim, centroids, c * dim, dim);
      if (d < dist[i]!) dist[i] = d;
      total += dist[i]!;
    }
    if (!(total > 0)) {
      // Every row coincides with a chosen centroid (duplicates): take rows in order.
      pick = (pick + 1) % n;
      continue;
    }
    let r = prng.next() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= dist[i]!;
      if (r < 0) {
        pick = i;
        break;
      }
    }
  }
  return centroids;
}

/** FAISS-style repair: an empty cluster takes over half of a cluster drawn by size. */
function repairEmpty(
  centroids: Float32Array, sizes: Int32Array, n: number, k: number, dim: number, prng: Prng,
): void {
  if (n <= k) return;
  for (let ci = 0; ci < k; ci++) {
    if (sizes[ci] !== 0) continue;
    let cj = 0;
    for (;;) {
      const p = (sizes[cj]! - 1) / (n - k);
      if (prng.next() < p) break;
      cj = (cj + 1) % k;
    }
    centroids.copyWithin(ci * dim, cj * dim, (cj + 1) * dim);
    for (let j = 0; j < dim; j++) {
      const up = j % 2 === 0;
      centroids[ci * dim + j] = centroids[ci * dim + j]! * (up ? 1 + split_epsilon : 1 - split_epsilon);
      centroids[cj * dim + j] = centroids[cj * dim + j]! * (up ? 1 - split_epsilon : 1 + split_epsilon);
    }
    const half = sizes[cj]! >> 1;
    sizes[ci] = half;
    sizes[cj] = sizes[cj]! - half;
  }
}

/** Scales each row to unit length (rows of norm 0 are left as they are). */
export function normaliseRows(rows: Float32Array, k: number, dim: number): void {
  for (let c = 0; c < k; c++) {
    const norm = Math.sqrt(dot(rows, c * dim, rows, c * dim, dim));
    if (!(norm > 0)) continue;
    for (let j = 0; j < dim; j++) rows[c * dim + j] = rows[c * dim + j]! / norm;
  }
}
