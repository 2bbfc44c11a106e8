// Cutting a stream of documents into bulk requests the server takes: at most bulkDocumentsMax
// documents (server.bulk_documents_max, default 1000) and bodyBytesMax bytes of JSON
// (server.body_bytes_max, default 512 KiB) each. A document whose JSON alone is over the body
// limit cannot be sent at all: it becomes that item's error, and the others go on.

import type { DocumentInput } from './types.ts';

export const bulk_documents_max_default = 1000;
export const body_bytes_max_default = 512 * 1024;

export interface ChunkLimits {
  documentsMax: number;
  bodyBytesMax: number;
}

/** Serialised documents of one request, with their positions in the input. */
export interface Chunk {
  items: number[];
  json: string[];
  bytes: number;
}

export type ChunkEvent = { chunk: Chunk } | { tooLarge: { item: number; bytes: number } };

/** Bytes of `s` in UTF-8, without encoding it. Unpaired surrogates count as U+FFFD (3). */
export function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** The body of a chunk: a JSON array of its documents. */
export function chunkBody(c: Chunk): string {
  return `[${c.json.join(',')}]`;
}

/** Body bytes of a chunk with `json` added: "[" + items joined by "," + "]". */
function withItem(c: Chunk, itemBytes: number): number {
  return c.json.length === 0 ? 2 + itemBytes : c.bytes + 1 + itemBytes;
}

/** Chunks in input order; each chunk is full before the next starts. */
export async function* chunkDocuments(docs: Iterable<DocumentInput> | AsyncIterable<DocumentInput>, limits: ChunkLimits): AsyncGenerator<ChunkEvent> {
  if (!(limits.documentsMax >= 1) || !(limits.bodyBytesMax >= 2)) throw new TypeError(`bulk limits must be positive: ${JSON.stringify(limits)}`);
  let current: Chunk = { items: [], json: [], bytes: 2 };
  let item = 0;
  for await (const doc of docs) {
    const json = JSON.stringify(doc);
    const bytes = utf8Bytes(json);
    if (2 + bytes > limits.bodyBytesMax) {
      yield { tooLarge: { item, bytes } };
      item++;
      continue;
    }
    if (current.json.length > 0 && (current.json.length >= limits.documentsMax || withItem(current, bytes) > limits.bodyBytesMax)) {
      yield { chunk: current };
      current = { items: [], json: [], bytes: 2 };
    }
    current.bytes = withItem(current, bytes);
    current.json.push(json);
    current.items.push(item);
    item++;
  }
  if (current.json.length > 0) yield { chunk: current };
}

/** The two halves of a chunk (for a server whose limits are lower than the client's). */
export function splitChunk(c: Chunk): [Chunk, Chunk] {
  const mid = Math.ceil(c.json.length / 2);
  const half = (from: number, to: number): Chunk => {
    const json = c.json.slice(from, to);
    return { items: c.items.slice(from, to), json, bytes: 2 + json.reduce((n, j) => n + utf8Bytes(j), 0) + Math.max(0, json.length - 1) };
  };
  return [half(0, mid), half(mid, c.json.length)];
}
