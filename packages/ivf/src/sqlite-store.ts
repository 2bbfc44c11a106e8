import type { Database, Statement } from 'better-sqlite3';
import { IvfIndex } from './ivf-index.ts';
import type { IvfOptions, Metric } from './ivf-index.ts';
import type { Assignment } from './retrain.ts';

/**
 * SQLite persistence for one IvfIndex per workspace. Vectors are stored as the caller gave them
 * (little-endian float32 BLOBs) and normalised again on load, so a reloaded index holds the same
 * bytes as one built live. Each vector's list is stored in doc_cluster, so loading places vectors
 * without routing them again.
 *
 * No method begins or commits a transaction: the daemon calls them inside its own. The in-memory
 * index is changed too, so if a statement fails the caller must treat the index as lost and rebuild
 * it with loadAll() after rolling back.
 */
export class SqliteIvfStore {
  private readonly db: Database;
  private readonly st: Record<
    | 'putEmbedding' | 'putDocCluster' | 'getDocCluster' | 'delEmbedding' | 'delDocCluster' | 'sizeInc'
    | 'sizeDec' | 'metaInit' | 'metaTrain' | 'delClusters' | 'delDocClusters' | 'putCluster' | 'metaAll'
    | 'clustersOf' | 'rowsOf',
    Statement
  >;

  constructor(db: Database) {
    if (new Uint8Array(new Float32Array([1]).buffer)[3] !== 0x3f) throw new Error('ivf store needs a little-endian host');
    this.db = db;
    db.exec(`
      CREATE TABLE IF NOT EXISTS ivf_meta(
        workspace TEXT PRIMARY KEY, dim INTEGER NOT NULL, metric TEXT NOT NULL, nlist INTEGER NOT NULL,
        trained_at_size INTEGER NOT NULL, imbalance_at_train REAL NOT NULL,
        residual_at_train REAL NOT NULL);
      CREATE TABLE IF NOT EXISTS clusters(
        workspace TEXT NOT NULL, cluster_id INTEGER NOT NULL, centroid BLOB NOT NULL,
        size INTEGER NOT NULL, variance REAL NOT NULL, PRIMARY KEY(workspace, cluster_id));
      CREATE TABLE IF NOT EXISTS doc_cluster(
        workspace TEXT NOT NULL, doc_id TEXT NOT NULL, cluster_id INTEGER NOT NULL,
        PRIMARY KEY(workspace, doc_id)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS embeddings(
        workspace TEXT NOT NULL, doc_id TEXT NOT NULL, dim INTEGER NOT NULL, vec BLOB NOT NULL, tag TEXT,
        PRIMARY KEY(workspace, doc_id));
    `);
    this.st = {
      putEmbedding: db.prepare('INSERT OR REPLACE INTO embeddings(workspace, doc_id, dim, vec, tag) VALUES (?, ?, ?, ?, ?)'),
      putDocCluster: db.prepare('INSERT OR REPLACE INTO doc_cluster(workspace, doc_id, cluster_id) VALUES (?, ?, ?)'),
      getDocCluster: db.prepare('SELECT cluster_id FROM doc_cluster WHERE workspace = ? AND doc_id = ?').pluck(),
      delEmbedding: db.prepare('DELETE FROM embeddings WHERE workspace = ? AND doc_id = ?'),
      delDocCluster: db.prepare('DELETE FROM doc_cluster WHERE workspace = ? AND doc_id = ?'),
      sizeInc: db.prepare('UPDATE clusters SET size = size + 1 WHERE workspace = ? AND cluster_id = ?'),
      sizeDec: db.prepare('UPDATE clusters SET size = size - 1 WHERE workspace = ? AND cluster_id = ?'),
      metaInit: db.prepare(
        'INSERT OR IGNORE INTO ivf_meta(workspace, dim, metric, nlist, trained_at_size, imbalance_at_train, residual_at_train) VALUES (?, ?, ?, 0, 0, 1, 0)',
      ),
      metaTrain: db.prepare(
        'UPDATE ivf_meta SET nlist = ?, trained_at_size = ?, imbalance_at_train = ?, residual_at_train = ? WHERE workspace = ?',
      ),
      delClusters: db.prepare('DELETE FROM clusters WHERE workspace = ?'),
      delDocClusters: db.prepare('DELETE FROM doc_cluster WHERE workspace = ?'),
      putCluster: db.prepare(
        'INSERT INTO clusters(workspace, cluster_id, centroid, size, variance) VALUES (?, ?, ?, ?, ?)',
      ),
      metaAll: db.prepare(
        'SELECT workspace, dim, metric, trained_at_size, imbalance_at_train, residual_at_train FROM ivf_meta ORDER BY workspace',
      ),
      clustersOf: db.prepare('SELECT cluster_id, centroid, size FROM clusters WHERE workspace = ? ORDER BY cluster_id'),
      rowsOf: db.prepare(
        `SELECT e.doc_id, e.vec, e.tag, d.cluster_id FROM embeddings e
         LEFT JOIN doc_cluster d ON d.workspace = e.workspace AND d.doc_id = e.doc_id
         WHERE e.workspace = ?`,
      ).raw(),
    };
  }

