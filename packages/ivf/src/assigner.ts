import { assert } from './errors.ts';
import { centroidNorms, kmeans, nearestCentroid, routeScore } from './kmeans.ts';
import { Prng } from './prng.ts';
import { l2sq } from './vector-math.ts';

/** Up to this nlist a vector's list is its exact nearest centroid. */
export const assign_exact_nlist_max = 256;
/** Above it, centroids are grouped (k-means over the centroids) and this many groups are searched. */
export const assign_groups_probe = 6;
/** Seed and iterations of the grouping k-means: constants, so grouping is a pure function of the centroids. */
const group_seed = 0x1f2e3d4c;
const group_iterations = 8;

/**
 * Decides which list a vector belongs to. A pure function of the centroid bytes: the same
 * centroids and the same vector give the same list on every node, whatever happened before.
 *
 * For large nlist an exact scan of every centroid per vector makes reassignment O(N * nlist * dim)
 * (about 30 minutes in plain JS for 1M x 384 at nlist 4096), so the centroids are grouped and a
 * vector is compared only with the centroids of its `assign_groups_probe` nearest groups.
 */
export class Assigner {
  readonly nlist: number;
  readonly dim: number;
  readonly spherical: boolean;
  readonly centroids: Float32Array;
  readonly cnorms: Float64Array;
  private readonly groups: Float32Array | null;
  private readonly gnorms: Float64Array | null;
  private readonly members: Int32Array[];
  private readonly groupScores: Float64Array;
  private readonly groupsProbe: number;

  constructor(
    centroids: Float32Array, nlist: number, dim: number, spherical: boolean, groupsProbe: number = assign_groups_probe,
  ) {
    assert(Number.isInteger(groupsProbe) && groupsProbe >= 1, 'groups probed is a positive integer');
    this.groupsProbe = groupsProbe;
    assert(centroids.length === nlist * dim && nlist > 0, 'assigner centroids are nlist*dim');
    this.nlist = nlist;
    this.dim = dim;
    this.spherical = spherical;
    this.centroids = centroids;
    this.cnorms = centroidNorms(centroids, nlist, dim);
    this.members = [];
    if (nlist <= assign_exact_nlist_max) {
      this.groups = null;
      this.gnorms = null;
      this.groupScores = new Float64Array(0);
      return;
    }
    const g = Math.ceil(Math.sqrt(nlist));
    this.groups = kmeans(centroids, nlist, dim, g, group_iterations, new Prng(group_seed), { spherical });
    this.gnorms = centroidNorms(this.groups, g, dim);
    const buckets: number[][] = Array.from({ length: g }, () => []);
    for (let c = 0; c < nlist; c++) {
      buckets[nearestCentroid(centroids, c * dim, this.groups, this.gnorms, g, dim, spherical)]!.push(c);
    }
    for (const b of buckets) this.members.push(Int32Array.from(b));
    this.groupScores = new Float64Array(g);
  }

  /** Squared L2 distance from x to the centroid of `list`. */
  residual(x: Float32Array, xOff: number, list: number): number {
    assert(Number.isInteger(list) && list >= 0 && list < this.nlist, 'list is in range');
    return l2sq(x, xOff, this.centroids, list * this.dim, this.dim);
  }

  /** The list for the vector at x[xOff .. xOff+dim). Ties go to the lowest list number. */
  assign(x: Float32Array, xOff: number): number {
    if (this.groups === null || this.gnorms === null) {
      return nearestCentroid(x, xOff, this.centroids, this.cnorms, this.nlist, this.dim, this.spherical);
    }
    const g = this.members.length;
    for (let i = 0; i < g; i++) {
      this.groupScores[i] = routeScore(x, xOff, this.groups, i, this.gnorms, this.dim, this.spherical);
    }
    const probe = Math.min(this.groupsProbe, g);
    let best = -1;
    let bestScore = -Infinity;
    const taken = new Uint8Array(g);
    for (let p = 0; p < probe; p++) {
      let gi = -1;
      for (let i = 0; i < g; i++) {
        if (taken[i] === 0 && (gi < 0 || this.groupScores[i]! > this.groupScores[gi]!)) gi = i;
      }
      assert(gi >= 0, 'a group is left to probe');
      taken[gi] = 1;
      for (const c of this.members[gi]!) {
        const s = routeScore(x, xOff, this.centroids, c, this.cnorms, this.dim, this.spherical);
        if (s > bestScore || (s === bestScore && c < best)) {
          bestScore = s;
          best = c;
        }
      }
    }
    if (best < 0) {
      // Every probed group was empty (only possible with duplicate centroids): scan them all.
      return nearestCentroid(x, xOff, this.centroids, this.cnorms, this.nlist, this.dim, this.spherical);
    }
    return best;
  }
}
