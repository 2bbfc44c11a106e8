// ETags and write preconditions.
//
// A document's ETag is derived from what it stores, never from a clock or a counter, so every
// replica computes the same one from the same row: the first 32 hex digits of sha256 over the
// JSON array [content_hash, path, language, metadata] (metadata as the canonical JSON text the
// row holds, or null). A JSON array of strings and nulls is an unambiguous encoding. The vector is
// not part of it: a client-supplied vector changes nothing the ETag covers.
//
// A precondition travels in the op (op.ts) and is evaluated by apply against the current row, in
// the same transaction as the write, so its outcome is the same on every replica.

import { createHash } from 'node:crypto';

export const etag_hex_chars = 32;
/** Longest entity-tag value accepted in a precondition (ours are etag_hex_chars long). */
export const etag_chars_max = 128;
/** Most entity tags one If-Match may list. */
export const if_match_etags_max = 16;

/**
 * One entry of an If-Match list as the op carries it: a strong tag unquoted (`3f2a...`), a weak
 * tag as written (`W/"3f2a..."`). Strong comparison: a weak entry never equals a document's ETag.
 */
export const if_match_entry_pattern = new RegExp(
  `^(?:W/"[\\x21\\x23-\\x7e]{1,${etag_chars_max}}"|[\\x21\\x23-\\x7e]{1,${etag_chars_max}})$`,
);

/** `*`: the document must exist. A list: its ETag must be one of them. */
export type IfMatch = '*' | string[];

/** At most one of the two is set. */
export interface Precondition {
  if_match?: IfMatch;
  /** Create only: the document must be absent. */
  if_none_match?: true;
}

export interface EtagFields {
  content_hash: string;
  path: string | null;
  language: string | null;
  /** Canonical JSON text as stored, or null. */
  metadata: string | null;
}

export function documentEtag(d: EtagFields): string {
  const text = JSON.stringify([d.content_hash, d.path, d.language, d.metadata]);
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, etag_hex_chars);
}

/** The header a precondition names, for a 412's `field`. */
export type PreconditionField = 'If-Match' | 'If-None-Match';

/** A precondition that did not hold, with the ETag the document had then (null: absent). */
export interface PreconditionFailure {
  id: string;
  field: PreconditionField;
  current_etag: string | null;
}

/** Evaluates `pre` against a document's current ETag (null: absent). null when it holds. */
export function checkPrecondition(id: string, pre: Precondition, current: string | null): PreconditionFailure | null {
  if (pre.if_none_match === true) return current === null ? null : { id, field: 'If-None-Match', current_etag: current };
  const m = pre.if_match;
  if (m === undefined) return null;
  if (current !== null && (m === '*' || m.includes(current))) return null;
  return { id, field: 'If-Match', current_etag: current };
}

/** Throws TypeError unless `v` is a well-formed if_match of an op. */
export function assertIfMatch(v: unknown, field: string): asserts v is IfMatch {
  if (v === '*') return;
  if (!Array.isArray(v) || v.length === 0 || v.length > if_match_etags_max) {
    throw new TypeError(`${field}: not "*" or 1..${if_match_etags_max} entity tags`);
  }
  for (const e of v) {
    if (typeof e !== 'string' || !if_match_entry_pattern.test(e)) throw new TypeError(`${field}: malformed entity tag ${JSON.stringify(e)}`);
  }
}

/** A precondition as a client would write it, for messages: `"a", W/"b"`, `*`, `If-None-Match: *`. */
export function describeIfMatch(m: IfMatch): string {
  return m === '*' ? '*' : m.map((e) => (e.startsWith('W/') ? e : `"${e}"`)).join(', ');
}
