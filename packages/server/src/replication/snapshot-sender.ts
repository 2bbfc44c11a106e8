// The leader's side of a snapshot transfer: streams a snapshot file to one follower over
// POST /_raft/snapshot in chunks of SNAPSHOT_CHUNK_BYTES, each with its crc32, the last one with
// the size and sha256 of the whole file. The first chunk goes alone; the answer says how many
// chunks the follower takes in flight at once (it writes them in order; a follower that does not
// say takes one at a time). Each chunk is read straight into its request body (a few buffers,
// used in turn), so its bytes are not copied again, and hashed on the way, so the file is read
// once; the next chunk is prepared while earlier ones travel. PRAGMA quick_check of the file runs
// meanwhile in a worker thread: the last chunk goes only once it answered ok, and says so
// (source_checked), so the follower, whose bytes match the file's by sha256, need not run it.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { quickCheck } from './sqlite-worker.ts';
import type { PostResult, Transport } from './transport.ts';
import { SNAPSHOT_CHUNK_BYTES, SNAPSHOT_CHUNK_HEAD_BYTES, SNAPSHOT_CHUNKS_INFLIGHT_MAX, chunkCrc32, decode, encodeSnapshotChunkInto } from './wire.ts';

export interface SnapshotFile {
  file: string;
  index: number;
  term: number;
  bytes: number;
}

export interface StreamTarget {
  transport: Transport;
  address: string;
  cluster_id: string;
  term: number;
  leader_id: string;
  /** performance.now() value after which the transfer is abandoned. */
  deadline: number;
  snapshot_timeout_s: number;
  /** Per-chunk timeout floor (the last chunk, which includes the install, gets the remaining budget). */
  chunk_timeout_ms: number;
  chunk_bytes?: number;
  /** At most this many chunks in flight, whatever the follower takes (default SNAPSHOT_CHUNKS_INFLIGHT_MAX). */
  inflight_max?: number;
  /** The follower installs it whatever its applied index (its state diverged). */
  repair?: boolean;
  /** SnapshotTarget.designated. */
  designated?: string | null;
}

export interface StreamResult {
  chunks: number;
  /** Chunks in flight at once, as agreed with the follower. */
  inflight: number;
  /** Time spent reading, hashing, checksumming and encoding chunks (mostly while earlier chunks travel). */
  prepare_ms: number;
  /** Time waiting for the follower's answers, summed over chunks (transfer, and the install on the last chunk). */
  wait_ms: number;
  /** quick_check of the file (in a worker, during the transfer), and how long the last chunk waited for it. */
  check_ms: number;
  check_wait_ms: number;
  /** The follower's answer to the last chunk (its own phase timings included). */
  final: Record<string, unknown>;
}

interface Prepared {
  body: Buffer;
  offset: number;
  length: number;
  done: boolean;
}

