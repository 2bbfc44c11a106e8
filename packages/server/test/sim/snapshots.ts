// Snapshots in the simulation: the leader's side copies its SimState and streams it in chunks,
// in the same wire format and over the same transport as the real sender (encodeSnapshotChunkInto,
// chunkCrc32, POST /_raft/snapshot), so the follower's real handleSnapshotChunk decodes, checks
// and installs them; the follower's side keeps the bytes in memory, checks size, sha256 and that
// they are the state they announce, and installs by replacing the follower's SimState.
import crypto from 'node:crypto';
import { ReplicationError } from '../../src/replication/errors.ts';
import type { Clock, ReceivedSnapshot, ShippedSnapshot, SnapshotReceiver, SnapshotShipper, SnapshotTarget } from '../../src/replication/ports.ts';
import type { PostResult, Transport } from '../../src/replication/transport.ts';
import { SNAPSHOT_CHUNK_HEAD_BYTES, SNAPSHOT_CHUNKS_INFLIGHT_MAX, chunkCrc32, decode, encodeSnapshotChunkInto } from '../../src/replication/wire.ts';
import { decodeStateImage, encodeStateImage } from './disk.ts';
import type { SimState } from './disk.ts';

export interface ShipperOptions {
  state: SimState;
  transport: Transport;
  clock: Clock;
  cluster_id: string;
  leader_id: string;
  /** Bytes per chunk (small, so a snapshot spans several). */
  chunk_bytes: number;
  /** At most this many chunks in flight, whatever the follower takes. */
  inflight_max: number;
  /** Per-chunk timeout (the last chunk, which includes the install, gets the remaining budget). */
  chunk_timeout_ms: number;
  /** Filler bytes in each snapshot. */
  filler_bytes: number;
}

export class SimSnapshotShipper implements SnapshotShipper {
  private transfers = 0;
  readonly counts = { shipped: 0, chunks_sent: 0 };

  constructor(private readonly o: ShipperOptions) {}

