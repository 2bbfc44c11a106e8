import { describe, expect, it } from 'vitest';
import { ENTRY_COMMAND, makeEntry } from '@cairn/raft';
import { Prng } from './prng.ts';
import { ReplicationError } from '../../src/replication/errors.ts';
import { chunkCrc32, decodeSnapshotChunk } from '../../src/replication/wire.ts';
import { Scheduler } from './clock.ts';
import { SimState, encodeStateImage } from './disk.ts';
import { SimNetwork, quietNetwork } from './network.ts';
import { SimSnapshotReceiver, SimSnapshotShipper } from './snapshots.ts';
import crypto from 'node:crypto';

/** The follower side as the handler does it: decode, crc, begin at offset 0, write in order, finish, install. */
function chunkHandler(receiver: SimSnapshotReceiver, inflight_max: number) {
  return async (body: Uint8Array): Promise<Record<string, unknown>> => {
    let c;
    try {
      c = decodeSnapshotChunk(body);
    } catch (err) {
      throw new ReplicationError(400, 'bad_snapshot', (err as Error).message);
    }
    if (chunkCrc32(c.data) !== c.crc) {
      receiver.abort('crc');
      throw new ReplicationError(400, 'bad_chunk_checksum', 'crc');
    }
    if (c.offset === 0) receiver.begin(c.snapshot_id, c.last_index, c.last_term);
    const cur = receiver.current();
    if (cur?.id !== c.snapshot_id || cur.offset !== c.offset) throw new ReplicationError(409, 'snapshot_out_of_order', 'order');
    receiver.write(c.data);
    if (!c.done) return { ok: true, received: cur.offset + c.data.length, inflight_max };
    const snap = await receiver.finish(c.total_bytes, c.sha256, c.source_checked);
    const at = snap.install();
    return { ok: true, installed: true, applied_index: at.index };
  };
}

function setup(faults = {}, inflight = 2) {
  const s = new Scheduler();
  const net = new SimNetwork(new Prng(11), { ...quietNetwork, delay_ms_min: 1, delay_ms_max: 4, ...faults }, {
    fatal: (n, p, e) => {
      throw e;
    },
    corruptedAnswered: () => undefined,
    fingerprint: () => '',
  });
  net.addNode('L', 'l:1');
  net.addNode('F', 'f:1');
  const lc = s.clock('L');
  const leaderState = new SimState('L');
  const followerState = new SimState('F');
  const receiver = new SimSnapshotReceiver(followerState);
  net.attach('L', lc, null);
  net.attach('F', s.clock('F'), { append: async () => Buffer.alloc(0), snapshot: chunkHandler(receiver, 2) });
  leaderState.applyEntries(Array.from({ length: 9 }, (_, i) => makeEntry(i + 1, 1, ENTRY_COMMAND, new Uint8Array([i]))));
  const shipper = new SimSnapshotShipper({
    state: leaderState, transport: net.transport('L', lc), clock: lc, cluster_id: 'c', leader_id: 'L',
    chunk_bytes: 16, inflight_max: inflight, chunk_timeout_ms: 50, filler_bytes: 70,
  });
  return { s, lc, leaderState, followerState, receiver, shipper };
}

describe('simulated snapshots', () => {
  it('ships the leader state in several chunks, two in flight, and installs it', async () => {
    // Fixed delays: this handler does not wait for a chunk that overtook its predecessor.
    const w = setup({ delay_ms_min: 2, delay_ms_max: 2 });
    let result: unknown = null;
    w.shipper.ship({ follower: 'F', address: 'f:1', term: 3, repair: false, designated: null, deadline_ms: 1000 }).then((r) => (result = r), (e: unknown) => (result = e));
    await w.s.runUntil(1000);
    expect(result).toMatchObject({ index: 9, term: 1, answer: { installed: true, applied_index: 9 }, phases: { inflight: 2 } });
    expect((result as { phases: { chunks: number } }).phases.chunks).toBeGreaterThan(3);
    expect(w.followerState.image()).toEqual(w.leaderState.image());
  });

  it('fails the transfer when a chunk is damaged, and installs nothing', async () => {
    const w = setup({ corrupt: 1 });
    let err: unknown = null;
    w.shipper.ship({ follower: 'F', address: 'f:1', term: 3, repair: false, designated: null, deadline_ms: 1000 }).catch((e: unknown) => (err = e));
    await w.s.runUntil(1000);
    expect(String(err)).toMatch(/follower answered 400/);
    expect(w.followerState.appliedIndex()).toBe(0);
  });

  it('gives up at the deadline', async () => {
    const w = setup({ drop: 1 });
    let err: unknown = null;
    w.shipper.ship({ follower: 'F', address: 'f:1', term: 3, repair: false, designated: null, deadline_ms: 120 }).catch((e: unknown) => (err = e));
    await w.s.runUntil(1000);
    expect(String(err)).toMatch(/no answer/);
  });

  it('receiver refuses a wrong digest, a wrong size and bytes that are not the announced state', async () => {
    const st = new SimState('F');
    const r = new SimSnapshotReceiver(st);
    const bytes = encodeStateImage({ index: 5, term: 1, value: 42 }, 10);
    const sha = crypto.createHash('sha256').update(bytes).digest('hex');
    r.begin('a', 5, 1);
    r.write(bytes);
    await expect(r.finish(bytes.length, 'f'.repeat(64), true)).rejects.toMatchObject({ status: 400 });
    r.begin('b', 5, 1);
    r.write(bytes);
    await expect(r.finish(bytes.length + 1, sha, true)).rejects.toMatchObject({ status: 400 });
    r.begin('c', 6, 1);
    r.write(bytes);
    await expect(r.finish(bytes.length, sha, true)).rejects.toThrow(/announced 6/);
    r.begin('d', 5, 1);
    r.write(bytes);
    const snap = await r.finish(bytes.length, sha, true);
    expect(st.appliedIndex()).toBe(0);
    expect(snap.install()).toEqual({ index: 5, term: 1 });
    expect(st.value()).toBe(42);
  });
});