  /** Writes the embedding and doc_cluster rows and adds the vector to `index` (replacing an old one). */
  put(workspace: string, id: string, vector: Float32Array, index: IvfIndex, tag?: string): void {
    index.checkInput(id, vector, tag);
    this.st.metaInit.run(workspace, index.dim, index.metric);
    const old = this.st.getDocCluster.get(workspace, id) as number | undefined;
    if (old !== undefined && old >= 0) this.st.sizeDec.run(workspace, old);
    this.st.putEmbedding.run(workspace, id, index.dim, toBlob(vector), tag ?? null);
    index.add(id, vector, tag);
    const list = index.nlist === 0 ? -1 : index.listOf(id);
    this.st.putDocCluster.run(workspace, id, list);
    if (list >= 0) this.st.sizeInc.run(workspace, list);
  }

  remove(workspace: string, id: string, index: IvfIndex): void {
    const old = this.st.getDocCluster.get(workspace, id) as number | undefined;
    if (old !== undefined && old >= 0) this.st.sizeDec.run(workspace, old);
    this.st.delEmbedding.run(workspace, id);
    this.st.delDocCluster.run(workspace, id);
    index.remove(id);
  }

  /** Persists the centroids, installs them in `index` (reassigning every vector) and rewrites doc_cluster. */
  saveCentroids(workspace: string, centroids: Float32Array, index: IvfIndex): void {
    index.applyCentroids(centroids);
    this.saveTraining(workspace, centroids, index);
  }

  /**
   * Like saveCentroids, with the lists precomputed (trainSnapshot() over an earlier copy of the
   * index): only vectors added or replaced since that copy are routed here (IvfIndex.applyAssignedCentroids).
   */
  saveAssignedCentroids(workspace: string, centroids: Float32Array, assignment: Assignment, index: IvfIndex): { assigned: number; routed: number } {
    const counts = index.applyAssignedCentroids(centroids, assignment);
    this.saveTraining(workspace, centroids, index);
    return counts;
  }

  /** Writes ivf_meta, clusters and doc_cluster for the centroids `index` has just installed. */
  private saveTraining(workspace: string, centroids: Float32Array, index: IvfIndex): void {
    const nlist = index.nlist;
    const sizes = index.listSizes();
    const variances = index.listVariances();
    this.st.metaInit.run(workspace, index.dim, index.metric);
    this.st.delClusters.run(workspace);
    for (let c = 0; c < nlist; c++) {
      const row = centroids.subarray(c * index.dim, (c + 1) * index.dim);
      this.st.putCluster.run(workspace, c, toBlob(row), sizes[c], variances[c]);
    }
    this.st.delDocClusters.run(workspace);
    index.forEachAssignment((id, list) => {
      this.st.putDocCluster.run(workspace, id, list);
    });
    const state = index.trainingState();
    this.st.metaTrain.run(nlist, state.trained_at_size, state.imbalance_at_train, state.residual_at_train, workspace);
  }

  /**
   * One index per workspace, rebuilt from the tables. `metric` applies to workspaces stored
   * without one; `options` are passed to every IvfIndex built.
   */
  loadAll(metric: Metric = 'cosine', options: Omit<IvfOptions, 'dim' | 'metric'> = {}): Map<string, IvfIndex> {
    const out = new Map<string, IvfIndex>();
    const metas = this.st.metaAll.all() as {
      workspace: string; dim: number; metric: string; trained_at_size: number; imbalance_at_train: number;
      residual_at_train: number;
    }[];
    for (const meta of metas) {
      const m = (meta.metric === 'cosine' || meta.metric === 'ip' || meta.metric === 'l2') ? meta.metric : metric;
      const index = new IvfIndex({ ...options, dim: meta.dim, metric: m });
      const rows = this.st.clustersOf.all(meta.workspace) as { cluster_id: number; centroid: Buffer; size: number }[];
      if (rows.length > 0) {
        const centroids = new Float32Array(rows.length * meta.dim);
        rows.forEach((r, i) => {
          if (r.cluster_id !== i) throw new Error(`clusters of ${meta.workspace} are not numbered 0..${rows.length - 1}`);
          centroids.set(fromBlob(r.centroid, meta.dim), i * meta.dim);
        });
        index.applyCentroids(centroids);
        rows.forEach((r, i) => index.reserve(i, Math.max(0, r.size)));
      }
      const nlist = index.nlist;
      for (const row of this.st.rowsOf.iterate(meta.workspace) as Iterable<[string, Buffer, string | null, number | null]>) {
        const [id, blob, tag, list] = row;
        const vec = fromBlob(blob, meta.dim);
        if (list !== null && list >= 0 && list < nlist) index.addAssigned(id, vec, list, tag ?? undefined);
        else index.add(id, vec, tag ?? undefined);
      }
      index.restoreTrainingState({
        trained_at_size: meta.trained_at_size, imbalance_at_train: meta.imbalance_at_train,
        residual_at_train: meta.residual_at_train,
      });
      out.set(meta.workspace, index);
    }
    return out;
  }
}

function toBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function fromBlob(b: Buffer, dim: number): Float32Array {
  if (b.byteLength !== dim * 4) throw new Error(`stored vector has ${b.byteLength} bytes, expected ${dim * 4}`);
  if (b.byteOffset % 4 === 0) return new Float32Array(b.buffer, b.byteOffset, dim);
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return new Float32Array(copy.buffer);
}
