// A built-in embedder that needs no network and no model: feature hashing.
//
// Features of a text (lowercased, Unicode letters and digits as words):
//   - word unigrams                       weight 1.0
//   - word bigrams                        weight 0.7
//   - character 3- and 4-grams of each word, with "<" and ">" marking its edges  weight 0.35
// Each feature is hashed (FNV-1a, 32 bit, seeded per kind) to a bucket in [0, dim) and a sign
// from another bit of the hash, so collisions cancel out on average instead of piling up. A feature's
// count becomes 1 + ln(count) (sublinear tf) before weighting. The result is L2-normalised, so
// the dot product of two embeddings is their cosine similarity. Same text => same bytes, on
// every machine. Features are identified by their 32-bit hash (no strings are built per n-gram).

import type { Embedder } from './types.ts';

export const hashing_dim_default = 384;
const dim_max = 8192;
const word_weight = 1.0;
const bigram_weight = 0.7;
const chargram_weight = 0.35;
/** Words longer than this are cut before character n-grams are taken (long hashes, base64). */
const word_chars_max = 40;
/** Words processed between two yields to the event loop, so a large text does not stall the node. */
const yield_every_words = 20_000;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

const fnv_offset = 0x811c9dc5;
const fnv_prime = 0x01000193;
const kind_word = 1;
const kind_bigram = 2;
const kind_chargram = 3;

export interface HashingEmbedderOptions {
  dim?: number;
}

/** FNV-1a over UTF-16 code units of s[from, to), continuing from `h`. */
function fnvRange(h: number, s: string, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, fnv_prime);
  }
  return h;
}

function fnvCode(h: number, code: number): number {
  return Math.imul(h ^ code, fnv_prime);
}

export class HashingEmbedder implements Embedder {
  readonly dim: number;
  readonly name: string;

  constructor(opts: HashingEmbedderOptions = {}) {
    const dim = opts.dim ?? hashing_dim_default;
    if (!Number.isInteger(dim) || dim < 8 || dim > dim_max) {
      throw new RangeError(`embedding.dim: expected an integer in [8, ${dim_max}], got ${dim}`);
    }
    this.dim = dim;
    this.name = `hashing-${dim}`;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const t of texts) out.push(await this.embedText(t));
    return out;
  }

  private async embedText(text: string): Promise<Float32Array> {
    // Feature key -> count. The key is the hash with its low 2 bits replaced by the kind, which
    // decides the weight; bit 2 gives the sign and the bits above it the bucket.
    const counts = new Map<number, number>();
    const bump = (h: number, kind: number): void => {
      const key = ((h & ~3) | kind) >>> 0;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    };
    let words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
    // Text without letters or digits ("!!!", "-> =>") still gets a non-zero vector from its symbols.
    if (words.length === 0) words = text.match(/\S+/gu) ?? [];
    const wordHashes = words.map((w) => fnvRange(fnvCode(fnv_offset, kind_word), w, 0, w.length));
    for (let i = 0; i < words.length; i++) {
      if (i > 0 && i % yield_every_words === 0) await yieldToEventLoop();
      const word = words[i] ?? '';
      bump(wordHashes[i] ?? 0, kind_word);
      if (i + 1 < words.length) {
        const next = words[i + 1] ?? '';
        bump(fnvRange(fnvCode(fnvRange(fnvCode(fnv_offset, kind_bigram), word, 0, word.length), 32), next, 0, next.length), kind_bigram);
      }
      const marked = `<${word.length > word_chars_max ? word.slice(0, word_chars_max) : word}>`;
      const seed = fnvCode(fnv_offset, kind_chargram);
      for (let n = 3; n <= 4; n++) {
        for (let j = 0; j + n <= marked.length; j++) bump(fnvRange(fnvCode(seed, n), marked, j, j + n), kind_chargram);
      }
    }
    const acc = new Float64Array(this.dim);
    for (const [key, count] of counts) {
      const kind = key & 3;
      const weight = kind === kind_word ? word_weight : kind === kind_bigram ? bigram_weight : chargram_weight;
      const bucket = (key >>> 3) % this.dim;
      const sign = (key & 4) === 0 ? 1 : -1;
      acc[bucket] = (acc[bucket] ?? 0) + sign * weight * (1 + Math.log(count));
    }
    let norm = 0;
    for (let i = 0; i < acc.length; i++) norm += (acc[i] ?? 0) ** 2;
    norm = Math.sqrt(norm);
    const v = new Float32Array(this.dim);
    if (norm === 0) return v; // only for text without a single non-space character
    for (let i = 0; i < acc.length; i++) v[i] = (acc[i] ?? 0) / norm;
    return v;
  }
}
