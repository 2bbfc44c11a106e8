// Token counting with a real tokenizer: js-tiktoken's cl100k_base ranks (they ship with the
// package; no network), read once per process into the tables bpe.ts merges with (vocab(): about
// 0.1 s; building js-tiktoken's own encoder took 0.8 s idle and 3-5 s while three nodes started on
// 2 cores, before the node could listen).
//
// Special-token text such as "<|endoftext|>" in a document is ordinary text here (encoded as
// its characters), never an error.
//
// tiktoken first splits text with its pattern into pre-tokens and then byte-pair-encodes each
// one on its own, so a count is the sum over pre-tokens and a pre-token's count can be cached
// (words repeat).
//
// Linear time: byte-pair encoding one pre-token costs more than linear in its length (O(n log n)
// here, bpe.ts; quadratic in js-tiktoken), and a pre-token can be a whole document (1 MiB of "x",
// a CJK text without spaces, a base64 blob). So a pre-token longer than pre_token_chars_max is
// cut into pieces of at most that many UTF-16 code units, never between the two halves of a
// surrogate pair (so every piece is whole characters and valid UTF-8), and each piece is encoded
// on its own. Every piece is then bounded work, the total is linear in the text, and equal pieces
// (runs of one character) hit the cache.
//
// Exactness: prose and code have no pre-token that long (words, numbers of at most 3 digits,
// punctuation runs, whitespace runs), so their count is exactly js-tiktoken's (tokens.test.ts
// checks it on real READMEs). A pre-token that is cut can count differently, because a token
// that would have spanned a cut is encoded as two: measured on long runs of letters, base64 and
// CJK (tokens.test.ts) the count moves by at most cut_tokens_drift_max tokens per cut, i.e. a few
// tokens in every pre_token_chars_max characters of such a run (well under 2% of its count). That
// is acceptable because the count is Cairn's own measure, the same on every run and machine (it
// is a pure function of the text, computed once on the leader and carried in the log op), and
// the budgets it enforces (assemble's max_tokens, the token rate limits) are made against this
// same count; what it gives up is agreement with tiktoken only on text no reader would call
// ordinary. encodeTokens cuts the same way, so its ids decode to the text and their number is
// countTokens.

import cl100k from 'js-tiktoken/ranks/cl100k_base';
import { bytePairEncode } from './bpe.ts';
import type { Ranks } from './bpe.ts';

/** Pieces whose counts are cached; the cache is cleared when full. */
export const piece_cache_entries_max = 200_000;
/** A pre-token longer than this (UTF-16 code units) is cut into pieces of at most this many. */
export const pre_token_chars_max = 256;
/** The most a cut moved the count in tokens.test.ts's measurements (see the header). */
export const cut_tokens_drift_max = 2;
/** The async variants give the event loop a turn at least this often (ms of work between turns). */
export const slice_ms_max = 2;

const pieceCounts = new Map<string, number>();
const piecePattern = new RegExp(cl100k.pat_str, 'gu');

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

interface Vocab {
  /** Rank of each token, keyed by its bytes as char codes 0-255 (what bpe.ts looks up). */
  ranks: Ranks;
  /** The bytes of each token, by rank. */
  bytes: Buffer[];
}

let vocabulary: Vocab | null = null;

/**
 * cl100k's ranks as js-tiktoken ships them: lines of `<name> <first rank> <token> <token> ...`,
 * each token base64, ranked from the first rank on in order (js-tiktoken's Tiktoken reads them so).
 */
export function vocab(): Vocab {
  if (vocabulary !== null) return vocabulary;
  const ranks: Ranks = new Map();
  const bytes: Buffer[] = [];
  for (const line of cl100k.bpe_ranks.split('\n')) {
    if (line === '') continue;
    const parts = line.split(' ');
    const first = Number.parseInt(parts[1] ?? '', 10);
    if (!Number.isInteger(first)) throw new Error('cl100k ranks: a line without its first rank (js-tiktoken format changed?)');
    for (let i = 2; i < parts.length; i++) {
      const b = Buffer.from(parts[i] as string, 'base64');
      ranks.set(b.toString('latin1'), first + i - 2);
      bytes[first + i - 2] = b;
    }
  }
  vocabulary = { ranks, bytes };
  return vocabulary;
}

function ranks(): Ranks {
  return vocab().ranks;
}

/** The text of token ids (a cut inside a character decodes to U+FFFD, as js-tiktoken's decode). */
function decodeTokens(ids: number[]): string {
  const { bytes } = vocab();
  return utf8Decoder.decode(Buffer.concat(ids.map((id) => {
    const b = bytes[id];
    if (b === undefined) throw new Error(`invariant: token id ${id} is not in cl100k`);
    return b;
  })));
}

