// Centroids ops that carry the assignment of the vectors the leader trained on (v2), and the
// older shape without it (v1, still in existing logs).
import { trainSnapshot } from '@cairn/ivf';
import { describe, expect, it } from 'vitest';
import { startRetrainJob } from '../retrain/job.ts';
import { trainWorkspace } from '../retrain/retrainer.ts';
import { assertOp, bytesToUint32, centroids_assigned_op_version, decodeOp, encodeOp, op_version } from './op.ts';
import type { CentroidsOp, Op } from './op.ts';
import { openTestStore, seededRandom } from './testing.ts';
import type { TestStore } from './testing.ts';
import { index_seed } from './vectors.ts';

const words = ['alpha', 'beta', 'gamma', 'delta', 'river', 'stone', 'cloud', 'ember', 'orbit', 'lemon', 'quartz', 'tundra'];

function text(rand: () => number, n: number): string {
  return Array.from({ length: n }, () => words[Math.floor(rand() * words.length)]).join(' ');
}

async function fill(t: TestStore, log: Op[], ws: string, from: number, count: number, rand: () => number): Promise<void> {
  for (let i = from; i < from + count; i += 50) {
    const docs = Array.from({ length: Math.min(50, from + count - i) }, (_, j) => ({ id: `d-${i + j}`, content: text(rand, 12) }));
    const { op } = await t.store.preparePutMany(ws, docs);
    if (op === null) throw new Error('no op');
    t.applyLogged(op);
    log.push(op);
  }
}

function docClusters(t: TestStore, ws: string): Map<string, number> {
  const rows = t.db.prepare('SELECT doc_id, cluster_id FROM doc_cluster WHERE workspace = ?').raw().all(ws) as [string, number][];
  return new Map(rows);
}

describe('centroids op with an assignment (v2)', () => {
  it('two fresh stores applying the same log end with the same checksum; writes after the copy are routed, deleted ids skipped', async () => {
    using leader = openTestStore();
    using f1 = openTestStore({ clock: () => 0 });
    using f2 = openTestStore({ clock: () => 1 });
    const rand = seededRandom(7);
    const log: Op[] = [];
    await fill(leader, log, 'ws', 0, 600, rand);
    // The copy the training job works on; writes go on while it trains.
    const snapshot = leader.store.retrainSnapshot('ws');
    if (snapshot === null) throw new Error('no snapshot');
    const result = trainSnapshot({ ...snapshot, data: snapshot.data.slice() }, { seed: index_seed });
    await fill(leader, log, 'ws', 600, 40, rand); // added after the copy
    const replaced = await leader.store.preparePut('ws', { id: 'd-5', content: 'a new text for an old id: quartz tundra ember' });
    leader.applyLogged(replaced);
    log.push(replaced);
    const del = leader.store.prepareDelete('ws', ['d-7', 'd-8']);
    leader.applyLogged(del);
    log.push(del);
    const op = leader.store.centroidsOp('ws', snapshot.dim, result.centroids, { ids: snapshot.ids, lists: result.lists, fingerprints: result.fingerprints });
    expect(op.v).toBe(centroids_assigned_op_version);
    expect(op.ids).toHaveLength(600);
    leader.applyLogged(op);
    log.push(op);
    const after = await leader.store.preparePut('ws', { id: 'late', content: 'written after the retrain' });
    leader.applyLogged(after);
    log.push(after);

    for (const f of [f1, f2]) for (const o of log) f.applyLogged(o);
    expect(f1.store.checksum()).toBe(leader.store.checksum());
    expect(f2.store.checksum()).toBe(leader.store.checksum());

    const clusters = docClusters(leader, 'ws');
    expect(clusters.size).toBe(600 + 40 - 2 + 1);
    expect(clusters.has('d-7')).toBe(false);
    // Unchanged ids keep the job's list; the replaced one and those added after the copy sit
    // where a full reassignment (a v1 op with the same centroids) puts them.
    const lists = bytesToUint32(op.lists!);
    const jobList = (id: string): number => lists[op.ids!.indexOf(id)]!;
    using full = openTestStore({ clock: () => 2 });
    for (const o of log) {
      if (o.kind !== 'centroids') full.applyLogged(o);
      else full.applyLogged({ kind: 'centroids', v: op_version, ws: o.ws, ts: o.ts, dim: o.dim, centroids: o.centroids });
    }
    const routed = docClusters(full, 'ws');
    expect(clusters.get('d-10')).toBe(jobList('d-10'));
    for (const id of ['d-5', 'd-600', 'd-639', 'late']) expect(clusters.get(id)).toBe(routed.get(id));
    // The job's assignment is the one a full reassignment makes: the two installs agree on every id.
    expect(clusters).toEqual(routed);
  });

  it('applies an old-shape centroids op (v1, no assignment) as before', async () => {
    using t = openTestStore();
    const rand = seededRandom(3);
    await fill(t, [], 'ws', 0, 200, rand);
    const v2 = t.store.prepareRetrain('ws');
    if (v2.kind !== 'centroids') throw new Error('expected centroids');
    const v1: CentroidsOp = { kind: 'centroids', v: op_version, ws: 'ws', ts: v2.ts, dim: v2.dim, centroids: v2.centroids };
    using other = openTestStore();
    await fill(other, [], 'ws', 0, 200, seededRandom(3));
    t.applyLogged(v2);
    other.applyLogged(v1);
    expect(docClusters(other, 'ws')).toEqual(docClusters(t, 'ws'));
    expect(other.store.retrainCandidates()).toEqual([]);
  });

  it('checks the shape: an assignment needs v2, 4 bytes per id, and only centroids ops are v2', async () => {
    using t = openTestStore();
    await fill(t, [], 'ws', 0, 60, seededRandom(1));
    const op = t.store.prepareRetrain('ws');
    if (op.kind !== 'centroids') throw new Error('expected centroids');
    expect(() => assertOp(op)).not.toThrow();
    expect(decodeOp(encodeOp(op))).toEqual({ ...op, centroids: expect.any(Uint8Array), lists: expect.any(Uint8Array), fingerprints: expect.any(Uint8Array) });
    expect(() => assertOp({ ...op, v: op_version })).toThrow(/needs v2/);
    expect(() => assertOp({ ...op, lists: op.lists!.subarray(4) })).toThrow(/op.lists/);
    expect(() => assertOp({ ...op, fingerprints: undefined })).toThrow(/op.fingerprints/);
    expect(() => assertOp({ ...op, ids: [...op.ids!.slice(1), 3] })).toThrow(/op.ids/);
    expect(() => assertOp({ kind: 'noop', v: centroids_assigned_op_version, ts: 1 })).toThrow(/op.v/);
  });
});

