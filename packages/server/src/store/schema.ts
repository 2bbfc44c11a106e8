// The document store's tables. Created idempotently on every DocumentStore construction, so a
// store can be built on a fresh database, a reopened one, or one swapped in from a snapshot.
//
// documents       one row per (workspace, id); `storage` is the bytes it accounts for (content,
//                 metadata, vector). Its embedding lives in the ivf `embeddings` table only.
// documents_fts   FTS5 external-content index over documents(content, path), kept exact by
//                 triggers: an UPDATE or DELETE first removes the old row's terms ('delete'
//                 command with the old values), then an INSERT/UPDATE adds the new ones.
// workspaces      per-workspace facts maintained by apply: vector dim, document count, bytes,
//                 last write time (op timestamps, never the local clock)
// The ivf tables (clusters, doc_cluster, embeddings) belong to @cairn/ivf's SqliteIvfStore.

import type { Database } from 'better-sqlite3';

export const store_schema_version = 2;

const ddl = `
CREATE TABLE IF NOT EXISTS cairn_store_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS documents (
  workspace TEXT NOT NULL,
  id TEXT NOT NULL,
  content TEXT NOT NULL,
  path TEXT,
  language TEXT,
  metadata TEXT,
  tokens INTEGER NOT NULL,
  content_hash TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  storage INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (workspace, id)
);

CREATE INDEX IF NOT EXISTS documents_by_hash ON documents (workspace, content_hash);

CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(
  content, path,
  content = 'documents', content_rowid = 'rowid',
  tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER IF NOT EXISTS documents_fts_insert AFTER INSERT ON documents BEGIN
  INSERT INTO documents_fts (rowid, content, path) VALUES (new.rowid, new.content, new.path);
END;

CREATE TRIGGER IF NOT EXISTS documents_fts_delete AFTER DELETE ON documents BEGIN
  INSERT INTO documents_fts (documents_fts, rowid, content, path) VALUES ('delete', old.rowid, old.content, old.path);
END;

CREATE TRIGGER IF NOT EXISTS documents_fts_update AFTER UPDATE ON documents BEGIN
  INSERT INTO documents_fts (documents_fts, rowid, content, path) VALUES ('delete', old.rowid, old.content, old.path);
  INSERT INTO documents_fts (rowid, content, path) VALUES (new.rowid, new.content, new.path);
END;

CREATE TABLE IF NOT EXISTS workspaces (
  workspace TEXT PRIMARY KEY,
  dim INTEGER,
  document_count INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  last_write_at INTEGER NOT NULL
);
`;

/** Creates the tables when absent and checks the schema version. Idempotent. */
export function ensureSchema(db: Database): void {
  db.exec(ddl);
  const row = db.prepare('SELECT value FROM cairn_store_meta WHERE key = ?').get('schema_version') as
    | { value: string }
    | undefined;
  if (row === undefined) {
    db.prepare('INSERT INTO cairn_store_meta (key, value) VALUES (?, ?)').run('schema_version', String(store_schema_version));
  } else if (Number(row.value) !== store_schema_version) {
    throw new Error(`state.db: document store schema version ${row.value}, this build reads ${store_schema_version}`);
  }
}
