// The wire format between nodes: msgpack (application/msgpack) bodies for /_raft/append and
// /_raft/snapshot. Decoding never trusts its input: every field is checked before use.
import { Packr } from 'msgpackr';
import { crc32 } from '@cairn/raft';
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
  if (o.reason === 'gap' || o.reason === 'mismatch' || o.reason === 'diverged') res.reason = o.reason;
  if (o.diverged_at !== undefined) res.diverged_at = int(o, 'diverged_at');
  if (o.storage_id !== undefined) res.storage_id = str(o, 'storage_id', 128);
  if (o.claimed_term !== undefined) res.claimed_term = int(o, 'claimed_term');
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
  /**
   * On the last chunk: the sender ran PRAGMA quick_check on the file these bytes were read from
   * and it answered ok, so the receiver, once the sha256 matches, need not run it again. Absent
   * (false) from senders that do not check: the receiver then runs quick_check itself.
   */
  source_checked: boolean;
  /**
   * The follower's state diverged from the leader's: it installs this snapshot whatever its
   * applied index (otherwise one at or below its applied index is ignored).
   */
  repair: boolean;
  /** The node the sender's last designation names (SnapshotTarget.designated); absent: none. */
  designated?: string;
}

/**
 * What the leader sends per chunk. 4 MiB: few enough round trips that a 300 MB state moves in
 * under a hundred requests, and within what followers have always accepted (4 MiB).
 */
export const SNAPSHOT_CHUNK_BYTES = 4 << 20;
/** The largest chunk a follower accepts. */
export const SNAPSHOT_CHUNK_BYTES_MAX = 16 << 20;
/**
 * Chunks a follower takes in flight at once. It says so in its answer to the first chunk
 * (`inflight_max`); a leader that is not told sends one at a time. The follower writes chunks in
 * order: one that arrives ahead of its predecessor waits for it.
 */
export const SNAPSHOT_CHUNKS_INFLIGHT_MAX = 2;

/** Room reserved in front of a chunk's data for the msgpack fields before it (encodeSnapshotChunkInto). */
export const SNAPSHOT_CHUNK_HEAD_BYTES = 2048;

/**
 * Encodes a snapshot chunk around data already in place: the caller reads the chunk's bytes
 * straight into out[SNAPSHOT_CHUNK_HEAD_BYTES, + dataLength) and this writes, right before them,
 * a msgpack map of `fields` whose last entry is `data` (a bin32 header). The result, a view of
 * `out`, decodes like any other map (decodeSnapshotChunk), and the data is never copied.
 */
export function encodeSnapshotChunkInto(out: Buffer, dataLength: number, fields: Omit<SnapshotChunk, 'data'>): Buffer {
  if (out.length < SNAPSHOT_CHUNK_HEAD_BYTES + dataLength) throw new RangeError('chunk buffer too small');
  const head = packr.pack(fields);
  let count: number;
  let skip: number;
  const first = head[0] as number;
  if (first >= 0x80 && first <= 0x8f) {
    count = first & 0x0f;
    skip = 1;
  } else if (first === 0xde) {
    count = head.readUInt16BE(1);
    skip = 3;
  } else {
    throw new Error(`chunk fields encoded as 0x${first.toString(16)}, expected a map`);
  }
  // map16 header, the fields, then the "data" key (fixstr) and a bin32 header.
  const length = 3 + (head.length - skip) + 5 + 5;
  if (length > SNAPSHOT_CHUNK_HEAD_BYTES) throw new Error('snapshot chunk fields too large');
  let p = SNAPSHOT_CHUNK_HEAD_BYTES - length;
  const start = p;
  out[p++] = 0xde;
  out.writeUInt16BE(count + 1, p);
  p += 2;
  p += head.copy(out, p, skip);
  out[p++] = 0xa4;
  p += out.write('data', p, 'latin1');
  out[p++] = 0xc6;
  out.writeUInt32BE(dataLength, p);
  return out.subarray(start, SNAPSHOT_CHUNK_HEAD_BYTES + dataLength);
}

/** crc32 (IEEE) of a snapshot chunk: the log's own (@cairn/raft: native where this Node has it). */
export function chunkCrc32(data: Uint8Array): number {
  return crc32(data);
}

export function decodeSnapshotChunk(body: Uint8Array): SnapshotChunk {
  const o = obj(decode(body), 'snapshot chunk');
  if (typeof o.done !== 'boolean') throw new WireError('done must be a boolean');
  const data = bytes(o, 'data');
  if (data.length > SNAPSHOT_CHUNK_BYTES_MAX) throw new WireError('data: chunk too large');
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
    source_checked: o.source_checked === true,
    repair: o.repair === true,
    ...(typeof o.designated === 'string' && o.designated.length <= 128 ? { designated: o.designated } : {}),
  };
}
