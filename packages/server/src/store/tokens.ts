// Token counting with a real tokenizer: js-tiktoken's cl100k_base (ranks ship with the package;
// no network). The encoder is built once per process, on first use (~0.5 s).
//
// Special-token text such as "<|endoftext|>" in a document is ordinary text here (encoded as
// its characters), never an error.
//
// countTokens is the exact count, made fast: tiktoken first splits text with its pattern and
// then byte-pair-encodes each piece on its own, so the count is the sum over pieces and a
// piece's count can be cached (words repeat). tokens.test.ts checks it equals the length of
// encode() on a real corpus and on random text.

import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';
import { bytePairEncode } from './bpe.ts';
import type { Ranks } from './bpe.ts';

/** Pieces whose counts are cached; the cache is cleared when full. */
export const piece_cache_entries_max = 200_000;

let encoder: Tiktoken | null = null;
const pieceCounts = new Map<string, number>();
const piecePattern = new RegExp(cl100k.pat_str, 'gu');

function enc(): Tiktoken {
  // The same encoder getEncoding('cl100k_base') builds, without parsing every other encoding's ranks.
  encoder ??= new Tiktoken(cl100k);
  return encoder;
}

const utf8 = new TextEncoder();

function ranks(): Ranks {
  // js-tiktoken keeps its ranks keyed by the bytes joined with ","; bpe.ts merges with them.
  const map = (enc() as unknown as { rankMap?: Ranks }).rankMap;
  if (!(map instanceof Map)) throw new Error('js-tiktoken: rankMap not found (library version changed?)');
  return map;
}

function encodePiece(piece: string): number[] {
  return bytePairEncode(utf8.encode(piece), ranks());
}

/**
 * Token ids of `text` (special-token text encoded as plain text): the same ids as js-tiktoken's
 * encode(text, [], []), which splits by the pattern and byte-pair-encodes each piece, but with
 * an O(n log n) merge (bpe.ts), so one long unbroken run of characters stays cheap.
 */
export function encodeTokens(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(piecePattern)) {
    for (const id of encodePiece(m[0])) out.push(id);
  }
  return out;
}

/** Number of cl100k_base tokens in `text`. */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  let n = 0;
  for (const m of text.matchAll(piecePattern)) n += pieceCount(m[0]);
  return n;
}

function pieceCount(piece: string): number {
  let c = pieceCounts.get(piece);
  if (c === undefined) {
    c = encodePiece(piece).length;
    if (pieceCounts.size >= piece_cache_entries_max) pieceCounts.clear();
    pieceCounts.set(piece, c);
  }
  return c;
}

/** Pieces counted between two yields to the event loop in countTokensAsync. */
export const yield_every_pieces = 20_000;

/** countTokens for large texts on a busy node: yields to the event loop every so many pieces. */
export async function countTokensAsync(text: string): Promise<number> {
  if (text.length < 64 * 1024) return countTokens(text);
  let n = 0;
  let pieces = 0;
  for (const m of text.matchAll(piecePattern)) {
    if (++pieces % yield_every_pieces === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    n += pieceCount(m[0]);
  }
  return n;
}

/** Number of tokens by a single encode() of the whole text (the reference count). */
export function countTokensExact(text: string): number {
  return text.length === 0 ? 0 : encodeTokens(text).length;
}

/**
 * The longest prefix of `text` made of at most `tokens_max` tokens, cut on a token boundary.
 * A cut that would split a character (the decoded tail is a replacement char) drops that token.
 * The result's own token count can differ slightly from the prefix's at the cut; callers that
 * need a hard bound re-count.
 */
export function truncateToTokens(text: string, tokens_max: number): string {
  if (tokens_max <= 0) return '';
  const ids = encodeTokens(text);
  if (ids.length <= tokens_max) return text;
  let n = tokens_max;
  let out = enc().decode(ids.slice(0, n));
  while (n > 0 && out.endsWith('\uFFFD')) {
    n -= 1;
    out = enc().decode(ids.slice(0, n));
  }
  return out;
}
