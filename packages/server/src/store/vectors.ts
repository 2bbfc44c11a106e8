// Per-workspace IVF indexes over @cairn/ivf. The in-memory indexes are loaded from the ivf
// tables on first use (lazy: building a store on a freshly swapped-in database costs nothing
// until a vector is read or written). Every mutation goes through SqliteIvfStore, which writes
// the ivf tables inside the caller's transaction and updates the in-memory index with it.

import type { Database } from 'better-sqlite3';
import { IvfIndex, SqliteIvfStore } from '@cairn/ivf';
import type { Assignment, VectorSnapshot } from '@cairn/ivf';

/** Every workspace index uses this metric; embeddings are compared by cosine similarity. */
const metric = 'cosine' as const;
/** Seed of every index: indexes built on different replicas start identical. */
export const index_seed = 1;

export interface VectorHit {
  id: string;
  score: number;
}

export class VectorIndexes {
  private readonly ivfStore: SqliteIvfStore;
  private loaded: Map<string, IvfIndex> | null = null;
  /** Ids written per workspace while someone tracks it (trackWrites): leader-side, not state. */
  private readonly trackers = new Map<string, Set<Set<string>>>();

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
    this.tracked(ws, id);
  }

  remove(ws: string, id: string): void {
    const index = this.all().get(ws);
    if (index === undefined || !index.has(id)) return;
    this.ivfStore.remove(ws, id, index);
    this.tracked(ws, id);
  }

  /**
   * Records the ids whose vector is put or removed in `ws` from now on, until stop(). take()
   * returns those recorded since the last take (in write order) and starts over. Side
   * information for the leader's retraining (which vectors changed since its copy): it never
   * changes what apply does.
   */
  trackWrites(ws: string): { take(): string[]; stop(): void } {
    let ids = new Set<string>();
    let all = this.trackers.get(ws);
    if (all === undefined) this.trackers.set(ws, (all = new Set()));
    all.add(ids);
    const set = all;
    return {
      take: () => {
        set.delete(ids);
        const out = [...ids];
        ids = new Set();
        set.add(ids);
        return out;
      },
      stop: () => {
        set.delete(ids);
        if (set.size === 0 && this.trackers.get(ws) === set) this.trackers.delete(ws);
      },
    };
  }

  private tracked(ws: string, id: string): void {
    const all = this.trackers.get(ws);
    if (all !== undefined) for (const ids of all) ids.add(id);
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
   * A copy of a workspace's vectors to train on (leader only; training may run elsewhere, e.g. in
   * a worker, while writes go on): all of them, or those of `only` it holds. Null when the
   * workspace holds no vectors.
   */
  snapshot(ws: string, only?: Iterable<string>): VectorSnapshot | null {
    const index = this.all().get(ws);
    if (index === undefined || index.size === 0) return null;
    return index.exportVectors(only);
  }

  /**
   * Installs centroids (from a centroids op) and persists them with the lists. With an
   * assignment, vectors keep the list it gives them when their fingerprint matches; the others
   * are routed (IvfIndex.applyAssignedCentroids). Without one, every vector is routed.
   */
  applyCentroids(ws: string, dim: number, centroids: Float32Array, assignment?: Assignment): void {
    const started = performance.now();
    const index = this.indexFor(ws, dim);
    let routed = index.size;
    if (assignment === undefined) this.ivfStore.saveCentroids(ws, centroids, index);
    else routed = this.ivfStore.saveAssignedCentroids(ws, centroids, assignment, index).routed;
    this.lastInstall = { ws, vectors: index.size, routed, ms: performance.now() - started };
  }

  /** The last centroids install on this node: how long it took and how many vectors it routed (logs, not state). */
  lastInstall: { ws: string; vectors: number; routed: number; ms: number } | null = null;

  /** Forgets the in-memory indexes; the next use reloads them from the tables. */
  reset(): void {
    this.loaded = null;
  }
}
