// Per-workspace IVF indexes over @cairn/ivf. The in-memory indexes are loaded from the ivf
// tables on first use (lazy: building a store on a freshly swapped-in database costs nothing
// until a vector is read or written). Every mutation goes through SqliteIvfStore, which writes
// the ivf tables inside the caller's transaction and updates the in-memory index with it.

import type { Database } from 'better-sqlite3';
import { IvfIndex, SqliteIvfStore } from '@cairn/ivf';

/** Every workspace index uses this metric; embeddings are compared by cosine similarity. */
const metric = 'cosine' as const;
/** Seed of every index: indexes built on different replicas start identical. */
const index_seed = 1;

export interface VectorHit {
  id: string;
  score: number;
}

export class VectorIndexes {
  private readonly ivfStore: SqliteIvfStore;
  private loaded: Map<string, IvfIndex> | null = null;

  constructor(db: Database) {
    this.ivfStore = new SqliteIvfStore(db);
  }

  private all(): Map<string, IvfIndex> {
    this.loaded ??= this.ivfStore.loadAll(metric);
    return this.loaded;
  }

  private indexFor(ws: string, dim: number): IvfIndex {
    const all = this.all();
    let index = all.get(ws);
    if (index === undefined) {
      index = new IvfIndex({ dim, metric, seed: index_seed });
      all.set(ws, index);
    }
    if (index.dim !== dim) throw new Error(`invariant: workspace ${ws} index dim ${index.dim}, vector dim ${dim}`);
    return index;
  }

  /** Inserts or replaces the vector of (ws, id). */
  put(ws: string, id: string, v: Float32Array): void {
    this.ivfStore.put(ws, id, v, this.indexFor(ws, v.length));
  }

  remove(ws: string, id: string): void {
    const index = this.all().get(ws);
    if (index === undefined || !index.has(id)) return;
    this.ivfStore.remove(ws, id, index);
  }

  /** Nearest documents of one workspace, best first. Empty when the workspace has no vectors. */
  search(ws: string, q: Float32Array, k: number, nprobe?: number): VectorHit[] {
    const index = this.all().get(ws);
    if (index === undefined || index.size === 0 || index.dim !== q.length) return [];
    return index.search(q, k, nprobe === undefined ? {} : { nprobe });
  }

  size(ws: string): number {
    return this.all().get(ws)?.size ?? 0;
  }

  /** Workspaces whose index asks for (re)training, in a stable order. */
  retrainDue(): string[] {
    const due: string[] = [];
    for (const [ws, index] of this.all()) if (index.size > 0 && index.retrainDue()) due.push(ws);
    return due.sort();
  }

  /**
   * Trains new centroids for a workspace (leader only, before the result is logged). IvfIndex.train
   * does not change the index: the centroids are installed when the centroids op applies.
   */
  train(ws: string): { dim: number; centroids: Float32Array } | null {
    const index = this.all().get(ws);
    if (index === undefined || index.size === 0) return null;
    return { dim: index.dim, centroids: index.train({ seed: index_seed }) };
  }

  /** Installs centroids (from a centroids op) and persists them with the reassignment. */
  applyCentroids(ws: string, dim: number, centroids: Float32Array): void {
    this.ivfStore.saveCentroids(ws, centroids, this.indexFor(ws, dim));
  }

  /** Forgets the in-memory indexes; the next use reloads them from the tables. */
  reset(): void {
    this.loaded = null;
  }
}
