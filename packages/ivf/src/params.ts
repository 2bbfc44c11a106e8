/**
 * Named limits and tuning of the engine. Values marked "measured" come from
 * packages/ivf/bench (see BENCHMARKS.md, section "Vector engine").
 */

/** Largest accepted vector dimension. */
export const dim_max = 65_536;
/** Largest k a search may ask for. */
export const k_max = 10_000;
/** Largest nprobe a search may ask for (values above nlist are clamped to nlist). */
export const nprobe_max = 65_536;
/** Largest number of inverted lists. */
export const nlist_max = 65_536;
/** Longest id and tag, in UTF-16 code units. */
export const id_length_max = 1024;
export const tag_length_max = 1024;
/** Most vectors one index holds. */
export const vectors_max = 50_000_000;
/** Distinct tags one index can hold (tag codes are int32). */
export const tags_max = 1 << 30;

/**
 * Below this many vectors a search scans every vector: IVF routing and probing do not pay.
 * Measured crossover (bench --crossover): see BENCHMARKS.md.
 */
export const exact_scan_size_max = 4096;

/** Training: vectors sampled per centroid at most (FAISS uses 256; 64 keeps JS training fast). */
export const train_sample_per_centroid_max = 64;
/** Training: Lloyd iterations at most. */
export const train_iterations_max = 100;
export const train_iterations_default = 12;
/** Training: above this nlist the k-means runs in two levels (coarse, then within each coarse cell). */
export const train_flat_nlist_max = 64;

/** Retrain policy: due when the index grew by this factor since training. */
export const retrain_growth_factor = 2;
/** Retrain policy: due when the index shrank by this factor since training. */
export const retrain_shrink_factor = 4;
/** Retrain policy: due when imbalance exceeds this multiple of its value right after training. */
export const retrain_imbalance_factor = 2;
/**
 * Retrain policy: due when the mean squared distance of vectors to their centroid grew by this
 * factor since training (new topics far from every centroid).
 */
export const retrain_residual_factor = 1.25;
/** Retrain policy: ...and exceeds this absolute floor (a fresh k-means on skewed data sits near 1.2-2). */
export const retrain_imbalance_min = 3;

/**
 * nlist for n vectors: the power of two nearest to 4*sqrt(n) (1024 at 100k, 4096 at 1M),
 * at most n/16 so lists keep a few vectors each, at least 1.
 */
export function suggestNlist(n: number): number {
  if (!Number.isFinite(n) || n < 1) return 1;
  const target = 4 * Math.sqrt(n);
  const pow = 2 ** Math.round(Math.log2(target));
  const cap = Math.max(1, Math.floor(n / 16));
  return Math.max(1, Math.min(pow, cap, nlist_max));
}

/**
 * nprobe used when a search does not say: nlist/128, at least 8. Deliberately above what the
 * benchmark picks for recall@10 >= 0.95 on clustered data (4 of 1024 lists at 100k), because real
 * embeddings are less clustered; callers who measured their data pass nprobe.
 */
export function defaultNprobe(nlist: number): number {
  if (nlist <= 0) return 1;
  return Math.min(nlist, Math.max(8, Math.round(nlist / 128)));
}
