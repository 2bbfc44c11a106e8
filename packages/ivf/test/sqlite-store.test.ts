import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { IvfIndex, SqliteIvfStore } from '../src/index.ts';
import { dataset, queries } from './helpers.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ivf-store-'));
  dirs.push(dir);
  return join(dir, 'state.db');
}

describe('SqliteIvfStore', () => {
  it('round-trips two workspaces through a real file: same results after close and reopen', () => {
    const path = tempDb();
    const d = dataset(1200, 16);
    const qs = queries(d, 8);
    let db = new Database(path);
    let store = new SqliteIvfStore(db);
    const a = new IvfIndex({ dim: 16, exact_scan_size_max: 0 });
    const b = new IvfIndex({ dim: 16, metric: 'l2' });
    db.transaction(() => {
      d.ids.forEach((id, i) => store.put('ws-a', id, d.vectors[i]!, a, d.tags[i]));
      for (let i = 0; i < 50; i++) store.put('ws-b', d.ids[i]!, d.vectors[i]!, b);
    })();
    const centroids = a.train({ nlist: 24 });
    db.transaction(() => store.saveCentroids('ws-a', centroids, a))();
    db.transaction(() => {
      for (let i = 1200; i < 1300; i++) store.put('ws-a', `doc-${i}`, d.mixture.vector(i), a, 'ws-a');
      store.put('ws-a', d.ids[5]!, d.mixture.vector(5000), a); // replace
      store.remove('ws-a', d.ids[7]!, a);
      store.remove('ws-b', d.ids[3]!, b);
    })();
    const before = qs.map((q) => a.search(q, 10, { nprobe: 3 }));
    const filtered = qs.map((q) => a.search(q, 10, { nprobe: 3, filter: 'ws-a' }));
    const beforeB = qs.map((q) => b.search(q, 5));
    db.close();

    db = new Database(path);
    store = new SqliteIvfStore(db);
    const loaded = store.loadAll();
    expect([...loaded.keys()]).toEqual(['ws-a', 'ws-b']);
    const a2 = loaded.get('ws-a')!;
    const b2 = loaded.get('ws-b')!;
    expect(a2.size).toBe(a.size);
    expect(a2.nlist).toBe(24);
    expect(b2.metric).toBe('l2');
    expect(b2.size).toBe(49);
    expect(a2.centroids()).toEqual(a.centroids());
    const { residual_growth: r2, ...s2 } = a2.stats();
    const { residual_growth: r1, ...s1 } = a.stats();
    expect(s2).toEqual(s1);
    expect(r2).toBeCloseTo(r1, 9); // summed in another order
    expect(a2.trainingState()).toEqual(a.trainingState());
    for (const id of [...d.ids, 'doc-1250']) expect(a2.listOf(id)).toBe(a.listOf(id));
    qs.forEach((q, i) => expect(b2.search(q, 5)).toEqual(beforeB[i]));
    const sizes = db.prepare('SELECT cluster_id, size FROM clusters WHERE workspace = ? ORDER BY cluster_id').all('ws-a') as { size: number }[];
    expect(sizes.map((r) => r.size)).toEqual(Array.from(a.listSizes()));
    db.close();

    // Same search results through the IVF path (crossover 0 as in the original index).
    db = new Database(path);
    store = new SqliteIvfStore(db);
    const a3 = store.loadAll('cosine', { exact_scan_size_max: 0 }).get('ws-a')!;
    db.close();
    expect(qs.map((q) => a3.search(q, 10, { nprobe: 3 }))).toEqual(before);
    expect(qs.map((q) => a3.search(q, 10, { nprobe: 3, filter: 'ws-a' }))).toEqual(filtered);
    expect(filtered.every((hits) => hits.length === 10)).toBe(true);
  });

  it('works inside the caller\'s transaction and rolls back with it', () => {
    const db = new Database(tempDb());
    const store = new SqliteIvfStore(db);
    const index = new IvfIndex({ dim: 2, metric: 'l2' });
    expect(() => db.transaction(() => {
      store.put('w', 'x', new Float32Array([1, 2]), index);
      store.put('w', 'y', new Float32Array([1, 2, 3]), index);
    })()).toThrow(/dimension_mismatch/);
    expect(db.prepare('SELECT count(*) FROM embeddings').pluck().get()).toBe(0);
    db.close();
  });
});
