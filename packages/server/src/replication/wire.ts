// The wire format between nodes: msgpack (application/msgpack) bodies for /_raft/append and
// /_raft/snapshot. Decoding never trusts its input: every field is checked before use.
import { Packr } from 'msgpackr';
import type { AppendRequest, AppendResponse, Entry } from '@cairn/raft';

const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export const MSGPACK = 'application/msgpack';

export function encode(value: unknown): Buffer {
  return packr.pack(value);
}

export class WireError extends Error {
  override readonly name = 'WireError';
}

export function decode(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (err) {
    throw new WireError(`malformed msgpack: ${(err as Error).message}`);
  }
}

function obj(value: unknown, what: string): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new WireError(`${what} must be a map`);
  return value as Record<string, unknown>;
}

function int(o: Record<string, unknown>, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new WireError(`${key} must be a non-negative integer`);
  return v;
}

function str(o: Record<string, unknown>, key: string, max = 256): string {
  const v = o[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new WireError(`${key} must be a non-empty string`);
  return v;
}

function bytes(o: Record<string, unknown>, key: string): Uint8Array {
  const v = o[key];
  if (!(v instanceof Uint8Array)) throw new WireError(`${key} must be bytes`);
  return v;
}

export const ENTRIES_PER_APPEND_MAX = 10_000;

export function decodeAppendRequest(body: Uint8Array): AppendRequest {
  const o = obj(decode(body), 'append request');
  const rawEntries = o.entries;
  if (!Array.isArray(rawEntries)) throw new WireError('entries must be an array');
  if (rawEntries.length > ENTRIES_PER_APPEND_MAX) throw new WireError(`entries: at most ${ENTRIES_PER_APPEND_MAX} per append`);
  const entries: Entry[] = rawEntries.map((raw, i) => {
    const e = obj(raw, `entries[${i}]`);
    return { index: int(e, 'index'), term: int(e, 'term'), type: int(e, 'type'), payload: bytes(e, 'payload'), checksum: int(e, 'checksum') };
  });
  return {
    cluster_id: str(o, 'cluster_id'),
    term: int(o, 'term'),
    leader_id: str(o, 'leader_id'),
    prev_index: int(o, 'prev_index'),
    prev_term: int(o, 'prev_term'),
    entries,
    leader_commit: int(o, 'leader_commit'),
  };
}

export function decodeAppendResponse(body: Uint8Array): AppendResponse {
  const o = obj(decode(body), 'append response');
  if (typeof o.success !== 'boolean') throw new WireError('success must be a boolean');
  const res: AppendResponse = { success: o.success, term: int(o, 'term'), match_index: int(o, 'match_index'), last_index: int(o, 'last_index') };
  if (o.reason === 'gap' || o.reason === 'mismatch') res.reason = o.reason;
  return res;
}

/** One chunk of a snapshot transfer: POST /_raft/snapshot. */
export interface SnapshotChunk {
  cluster_id: string;
  term: number;
  leader_id: string;
  /** Identifies one transfer; chunks of another transfer restart the receiver. */
  snapshot_id: string;
  /** Log index and term the snapshot's state is at. */
  last_index: number;
  last_term: number;
  offset: number;
  data: Uint8Array;
  /** crc32 of data. */
  crc: number;
  done: boolean;
  /** On the last chunk: total size and sha256 (hex) of the whole file. */
  total_bytes: number;
  sha256: string;
}

export const SNAPSHOT_CHUNK_BYTES = 1 << 20;

export function decodeSnapshotChunk(body: Uint8Array): SnapshotChunk {
  const o = obj(decode(body), 'snapshot chunk');
  if (typeof o.done !== 'boolean') throw new WireError('done must be a boolean');
  const data = bytes(o, 'data');
  if (data.length > 4 * SNAPSHOT_CHUNK_BYTES) throw new WireError('data: chunk too large');
  const sha = o.sha256;
  if (typeof sha !== 'string' || (o.done && !/^[0-9a-f]{64}$/.test(sha))) throw new WireError('sha256 must be 64 hex digits on the last chunk');
  return {
    cluster_id: str(o, 'cluster_id'),
    term: int(o, 'term'),
    leader_id: str(o, 'leader_id'),
    snapshot_id: str(o, 'snapshot_id', 128),
    last_index: int(o, 'last_index'),
    last_term: int(o, 'last_term'),
    offset: int(o, 'offset'),
    data,
    crc: int(o, 'crc'),
    done: o.done,
    total_bytes: int(o, 'total_bytes'),
    sha256: sha,
  };
}
