// Token counting with a real tokenizer: js-tiktoken's cl100k_base (ranks ship with the package;
// no network). The encoder is built once per process, on first use (~0.5 s).

import { getEncoding } from 'js-tiktoken';
import type { Tiktoken } from 'js-tiktoken';

let encoder: Tiktoken | null = null;

function enc(): Tiktoken {
  encoder ??= getEncoding('cl100k_base');
  return encoder;
}

/** Number of cl100k_base tokens in `text`. */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  return enc().encode(text).length;
}

/**
 * The longest prefix of `text` made of at most `tokens_max` tokens, cut on a token boundary.
 * A cut that would split a character (the decoded tail is a replacement char) drops that token.
 * The result's own token count can differ slightly from the prefix's at the cut; callers that
 * need a hard bound re-count.
 */
export function truncateToTokens(text: string, tokens_max: number): string {
  if (tokens_max <= 0) return '';
  const ids = enc().encode(text);
  if (ids.length <= tokens_max) return text;
  let n = tokens_max;
  let out = enc().decode(ids.slice(0, n));
  while (n > 0 && out.endsWith('\uFFFD')) {
    n -= 1;
    out = enc().decode(ids.slice(0, n));
  }
  return out;
}