describe('retrain worker thread', () => {
  it('loads under the test runner and returns what trainSnapshot returns on this thread', async () => {
    using t = openTestStore();
    await fill(t, [], 'ws', 0, 300, seededRandom(5));
    const a = t.store.retrainSnapshot('ws');
    const b = t.store.retrainSnapshot('ws');
    if (a === null || b === null) throw new Error('no snapshot');
    const here = trainSnapshot(a, { seed: index_seed });
    const job = startRetrainJob();
    try {
      const pending = job.train(b, index_seed);
      expect(b.data.length).toBe(0); // transferred, not copied
      const there = await pending;
      expect(there.centroids).toEqual(here.centroids);
      expect(there.lists).toEqual(here.lists);
      expect(there.fingerprints).toEqual(here.fingerprints);
    } finally {
      await job.terminate();
    }
  });

  it('rejects a pending request when terminated', async () => {
    using t = openTestStore();
    await fill(t, [], 'ws', 0, 100, seededRandom(6));
    const snap = t.store.retrainSnapshot('ws');
    if (snap === null) throw new Error('no snapshot');
    const job = startRetrainJob();
    const rejected = expect(job.train(snap, index_seed)).rejects.toThrow(/terminated/);
    await job.terminate();
    await rejected;
  });

  it('assigns the vectors written while it trained in another round; a follower converges', async () => {
    using leader = openTestStore();
    using follower = openTestStore({ clock: () => 0 });
    const rand = seededRandom(8);
    const log: Op[] = [];
    await fill(leader, log, 'ws', 0, 500, rand);
    // Prepared now, applied right after the copy (before the worker trains): not in the copy.
    const later: Op[] = [];
    for (let i = 500; i < 800; i += 50) {
      const { op } = await leader.store.preparePutMany('ws', Array.from({ length: 50 }, (_, j) => ({ id: `d-${i + j}`, content: text(rand, 12) })));
      if (op !== null) later.push(op);
    }
    later.push(leader.store.prepareDelete('ws', ['d-1']));
    const job = startRetrainJob();
    let result: Awaited<ReturnType<typeof trainWorkspace>>;
    try {
      result = await trainWorkspace(leader.store, 'ws', job, {
        onStart: () => {
          for (const o of later) {
            leader.applyLogged(o);
            log.push(o);
          }
        },
      });
    } finally {
      await job.terminate();
    }
    const { op, stats } = result;
    if (op === null) throw new Error('no op');
    expect(stats).toMatchObject({ vectors: 500, rounds: 1, unassigned: 0 });
    expect(op.ids).toContain('d-799');
    leader.applyLogged(op);
    log.push(op);
    for (const o of log) follower.applyLogged(o);
    expect(follower.store.checksum()).toBe(leader.store.checksum());
    expect(docClusters(leader, 'ws').size).toBe(799);
  });
});
