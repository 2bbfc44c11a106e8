// Snapshot transfer end to end in one process: the leader's copy of its state (taken while it
// keeps applying), the chunked stream (several chunks in flight, delivered out of order), and the
// follower's checks before it swaps the state in: a corrupted chunk, a wrong digest, a file that
// is not a database, a stale snapshot; none of them replaces anything.
import { NodeCondition } from './condition.ts';
import { FileSnapshotReceiver } from './file-snapshots.ts';
import { systemClock } from './ports.ts';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ENTRY_COMMAND, makeEntry } from '@cairn/raft';
import type { Entry } from '@cairn/raft';
import type { ReplicationConfig } from '../config/types.ts';
import { ReplicationError } from './errors.ts';
import { FollowerHandler } from './follower-handler.ts';
import { streamSnapshot } from './snapshot-sender.ts';
import type { SnapshotFile, StreamTarget } from './snapshot-sender.ts';
import { SqliteLog } from './sqlite-log.ts';
import { StateHolder, readApplied } from './state.ts';
import type { StateFactory, StateMachine } from './state.ts';
import { emptyResyncStats } from './stats.ts';
import type { PostResult, Transport } from './transport.ts';
import { chunkCrc32, decode, decodeSnapshotChunk, encode, encodeSnapshotChunkInto, SNAPSHOT_CHUNK_HEAD_BYTES } from './wire.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-snap-'));
  dirs.push(d);
  return d;
}
const closers: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

type Kv = StateMachine;

/** A state machine with one row per entry: count(*) = applied index, so a copy shows whether it is consistent. */
const factory: StateFactory<Kv> = (db) => {
  db.exec('CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v BLOB NOT NULL)');
  const put = db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)');
  return { machine: { db, close: () => undefined }, applier: { apply: (e: Entry) => void put.run(e.index, Buffer.from(e.payload)) } };
};

function entries(from: number, n: number, bytes = 1024): Entry[] {
  return Array.from({ length: n }, (_, i) => makeEntry(from + i, 1, ENTRY_COMMAND, crypto.randomBytes(bytes)));
}

function rows(db: Database.Database): Array<{ k: number; v: Buffer }> {
  return db.prepare('SELECT k, v FROM kv ORDER BY k').all() as Array<{ k: number; v: Buffer }>;
}

const cfg: ReplicationConfig = {
  cluster_id: 'snap-test',
  nodes: [],
  leader: 'node-1',
  batch_size: 100,
  flush_interval_ms: 5,
  resync_threshold: 1000,
  snapshot_timeout_s: 30,
  write_concern: 'quorum',
  inflight_batches_max: 4,
  failures_lagging: 3,
  silence_lagging_ms: 3000,
  lag_healthy_max: 100,
  append_timeout_ms: 1000,
  heartbeat_ms: 200,
  log_retain_entries: 10_000,
  snapshots_inflight_max: 1,
  commit_timeout_ms: 5000,
  state_compare_interval_ms: 0,
  secret: '',
  operator_token: '',
};

function leaderState(n: number): StateHolder<Kv> {
  const state = new StateHolder(path.join(tempDir(), 'state.db'), factory);
  closers.push(async () => {
    await state.settled();
    state.close();
  });
  for (let lo = 1; lo <= n; lo += 100) state.applyEntries(entries(lo, Math.min(100, n - lo + 1)));
  return state;
}

function follower(applied = 0): { handler: FollowerHandler; state: StateHolder<Kv>; dir: string; stats: ReturnType<typeof emptyResyncStats> } {
  const dir = tempDir();
  const log = new SqliteLog(path.join(dir, 'log.db'));
  const state = new StateHolder(path.join(dir, 'state.db'), factory);
  if (applied > 0) state.applyEntries(entries(1, applied, 16));
  const stats = emptyResyncStats();
  const logger = pino({ level: 'silent' });
  const handler = new FollowerHandler({
    cfg,
    log,
    state,
    snapshots: new FileSnapshotReceiver(state, dir, () => undefined),
    clock: systemClock,
    logger,
    hooks: { onApplied: () => undefined, event: () => undefined, stats },
    condition: new NodeCondition(),
    storage_id: 'test-storage',
  });
  closers.push(async () => {
    handler.stop();
    await Promise.all([state.settled(), log.settled()]);
    state.close();
    log.close();
  });
  return { handler, state, dir, stats };
}

