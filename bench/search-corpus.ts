// The search bench's corpus and queries: seeded, so the same arguments give the same bytes.
//
// Vocabulary: `vocabulary_words` distinct pseudo-words built from syllables, shorter words at
// the frequent ranks (as in natural languages); English stopwords are left out so that every
// word counts in Cairn's query (it drops stopwords). Word frequencies follow Zipf's law with
// exponent `zipf_s` (rank r drawn with probability ~ 1/r^s), so a handful of words fill most of
// the text and tens of thousands appear rarely.
// Documents: lengths with density ~ n^-1.5 in [words_min, words_max] (many short pages, a long
// tail of long ones; mean ~710 words),
// sentences of 6-20 words, a paragraph break every 3-7 sentences, a heading on the first line.
// Queries (2-8 words) the way users ask:
//   45 %  a run of consecutive words from a random document (a phrase someone remembers)
//   30 %  such a run with one or two words replaced by noise (a frequent word or a rare one)
//   25 %  a topic: one or two frequent words with rare ones (ranks 1,000 to the end)

export const vocabulary_words = 50_000;
export const zipf_s = 1.0;
export const words_min = 100;
export const words_max = 5_000;

const stopwords = new Set(
  ('a an and are as at be but by for from has have how i if in into is it its of on or that the their then there these they ' +
    'this to was were what when where which who will with you your can do does not no so than too very just we our')
    .split(' '),
);

/** mulberry32, [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const onsets = ['b', 'c', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'z', 'br', 'tr', 'st', 'pl', 'gr', 'sh', 'ch', 'th'];
const nuclei = ['a', 'e', 'i', 'o', 'u', 'ai', 'ou', 'ea'];
const codas = ['', '', '', 'n', 'r', 'l', 'm', 'x', 'nt', 'rd', 'sk'];

export class Corpus {
  readonly words: string[] = [];
  private readonly cdf: Float64Array;

  constructor(readonly seed: number) {
    const rand = rng(seed);
    const seen = new Set<string>();
    for (let syllables = 1; this.words.length < vocabulary_words; syllables = Math.min(syllables + 1, 5)) {
      // Fill each length before the next: more and more words per length as lengths grow.
      const want = Math.min(vocabulary_words - this.words.length, 200 * 8 ** (syllables - 1));
      let tries = 0;
      const before = this.words.length;
      while (this.words.length - before < want && tries < want * 20) {
        tries += 1;
        let w = '';
        for (let s = 0; s < syllables; s++) {
          w += (onsets[Math.floor(rand() * onsets.length)] as string) + (nuclei[Math.floor(rand() * nuclei.length)] as string);
        }
        w += codas[Math.floor(rand() * codas.length)] as string;
        if (seen.has(w) || stopwords.has(w)) continue;
        seen.add(w);
        this.words.push(w);
      }
    }
    this.cdf = new Float64Array(vocabulary_words);
    let acc = 0;
    for (let r = 0; r < vocabulary_words; r++) {
      acc += 1 / (r + 1) ** zipf_s;
      this.cdf[r] = acc;
    }
    for (let r = 0; r < vocabulary_words; r++) this.cdf[r] = (this.cdf[r] as number) / acc;
  }

  /** A word rank drawn by Zipf's law (0: the most frequent). */
  zipfRank(rand: () => number): number {
    const u = rand();
    let lo = 0;
    let hi = vocabulary_words - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Document i: its own seeded stream, so any document can be made without the others. */
  document(i: number): { id: string; path: string; content: string } {
    const rand = rng((this.seed * 1_000_003 + i * 7919) >>> 0);
    // inverse CDF of the density ~ n^-1.5 on [words_min, words_max]
    const a = words_min ** -0.5;
    const b = words_max ** -0.5;
    const n = Math.round((a - rand() * (a - b)) ** -2);
    const parts: string[] = [];
    const title = Array.from({ length: 2 + Math.floor(rand() * 4) }, () => this.words[this.zipfRank(rand)] as string);
    parts.push(`# ${title.join(' ')}\n\n`);
    let written = 0;
    let sentencesLeft = 3 + Math.floor(rand() * 5);
    while (written < n) {
      const len = Math.min(n - written, 6 + Math.floor(rand() * 15));
      const s: string[] = [];
      for (let j = 0; j < len; j++) s.push(this.words[this.zipfRank(rand)] as string);
      const first = s[0] as string;
      s[0] = first.charAt(0).toUpperCase() + first.slice(1);
      written += len;
      sentencesLeft -= 1;
      const end = sentencesLeft === 0 ? '.\n\n' : '. ';
      if (sentencesLeft === 0) sentencesLeft = 3 + Math.floor(rand() * 5);
      parts.push(s.join(' ') + end);
    }
    const dir = this.words[this.zipfRank(rand) % 500] as string;
    return { id: `doc-${i}`, path: `docs/${dir}/${title[0] as string}-${i}.md`, content: parts.join('').trimEnd() };
  }

  /** `count` queries over documents [0, docs). */
  queries(docs: number, count: number, seed: number): string[] {
    const rand = rng(seed);
    const out: string[] = [];
    for (let q = 0; q < count; q++) {
      const len = 2 + Math.floor(rand() * 7);
      const kind = rand();
      if (kind < 0.75) {
        const words = this.document(Math.floor(rand() * docs)).content.toLowerCase().match(/[a-z]+/g) ?? [];
        const start = Math.floor(rand() * Math.max(1, words.length - len));
        const run = words.slice(start, start + len);
        if (kind >= 0.45) {
          const noise = 1 + Math.floor(rand() * 2);
          for (let j = 0; j < noise; j++) {
            const at = Math.floor(rand() * run.length);
            run[at] = rand() < 0.5 ? (this.words[this.zipfRank(rand)] as string) : (this.words[1000 + Math.floor(rand() * (vocabulary_words - 1000))] as string);
          }
        }
        out.push(run.join(' '));
      } else {
        const common = 1 + Math.floor(rand() * 2);
        const run: string[] = [];
        for (let j = 0; j < len; j++) {
          run.push(j < common ? (this.words[Math.floor(rand() * 200)] as string) : (this.words[1000 + Math.floor(rand() * (vocabulary_words - 1000))] as string));
        }
        out.push(run.join(' '));
      }
    }
    return out;
  }
}
