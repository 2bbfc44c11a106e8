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
/**
 * A large text is embedded in slices: every words_per_clock_check words the clock is read, and
 * after slice_ms_max of work the event loop gets a turn, so the node is never stalled for long.
 * Where the turns fall never changes the result.
 */
const words_per_clock_check = 256;
const slice_ms_max = 2;

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

/**
 * Feature key -> count, in first-seen order (the order decides the float sums, so it is part of
 * the embedding's bytes). Open addressing over typed arrays: no Map entries or closures per n-gram.
 */
class FeatureCounts {
  private slots: Int32Array;
  private keys: Int32Array;
  private counts: Uint32Array;
  /** 32 - log2(slot count): the top bits of the multiplied key pick the slot. */
  private shift: number;
  size = 0;

  constructor(expected: number) {
    let cap = 64;
    while (cap < expected * 2) cap *= 2;
    this.shift = 32 - Math.log2(cap);
    this.slots = new Int32Array(cap).fill(-1);
    this.keys = new Int32Array(cap >> 1);
    this.counts = new Uint32Array(cap >> 1);
  }

  bump(h: number, kind: number): void {
    const key = (h & ~3) | kind;
    const mask = this.slots.length - 1;
    let s = Math.imul(key, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const f = this.slots[s] as number;
      if (f === -1) break;
      if (this.keys[f] === key) {
        this.counts[f] = (this.counts[f] as number) + 1;
        return;
      }
      s = (s + 1) & mask;
    }
    if (this.size === this.keys.length) {
      this.grow();
      this.bump(h, kind);
      return;
    }
    this.slots[s] = this.size;
    this.keys[this.size] = key;
    this.counts[this.size] = 1;
    this.size++;
  }

  keyAt(f: number): number {
    return this.keys[f] as number;
  }

  countAt(f: number): number {
    return this.counts[f] as number;
  }

  private grow(): void {
    const keys = this.keys;
    const counts = this.counts;
    const n = this.size;
    const cap = this.slots.length * 2;
    this.shift = 32 - Math.log2(cap);
    this.slots = new Int32Array(cap).fill(-1);
    this.keys = new Int32Array(cap >> 1);
    this.counts = new Uint32Array(cap >> 1);
    this.keys.set(keys);
    this.counts.set(counts);
    const mask = cap - 1;
    for (let f = 0; f < n; f++) {
      let s = Math.imul(keys[f] as number, 0x9e3779b1) >>> this.shift;
      while ((this.slots[s] as number) !== -1) s = (s + 1) & mask;
      this.slots[s] = f;
    }
  }
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
    let words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
    // Text without letters or digits ("!!!", "-> =>") still gets a non-zero vector from its symbols.
    if (words.length === 0) words = text.match(/\S+/gu) ?? [];
    const counts = new FeatureCounts(words.length * 8);
    const wordHashes = words.map((w) => fnvRange(fnvCode(fnv_offset, kind_word), w, 0, w.length));
    const bigramSeed = fnvCode(fnv_offset, kind_bigram);
    const chargramSeed = fnvCode(fnv_offset, kind_chargram);
    const seed3 = fnvCode(chargramSeed, 3);
    const seed4 = fnvCode(chargramSeed, 4);
    let since = performance.now();
    for (let i = 0; i < words.length; i++) {
      if (i > 0 && i % words_per_clock_check === 0 && performance.now() - since >= slice_ms_max) {
        await yieldToEventLoop();
        since = performance.now();
      }
      const word = words[i] ?? '';
      counts.bump(wordHashes[i] ?? 0, kind_word);
      if (i + 1 < words.length) {
        const next = words[i + 1] ?? '';
        counts.bump(fnvRange(fnvCode(fnvRange(bigramSeed, word, 0, word.length), 32), next, 0, next.length), kind_bigram);
      }
      const marked = `<${word.length > word_chars_max ? word.slice(0, word_chars_max) : word}>`;
      for (let j = 0; j + 3 <= marked.length; j++) counts.bump(fnvRange(seed3, marked, j, j + 3), kind_chargram);
      for (let j = 0; j + 4 <= marked.length; j++) counts.bump(fnvRange(seed4, marked, j, j + 4), kind_chargram);
    }
    const acc = new Float64Array(this.dim);
    for (let f = 0; f < counts.size; f++) {
      const key = counts.keyAt(f);
      const count = counts.countAt(f);
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