/** Hands each body to the follower in this process, as HTTP would (a copy of the bytes), optionally altered or delayed. */
class Direct implements Transport {
  posts = 0;
  /** The offsets of the chunks in the order the follower was handed them. */
  readonly arrived: number[] = [];
  constructor(
    private readonly handler: FollowerHandler,
    private readonly alter: (n: number, body: Uint8Array) => Promise<Uint8Array> | Uint8Array = (_n, b) => b,
  ) {}

  async post(_address: string, _path: string, body: Uint8Array): Promise<PostResult> {
    const bytes = await this.alter(this.posts++, new Uint8Array(body));
    try {
      this.arrived.push(decodeSnapshotChunk(bytes).offset);
    } catch {
      // Not a chunk this file can decode (a corrupted one): the follower refuses it below.
    }
    try {
      return { status: 200, body: encode(await this.handler.handleSnapshotChunk(bytes)) };
    } catch (err) {
      if (err instanceof ReplicationError) return { status: err.status, body: Buffer.from(JSON.stringify(err.toJSON())) };
      throw err;
    }
  }
}

function target(transport: Transport, extra: Partial<StreamTarget> = {}): StreamTarget {
  return {
    transport,
    address: 'follower',
    cluster_id: cfg.cluster_id,
    term: 1,
    leader_id: 'node-1',
    deadline: performance.now() + 30_000,
    snapshot_timeout_s: 30,
    chunk_timeout_ms: 5000,
    chunk_bytes: 16 * 1024,
    ...extra,
  };
}

async function snapshotOf(state: StateHolder<Kv>): Promise<SnapshotFile> {
  const file = path.join(tempDir(), 'snapshot-out.db');
  return { file, ...(await state.snapshotTo(file)) };
}

describe('snapshotTo', () => {
  it('copies a consistent state while the leader goes on applying, and reports the index the copy holds', async () => {
    const state = leaderState(400);
    const before = state.appliedIndex();
    const file = path.join(tempDir(), 'copy.db');
    const copying = state.snapshotTo(file);
    let next = before + 1;
    let done = false;
    void copying.finally(() => (done = true));
    // Applies interleave with the copy (it runs in a worker thread, off this event loop).
    while (!done) {
      state.applyEntries(entries(next, 5));
      next += 5;
      await new Promise((r) => setImmediate(r));
    }
    const snap = await copying;
    expect(snap.index).toBeGreaterThanOrEqual(before);
    expect(snap.index).toBeLessThanOrEqual(state.appliedIndex());
    const copy = new Database(file, { readonly: true });
    expect(readApplied(copy).index).toBe(snap.index);
    expect((copy.prepare('SELECT count(*) AS n FROM kv').get() as { n: number }).n).toBe(snap.index);
    expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
    copy.close();
    expect(fs.statSync(file).size).toBe(snap.bytes);
    for (const suffix of ['-wal', '-shm', '-journal']) expect(fs.existsSync(file + suffix)).toBe(false);
  });
});