export async function streamSnapshot(target: StreamTarget, snap: SnapshotFile): Promise<StreamResult> {
  const chunkBytes = target.chunk_bytes ?? SNAPSHOT_CHUNK_BYTES;
  const snapshotId = `${target.leader_id}-${snap.index}-${Date.now()}`;
  const sha = crypto.createHash('sha256');
  const fh = await fs.open(snap.file, 'r');
  let prepare_ms = 0;
  let wait_ms = 0;
  let chunks = 0;
  const checkStarted = performance.now();
  let check_ms = 0;
  const stopCheck = new AbortController();
  const checked = quickCheck(snap.file, stopCheck.signal).then((result) => {
    check_ms = performance.now() - checkStarted;
    return result;
  });
  // Awaited before the last chunk; until then a failure must not count as unhandled.
  checked.catch(() => undefined);
  let check_wait_ms = 0;
  const inflightMax = Math.max(1, target.inflight_max ?? SNAPSHOT_CHUNKS_INFLIGHT_MAX);
  // Bodies in turn: chunk i is prepared in bodies[i % n] while at most inflightMax chunks before
  // it travel, each in its own body; the body chunk i reuses was chunk i - n's, answered by then.
  const bodies = Array.from({ length: inflightMax + 1 }, () => Buffer.allocUnsafe(SNAPSHOT_CHUNK_HEAD_BYTES + Math.min(chunkBytes, snap.bytes)));
  let prepared = 0;
  const prepare = async (offset: number): Promise<Prepared> => {
    const started = performance.now();
    const out = bodies[prepared++ % bodies.length] as Buffer;
    const length = Math.min(chunkBytes, snap.bytes - offset);
    const data = out.subarray(SNAPSHOT_CHUNK_HEAD_BYTES, SNAPSHOT_CHUNK_HEAD_BYTES + length);
    for (let got = 0; got < length; ) {
      const { bytesRead } = await fh.read(data, got, length - got, offset + got);
      if (bytesRead === 0) throw new Error(`snapshot file shorter than ${snap.bytes} bytes`);
      got += bytesRead;
    }
    sha.update(data);
    const done = offset + length >= snap.bytes;
    const body = encodeSnapshotChunkInto(out, length, {
      cluster_id: target.cluster_id,
      term: target.term,
      leader_id: target.leader_id,
      snapshot_id: snapshotId,
      last_index: snap.index,
      last_term: snap.term,
      offset,
      crc: chunkCrc32(data),
      done,
      total_bytes: snap.bytes,
      sha256: done ? sha.digest('hex') : '',
      source_checked: done,
      repair: target.repair === true,
      ...(target.designated == null ? {} : { designated: target.designated }),
    });
    prepare_ms += performance.now() - started;
    return { body, offset, length, done };
  };
  const post = (chunk: Prepared): Promise<PostResult> => {
    const remaining = target.deadline - performance.now();
    if (remaining <= 0) return Promise.reject(new Error(`snapshot_timeout_s (${target.snapshot_timeout_s}) exceeded`));
    // The last chunk includes the install on the follower: it gets the remaining budget.
    const timeout = Math.ceil(chunk.done ? remaining : Math.min(remaining, target.chunk_timeout_ms));
    const sent = performance.now();
    const p = target.transport.post(target.address, '/_raft/snapshot', chunk.body, timeout).finally(() => {
      wait_ms += performance.now() - sent;
    });
    // Awaited in order below; a failure of a later one meanwhile must not count as unhandled.
    p.catch(() => undefined);
    return p;
  };
  let window = 1;
  const travelling: Array<{ chunk: Prepared; answer: Promise<PostResult> }> = [];
  try {
    let next: Promise<Prepared> | null = prepare(0);
    for (;;) {
      while (next !== null && travelling.length < window) {
        const chunk: Prepared = await next;
        next = chunk.done ? null : prepare(chunk.offset + chunk.length);
        // A failed read of the next chunk surfaces when it is awaited; keep it from being unhandled meanwhile.
        next?.catch(() => undefined);
        if (chunk.done) {
          const waitStarted = performance.now();
          const verdict = await checked;
          check_wait_ms = performance.now() - waitStarted;
          if (verdict !== 'ok') throw new Error(`the snapshot copy failed quick_check: ${verdict.slice(0, 200)}`);
        }
        travelling.push({ chunk, answer: post(chunk) });
      }
      const { chunk, answer } = travelling.shift() as { chunk: Prepared; answer: Promise<PostResult> };
      const res = await answer;
      chunks++;
      if (res.status !== 200) throw new Error(`follower answered ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
      const said = decodeAnswer(res.body);
      if (chunk.offset === 0 && !chunk.done) {
        const takes = said['inflight_max'];
        window = typeof takes === 'number' && Number.isSafeInteger(takes) && takes > 1 ? Math.min(takes, inflightMax) : 1;
      }
      if (chunk.done) return { chunks, inflight: window, prepare_ms, wait_ms, check_ms, check_wait_ms, final: said };
    }
  } finally {
    // A transfer that failed early need not finish checking a file about to be deleted.
    stopCheck.abort();
    await fh.close();
  }
}

function decodeAnswer(body: Buffer): Record<string, unknown> {
  try {
    const v = decode(body);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
