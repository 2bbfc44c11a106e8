// Validation of client input to the store. Every failure is an InputError naming the field.

import { SERVER } from '../config/schema.ts';
import { InputError } from './errors.ts';

/** Workspace ids: a letter or digit, then letters, digits, ".", "_", "-"; 64 chars at most. */
export const workspace_id_pattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const workspace_id_rule = 'a letter or digit followed by up to 63 letters, digits, ".", "_" or "-"';

export const document_id_chars_max = 256;
export const path_chars_max = 1024;
export const language_chars_max = 64;
export const vector_dim_max = 4096;
export const query_chars_max = 8192;

/** The configured size and shape limits of one document (`server.*` config keys). */
export interface DocumentLimits {
  document_bytes_max: number;
  metadata_bytes_max: number;
  metadata_depth_max: number;
}

/** The config defaults; callers with a config pass its `server` values instead. */
export const document_limits_default: DocumentLimits = {
  document_bytes_max: SERVER.defaults.document_bytes_max,
  metadata_bytes_max: SERVER.defaults.metadata_bytes_max,
  metadata_depth_max: SERVER.defaults.metadata_depth_max,
};

const invalid_text_re = /[\uD800-\uDFFF\uFFFE\uFFFF]/u;

/**
 * Offset (UTF-16 code units) of the first code unit that is not valid text, or -1: an unpaired
 * surrogate, or the noncharacters U+FFFE / U+FFFF. Such strings cannot be stored as they are
 * (UTF-8 has no encoding for a lone surrogate; SQLite would store U+FFFD instead), so they are
 * refused rather than stored altered. JSON.parse makes lone surrogates out of `"\ud800"` escapes.
 */
export function invalidTextOffset(s: string): number {
  // With the u flag a surrogate class matches only unpaired surrogates (a pair is one code point).
  const m = invalid_text_re.exec(s);
  return m === null ? -1 : m.index;
}

/** 400 invalid_text naming the field and the offset of the first bad code unit. */
export function assertValidText(s: string, field: string): void {
  const at = invalidTextOffset(s);
  if (at < 0) return;
  const unit = s.charCodeAt(at).toString(16).toUpperCase().padStart(4, '0');
  const what = unit === 'FFFE' || unit === 'FFFF' ? 'the noncharacter' : 'an unpaired surrogate';
  throw new InputError('invalid_text', `${field} is not valid Unicode text: ${what} U+${unit} at offset ${at} (UTF-16 code units); it would be stored altered`, field);
}

export interface DocumentInput {
  id: string | null;
  content: string;
  path: string | null;
  language: string | null;
  metadata: string | null;
  vector: Float32Array | null;
}

export function assertWorkspaceId(ws: unknown, field = 'workspace'): asserts ws is string {
  if (typeof ws !== 'string' || !workspace_id_pattern.test(ws)) {
    throw new InputError('invalid_workspace', `workspace id must be ${workspace_id_rule}; got ${JSON.stringify(ws)?.slice(0, 80)}`, field);
  }
}

/**
 * Ids a URL path cannot address: "." and ".." are removed by every URL parser's dot-segment
 * rule (also when sent as %2E), so such a document could be written but never read or deleted.
 */
const unaddressable_ids: ReadonlySet<string> = new Set(['.', '..']);

export function isValidDocumentId(id: string): boolean {
  return (
    id.length > 0 &&
    id.length <= document_id_chars_max &&
    !/[\u0000-\u001f\u007f]/.test(id) &&
    id.trim() === id &&
    !unaddressable_ids.has(id) &&
    invalidTextOffset(id) < 0
  );
}

export function assertDocumentId(id: unknown, field = 'id'): asserts id is string {
  if (typeof id !== 'string') throw new InputError('invalid_type', `${field} must be a string`, field);
  assertValidText(id, field);
  if (unaddressable_ids.has(id)) {
    throw new InputError('invalid_value', `${field} must not be "." or "..": no URL can address such a document (/documents/.. is /documents)`, field);
  }
  if (!isValidDocumentId(id)) {
    throw new InputError('invalid_value', `${field} must be 1..${document_id_chars_max} characters without control characters or surrounding spaces`, field);
  }
}

function optionalString(o: Record<string, unknown>, field: string, chars_max: number, prefix: string): string | null {
  const v = o[field];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw new InputError('invalid_type', `${prefix}${field} must be a string`, `${prefix}${field}`);
  if (v.length > chars_max) throw new InputError('invalid_value', `${prefix}${field} is longer than ${chars_max} characters`, `${prefix}${field}`);
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new InputError('invalid_value', `${prefix}${field} contains control characters`, `${prefix}${field}`);
  assertValidText(v, `${prefix}${field}`);
  return v;
}

