// Text -> RowTerms the way FTS5's unicode61 tokenizer with remove_diacritics 2 cuts it: tokens
// are runs of Unicode letters, digits and private-use characters, folded to lower case with
// their diacritics removed. FTS5's porter stemming (documents_fts) is not applied: words that
// differ by a suffix ("index", "indexes") are different terms here.

import type { RowTerms } from './index.ts';

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
export function rowTerms(columns: readonly { text: string | null; weight: number }[]): RowTerms {
  const terms = new Map<string, number>();
  let length = 0;
  for (const { text, weight } of columns) {
    if (text === null) continue;
    if (!(weight > 0)) throw new Error(`invariant: column weight ${weight}`);
    for (const t of tokens(text)) {
      terms.set(t, (terms.get(t) ?? 0) + weight);
      length += 1;
    }
  }
  return { terms, length };
}
