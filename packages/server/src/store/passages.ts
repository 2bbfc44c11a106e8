// Passages: a document cut into consecutive pieces of about `target` tokens, at the places a
// reader would cut it. A pure function of (text, target), run on the leader at prepare time (in
// the prepare pool's threads for large documents, prepare-work.ts); the passages travel in the
// put op, so every replica stores the same ones and apply never splits.
//
// How it cuts:
//   1. Lines are grouped into blocks: a Markdown ATX heading (`# ...`) or setext heading (a line
//      over `===`/`---`), a man page section heading (`.SH`/`.SS`, or an all-capitals line at
//      column 0 such as NAME, SYNOPSIS, SEE ALSO), a fenced code block (``` or ~~~, to its closing
//      fence), a paragraph (lines up to a blank line). Blank lines stay with the block before.
//   2. A block over `target` tokens is cut into units, trying in order: line ends, sentence ends,
//      spaces, then word boundaries (Intl.Segmenter, for scripts written without spaces). A unit
//      that is still over `target` (one word, a run of one letter) is an unsplittable unit and
//      makes a passage of its own.
//   3. Units are packed greedily up to `target`; a heading starts a new passage once the current
//      one holds at least `heading_flush_min` of the target, and a passage never ends on a
//      heading when more follows (the heading goes with its section).
//
// Guarantees (passages.test.ts): passages cover the text exactly, in order (the first starts at
// 0, each starts where the previous ended, the last ends at text.length); every cut is at a line
// start, before a space, after sentence punctuation or at a word boundary, so never inside a
// word, a surrogate pair or a UTF-8 sequence; each passage's `tokens` is countTokens of its text
// and is at most `target` unless the passage is one unsplittable unit. Offsets are UTF-16 code
// units (JavaScript string indices); lines are 1-based and inclusive.

import { countTokens } from './tokens.ts';

export interface Passage {
  /** First UTF-16 code unit of the passage in the document. */
  start: number;
  /** One past the last code unit. */
  end: number;
  /** 1-based line of the first character. */
  line_start: number;
  /** 1-based line of the last character (line_start for an empty passage). */
  line_end: number;
  /** countTokens of text.slice(start, end). */
  tokens: number;
}

export const passage_tokens_target_default = 256;
export const passage_tokens_target_min = 16;
export const passage_tokens_target_max = 8192;
/** A heading starts a new passage when the current one holds at least this fraction of the target. */
export const heading_flush_min = 0.25;
/** Fields per passage in an op's packed passages (start, end, line_start, line_end, tokens). */
export const passage_fields = 5;

interface Unit {
  start: number;
  end: number;
  tokens: number;
  heading: boolean;
}

