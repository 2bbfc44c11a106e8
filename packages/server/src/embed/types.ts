// The embedder contract. An embedding is computed once, on the leader, before a write is
// logged; it travels inside the log entry, so followers never call an embedder for writes.
// Reads (a query to embed) call the local node's embedder.

export interface Embedder {
  /** Dimension of every vector this embedder returns. */
  readonly dim: number;
  /** Stable name, e.g. "hashing-384" or "openai:text-embedding-3-small". */
  readonly name: string;
  /** One vector per text, in order. Rejects on failure; never returns a partial result. */
  embed(texts: string[]): Promise<Float32Array[]>;
}

/** The embedder could not produce vectors (network, HTTP status, response shape, dimension). */
export class EmbeddingError extends Error {
  override readonly name = 'EmbeddingError';
}
