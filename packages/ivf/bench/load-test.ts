import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteIvfStore } from '../src/index.ts';
import type { SearchHit, TrainingState } from '../src/index.ts';
import type { BenchArgs } from './args.ts';
import type { Mixture } from './data.ts';
import { k_recall, log } from './measure.ts';

export interface Built {
  centroids: Float32Array;
  lists: Int32Array;
  sizes: Int32Array;
  training: TrainingState;
  np: number;
  sample: Float32Array[];
  sampleHits: SearchHit[][];
}

const workspace = 'bench';
const rows_per_transaction = 10_000;

/**
 * Writes the trained index into SQLite in the store's schema (embeddings, doc_cluster, clusters,
 * ivf_meta), closes the database, reopens it and times SqliteIvfStore.loadAll(). Checks that the
 * loaded index answers the sample queries exactly as the original did.
 */
export function runLoadTest(args: BenchArgs, mixture: Mixture, built: Built): Record<string, unknown> {
  const { n, dim } = args;
  const dir = args.db_path === undefined ? mkdtempSync(join(tmpdir(), 'ivf-load-')) : null;
  const path = args.db_path ?? join(dir!, 'ivf.db');
  let db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  new SqliteIvfStore(db); // creates the tables
  const emb = db.prepare('INSERT OR REPLACE INTO embeddings(workspace, doc_id, dim, vec, tag) VALUES (?, ?, ?, ?, NULL)');
  const dc = db.prepare('INSERT OR REPLACE INTO doc_cluster(workspace, doc_id, cluster_id) VALUES (?, ?, ?)');
  const cl = db.prepare('INSERT OR REPLACE INTO clusters(workspace, cluster_id, centroid, size, variance) VALUES (?, ?, ?, ?, 0)');
  const nlist = built.sizes.length;
  let t = performance.now();
  const v = new Float32Array(dim);
  const blob = Buffer.from(v.buffer);
  for (let start = 0; start < n; start += rows_per_transaction) {
    db.transaction(() => {
      for (let i = start; i < Math.min(n, start + rows_per_transaction); i++) {
        mixture.write(i, v, 0);
        emb.run(workspace, `v${i}`, dim, blob);
        dc.run(workspace, `v${i}`, built.lists[i]);
      }
    })();
  }
  db.transaction(() => {
    for (let c = 0; c < nlist; c++) {
      cl.run(workspace, c, Buffer.from(built.centroids.buffer, c * dim * 4, dim * 4), built.sizes[c]);
    }
    const t = built.training;
    db.prepare('INSERT OR REPLACE INTO ivf_meta VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(workspace, dim, 'cosine', nlist, t.trained_at_size, t.imbalance_at_train, t.residual_at_train);
  })();
  db.close();
  const write_ms = performance.now() - t;
  const db_bytes = statSync(path).size;
  log(`wrote ${n} rows in ${Math.round(write_ms)} ms (${Math.round(db_bytes / 2 ** 20)} MiB); loading`);

  db = new Database(path, { readonly: true });
  t = performance.now();
  const loaded = new SqliteIvfStore(db).loadAll('cosine');
  const load_ms = performance.now() - t;
  db.close();
  const index = loaded.get(workspace);
  if (index === undefined || index.size !== n || index.nlist !== nlist) throw new Error('load test: loaded index differs');
  let same = 0;
  built.sample.forEach((q, i) => {
    const hits = index.search(q, k_recall, { nprobe: built.np });
    if (JSON.stringify(hits) === JSON.stringify(built.sampleHits[i])) same++;
  });
  log(`loaded ${n} vectors in ${Math.round(load_ms)} ms; ${same}/${built.sample.length} sample queries identical`);
  if (dir !== null) rmSync(dir, { recursive: true, force: true });
  return {
    load_ms: Math.round(load_ms), load_write_ms: Math.round(write_ms), db_bytes,
    load_sample_identical: `${same}/${built.sample.length}`,
  };
}

/** Times loadAll() on an existing database (written by --load-test --db PATH), and a bare read of the rows. */
export function runLoadOnly(path: string): Record<string, unknown> {
  let db = new Database(path, { readonly: true });
  let t = performance.now();
  let rows = 0;
  const stmt = db.prepare(
    `SELECT e.doc_id, e.vec, e.tag, d.cluster_id FROM embeddings e
     LEFT JOIN doc_cluster d ON d.workspace = e.workspace AND d.doc_id = e.doc_id`,
  ).raw();
  for (const _row of stmt.iterate()) rows++;
  const read_ms = performance.now() - t;
  db.close();
  db = new Database(path, { readonly: true });
  t = performance.now();
  const loaded = new SqliteIvfStore(db).loadAll('cosine');
  const load_ms = performance.now() - t;
  db.close();
  const sizes = [...loaded.values()].map((ix) => ({ size: ix.size, nlist: ix.nlist }));
  log(`read ${rows} rows in ${Math.round(read_ms)} ms; loadAll in ${Math.round(load_ms)} ms`);
  return { mode: 'load-only', rows, sqlite_read_ms: Math.round(read_ms), load_ms: Math.round(load_ms), indexes: sizes, db_bytes: statSync(path).size };
}
