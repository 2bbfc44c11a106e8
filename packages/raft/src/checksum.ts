// crc32 (IEEE) of an entry's identity and payload. No I/O: node:zlib's native crc32 where the
// runtime has it (Node >= 20.15; a 1 MiB payload in ~0.1 ms instead of ~4 ms on the event loop),
// the table below otherwise. Both give the same value (checksum.test.ts).
import * as zlib from 'node:zlib';
import type { Entry } from './types.ts';

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

export function crc32(bytes: Uint8Array, seed = 0): number {
  return native === undefined ? crc32Table(bytes, seed) : native(bytes, seed) >>> 0;
}

/** The table-driven crc32, for runtimes without zlib.crc32 (and to check the native one against). */
export function crc32Table(bytes: Uint8Array, seed = 0): number {
  let crc = (seed ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    crc = (TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function header(index: number, term: number, type: number): Uint8Array {
  const buf = new Uint8Array(20);
  const view = new DataView(buf.buffer);
  view.setFloat64(0, index);
  view.setFloat64(8, term);
  view.setUint32(16, type);
  return buf;
}

export function entryChecksum(index: number, term: number, type: number, payload: Uint8Array): number {
  return crc32(payload, crc32(header(index, term, type)));
}

export function makeEntry(index: number, term: number, type: number, payload: Uint8Array): Entry {
  return { index, term, type, payload, checksum: entryChecksum(index, term, type, payload) };
}

export function entryIsIntact(entry: Entry): boolean {
  return entryChecksum(entry.index, entry.term, entry.type, entry.payload) === entry.checksum;
}
