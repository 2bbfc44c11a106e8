// Validation of client input to the store. Every failure is an InputError naming the field.

import { InputError } from './errors.ts';

/** Workspace ids: a letter or digit, then letters, digits, ".", "_", "-"; 64 chars at most. */
export const workspace_id_pattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const workspace_id_rule = 'a letter or digit followed by up to 63 letters, digits, ".", "_" or "-"';

export const document_id_chars_max = 256;
export const path_chars_max = 1024;
export const language_chars_max = 64;
export const metadata_bytes_max = 64 * 1024;
export const content_bytes_max = 8 * 1024 * 1024;
export const vector_dim_max = 4096;
export const query_chars_max = 8192;

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

export function isValidDocumentId(id: string): boolean {
  return id.length > 0 && id.length <= document_id_chars_max && !/[\u0000-\u001f\u007f]/.test(id) && id.trim() === id;
}

export function assertDocumentId(id: unknown, field = 'id'): asserts id is string {
  if (typeof id !== 'string') throw new InputError('invalid_type', `${field} must be a string`, field);
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
  return v;
}

/** JSON text with object keys sorted at every level, so equal metadata gives equal bytes. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
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

/** Checks one document as sent by a client. `prefix` names its place in a bulk body ("[3]."). */
export function parseDocumentInput(raw: unknown, prefix = ''): DocumentInput {
  if (!isPlainObject(raw)) throw new InputError('invalid_type', `${prefix || 'body'} must be a JSON object`, prefix ? prefix.replace(/\.$/, '') : 'body');
  const content = raw.content;
  if (content === undefined || content === null) throw new InputError('missing_field', `${prefix}content is required`, `${prefix}content`);
  if (typeof content !== 'string') throw new InputError('invalid_type', `${prefix}content must be a string`, `${prefix}content`);
  if (content.trim().length === 0) throw new InputError('invalid_value', `${prefix}content must not be empty`, `${prefix}content`);
  if (Buffer.byteLength(content, 'utf8') > content_bytes_max) {
    throw new InputError('too_large', `${prefix}content is larger than ${content_bytes_max} bytes`, `${prefix}content`);
  }
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
    metadata = canonicalJson(raw.metadata);
    if (Buffer.byteLength(metadata, 'utf8') > metadata_bytes_max) {
      throw new InputError('too_large', `${prefix}metadata is larger than ${metadata_bytes_max} bytes`, `${prefix}metadata`);
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
export function parseQuery(q: unknown, field = 'query'): string {
  if (q === undefined || q === null) throw new InputError('missing_field', `${field} is required`, field);
  if (typeof q !== 'string') throw new InputError('invalid_type', `${field} must be a string`, field);
  if (q.trim().length === 0) throw new InputError('empty_query', `${field} must not be empty`, field);
  if (q.length > query_chars_max) throw new InputError('too_large', `${field} is longer than ${query_chars_max} characters`, field);
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
