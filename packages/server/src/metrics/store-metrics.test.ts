import Database from 'better-sqlite3';
import { IvfIndex, SqliteIvfStore } from '@cairn/ivf';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Replica } from '../replication/replica.ts';
import type { DocumentStore } from '../store/document-store.ts';
import { parsePrometheusText, sampleValue } from './prom-text.ts';
import { ivfRows, registerStoreMetrics } from './store-metrics.ts';

/** A state database with the IVF tables and one workspace of 60 vectors trained into 3 lists. */
function ivfDb(): { db: Database.Database; retrain: () => void } {
  const db = new Database(':memory:');
  const store = new SqliteIvfStore(db);
  const index = new IvfIndex({ dim: 4, seed: 1 });
  for (let i = 0; i < 60; i++) {
    const g = i % 3;
    store.put('ws', `d${i}`, new Float32Array([g === 0 ? 1 : 0.01 * i, g === 1 ? 1 : 0.02, g === 2 ? 1 : 0.03, 0.01 * (i % 7)]), index);
  }
  store.saveCentroids('ws', index.train({ nlist: 3 }), index);
  return { db, retrain: () => store.saveCentroids('ws', index.train({ nlist: 4 }), index) };
}

describe('IVF metrics', () => {
  it('reads lists, vectors and the spread of list sizes per workspace', () => {
    const [row] = ivfRows(ivfDb().db);
    expect(row).toMatchObject({ workspace: 'ws', nlist: 3, lists: 3, vectors_in_lists: 60, trained_at_size: 60 });
    expect(row?.list_size_min).toBeGreaterThan(0);
    expect(row?.list_size_max).toBeGreaterThanOrEqual(row?.list_size_min ?? Infinity);
  });

  it('exports them and counts a retrain when the trained centroids change', async () => {
    const { db, retrain } = ivfDb();
    const [row] = ivfRows(db);
    const replica = { state: { machine: { db, workspaceStats: () => ({ ws: { document_count: 60, bytes: 999, dim: 4, last_write_ms: 0 } }) } } } as unknown as Replica<DocumentStore>;
    const registry = new Registry();
    registerStoreMetrics(registry, replica);
    let f = parsePrometheusText(await registry.metrics());
    expect(sampleValue(f, 'cairn_ivf_lists', { workspace: 'ws' })).toBe(3);
    expect(sampleValue(f, 'cairn_ivf_vectors', { workspace: 'ws' })).toBe(60);
    expect(sampleValue(f, 'cairn_ivf_list_size_max', { workspace: 'ws' })).toBe(row?.list_size_max);
    expect(sampleValue(f, 'cairn_ivf_list_imbalance_ratio', { workspace: 'ws' })).toBeCloseTo(((row?.list_size_sq ?? 0) * 3) / 3600);
    expect(sampleValue(f, 'cairn_workspace_documents', { workspace: 'ws' })).toBe(60);
    expect(sampleValue(f, 'cairn_ivf_retrains_total')).toBe(0);
    retrain();
    f = parsePrometheusText(await registry.metrics());
    expect(sampleValue(f, 'cairn_ivf_retrains_total')).toBe(1);
  });
});
