/** Every way a caller can hand the engine bad input. The message names the problem. */
export type IvfErrorCode =
  | 'bad_dim'
  | 'bad_metric'
  | 'bad_option'
  | 'bad_vector'
  | 'dimension_mismatch'
  | 'not_finite'
  | 'empty_vector'
  | 'zero_vector'
  | 'bad_k'
  | 'bad_nprobe'
  | 'bad_nlist'
  | 'bad_id'
  | 'bad_tag'
  | 'bad_centroids'
  | 'too_few_vectors'
  | 'size_limit';

export class IvfError extends Error {
  readonly code: IvfErrorCode;

  constructor(code: IvfErrorCode, message: string) {
    super(`${code}: ${message}`);
    this.name = 'IvfError';
    this.code = code;
  }
}

/** Invariant check: a failure is a bug in the engine, never bad input. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`ivf invariant violated: ${message}`);
}
