import type { EmbeddingConfig } from '../config/types.ts';
import { HashingEmbedder } from './hashing.ts';
import { OpenAIEmbedder } from './openai.ts';
import type { Embedder } from './types.ts';

export type { Embedder } from './types.ts';
export { EmbeddingError } from './types.ts';
export { HashingEmbedder } from './hashing.ts';
export { OpenAIEmbedder } from './openai.ts';

/** The embedder named by the config: "hashing" (built in) or "openai" (HTTP). */
export function createEmbedder(cfg: EmbeddingConfig): Embedder {
  switch (cfg.provider) {
    case 'hashing':
      return new HashingEmbedder({ dim: cfg.dim });
    case 'openai':
      return new OpenAIEmbedder({
        url: cfg.url,
        model: cfg.model,
        api_key: cfg.api_key,
        dim: cfg.dim,
        timeout_ms: cfg.timeout_ms,
      });
    default: {
      const provider: never = cfg.provider;
      throw new Error(`embedding.provider: unknown provider ${String(provider)}`);
    }
  }
}