function encodePiece(piece: string): number[] {
  return bytePairEncode(utf8.encode(piece), ranks());
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Characters the pattern is run over at once (see prePieces). */
const window_chars = 4096;

/**
 * The pre-tokens of `text`, the long ones cut (see the header). The pattern is run over windows
 * of window_chars, so that no single regex match can take long (one `\p{L}+` match over 1 MiB of
 * CJK holds the thread for ~0.3 s). A match that ends before the window's end is exactly the
 * match on the whole text (the pattern looks at most one character past a match); one that
 * reaches the end is retried from its start in a new window, unless it fills the whole window:
 * then it is a long pre-token, whose first pieces are taken and matching resumes after them.
 */
export function* tokenPieces(text: string): Generator<string> {
  const re = new RegExp(piecePattern.source, 'gu');
  let pos = 0;
  while (pos < text.length) {
    const last = pos + window_chars >= text.length;
    const window = last ? text.slice(pos) : text.slice(pos, pos + window_chars);
    re.lastIndex = 0;
    let consumed = 0;
    for (let m = re.exec(window); m !== null; m = re.exec(window)) {
      const end = m.index + m[0].length;
      if (end === m.index) throw new Error('invariant: the pre-token pattern matched the empty string');
      if (!last && end >= window.length) {
        if (m.index > 0) break; // retried in the next window, from its start
        // A pre-token at least a window long: its pieces up to the last whole one.
        const take = cutPieces(m[0], window.length - pre_token_chars_max);
        for (const piece of take.pieces) yield piece;
        consumed = take.chars;
        break;
      }
      if (m.index !== consumed) throw new Error('invariant: the pre-token pattern covers every character');
      yield* cut(m[0]);
      consumed = end;
    }
    if (consumed === 0 && !last) throw new Error('invariant: a window makes progress');
    pos += last ? window.length : consumed;
  }
}

/** A pre-token cut into pieces of at most pre_token_chars_max code units, never inside a surrogate pair. */
function* cut(pre: string): Generator<string> {
  if (pre.length <= pre_token_chars_max) {
    yield pre;
    return;
  }
  yield* cutPieces(pre, pre.length).pieces;
}

/** The pieces of `pre` that start before `chars_min`, and the code units they cover. */
function cutPieces(pre: string, chars_min: number): { pieces: string[]; chars: number } {
  const pieces: string[] = [];
  let start = 0;
  while (start < chars_min && start < pre.length) {
    let end = Math.min(start + pre_token_chars_max, pre.length);
    // Never between a high and a low surrogate: the piece ends one code unit earlier.
    if (end < pre.length && isHighSurrogate(pre.charCodeAt(end - 1))) end -= 1;
    if (end <= start) throw new Error('invariant: a piece holds at least one character');
    pieces.push(pre.slice(start, end));
    start = end;
  }
  return { pieces, chars: start };
}

/**
 * Token ids of `text` (special-token text encoded as plain text): js-tiktoken's encode(text, [],
 * []) for ordinary text; long pre-tokens are encoded in pieces (see the header). The ids always
 * decode to `text`.
 */
export function encodeTokens(text: string): number[] {
  const out: number[] = [];
  for (const piece of tokenPieces(text)) {
    for (const id of encodePiece(piece)) out.push(id);
  }
  return out;
}

/** Number of cl100k_base tokens in `text` (see the header for long runs). */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  let n = 0;
  for (const piece of tokenPieces(text)) n += pieceCount(piece);
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

/** Characters encoded between two looks at the clock in the async variants (~0.3 ms at worst). */
const chars_per_clock_check = 512;

function turn(): Promise<void> {
  return new Promise<void>((resolve) => setImmediate(resolve));
}

/** Gives the event loop a turn whenever slice_ms_max of work has passed. */
class Slicer {
  private since = performance.now();
  private chars = 0;
  /** After a piece of `chars` code units: a turn if the slice is used up. */
  async tick(chars: number): Promise<void> {
    this.chars += chars;
    if (this.chars < chars_per_clock_check) return;
    this.chars = 0;
    if (performance.now() - this.since < slice_ms_max) return;
    await turn();
    this.since = performance.now();
  }
}

/** countTokens on a busy node: the same count, in slices of at most ~slice_ms_max between event loop turns. */
export async function countTokensAsync(text: string): Promise<number> {
  if (text.length === 0) return 0;
  const slicer = new Slicer();
  let n = 0;
  for (const piece of tokenPieces(text)) {
    n += pieceCount(piece);
    await slicer.tick(piece.length);
  }
  return n;
}

/** encodeTokens in slices, as countTokensAsync. */
export async function encodeTokensAsync(text: string): Promise<number[]> {
  const slicer = new Slicer();
  const out: number[] = [];
  for (const piece of tokenPieces(text)) {
    for (const id of encodePiece(piece)) out.push(id);
    await slicer.tick(piece.length);
  }
  return out;
}

/**
 * The reference count: js-tiktoken's encode() length, every pre-token encoded whole. Its cost
 * grows faster than linearly in the longest pre-token: for tests and benchmarks, not requests.
 */
export function countTokensExact(text: string): number {
  return text.length === 0 ? 0 : encodeTokensWhole(text).length;
}

/** js-tiktoken's encode(text, [], []) ids, every pre-token encoded whole (see countTokensExact). */
export function encodeTokensWhole(text: string): number[] {
  const out: number[] = [];
  for (const m of text.matchAll(piecePattern)) {
    for (const id of encodePiece(m[0])) out.push(id);
  }
  return out;
}

function prefixOfTokens(text: string, ids: number[], tokens_max: number): string {
  if (tokens_max <= 0) return '';
  if (ids.length <= tokens_max) return text;
  let n = tokens_max;
  let out = decodeTokens(ids.slice(0, n));
  while (n > 0 && out.endsWith('\uFFFD')) {
    n -= 1;
    out = decodeTokens(ids.slice(0, n));
  }
  return out;
}

/**
 * The longest prefix of `text` made of at most `tokens_max` tokens, cut on a token boundary.
 * A cut that would split a character (the decoded tail is a replacement char) drops that token.
 * The result's own token count can differ slightly from the prefix's at the cut; callers that
 * need a hard bound re-count.
 */
export function truncateToTokens(text: string, tokens_max: number): string {
  if (tokens_max <= 0) return '';
  return prefixOfTokens(text, encodeTokens(text), tokens_max);
}

/** truncateToTokens with the encoding done in slices, as countTokensAsync. */
export async function truncateToTokensAsync(text: string, tokens_max: number): Promise<string> {
  if (tokens_max <= 0) return '';
  return prefixOfTokens(text, await encodeTokensAsync(text), tokens_max);
}
