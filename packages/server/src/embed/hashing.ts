// A built-in embedder that needs no network and no model: feature hashing.
//
// Features of a text (lowercased, Unicode letters and digits as words):
//   - word unigrams                       weight 1.0
//   - word bigrams                        weight 0.7
//   - character 3- and 4-grams of each word, with "<" and ">" marking its edges  weight 0.35
// Each feature is hashed (FNV-1a, 32 bit) to a bucket in [0, dim) and a sign from an independent
// bit, so collisions cancel out on average instead of piling up. A feature's count becomes
// 1 + ln(count) (sublinear tf) before weighting. The result is L2-normalised, so the dot product
// of two embeddings is their cosine similarity. Same text => same bytes, on every machine.

import type { Embedder } from './types.ts';

export const hashing_dim_default = 384;
const dim_max = 8192;
const word_weight = 1.0;
const bigram_weight = 0.7;
const chargram_weight = 0.35;
/** Words longer than this are cut before character n-grams are taken (long hashes, base64). */
const word_chars_max = 40;

export interface HashingEmbedderOptions {
  dim?: number;
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
    return texts.map((t) => this.embedOne(t));
  }

  embedOne(text: string): Float32Array {
    const counts = new Map<string, number>();
    const bump = (feature: string): void => {
      counts.set(feature, (counts.get(feature) ?? 0) + 1);
    };
    let words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
    // Text without letters or digits ("!!!", "-> =>") still gets a non-zero vector from its symbols.
    if (words.length === 0) words = text.match(/\S+/gu) ?? [];
    for (let i = 0; i < words.length; i++) {
      const word = words[i] ?? '';
      bump(`w:${word}`);
      if (i + 1 < words.length) bump(`b:${word} ${words[i + 1] ?? ''}`);
      const marked = `<${word.slice(0, word_chars_max)}>`;
      for (let n = 3; n <= 4; n++) {
        for (let j = 0; j + n <= marked.length; j++) bump(`c:${marked.slice(j, j + n)}`);
      }
    }
    const v = new Float32Array(this.dim);
    const acc = new Float64Array(this.dim);
    for (const [feature, count] of counts) {
      const kind = feature.charCodeAt(0);
      const weight = kind === 119 /* w */ ? word_weight : kind === 98 /* b */ ? bigram_weight : chargram_weight;
      const h = fnv1a(feature);
      const bucket = (h >>> 1) % this.dim;
      const sign = (h & 1) === 0 ? 1 : -1;
      acc[bucket] = (acc[bucket] ?? 0) + sign * weight * (1 + Math.log(count));
    }
    let norm = 0;
    for (let i = 0; i < acc.length; i++) norm += (acc[i] ?? 0) ** 2;
    norm = Math.sqrt(norm);
    if (norm === 0) return v; // only for text without a single non-space character
    for (let i = 0; i < acc.length; i++) v[i] = (acc[i] ?? 0) / norm;
    return v;
  }
}

/** FNV-1a over UTF-16 code units, 32 bit unsigned. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
