export { IvfError } from './errors.ts';
export type { IvfErrorCode } from './errors.ts';
export { IvfIndex } from './ivf-index.ts';
export type { IvfOptions, IvfStats, Metric, SearchHit, SearchOptions, TrainOptions, TrainingState } from './ivf-index.ts';
export {
  defaultNprobe, dim_max, exact_scan_size_max, k_max, nlist_max, nprobe_max, suggestNlist,
  train_sample_per_centroid_max,
} from './params.ts';
export { assignSnapshot, mergeAssignments, trainSnapshot, vectorFingerprint } from './retrain.ts';
export type { Assignment, RetrainResult, VectorSnapshot } from './retrain.ts';
export { SqliteIvfStore } from './sqlite-store.ts';