describe('snapshot transfer', () => {
  it('installs the leader state with two chunks in flight, even when they arrive out of order', async () => {
    const leader = leaderState(300);
    const snap = await snapshotOf(leader);
    const f = follower();
    // Chunk 2 is held back until chunk 3 has reached the follower (which waits for 2), not for a
    // fixed time: on a busy machine chunk 3 may take longer than any delay to be read and sent.
    // With one chunk in flight, 3 is never sent while 2 is held, and 2 goes after 5 s.
    let releaseTwo = (): void => undefined;
    const transport = new Direct(f.handler, async (n, body) => {
      if (n === 2) await new Promise<void>((r) => { releaseTwo = r; setTimeout(r, 5000); });
      if (n === 3) setTimeout(() => releaseTwo(), 0);
      return body;
    });
    const sent = await streamSnapshot(target(transport), snap);
    expect(sent.inflight).toBe(2);
    expect(sent.chunks).toBe(Math.ceil(snap.bytes / (16 * 1024)));
    // They did arrive out of order: chunk 3 (offset 48 KiB) before chunk 2 (32 KiB), and every
    // chunk once.
    const kib16 = 16 * 1024;
    expect(sent.chunks).toBeGreaterThan(4);
    expect(transport.arrived.slice(0, 4)).toEqual([0, kib16, 3 * kib16, 2 * kib16]);
    expect([...transport.arrived].sort((a, b) => a - b)).toEqual(Array.from({ length: sent.chunks }, (_, i) => i * kib16));
    expect(sent.final).toMatchObject({ installed: true, applied_index: 300, phases: { quick_check: 'by the leader' } });
    expect(f.state.appliedIndex()).toBe(300);
    expect(rows(f.state.machine.db)).toEqual(rows(leader.machine.db));
    expect(f.stats.snapshots_applied).toBe(1);
    expect(fs.existsSync(path.join(f.dir, 'snapshot-in.db'))).toBe(false);
  });

  it('sends one chunk at a time to a follower that does not say it takes more', async () => {
    const leader = leaderState(100);
    const snap = await snapshotOf(leader);
    const f = follower();
    let inflight = 0;
    let most = 0;
    const direct = new Direct(f.handler);
    const transport: Transport = {
      async post(address, p, body, timeout) {
        most = Math.max(most, ++inflight);
        try {
          const res = await direct.post(address, p, body);
          // An older follower's answer: no inflight_max.
          const said = decode(res.body) as Record<string, unknown>;
          delete said['inflight_max'];
          return { status: res.status, body: encode(said) };
        } finally {
          inflight--;
          void timeout;
        }
      },
    };
    const sent = await streamSnapshot(target(transport), snap);
    expect(sent.inflight).toBe(1);
    expect(most).toBe(1);
    expect(f.state.appliedIndex()).toBe(100);
  });

  it('refuses a chunk corrupted mid-stream: the transfer is discarded and nothing is swapped in', async () => {
    const leader = leaderState(300);
    const snap = await snapshotOf(leader);
    const f = follower(7);
    const before = rows(f.state.machine.db);
    const transport = new Direct(f.handler, (n, body) => {
      if (n === 3) body[body.length - 100] = (body[body.length - 100] as number) ^ 0xff; // a byte of the chunk's data
      return body;
    });
    await expect(streamSnapshot(target(transport), snap)).rejects.toThrow(/answered 400.*bad_chunk_checksum/);
    expect(f.state.appliedIndex()).toBe(7);
    expect(rows(f.state.machine.db)).toEqual(before);
    expect(f.stats.snapshots_applied).toBe(0);
    expect(fs.existsSync(path.join(f.dir, 'snapshot-in.db'))).toBe(false);
    // The rest of that transfer is refused; a new one goes through.
    const again = await streamSnapshot(target(new Direct(f.handler)), snap);
    expect(again.final).toMatchObject({ installed: true, applied_index: 300 });
    expect(rows(f.state.machine.db)).toEqual(rows(leader.machine.db));
  });

  it('refuses a snapshot whose bytes do not match the announced sha256', async () => {
    const leader = leaderState(50);
    const snap = await snapshotOf(leader);
    const f = follower(3);
    // Every chunk keeps a valid crc, but one byte of the file differs from what the leader hashed.
    const transport = new Direct(f.handler, (n, body) => {
      if (n !== 1) return body;
      const chunk = decodeSnapshotChunk(body);
      const data = Buffer.from(chunk.data);
      data[10] = (data[10] as number) ^ 1;
      const out = Buffer.alloc(SNAPSHOT_CHUNK_HEAD_BYTES + data.length);
      data.copy(out, SNAPSHOT_CHUNK_HEAD_BYTES);
      const { data: _, ...fields } = chunk;
      return encodeSnapshotChunkInto(out, data.length, { ...fields, crc: chunkCrc32(data) });
    });
    await expect(streamSnapshot(target(transport), snap)).rejects.toThrow(/answered 400.*sha256 mismatch/);
    expect(f.state.appliedIndex()).toBe(3);
    expect(fs.existsSync(path.join(f.dir, 'snapshot-in.db'))).toBe(false);
  });

  it('runs quick_check itself when the sender does not say it checked, and refuses what is not a database', async () => {
    const f = follower(5);
    const send = async (file: Buffer, last_index: number): Promise<Record<string, unknown>> => {
      const sha = crypto.createHash('sha256').update(file).digest('hex');
      // An older sender: plain msgpack, no source_checked.
      return f.handler.handleSnapshotChunk(
        encode({ cluster_id: cfg.cluster_id, term: 1, leader_id: 'node-1', snapshot_id: `raw-${last_index}`, last_index, last_term: 1, offset: 0, data: file, crc: chunkCrc32(file), done: true, total_bytes: file.length, sha256: sha }),
      );
    };
    const garbage = crypto.randomBytes(8192);
    await expect(send(garbage, 40)).rejects.toMatchObject({ status: 400, code: 'bad_snapshot' });
    expect(f.state.appliedIndex()).toBe(5);

    const leader = leaderState(40);
    const snap = await snapshotOf(leader);
    const answer = await send(fs.readFileSync(snap.file), snap.index);
    expect(answer).toMatchObject({ installed: true, applied_index: 40, phases: { quick_check: 'here' } });
    expect(rows(f.state.machine.db)).toEqual(rows(leader.machine.db));
  });

  it('ignores a snapshot older than what the follower applied: answered ok, state not moved back', async () => {
    const leader = leaderState(20);
    const snap = await snapshotOf(leader);
    const f = follower(60);
    const sent = await streamSnapshot(target(new Direct(f.handler)), snap);
    expect(sent.final['installed']).toBe(false);
    expect(f.state.appliedIndex()).toBe(60);
    expect(f.stats.snapshots_applied).toBe(0);
  });

  it('installs an older snapshot marked as a repair (the follower diverged): state replaced', async () => {
    const leader = leaderState(20);
    const snap = await snapshotOf(leader);
    const f = follower(60);
    const sent = await streamSnapshot(target(new Direct(f.handler), { repair: true }), snap);
    expect(sent.final['installed']).toBe(true);
    expect(f.state.appliedIndex()).toBe(20);
    expect(f.stats.snapshots_applied).toBe(1);
  });
});

describe('encodeSnapshotChunkInto', () => {
  it('decodes like a plain msgpack chunk, data included, without copying it', () => {
    const data = crypto.randomBytes(1000);
    const out = Buffer.alloc(SNAPSHOT_CHUNK_HEAD_BYTES + data.length);
    data.copy(out, SNAPSHOT_CHUNK_HEAD_BYTES);
    const fields = {
      cluster_id: 'c'.repeat(200),
      term: 3,
      leader_id: 'node-1',
      snapshot_id: 'node-1-5-123',
      last_index: 5,
      last_term: 3,
      offset: 4096,
      crc: chunkCrc32(data),
      done: true,
      total_bytes: 5096,
      sha256: 'ab'.repeat(32),
      source_checked: true,
      repair: false,
    };
    const body = encodeSnapshotChunkInto(out, data.length, fields);
    expect(body.buffer).toBe(out.buffer);
    const decoded = decodeSnapshotChunk(body);
    expect({ ...decoded, data: Buffer.from(decoded.data) }).toEqual({ ...fields, data });
    const plain = decodeSnapshotChunk(encode({ ...fields, data }));
    expect({ ...plain, data: Buffer.from(plain.data) }).toEqual({ ...fields, data });
  });
});