const fence_re = /^ {0,3}(`{3,}|~{3,})/;
const atx_re = /^ {0,3}#{1,6}(?:[ \t]|$)/;
const setext_re = /^ {0,3}(?:=+|-+)[ \t]*$/;
const man_heading_re = /^(?:\.S[HS](?:\s|$)|[A-Z][A-Z0-9]*(?:[ \-/][A-Z0-9]+){0,5}[ \t]*$)/;
const man_heading_chars_max = 40;

/** Offsets of every line start (0 included). */
function lineStarts(text: string): number[] {
  const out = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) if (i + 1 < text.length) out.push(i + 1);
  return out;
}

/** 1-based line of offset `pos` (binary search over line starts). */
function lineOf(starts: number[], pos: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] as number) <= pos) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

function isBlank(line: string): boolean {
  return line.trim() === '';
}

/** Step 1: blocks covering the text exactly. */
function blocks(text: string, starts: number[]): { start: number; end: number; heading: boolean }[] {
  const out: { start: number; end: number; heading: boolean }[] = [];
  const line = (i: number): string => text.slice(starts[i], starts[i + 1] ?? text.length).replace(/\r?\n$/, '');
  const endOf = (i: number): number => starts[i + 1] ?? text.length;
  let i = 0;
  while (i < starts.length) {
    const first = line(i);
    const begin = starts[i] as number;
    let heading = false;
    let j = i + 1;
    const fence = fence_re.exec(first);
    if (fence !== null) {
      const mark = (fence[1] as string)[0] as string;
      const len = (fence[1] as string).length;
      const close = new RegExp(`^ {0,3}\\${mark}{${len},}[ \\t]*$`);
      while (j < starts.length && !close.test(line(j))) j++;
      if (j < starts.length) j++; // the closing fence
    } else if (atx_re.test(first) || (first.length <= man_heading_chars_max && man_heading_re.test(first) && /[A-Z]{2}|^\.S/.test(first))) {
      heading = true;
    } else if (!isBlank(first)) {
      while (j < starts.length && !isBlank(line(j)) && !fence_re.test(line(j)) && !atx_re.test(line(j))) {
        if (setext_re.test(line(j)) && j === i + 1) {
          heading = true;
          j++;
          break;
        }
        j++;
      }
    }
    // Blank lines stay with the block before.
    while (j < starts.length && isBlank(line(j))) j++;
    out.push({ start: begin, end: endOf(j - 1), heading });
    i = j;
  }
  return out;
}

const segmenter = new Intl.Segmenter('und', { granularity: 'word' });

/** Cut points strictly inside [start, end) at one level; each is a safe offset. */
function cutPoints(text: string, start: number, end: number, level: number): number[] {
  const s = text.slice(start, end);
  const out: number[] = [];
  if (level === 0) {
    for (let i = s.indexOf('\n'); i !== -1 && i + 1 < s.length; i = s.indexOf('\n', i + 1)) out.push(start + i + 1);
  } else if (level === 1) {
    // After sentence punctuation, before the space that follows it.
    for (const m of s.matchAll(/[.!?;:](?=[ \t]+\S)/g)) out.push(start + m.index + 1);
  } else if (level === 2) {
    // Before each run of spaces that is followed by a word.
    for (const m of s.matchAll(/(?<=\S)[ \t]+(?=\S)/g)) out.push(start + m.index);
  } else {
    // Intl.Segmenter takes time quadratic in a run of CJK without a break (measured: 41 s for
    // 32,000 characters), so it runs over windows: a window's boundaries are taken but for its
    // last segment, which the next window starts with. A window that is one segment (a word
    // longer than the window) is skipped whole: no cut inside it.
    let pos = 0;
    while (pos < s.length) {
      const end = Math.min(s.length, pos + segment_window_chars);
      const segs = [...segmenter.segment(s.slice(pos, end))];
      if (end === s.length) {
        for (const seg of segs) if (seg.index > 0) out.push(start + pos + seg.index);
        break;
      }
      const last = segs[segs.length - 1];
      if (segs.length < 2 || last === undefined) {
        pos = end;
        continue;
      }
      for (const seg of segs) if (seg.index > 0) out.push(start + pos + seg.index);
      pos += last.index;
    }
  }
  return out;
}

/** Characters Intl.Segmenter is run over at once (see cutPoints). */
const segment_window_chars = 256;

const levels = 4;

/**
 * Step 2: a span cut into units of at most target tokens where it can be; the first unit at most
 * `first` (room left beside the heading before it, so that a heading and the start of its
 * section make one passage).
 */
function units(
  text: string, start: number, end: number, heading: boolean, target: number, level: number, out: Unit[], first = target, known?: number,
): void {
  const tokens = known ?? countTokens(text.slice(start, end));
  if (tokens <= first || level >= levels) {
    out.push({ start, end, tokens, heading });
    return;
  }
  const cuts = cutPoints(text, start, end, level);
  if (cuts.length === 0) {
    units(text, start, end, heading, target, level + 1, out, first, tokens);
    return;
  }
  // Pieces between cuts, packed greedily into spans of at most target (by summed counts), each
  // span then cut further if it is still too long.
  const bounds = [start, ...cuts, end];
  let spanStart = start;
  let spanTokens = 0;
  let limit = first;
  for (let k = 0; k + 1 < bounds.length; k++) {
    const a = bounds[k] as number;
    const b = bounds[k + 1] as number;
    const t = countTokens(text.slice(a, b));
    if (a > spanStart && spanTokens + t > limit) {
      units(text, spanStart, a, heading, target, level + 1, out, limit);
      spanStart = a;
      spanTokens = 0;
      limit = target;
    }
    spanTokens += t;
  }
  units(text, spanStart, end, heading, target, level + 1, out, limit);
}

/** Splits `text` into passages of about `target` tokens (see the header). Always at least one. */
export function splitPassages(text: string, target: number = passage_tokens_target_default): Passage[] {
  if (!Number.isInteger(target) || target < passage_tokens_target_min || target > passage_tokens_target_max) {
    throw new RangeError(`passage target: expected an integer in [${passage_tokens_target_min}, ${passage_tokens_target_max}], got ${target}`);
  }
  const starts = lineStarts(text);
  if (text.length === 0) return [{ start: 0, end: 0, line_start: 1, line_end: 1, tokens: 0 }];
  const all: Unit[] = [];
  let headingTokens = 0;
  for (const b of blocks(text, starts)) {
    const room = Math.max(Math.floor(target / 2), target - headingTokens);
    units(text, b.start, b.end, b.heading, target, 0, all, b.heading ? target : room);
    headingTokens = b.heading ? headingTokens + ((all[all.length - 1] as Unit).tokens) : 0;
  }
  const out: Passage[] = [];
  const flushMin = target * heading_flush_min;
  let i = 0;
  while (i < all.length) {
    let j = i;
    let sum = 0;
    let onlyHeadings = true;
    while (j < all.length) {
      const u = all[j] as Unit;
      if (j > i && u.heading && !onlyHeadings && sum >= flushMin) break;
      if (j > i && sum + u.tokens > target) break;
      sum += u.tokens;
      onlyHeadings &&= u.heading;
      j++;
    }
    // A passage does not end on its section's heading when more follows.
    if (j < all.length && j - 1 > i && (all[j - 1] as Unit).heading) j--;
    const first = all[i] as Unit;
    let tokens = countTokens(text.slice(first.start, (all[j - 1] as Unit).end));
    // Summed counts can differ from the whole by a token at a cut (BPE); give units back until it fits.
    while (tokens > target && j - 1 > i) {
      j--;
      tokens = countTokens(text.slice(first.start, (all[j - 1] as Unit).end));
    }
    const end = (all[j - 1] as Unit).end;
    out.push({ start: first.start, end, line_start: lineOf(starts, first.start), line_end: lineOf(starts, Math.max(first.start, end - 1)), tokens });
    i = j;
  }
  return out;
}

/** Passages -> little-endian uint32 bytes, passage_fields per passage (the op's encoding). */
export function passagesToBytes(ps: Passage[]): Uint8Array {
  const out = new Uint8Array(ps.length * passage_fields * 4);
  const view = new DataView(out.buffer);
  ps.forEach((p, i) => {
    [p.start, p.end, p.line_start, p.line_end, p.tokens].forEach((v, f) => view.setUint32((i * passage_fields + f) * 4, v, true));
  });
  return out;
}

/** The op's bytes -> passages; throws when the length is not a whole number of passages. */
export function bytesToPassages(b: Uint8Array): Passage[] {
  if (b.byteLength % (passage_fields * 4) !== 0) throw new RangeError(`passage bytes: length ${b.byteLength} is not a multiple of ${passage_fields * 4}`);
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out: Passage[] = [];
  for (let i = 0; i < b.byteLength / (passage_fields * 4); i++) {
    const at = (f: number): number => view.getUint32((i * passage_fields + f) * 4, true);
    out.push({ start: at(0), end: at(1), line_start: at(2), line_end: at(3), tokens: at(4) });
  }
  return out;
}

/** Throws unless `ps` cover a text of `length` code units exactly, in order. */
export function assertPassagesCover(ps: Passage[], length: number, what: string): void {
  if (ps.length === 0) throw new Error(`invariant: ${what} has no passage`);
  let at = 0;
  for (const p of ps) {
    if (p.start !== at) throw new Error(`invariant: ${what}: a passage starts at ${p.start}, expected ${at}`);
    if (p.end < p.start || (p.end === p.start && length > 0)) throw new Error(`invariant: ${what}: an empty or backward passage at ${p.start}`);
    if (p.line_start < 1 || p.line_end < p.line_start) throw new Error(`invariant: ${what}: lines ${p.line_start}-${p.line_end}`);
    at = p.end;
  }
  if (at !== length) throw new Error(`invariant: ${what}: passages end at ${at}, the content at ${length}`);
}

/** The single passage of a document written by an op without passages (an op older than passages). */
export function wholePassage(text: string, tokens: number): Passage {
  const starts = lineStarts(text);
  return { start: 0, end: text.length, line_start: 1, line_end: lineOf(starts, Math.max(0, text.length - 1)), tokens };
}