/** `metadata.a[2].b`: where a value sits inside metadata, for error messages. */
function childName(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/**
 * Walks metadata without recursion: refuses nesting deeper than `depth_max` (the top object is
 * depth 1) before anything else looks at it, and keys or string values that are not valid text.
 * Iterative, so no input can overflow the stack; stops at the first problem.
 */
export function checkMetadataShape(metadata: Record<string, unknown>, field: string, depth_max: number): void {
  const stack: Array<{ v: unknown; depth: number; name: string }> = [{ v: metadata, depth: 1, name: field }];
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    const { v, depth, name } = top;
    if (typeof v === 'string') {
      assertValidText(v, name);
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth > depth_max) {
      throw new InputError('metadata_too_deep', `${field} is nested deeper than metadata_depth_max (${depth_max} levels of objects and arrays), at ${name}`, field);
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i] as unknown, depth: depth + 1, name: childName(name, i) });
      continue;
    }
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i] as string;
      assertValidText(k, `${childName(name, k)} (key)`);
      stack.push({ v: o[k], depth: depth + 1, name: childName(name, k) });
    }
  }
}

/**
 * JSON text with object keys sorted at every level, so equal metadata gives equal bytes.
 * Iterative (an explicit stack of open containers), so nesting depth cannot overflow the stack;
 * the output equals that of the recursive definition (undefined members are left out, undefined
 * array items and non-JSON values become null as JSON.stringify makes them).
 */
export function canonicalJson(v: unknown): string {
  const out: string[] = [];
  type Frame = { kind: 'array'; items: readonly unknown[]; next: number } | { kind: 'object'; o: Record<string, unknown>; keys: string[]; next: number };
  const stack: Frame[] = [];
  const open = (x: unknown): void => {
    if (Array.isArray(x)) {
      out.push('[');
      stack.push({ kind: 'array', items: x, next: 0 });
    } else if (x !== null && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      out.push('{');
      stack.push({ kind: 'object', o, keys: Object.keys(o).sort().filter((k) => o[k] !== undefined), next: 0 });
    } else {
      out.push(JSON.stringify(x) ?? 'null');
    }
  };
  open(v);
  for (let frame = stack.at(-1); frame !== undefined; frame = stack.at(-1)) {
    if (frame.kind === 'array') {
      if (frame.next === frame.items.length) {
        out.push(']');
        stack.pop();
        continue;
      }
      if (frame.next > 0) out.push(',');
      open(frame.items[frame.next++]);
    } else {
      if (frame.next === frame.keys.length) {
        out.push('}');
        stack.pop();
        continue;
      }
      if (frame.next > 0) out.push(',');
      const k = frame.keys[frame.next++] as string;
      out.push(JSON.stringify(k), ':');
      open(frame.o[k]);
    }
  }
  return out.join('');
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Fields of a single write's body that set a precondition (see etag.ts). */
export const precondition_fields = ['if_match', 'if_none_match'] as const;

/** A bulk item takes no precondition: one present is that item's error. */
export function assertNoPrecondition(raw: unknown, prefix: string): void {
  if (!isPlainObject(raw)) return; // parseDocumentInput names the item
  for (const f of precondition_fields) {
    if (raw[f] !== undefined) {
      throw new InputError('invalid_value', `${prefix}${f}: bulk items take no precondition; send a conditional write alone to POST /api/v1/documents`, `${prefix}${f}`);
    }
  }
}

/**
 * Only the size and depth limits of one document, for a caller that holds the configured limits
 * before the store (which checks everything) sees the document. Wrong types are left to
 * parseDocumentInput.
 */
export function checkDocumentLimits(raw: unknown, prefix: string, limits: DocumentLimits): void {
  if (!isPlainObject(raw)) return;
  const { content, metadata } = raw;
  if (typeof content === 'string' && content.length * 3 > limits.document_bytes_max && Buffer.byteLength(content, 'utf8') > limits.document_bytes_max) {
    throw new InputError('document_too_large', `${prefix}content is larger than document_bytes_max (${limits.document_bytes_max} bytes of UTF-8)`, `${prefix}content`);
  }
  if (!isPlainObject(metadata)) return;
  checkMetadataShape(metadata, `${prefix}metadata`, limits.metadata_depth_max);
  if (Buffer.byteLength(canonicalJson(metadata), 'utf8') > limits.metadata_bytes_max) {
    throw new InputError('metadata_too_large', `${prefix}metadata is larger than metadata_bytes_max (${limits.metadata_bytes_max} bytes of canonical JSON)`, `${prefix}metadata`);
  }
}

/** Checks one document as sent by a client. `prefix` names its place in a bulk body ("[3]."). */
export function parseDocumentInput(raw: unknown, prefix = '', limits: DocumentLimits = document_limits_default): DocumentInput {
  if (!isPlainObject(raw)) {
    const place = prefix ? prefix.replace(/\.$/, '') : 'body';
    throw new InputError('invalid_type', `${place} must be a JSON object`, place);
  }
  const content = raw.content;
  if (content === undefined || content === null) throw new InputError('missing_field', `${prefix}content is required`, `${prefix}content`);
  if (typeof content !== 'string') throw new InputError('invalid_type', `${prefix}content must be a string`, `${prefix}content`);
  if (content.trim().length === 0) throw new InputError('invalid_value', `${prefix}content must not be empty`, `${prefix}content`);
  // Length in code units bounds the UTF-8 size (1..3 bytes per unit), so most contents skip the count.
  if (content.length * 3 > limits.document_bytes_max && Buffer.byteLength(content, 'utf8') > limits.document_bytes_max) {
    throw new InputError('document_too_large', `${prefix}content is larger than document_bytes_max (${limits.document_bytes_max} bytes of UTF-8)`, `${prefix}content`);
  }
  assertValidText(content, `${prefix}content`);
  let id: string | null = null;
  if (raw.id !== undefined && raw.id !== null) {
    assertDocumentId(raw.id, `${prefix}id`);
    id = raw.id;
  }
  const path = optionalString(raw, 'path', path_chars_max, prefix);
  const language = optionalString(raw, 'language', language_chars_max, prefix);
  let metadata: string | null = null;
  if (raw.metadata !== undefined && raw.metadata !== null) {
    if (!isPlainObject(raw.metadata)) throw new InputError('invalid_type', `${prefix}metadata must be a JSON object`, `${prefix}metadata`);
    checkMetadataShape(raw.metadata, `${prefix}metadata`, limits.metadata_depth_max);
    metadata = canonicalJson(raw.metadata);
    if (Buffer.byteLength(metadata, 'utf8') > limits.metadata_bytes_max) {
      throw new InputError('metadata_too_large', `${prefix}metadata is larger than metadata_bytes_max (${limits.metadata_bytes_max} bytes of canonical JSON)`, `${prefix}metadata`);
    }
  }
  let vector: Float32Array | null = null;
  if (raw.vector !== undefined && raw.vector !== null) vector = parseVector(raw.vector, `${prefix}vector`);
  return { id, content, path, language, metadata, vector };
}

export function parseVector(v: unknown, field: string): Float32Array {
  if (!Array.isArray(v)) throw new InputError('invalid_type', `${field} must be an array of numbers`, field);
  if (v.length === 0 || v.length > vector_dim_max) {
    throw new InputError('invalid_value', `${field} must have 1..${vector_dim_max} numbers`, field);
  }
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new InputError('invalid_type', `${field}[${i}] must be a finite number`, field);
    out[i] = x;
    if (!Number.isFinite(out[i])) throw new InputError('invalid_value', `${field}[${i}] is out of float32 range`, field);
  }
  if (out.every((x) => x === 0)) throw new InputError('invalid_value', `${field} must not be all zeros`, field);
  return out;
}

