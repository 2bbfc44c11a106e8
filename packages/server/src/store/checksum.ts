// checksum(): sha256 over the full logical state in a canonical order, so two replicas with the
// same state give the same string whatever their file layout, page order or rowids. Covered:
// documents (every column but the rowid, ordered by workspace, id), passages (every column but
// the rowid, ordered by workspace, doc_id, n; their full-text index is derived from them and the
// documents' text), workspaces (ordered by id),
// and the ivf tables, which hold the embeddings (ivf_meta, clusters, doc_cluster, embeddings: every column, rows ordered by all
// columns). Values are hashed with a type tag and a length, so no two states collide by
// concatenation.

import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import type { Database } from 'better-sqlite3';

const ivf_tables = ['ivf_meta', 'clusters', 'doc_cluster', 'embeddings'] as const;

function feed(h: Hash, v: unknown): void {
  if (v === null || v === undefined) {
    h.update('n;');
  } else if (typeof v === 'number' || typeof v === 'bigint') {
    h.update(`i${String(v)};`);
  } else if (typeof v === 'string') {
    h.update(`s${Buffer.byteLength(v, 'utf8')}:`);
    h.update(v, 'utf8');
  } else if (v instanceof Uint8Array) {
    h.update(`b${v.byteLength}:`);
    h.update(v);
  } else {
    throw new Error(`checksum: unexpected column value of type ${typeof v}`);
  }
}

function feedTable(h: Hash, db: Database, table: string, orderBy: string, columns?: string[]): void {
  const present = (db.pragma(`table_info(${table})`) as { name: string }[]).map((c) => c.name);
  if (present.length === 0) return; // table absent
  const cols = columns ?? present;
  const order = orderBy || cols.map((c) => `"${c}"`).join(', ');
  h.update(`table ${table} (${cols.join(',')})\n`);
  const stmt = db.prepare(`SELECT ${cols.map((c) => `"${c}"`).join(', ')} FROM "${table}" ORDER BY ${order}`).raw(true);
  for (const row of stmt.iterate() as Iterable<unknown[]>) {
    for (const v of row) feed(h, v);
    h.update('\n');
  }
}

export function stateChecksum(db: Database): string {
  const h = createHash('sha256');
  feedTable(h, db, 'documents', 'workspace, id', [
    'workspace', 'id', 'content', 'path', 'language', 'metadata', 'tokens', 'content_hash', 'bytes', 'storage', 'created_at', 'updated_at',
  ]);
  feedTable(h, db, 'passages', 'workspace, doc_id, n', ['workspace', 'doc_id', 'n', 'start', 'end', 'line_start', 'line_end', 'tokens']);
  feedTable(h, db, 'workspaces', 'workspace', ['workspace', 'dim', 'document_count', 'bytes', 'created_at', 'last_write_at']);
  for (const t of ivf_tables) feedTable(h, db, t, '');
  return h.digest('hex');
}
