// The CPU work of preparing one document for a put: its token count, sha256, its passages
// (passages.ts: the split and each passage's token count) and (with the built-in hashing
// embedder) its vector. A pure function of its input, run inline for small
// documents and in the prepare pool's worker threads for large ones (prepare-pool.ts); both give
// the same bytes, so where it ran never shows in the log.

import { createHash } from 'node:crypto';
import { HashingEmbedder } from '../embed/hashing.ts';
import { passagesToBytes, splitPassages } from './passages.ts';
import { countTokensAsync } from './tokens.ts';

export interface PrepareTask {
  content: string;
  /** Embed with HashingEmbedder of this dimension; null: the caller embeds (or has a vector). */
  hashing_dim: number | null;
  /** Split into passages of about this many tokens (config server.passage_tokens_target). */
  passage_tokens: number;
}

export interface PrepareResult {
  tokens: number;
  content_hash: string;
  vector: Float32Array | null;
  /** The passages, as the op carries them (passagesToBytes). */
  passages: Uint8Array;
}

const embedders = new Map<number, HashingEmbedder>();

export async function prepareWork(task: PrepareTask): Promise<PrepareResult> {
  const content_hash = createHash('sha256').update(task.content, 'utf8').digest('hex');
  const tokens = await countTokensAsync(task.content);
  const passages = passagesToBytes(splitPassages(task.content, task.passage_tokens));
  let vector: Float32Array | null = null;
  if (task.hashing_dim !== null) {
    let e = embedders.get(task.hashing_dim);
    if (e === undefined) {
      e = new HashingEmbedder({ dim: task.hashing_dim });
      embedders.set(task.hashing_dim, e);
    }
    const [v] = await e.embed([task.content]);
    if (v === undefined) throw new Error('invariant: the hashing embedder returned a vector');
    vector = v;
  }
  return { tokens, content_hash, vector, passages };
}