/** A search query: a non-empty string of bounded length. */
export function parseQuery(q: unknown, field = 'query', chars_max = query_chars_max): string {
  if (q === undefined || q === null) throw new InputError('missing_field', `${field} is required`, field);
  if (typeof q !== 'string') throw new InputError('invalid_type', `${field} must be a string`, field);
  if (q.trim().length === 0) throw new InputError('empty_query', `${field} must not be empty`, field);
  if (q.length > chars_max) throw new InputError('too_large', `${field} is longer than ${chars_max} characters`, field);
  return q;
}

/** An optional positive integer, capped at `max`. */
export function parseCount(v: unknown, field: string, dflt: number, max: number): number {
  if (v === undefined || v === null || v === '') return Math.min(dflt, max);
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new InputError('invalid_value', `${field} must be a positive integer`, field);
  return Math.min(n, max);
}

const language_by_ext: Record<string, string> = {
  ts: 'typescript', tsx: 'typescript', mts: 'typescript', cts: 'typescript', js: 'javascript', mjs: 'javascript',
  cjs: 'javascript', jsx: 'javascript', py: 'python', go: 'go', rs: 'rust', java: 'java', kt: 'kotlin', rb: 'ruby',
  c: 'c', h: 'c', cc: 'cpp', cpp: 'cpp', hpp: 'cpp', cs: 'csharp', php: 'php', swift: 'swift', scala: 'scala',
  sh: 'shell', bash: 'shell', zig: 'zig', sql: 'sql', md: 'markdown', markdown: 'markdown', json: 'json',
  yaml: 'yaml', yml: 'yaml', toml: 'toml', html: 'html', css: 'css', txt: 'text', rst: 'rst',
};

/** Language from a path's extension, or null. */
export function languageFromPath(path: string | null): string | null {
  if (path === null) return null;
  const m = /\.([A-Za-z0-9]+)$/.exec(path);
  return m?.[1] === undefined ? null : (language_by_ext[m[1].toLowerCase()] ?? null);
}
