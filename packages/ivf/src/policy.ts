import type { IvfStats, TrainingState } from './types.ts';
import {
  retrain_growth_factor, retrain_imbalance_factor, retrain_imbalance_min, retrain_residual_factor,
  retrain_shrink_factor,
} from './params.ts';

/**
 * Retrain policy for a trained index (packages/ivf/DESIGN.md says why). Due when, since training:
 * - the index grew by retrain_growth_factor (nlist should follow sqrt(N));
 * - it shrank by retrain_shrink_factor and is still past the exact-scan crossover;
 * - imbalance exceeds retrain_imbalance_factor times its post-training value and retrain_imbalance_min;
 * - the mean squared distance to centroids grew by retrain_residual_factor (new topics).
 */
export function retrainDue(stats: IvfStats, state: TrainingState, exactScanSizeMax: number): boolean {
  const n = stats.size;
  if (n >= state.trained_at_size * retrain_growth_factor) return true;
  if (n * retrain_shrink_factor <= state.trained_at_size && n > exactScanSizeMax) return true;
  const imbalance = stats.imbalance;
  if (imbalance > retrain_imbalance_min && imbalance > state.imbalance_at_train * retrain_imbalance_factor) return true;
  return stats.residual_growth > retrain_residual_factor;
}
