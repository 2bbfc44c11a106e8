import { describe, expect, it } from 'vitest';
import { ENTRY_COMMAND, makeEntry, validateAppend } from '@cairn/raft';
import { Prng } from './prng.ts';
import { ReplicationError } from '../../src/replication/errors.ts';
import type { PostResult } from '../../src/replication/transport.ts';
import { decodeAppendRequest, decodeSnapshotChunk, chunkCrc32, encode, encodeSnapshotChunkInto, SNAPSHOT_CHUNK_HEAD_BYTES } from '../../src/replication/wire.ts';
import { Scheduler } from './clock.ts';
import { SimNetwork, corruptBody, quietNetwork } from './network.ts';
import type { Handlers, NetworkFaults, NetworkHooks } from './network.ts';

function appendBody(n: number): Buffer {
  const entries = Array.from({ length: n }, (_, i) => makeEntry(4 + i, 2, ENTRY_COMMAND, new Uint8Array([1, 2, 3, i])));
  return encode({ cluster_id: 'c', term: 2, leader_id: 'L', prev_index: 3, prev_term: 1, entries, leader_commit: 3 });
}

function world(faults: Partial<NetworkFaults> = {}, handlers?: Partial<Handlers>) {
  const s = new Scheduler();
  const fatal: string[] = [];
  const corrupted: Array<{ status: number; unchanged: boolean | null }> = [];
  const hooks: NetworkHooks = {
    fatal: (node, path, err) => fatal.push(`${node} ${path} ${(err as Error).message}`),
    corruptedAnswered: (_n, _p, status, unchanged) => corrupted.push({ status, unchanged }),
    fingerprint: () => 'same',
  };
  const net = new SimNetwork(new Prng(7), { ...quietNetwork, delay_ms_min: 1, delay_ms_max: 1, ...faults }, hooks);
  net.addNode('L', 'l:1');
  net.addNode('F', 'f:1');
  const lc = s.clock('L');
  const fc = s.clock('F');
  let handled = 0;
  const h: Handlers = {
    append: async (body) => {
      handled++;
      return Buffer.from(body.subarray(0, 1));
    },
    snapshot: async () => ({ ok: true }),
    ...handlers,
  };
  net.attach('L', lc, null);
  net.attach('F', fc, h);
  const t = net.transport('L', lc);
  const outcomes: string[] = [];
  const post = (body: Uint8Array, timeout = 50, path = '/_raft/append'): void => {
    t.post('f:1', path, body, timeout).then(
      (r: PostResult) => outcomes.push(`${r.status}@${s.now()}`),
      (e: Error) => outcomes.push(`err ${e.message.slice(0, 9)}@${s.now()}`),
    );
  };
  return { s, net, lc, fc, post, outcomes, fatal, corrupted, handledCount: () => handled };
}

describe('simulated network', () => {
  it('delivers to the handler and brings the answer back after the delays', async () => {
    const w = world();
    w.post(new Uint8Array([9, 9]));
    await w.s.runUntil(100);
    expect(w.outcomes).toEqual(['200@2']);
  });

  it('times out on the sender clock when a request is dropped', async () => {
    const w = world({ drop: 1 });
    w.post(new Uint8Array([1]), 30);
    await w.s.runUntil(100);
    expect(w.outcomes).toEqual(['err no answer@30']);
    expect(w.handledCount()).toBe(0);
  });

  it('hands duplicates to the handler twice; the sender sees one outcome', async () => {
    const w = world({ duplicate: 1 });
    w.post(new Uint8Array([1]));
    await w.s.runUntil(100);
    expect(w.handledCount()).toBe(2);
    expect(w.outcomes).toEqual(['200@2']);
  });

  it('cuts one direction only', async () => {
    const w = world();
    w.net.cut('F', 'L', 1000);
    w.post(new Uint8Array([1]), 20);
    await w.s.runUntil(100);
    expect(w.handledCount()).toBe(1);
    expect(w.outcomes).toEqual(['err no answer@20']);
    w.net.healAll();
    w.net.cut('L', 'F', 1000);
    w.post(new Uint8Array([1]), 20);
    await w.s.runUntil(200);
    expect(w.handledCount()).toBe(1);
  });

  it('loses requests to a dead node and answers to a dead sender', async () => {
    const w = world();
    w.fc.kill();
    w.post(new Uint8Array([1]), 20);
    await w.s.runUntil(100);
    expect(w.outcomes).toEqual(['err no answer@20']);
    // The sender dies while its request is handled: the answer is lost, the request was handled.
    const v = world();
    v.post(new Uint8Array([1]), 20);
    await v.s.runUntil(1);
    v.lc.kill();
    await v.s.runUntil(100);
    expect(v.handledCount()).toBe(1);
    expect(v.outcomes).toEqual([]);
  });

  it('maps a ReplicationError to its status and JSON, and reports other errors as fatal', async () => {
    const w = world({}, {
      append: async (body) => {
        if (body[0] === 1) throw new ReplicationError(409, 'stale_term', 'old');
        throw new TypeError('broken invariant');
      },
    });
    w.post(new Uint8Array([1]));
    w.post(new Uint8Array([2]), 40);
    await w.s.runUntil(100);
    expect(w.outcomes).toEqual(['409@2', 'err no answer@40']);
    expect(w.fatal).toEqual(['F /_raft/append broken invariant']);
  });

  it('damages appends so that they fail validation', () => {
    const rng = new Prng(3);
    for (let i = 0; i < 300; i++) {
      const body = appendBody(i % 3);
      const bad = corruptBody('/_raft/append', body, rng);
      expect(bad).not.toBeNull();
      let refused = false;
      try {
        refused = validateAppend(decodeAppendRequest(bad as Uint8Array)) !== null;
      } catch {
        refused = true;
      }
      expect(refused, `corruption ${i} passed validation`).toBe(true);
    }
  });

  it('damages snapshot chunks so that their crc or digest no longer matches', () => {
    const rng = new Prng(5);
    for (let i = 0; i < 200; i++) {
      const data = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
      const out = Buffer.alloc(SNAPSHOT_CHUNK_HEAD_BYTES + data.length);
      data.copy(out, SNAPSHOT_CHUNK_HEAD_BYTES);
      const sha = 'a'.repeat(64);
      const body = encodeSnapshotChunkInto(out, data.length, {
        cluster_id: 'c', term: 1, leader_id: 'L', snapshot_id: 's', last_index: 5, last_term: 1, offset: 0,
        crc: chunkCrc32(data), done: true, total_bytes: 8, sha256: sha, source_checked: true, repair: false,
      });
      const bad = corruptBody('/_raft/snapshot', body, rng) as Uint8Array;
      let refused = false;
      try {
        const c = decodeSnapshotChunk(bad);
        refused = chunkCrc32(c.data) !== c.crc || c.sha256 !== sha;
      } catch {
        refused = true;
      }
      expect(refused).toBe(true);
    }
  });

  it('tells the simulation how a corrupted request was answered', async () => {
    const w = world({ corrupt: 1 }, {
      append: async (body) => {
        let req;
        try {
          req = decodeAppendRequest(body);
        } catch (err) {
          throw new ReplicationError(400, 'bad_append', (err as Error).message);
        }
        const problem = validateAppend(req);
        if (problem !== null) throw new ReplicationError(400, 'bad_append', problem);
        return Buffer.from([0]);
      },
    });
    for (let i = 0; i < 20; i++) w.post(appendBody(2));
    await w.s.runUntil(100);
    expect(w.corrupted.length).toBe(20);
    expect(w.corrupted.every((c) => c.status === 400)).toBe(true);
  });
});
