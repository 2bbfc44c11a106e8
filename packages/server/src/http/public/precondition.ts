// Write preconditions as clients send them: If-Match / If-None-Match headers, or the body fields
// if_match / if_none_match (a put) and ?if_match= (a delete) for clients that cannot set headers.
// Parsed here into a store Precondition; evaluated by apply (store/etag.ts), never here.

import type { Context } from 'hono';
import { describeIfMatch, etag_chars_max, if_match_etags_max } from '../../store/etag.ts';
import type { IfMatch, Precondition, PreconditionFailure } from '../../store/etag.ts';
import { isPlainObject } from '../../store/validate.ts';
import { ApiError } from './errors.ts';

/** One list element: a quoted tag (optionally weak), or a bare one for lenient clients. */
const entry_pattern = /\s*(?:(W\/)?"([\x21\x23-\x7e]*)"|(W\/)?([\x21\x23-\x2b\x2d-\x7e]*))\s*(?:,|$)/y;

/**
 * If-Match syntax -> IfMatch: `*`, or a comma-separated list of `"tag"`, `W/"tag"` or bare `tag`.
 * Weak tags are kept as `W/"tag"` and never match (If-Match compares strongly). 400 naming
 * `field` when malformed.
 */
export function parseIfMatch(raw: string, field: string): IfMatch {
  const text = raw.trim();
  if (text === '*') return '*';
  const bad = (why: string): ApiError =>
    new ApiError(400, 'invalid_value', `${field} must be "*" or a comma-separated list of entity tags ("3f2a..."): ${why}`, field);
  const out: string[] = [];
  entry_pattern.lastIndex = 0;
  while (entry_pattern.lastIndex < text.length) {
    const at = entry_pattern.lastIndex;
    const m = entry_pattern.exec(text);
    if (m === null) throw bad(`cannot read ${JSON.stringify(text.slice(at, at + 40))}`);
    const weak = m[1] !== undefined || m[3] !== undefined;
    const value = m[2] ?? m[4] ?? '';
    if (value.length === 0) {
      if (m[2] === undefined) continue; // an empty list element ("a, , b")
      throw bad('an entity tag is empty');
    }
    if (value.length > etag_chars_max) throw bad(`an entity tag is longer than ${etag_chars_max} characters`);
    out.push(weak ? `W/"${value}"` : value);
    if (out.length > if_match_etags_max) throw bad(`more than ${if_match_etags_max} entity tags`);
  }
  if (out.length === 0) throw bad('it is empty');
  return out;
}

/** If-None-Match on a write: only `*` (create only when absent). 400 naming `field` otherwise. */
export function parseIfNoneMatch(raw: string, field: string): true {
  if (raw.trim() === '*') return true;
  throw new ApiError(400, 'invalid_value', `${field} on a write must be "*" (create only when absent); got ${JSON.stringify(raw.slice(0, 80))}`, field);
}

function sameIfMatch(a: IfMatch, b: IfMatch): boolean {
  return a === '*' || b === '*' ? a === b : a.length === b.length && a.every((e, i) => e === b[i]);
}

/** A body or query value: absent (undefined/null) or a string. */
function optionalText(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ApiError(400, 'invalid_type', `${field} must be a string`, field);
  return v;
}

/** The header and its body/query stand-in: either may be given; both must then say the same. */
function oneIfMatch(header: string | undefined, other: string | undefined, otherField: string): IfMatch | undefined {
  const h = header === undefined ? undefined : parseIfMatch(header, 'If-Match');
  const o = other === undefined ? undefined : parseIfMatch(other, otherField);
  if (h !== undefined && o !== undefined && !sameIfMatch(h, o)) {
    throw new ApiError(400, 'invalid_value', `If-Match (${describeIfMatch(h)}) and ${otherField} (${describeIfMatch(o)}) differ; send one`, otherField);
  }
  return h ?? o;
}

/** The precondition of a single put, or null. */
export function putPrecondition(c: Context, body: unknown): Precondition | null {
  const fields = isPlainObject(body) ? body : {};
  const ifMatch = oneIfMatch(c.req.header('if-match'), optionalText(fields.if_match, 'if_match'), 'if_match');
  const headerNone = c.req.header('if-none-match');
  const bodyNone = optionalText(fields.if_none_match, 'if_none_match');
  const h = headerNone === undefined ? undefined : parseIfNoneMatch(headerNone, 'If-None-Match');
  const b = bodyNone === undefined ? undefined : parseIfNoneMatch(bodyNone, 'if_none_match');
  const ifNoneMatch = h ?? b;
  if (ifMatch !== undefined && ifNoneMatch !== undefined) {
    throw new ApiError(400, 'invalid_value', 'If-Match and If-None-Match cannot be combined: one asks the document to exist, the other to be absent', 'If-None-Match');
  }
  if (ifMatch !== undefined) return { if_match: ifMatch };
  if (ifNoneMatch !== undefined) return { if_none_match: true };
  return null;
}

/** The precondition of a delete (If-Match or ?if_match=), or null. */
export function deletePrecondition(c: Context): Precondition | null {
  if (c.req.header('if-none-match') !== undefined) {
    throw new ApiError(400, 'invalid_value', 'a delete takes If-Match only; If-None-Match is for creating', 'If-None-Match');
  }
  const ifMatch = oneIfMatch(c.req.header('if-match'), c.req.query('if_match'), 'if_match');
  return ifMatch === undefined ? null : { if_match: ifMatch };
}

/** A bulk write takes no precondition: one given is a 400, not silently ignored. */
export function assertNoPrecondition(c: Context, body: unknown): void {
  for (const h of ['If-Match', 'If-None-Match']) {
    if (c.req.header(h) !== undefined) {
      throw new ApiError(400, 'invalid_value', `a bulk write takes no ${h}; send a conditional write alone to POST /api/v1/documents`, h);
    }
  }
  if (!isPlainObject(body)) return;
  for (const f of ['if_match', 'if_none_match']) {
    if (body[f] !== undefined) throw new ApiError(400, 'invalid_value', `a bulk write takes no ${f}; give each document alone to POST /api/v1/documents`, f);
  }
}

export interface PreconditionFailedBody {
  error: { code: 'precondition_failed'; message: string; field: PreconditionFailure['field'] };
  current_etag: string | null;
}

/** The 412 body for a precondition apply found not to hold. */
export function preconditionFailedBody(pre: Precondition, failure: PreconditionFailure): PreconditionFailedBody {
  const expected = failure.field === 'If-None-Match' ? 'If-None-Match: * (absent)' : `If-Match: ${describeIfMatch(pre.if_match ?? '*')}`;
  const current = failure.current_etag === null ? 'the document is absent' : `its current ETag is "${failure.current_etag}"`;
  return {
    error: { code: 'precondition_failed', message: `document ${JSON.stringify(failure.id)} not written: expected ${expected}; ${current}`, field: failure.field },
    current_etag: failure.current_etag,
  };
}

/** The ETag header value of an etag: quoted (strong). */
export function etagHeader(etag: string): string {
  return `"${etag}"`;
}
