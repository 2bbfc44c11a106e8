/**
 * Seeded synthetic data for tests and benchmarks. Vector i is a pure function of (seed, i), so
 * data can be generated in chunks, in any order, and exported once for other engines.
 *
 * - mixture: topics with sizes drawn from a heavy-tailed law (some topics 20x bigger than others)
 *   and spreads varying 4x; unit-norm topic centres, Gaussian noise. Well clustered.
 * - medium: the same with wider spreads (clusters overlap).
 * - low: few, very wide topics: close to isotropic noise, little structure for IVF to exploit.
 */
import { Prng, hash32 } from '../src/prng.ts';

export type DataKind = 'mixture' | 'medium' | 'low';
export const data_kinds: readonly DataKind[] = ['mixture', 'medium', 'low'];

export class Mixture {
  readonly dim: number;
  readonly topics: number;
  readonly kind: DataKind;
  private readonly seed: number;
  private readonly centres: Float32Array;
  private readonly spreads: Float64Array;
  /** Cumulative topic weights, for drawing a topic. */
  private readonly cumulative: Float64Array;

  constructor(opts: { n: number; dim: number; seed: number; kind: DataKind; topics?: number }) {
    const { n, dim, seed, kind } = opts;
    this.dim = dim;
    this.kind = kind;
    this.seed = seed;
    this.topics = opts.topics ?? (kind === 'low' ? 16 : Math.max(4, Math.round(n / 100)));
    const prng = new Prng(hash32(seed, 0xc0ffee));
    this.centres = new Float32Array(this.topics * dim);
    this.spreads = new Float64Array(this.topics);
    this.cumulative = new Float64Array(this.topics);
    const [spreadMin, spreadMax] = kind === 'mixture' ? [0.25, 1.0] : kind === 'medium' ? [0.8, 1.6] : [3, 4];
    let total = 0;
    for (let t = 0; t < this.topics; t++) {
      let norm = 0;
      for (let j = 0; j < dim; j++) {
        const x = prng.gaussian();
        this.centres[t * dim + j] = x;
        norm += x * x;
      }
      norm = Math.sqrt(norm);
      for (let j = 0; j < dim; j++) this.centres[t * dim + j] = this.centres[t * dim + j]! / norm;
      this.spreads[t] = spreadMin + (spreadMax - spreadMin) * prng.next();
      total += Math.exp(1.5 * prng.gaussian()); // lognormal sizes
      this.cumulative[t] = total;
    }
    for (let t = 0; t < this.topics; t++) this.cumulative[t] = this.cumulative[t]! / total;
  }

  /** Topic of vector i (cheap: one PRNG draw). */
  topicOf(i: number): number {
    const u = new Prng(hash32(this.seed, i)).next();
    let lo = 0;
    let hi = this.topics - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cumulative[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** Writes vector i into out[off .. off+dim). */
  write(i: number, out: Float32Array, off: number): void {
    const prng = new Prng(hash32(this.seed, i));
    const t = this.topicOf(i);
    prng.next(); // the draw topicOf used
    const s = this.spreads[t]! / Math.sqrt(this.dim);
    for (let j = 0; j < this.dim; j++) out[off + j] = this.centres[t * this.dim + j]! + s * prng.gaussian();
  }

  vector(i: number): Float32Array {
    const v = new Float32Array(this.dim);
    this.write(i, v, 0);
    return v;
  }
}

/** Ids of data vectors; queries use indexes from query_base on, held-out from held_out_base on. */
export const query_base = 1 << 30;
export const held_out_base = (1 << 30) + (1 << 28);
