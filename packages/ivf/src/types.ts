/** Public types of the engine. */

export type Metric = 'cosine' | 'ip' | 'l2';

export interface SearchHit {
  id: string;
  /** Higher is better: cosine similarity, inner product, or minus the squared L2 distance. */
  score: number;
}

export interface IvfOptions {
  dim: number;
  /** Default 'cosine'. */
  metric?: Metric;
  /** Seed for training when train() is not given one. Default 1. */
  seed?: number;
  /** Searches scan every vector while the index holds at most this many. Default: the measured crossover. */
  exact_scan_size_max?: number;
}

export interface SearchOptions {
  /** Lists to probe; default defaultNprobe(nlist); values above nlist are clamped to nlist. */
  nprobe?: number;
  /** Only vectors added with this tag are considered (checked during the scan). */
  filter?: string;
  /** Scan every vector. */
  exact?: boolean;
}

export interface TrainOptions {
  nlist?: number;
  seed?: number;
  iterations?: number;
}

export interface IvfStats {
  size: number;
  nlist: number;
  list_size_max: number;
  /** sum(size_i^2) * nlist / N^2: 1 for equal lists, nlist when one list holds everything. */
  imbalance: number;
  trained_at_size: number;
  /** Mean squared distance to the centroid now / right after training (1 while untrained). */
  residual_growth: number;
}

/** What retrainDue() compares against; persisted so a restarted node answers the same. */
export interface TrainingState {
  trained_at_size: number;
  imbalance_at_train: number;
  residual_at_train: number;
}
