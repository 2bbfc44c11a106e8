// Text -> RowTerms the way FTS5's unicode61 tokenizer with remove_diacritics 2 cuts it: tokens
// are runs of Unicode letters, digits and private-use characters, folded to lower case with
// their diacritics removed. With `stem` each token then goes through the Porter stemmer (the
// `stemmer` package), as FTS5's porter tokenizer (documents_fts, passages_fts) does: on the
// 10,468 distinct tokens of the installed npm packages' READMEs the two agree on every ASCII token;
// the 14 that differ are non-ASCII ones FTS5 folds otherwise (final sigma, the micro sign).

import { stemmer } from 'stemmer';
import type { RowTerms } from './index.ts';
import { ShardedMap } from './sharded-map.ts';

/** Stems of tokens seen (a Zipf vocabulary repeats its words): bounded, cleared when full. */
const stem_cache_max = 200_000;
const stemCache = new ShardedMap<string, string>();

/** FTS5's porter tokenizer leaves tokens of more than 64 bytes as they are. */
const porter_bytes_max = 64;

/** The Porter stem of one token (lower case, as tokens() gives them). */
export function stem(token: string): string {
  let s = stemCache.get(token);
  if (s !== undefined) return s;
  s = token.length > porter_bytes_max || Buffer.byteLength(token, 'utf8') > porter_bytes_max ? token : stemmer(token);
  if (stemCache.size >= stem_cache_max) stemCache.clear();
  stemCache.set(token, s);
  return s;
}

const token_pattern = /[\p{L}\p{N}\p{Co}\p{M}]+/gu;
const marks = /\p{M}/gu;

const ascii = /^[\x00-\x7f]*$/;
const ascii_separators = /[^a-z0-9]+/;

/** The tokens of `text`, in order. */
export function tokens(text: string): string[] {
  if (ascii.test(text)) return text.toLowerCase().split(ascii_separators).filter((t) => t.length > 0);
  const out: string[] = [];
  for (const m of text.matchAll(token_pattern)) {
    const t = m[0].normalize('NFD').replace(marks, '').toLowerCase();
    if (t.length > 0) out.push(t);
  }
  return out;
}

/** One row's terms from weighted columns (FTS5's bm25 weights: frequency sums the weights, length counts every token). */
export function rowTerms(columns: readonly { text: string | null; weight: number }[], opts: { stem?: boolean } = {}): RowTerms {
  const stemmed = opts.stem === true;
  const terms = new Map<string, number>();
  let length = 0;
  for (const { text, weight } of columns) {
    if (text === null) continue;
    if (!(weight > 0)) throw new Error(`invariant: column weight ${weight}`);
    for (const raw of tokens(text)) {
      const t = stemmed ? stem(raw) : raw;
      terms.set(t, (terms.get(t) ?? 0) + weight);
      length += 1;
    }
  }
  return { terms, length };
}