  async ship(target: SnapshotTarget): Promise<ShippedSnapshot> {
    const o = this.o;
    // A consistent copy at once: the state at its applied index (committed entries only).
    const img = o.state.image();
    const bytes = encodeStateImage(img, o.filler_bytes);
    const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
    const id = `${o.leader_id}-${img.index}-${o.clock.now()}-${++this.transfers}`;
    const chunkAt = (offset: number): { body: Buffer; done: boolean; length: number } => {
      const length = Math.min(o.chunk_bytes, bytes.length - offset);
      const out = Buffer.allocUnsafe(SNAPSHOT_CHUNK_HEAD_BYTES + length);
      const data = out.subarray(SNAPSHOT_CHUNK_HEAD_BYTES, SNAPSHOT_CHUNK_HEAD_BYTES + length);
      bytes.copy(data, 0, offset, offset + length);
      const done = offset + length >= bytes.length;
      const body = encodeSnapshotChunkInto(out, length, {
        cluster_id: o.cluster_id,
        term: target.term,
        leader_id: o.leader_id,
        snapshot_id: id,
        last_index: img.index,
        last_term: img.term,
        offset,
        crc: chunkCrc32(data),
        done,
        total_bytes: bytes.length,
        sha256: done ? sha256 : '',
        ...(target.designated === null ? {} : { designated: target.designated }),
        source_checked: done,
        repair: target.repair,
      });
      return { body, done, length };
    };
    const post = (chunk: { body: Buffer; done: boolean }): Promise<PostResult> => {
      const remaining = target.deadline_ms - o.clock.now();
      if (remaining <= 0) return Promise.reject(new Error('snapshot deadline passed'));
      const timeout = Math.ceil(chunk.done ? remaining : Math.min(remaining, o.chunk_timeout_ms));
      this.counts.chunks_sent++;
      const p = o.transport.post(target.address, '/_raft/snapshot', chunk.body, timeout);
      // Awaited in order below; a failure of a later one meanwhile must not count as unhandled.
      p.catch(() => undefined);
      return p;
    };
    let window = 1;
    let chunks = 0;
    let offset = 0;
    let finished = false;
    const travelling: Array<{ offset: number; done: boolean; answer: Promise<PostResult> }> = [];
    for (;;) {
      while (!finished && travelling.length < window) {
        const chunk = chunkAt(offset);
        travelling.push({ offset, done: chunk.done, answer: post(chunk) });
        offset += chunk.length;
        finished = chunk.done;
      }
      const head = travelling.shift();
      if (head === undefined) throw new Error('snapshot transfer with nothing in flight');
      const res = await head.answer;
      chunks++;
      if (res.status !== 200) throw new Error(`follower answered ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
      const said = decodeAnswer(res.body);
      if (head.offset === 0 && !head.done) {
        const takes = said['inflight_max'];
        window = typeof takes === 'number' && Number.isSafeInteger(takes) && takes > 1 ? Math.min(takes, o.inflight_max, SNAPSHOT_CHUNKS_INFLIGHT_MAX) : 1;
      }
      if (head.done) {
        this.counts.shipped++;
        return { index: img.index, term: img.term, bytes: bytes.length, answer: said, phases: { chunks, inflight: window } };
      }
    }
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

interface Receiving {
  id: string;
  last_index: number;
  last_term: number;
  parts: Buffer[];
  offset: number;
  hash: crypto.Hash;
}

export class SimSnapshotReceiver implements SnapshotReceiver {
  private receiving: Receiving | null = null;
  readonly counts = { begun: 0, aborted: 0, verified: 0, refused: 0, installed: 0 };

  constructor(
    private readonly state: SimState,
    /** Called right before an install replaces the state. */
    private readonly onInstall?: () => void,
  ) {}

  current(): { id: string; offset: number } | null {
    return this.receiving === null ? null : { id: this.receiving.id, offset: this.receiving.offset };
  }

  begin(id: string, last_index: number, last_term: number): void {
    this.abort('superseded by a new transfer');
    this.receiving = { id, last_index, last_term, parts: [], offset: 0, hash: crypto.createHash('sha256') };
    this.counts.begun++;
  }

  write(data: Uint8Array): void {
    const r = this.receiving;
    if (r === null) throw new ReplicationError(409, 'snapshot_out_of_order', 'no snapshot transfer in progress');
    const copy = Buffer.from(data);
    r.parts.push(copy);
    r.offset += copy.length;
    r.hash.update(copy);
  }

  abort(_reason: string): void {
    if (this.receiving === null) return;
    this.receiving = null;
    this.counts.aborted++;
  }

  async finish(total_bytes: number, sha256: string, _source_checked: boolean): Promise<ReceivedSnapshot> {
    const r = this.receiving;
    if (r === null) throw new ReplicationError(409, 'snapshot_out_of_order', 'no snapshot transfer in progress');
    this.receiving = null;
    const digest = r.hash.digest('hex');
    if (r.offset !== total_bytes || digest !== sha256) {
      this.counts.refused++;
      throw new ReplicationError(400, 'bad_snapshot', `snapshot verification failed: ${r.offset}/${total_bytes} bytes, sha256 ${digest === sha256 ? 'ok' : 'mismatch'}`);
    }
    let img;
    try {
      img = decodeStateImage(Buffer.concat(r.parts));
      if (img.index !== r.last_index) throw new Error(`holds index ${img.index}, announced ${r.last_index}`);
      if (img.term !== r.last_term) throw new Error(`holds term ${img.term}, announced ${r.last_term}`);
    } catch (err) {
      this.counts.refused++;
      throw new ReplicationError(400, 'bad_snapshot', `snapshot is not a valid state: ${(err as Error).message}`);
    }
    this.counts.verified++;
    const state = this.state;
    const onInstall = this.onInstall;
    const at = img;
    let used = false;
    return {
      index: at.index,
      term: at.term,
      bytes: total_bytes,
      install: () => {
        if (used) throw new Error('snapshot installed twice');
        used = true;
        onInstall?.();
        state.install(at);
        this.counts.installed++;
        return { index: state.appliedIndex(), term: state.appliedTerm() };
      },
      discard: () => {
        used = true;
      },
      phases: {},
    };
  }
}
