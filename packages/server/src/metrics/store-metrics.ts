// Workspace and IVF metrics, read from the state database when Prometheus scrapes. The
// workspaces table keeps per-workspace counts (one row per workspace), and the IVF tables keep
// per-list sizes (one row per list): both reads are small. The store is looked up at every
// scrape because a snapshot install replaces it.
import type { Database, Statement } from 'better-sqlite3';
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Replica } from '../replication/replica.ts';
import type { DocumentStore } from '../store/document-store.ts';

/** Workspaces given their own series; the rest are summed into "_other". */
export const workspace_series_max = 1000;
/** How long one read of the IVF tables serves the IVF gauges (one scrape). */
const ivf_rows_ttl_ms = 250;

export interface IvfRow {
  workspace: string;
  nlist: number;
  trained_at_size: number;
  lists: number;
  vectors_in_lists: number;
  list_size_min: number | null;
  list_size_max: number | null;
  list_size_sq: number | null;
}

const ivfSql = `SELECT m.workspace AS workspace, m.nlist AS nlist, m.trained_at_size AS trained_at_size,
  COUNT(c.cluster_id) AS lists, COALESCE(SUM(c.size), 0) AS vectors_in_lists,
  MIN(c.size) AS list_size_min, MAX(c.size) AS list_size_max, SUM(c.size * c.size) AS list_size_sq
  FROM ivf_meta m LEFT JOIN clusters c ON c.workspace = m.workspace GROUP BY m.workspace ORDER BY m.workspace`;

const statements = new WeakMap<Database, Statement | null>();

/** Per-workspace IVF facts, or [] when the IVF tables do not exist yet. */
export function ivfRows(db: Database): IvfRow[] {
  let st = statements.get(db);
  if (st === undefined) {
    try {
      st = db.prepare(ivfSql);
    } catch {
      st = null;
    }
    statements.set(db, st);
  }
  return st === null ? [] : (st.all() as IvfRow[]);
}

export function registerStoreMetrics(registry: Registry, replica: Replica<DocumentStore>): void {
  const registers = [registry];
  const perWorkspace = (name: string, help: string, pick: (s: { document_count: number; bytes: number }) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['workspace'],
      registers,
      collect() {
        this.reset();
        let n = 0;
        let other = 0;
        for (const [ws, s] of Object.entries(safeWorkspaceStats(replica))) {
          if (n++ < workspace_series_max) this.set({ workspace: ws }, pick(s));
          else other += pick(s);
        }
        if (n > workspace_series_max) this.set({ workspace: '_other' }, other);
      },
    });
  };
  perWorkspace('cairn_workspace_documents', 'Documents stored per workspace', (s) => s.document_count);
  perWorkspace('cairn_workspace_bytes', 'Bytes stored per workspace (content, metadata, vectors)', (s) => s.bytes);
  new Gauge({
    name: 'cairn_workspaces',
    help: 'Workspaces stored on this node',
    registers,
    collect() {
      this.set(Object.keys(safeWorkspaceStats(replica)).length);
    },
  });

  // IVF: one query serves all the gauges of a scrape (rows are reused for ivf_rows_ttl_ms).
  let rows: IvfRow[] = [];
  let rowsAt = -Infinity;
  const ivf = (name: string, help: string, pick: (r: IvfRow) => number | null): void => {
    new Gauge({
      name,
      help,
      labelNames: ['workspace'],
      registers,
      collect() {
        if (performance.now() - rowsAt > ivf_rows_ttl_ms) {
          rows = safeIvfRows(replica);
          rowsAt = performance.now();
        }
        this.reset();
        for (const r of rows.slice(0, workspace_series_max)) {
          const v = pick(r);
          if (v !== null) this.set({ workspace: r.workspace }, v);
        }
      },
    });
  };
  ivf('cairn_ivf_lists', 'Inverted lists (centroids) of the workspace\'s vector index; 0 while untrained', (r) => r.lists);
  ivf('cairn_ivf_vectors', 'Vectors assigned to lists in the workspace\'s vector index', (r) => r.vectors_in_lists);
  ivf('cairn_ivf_list_size_min', 'Smallest list of the vector index', (r) => r.list_size_min);
  ivf('cairn_ivf_list_size_max', 'Largest list of the vector index', (r) => r.list_size_max);
  ivf('cairn_ivf_list_imbalance_ratio', 'sum(size^2) * lists / vectors^2: 1 when lists are even (retraining is due when it grows)', (r) =>
    r.lists === 0 || r.vectors_in_lists === 0 || r.list_size_sq === null ? null : (r.list_size_sq * r.lists) / (r.vectors_in_lists * r.vectors_in_lists),
  );
  // Retrains: a centroids op replaces a workspace's lists and records the index size it was trained
  // at. The store has no counter of its own, so changes of (lists, trained_at_size) are counted
  // as they are seen, at scrape time: two retrains of one workspace between two scrapes count once.
  const trainedAs = new Map<string, string>();
  let retrains = 0;
  new Counter({
    name: 'cairn_ivf_retrains_total',
    help: 'Vector index (re)trainings seen on this node since it started (changes of the trained centroids, observed at scrape time)',
    registers,
    collect() {
      const current = safeIvfRows(replica);
      for (const r of current) {
        const key = `${r.nlist}/${r.trained_at_size}`;
        const before = trainedAs.get(r.workspace);
        if (before !== undefined && before !== key) retrains++;
        if (before === undefined && trainedAs.size >= workspace_series_max) continue;
        trainedAs.set(r.workspace, key);
      }
      this.reset();
      this.inc(retrains);
    },
  });
  ivf('cairn_ivf_trained_at_size_vectors', 'Vectors in the index when it was last (re)trained; it changes at every retrain', (r) => r.trained_at_size);
}

function safeWorkspaceStats(replica: Replica<DocumentStore>): ReturnType<DocumentStore['workspaceStats']> {
  try {
    return replica.state.machine.workspaceStats();
  } catch {
    return {}; // state being swapped by a snapshot install: skip this scrape's values
  }
}

function safeIvfRows(replica: Replica<DocumentStore>): IvfRow[] {
  try {
    return ivfRows(replica.state.machine.db);
  } catch {
    return [];
  }
}
