// An OpenAI-compatible HTTP embedder: POST {url}/v1/embeddings {model, input} with a bearer key.
// Works with OpenAI, Ollama, text-embeddings-inference and the like. Bounded by a timeout; any
// failure (network, status, shape, dimension) rejects with an EmbeddingError that says what.

import { EmbeddingError } from './types.ts';
import type { Embedder } from './types.ts';

export interface OpenAIEmbedderOptions {
  /** Base URL, e.g. "http://localhost:11434"; "/v1/embeddings" is appended. */
  url: string;
  model: string;
  /** Empty = no Authorization header. */
  api_key: string;
  dim: number;
  timeout_ms: number;
  /** Texts per HTTP request. */
  batch_texts_max?: number;
}

interface EmbeddingsResponse {
  data?: { embedding?: unknown; index?: unknown }[];
}

export class OpenAIEmbedder implements Embedder {
  readonly dim: number;
  readonly name: string;
  private readonly endpoint: string;
  private readonly batchTextsMax: number;

  constructor(private readonly opts: OpenAIEmbedderOptions) {
    if (!opts.url) throw new RangeError('embedding.url: required for provider "openai"');
    if (!opts.model) throw new RangeError('embedding.model: required for provider "openai"');
    if (!Number.isInteger(opts.dim) || opts.dim <= 0) throw new RangeError(`embedding.dim: expected a positive integer, got ${opts.dim}`);
    if (!(opts.timeout_ms > 0)) throw new RangeError(`embedding.timeout_ms: expected > 0, got ${opts.timeout_ms}`);
    this.dim = opts.dim;
    this.name = `openai:${opts.model}`;
    this.endpoint = `${opts.url.replace(/\/+$/, '')}/v1/embeddings`;
    this.batchTextsMax = opts.batch_texts_max ?? 64;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += this.batchTextsMax) {
      out.push(...(await this.embedBatch(texts.slice(i, i + this.batchTextsMax))));
    }
    return out;
  }

  private async embedBatch(input: string[]): Promise<Float32Array[]> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.opts.api_key) headers.authorization = `Bearer ${this.opts.api_key}`;
    let res: Response;
    try {
      res = await fetch(this.endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: this.opts.model, input }),
        signal: AbortSignal.timeout(this.opts.timeout_ms),
      });
    } catch (err) {
      const why = err instanceof Error && err.name === 'TimeoutError' ? `timed out after ${this.opts.timeout_ms} ms` : String(err);
      throw new EmbeddingError(`embedding request to ${this.endpoint} failed: ${why}`);
    }
    const text = await res.text();
    if (!res.ok) {
      throw new EmbeddingError(`embedding request to ${this.endpoint} failed: HTTP ${res.status}: ${text.slice(0, 300)}`);
    }
    let body: EmbeddingsResponse;
    try {
      body = JSON.parse(text) as EmbeddingsResponse;
    } catch {
      throw new EmbeddingError(`embedding response from ${this.endpoint} is not JSON`);
    }
    const data = body.data;
    if (!Array.isArray(data) || data.length !== input.length) {
      throw new EmbeddingError(`embedding response from ${this.endpoint}: expected data[] with ${input.length} items`);
    }
    const ordered = [...data].sort((a, b) => (Number(a.index) || 0) - (Number(b.index) || 0));
    return ordered.map((item, i) => {
      const e = item.embedding;
      if (!Array.isArray(e) || !e.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        throw new EmbeddingError(`embedding response from ${this.endpoint}: data[${i}].embedding is not an array of numbers`);
      }
      if (e.length !== this.dim) {
        throw new EmbeddingError(`embedding response from ${this.endpoint}: dimension ${e.length}, configured embedding.dim is ${this.dim}`);
      }
      return Float32Array.from(e as number[]);
    });
  }
}
