import { describe, expect, it } from 'vitest';
import { IvfError, IvfIndex, trainSnapshot, vectorFingerprint } from '../src/index.ts';
import { build, dataset } from './helpers.ts';

function assignmentOf(index: IvfIndex, nlist: number): { centroids: Float32Array; ids: string[]; lists: Uint32Array; fingerprints: Uint32Array } {
  const snap = index.exportVectors();
  const r = trainSnapshot(snap, { seed: 1, nlist });
  return { centroids: r.centroids, ids: snap.ids, lists: r.lists, fingerprints: r.fingerprints };
}

function placement(index: IvfIndex): Map<string, number> {
  const out = new Map<string, number>();
  index.forEachAssignment((id, list) => out.set(id, list));
  return out;
}

describe('training from a copy (trainSnapshot) and installing its assignment', () => {
  it('trains the same centroids as train() and assigns every vector where applyCentroids() would', () => {
    const d = dataset(1500, 24);
    const a = build(d);
    const b = build(d);
    const snap = a.exportVectors();
    expect(snap.ids.length).toBe(1500);
    expect(snap.data.length).toBe(1500 * 24);
    const r = trainSnapshot(snap, { seed: 1, nlist: 20 });
    expect(r.centroids).toEqual(a.train({ nlist: 20, seed: 1 }));
    const counts = a.applyAssignedCentroids(r.centroids, { ids: snap.ids, lists: r.lists, fingerprints: r.fingerprints });
    expect(counts).toEqual({ assigned: 1500, routed: 0 });
    b.applyCentroids(r.centroids);
    expect(placement(a)).toEqual(placement(b));
    expect(a.listSizes()).toEqual(b.listSizes());
    expect(a.stats()).toMatchObject({ ...b.stats(), residual_growth: expect.any(Number) });
  });

  it('routes vectors added or replaced after the copy and skips removed ones', () => {
    const d = dataset(1200, 16);
    const a = build(d);
    const snap = assignmentOf(a, 16);
    a.add('late-1', d.mixture.vector(5001));
    a.add(d.ids[3]!, d.mixture.vector(5002)); // replaced: the copy's fingerprint no longer matches
    a.remove(d.ids[4]!);
    const counts = a.applyAssignedCentroids(snap.centroids, snap);
    expect(counts).toEqual({ assigned: 1198, routed: 2 });
    expect(a.size).toBe(1200);
    expect(a.has(d.ids[4]!)).toBe(false);
    // The routed vectors sit where the index itself routes them under the new centroids.
    const probe = new IvfIndex({ dim: 16 });
    probe.add('x', d.mixture.vector(0));
    probe.applyCentroids(snap.centroids);
    for (const [id, i] of [['late-1', 5001], [d.ids[3]!, 5002]] as const) {
      probe.add('x', d.mixture.vector(i));
      expect(a.listOf(id)).toBe(probe.listOf('x'));
    }
    // Unchanged vectors keep the copy's list.
    expect(a.listOf(d.ids[10]!)).toBe(snap.lists[snap.ids.indexOf(d.ids[10]!)]);
  });

  it('leaves identical lists whatever the previous layout (insertion order, earlier training)', () => {
    const d = dataset(900, 8);
    const a = build(d);
    const reversed = { ...d, ids: [...d.ids].reverse(), vectors: [...d.vectors].reverse(), tags: [...d.tags].reverse() };
    const b = build(reversed);
    b.applyCentroids(b.train({ nlist: 5 })); // b starts from other lists
    const snap = assignmentOf(a, 12);
    a.add('late', d.mixture.vector(7000));
    b.add('late', d.mixture.vector(7000));
    a.applyAssignedCentroids(snap.centroids, snap);
    b.applyAssignedCentroids(snap.centroids, snap);
    const rows = (x: IvfIndex): string[][] => {
      const out: string[][] = Array.from({ length: x.nlist }, () => []);
      x.forEachAssignment((id, list) => out[list]!.push(id));
      return out;
    };
    expect(rows(b)).toEqual(rows(a));
    const variances = a.listVariances();
    expect(b.listVariances()).toEqual(variances);
    expect(b.trainingState()).toEqual(a.trainingState());
    // The variances kept from the install are the ones computed from the rows.
    a.add('probe', d.mixture.vector(7001));
    a.remove('probe');
    expect(a.listVariances()).toEqual(variances);
  });

  it('rejects a malformed assignment before changing anything', () => {
    const d = dataset(300, 8);
    const a = build(d);
    const snap = assignmentOf(a, 4);
    const before = placement(a);
    const code = (f: () => unknown): string => {
      try {
        f();
      } catch (err) {
        if (err instanceof IvfError) return err.code;
        throw err;
      }
      return 'none';
    };
    expect(code(() => a.applyAssignedCentroids(snap.centroids, { ...snap, lists: snap.lists.subarray(1) }))).toBe('bad_option');
    const outOfRange = snap.lists.slice();
    outOfRange[0] = 4;
    expect(code(() => a.applyAssignedCentroids(snap.centroids, { ...snap, lists: outOfRange }))).toBe('bad_option');
    expect(code(() => a.applyAssignedCentroids(new Float32Array(3), snap))).toBe('bad_centroids');
    expect(placement(a)).toEqual(before);
    expect(a.nlist).toBe(0);
  });

  it('fingerprints the stored bits of a row', () => {
    const v = new Float32Array([0.5, -1, 2, 0]);
    expect(vectorFingerprint(v, 0, 4)).toBe(vectorFingerprint(new Float32Array([0.5, -1, 2, 0]), 0, 4));
    expect(vectorFingerprint(v, 0, 4)).not.toBe(vectorFingerprint(new Float32Array([0.5, -1, 2, -0]), 0, 4));
    expect(vectorFingerprint(new Float32Array([9, 0.5, -1, 2, 0]), 1, 4)).toBe(vectorFingerprint(v, 0, 4));
  });
});
