// The document store's tables. Created idempotently on every DocumentStore construction, so a
// store can be built on a fresh database, a reopened one, or one swapped in from a snapshot.
//
// documents       one row per (workspace, id); `storage` is the bytes it accounts for (content,
//                 metadata, vector). Its embedding lives in the ivf `embeddings` table only.
// documents_fts   FTS5 external-content index over documents(content, path), kept exact by
//                 triggers: an UPDATE or DELETE first removes the old row's terms ('delete'
//                 command with the old values), then an INSERT/UPDATE adds the new ones.
// passages        one row per passage of a document (passages.ts): its number n (0-based, in
//                 order), character offsets, lines and token count; written by apply from the op,
//                 removed with the document (by apply; a put replaces them all).
// passages_fts    FTS5 contentless index over each passage's text and its document's path
//                 (contentless_delete=1, SQLite >= 3.43: the text is stored once, in documents,
//                 and a row can still be deleted). rowid = passages.rowid; apply inserts the
//                 text, the passages_fts_delete trigger removes a passage's row with it.
// workspaces      per-workspace facts maintained by apply: vector dim, document count, bytes,
//                 last write time (op timestamps, never the local clock)
// The ivf tables (clusters, doc_cluster, embeddings) belong to @cairn/ivf's SqliteIvfStore.

import type { Database } from 'better-sqlite3';
import { wholePassage } from './passages.ts';

export const store_schema_version = 3;

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

CREATE TABLE IF NOT EXISTS passages (
  workspace TEXT NOT NULL,
  doc_id TEXT NOT NULL,
  n INTEGER NOT NULL,
  start INTEGER NOT NULL,
  "end" INTEGER NOT NULL,
  line_start INTEGER NOT NULL,
  line_end INTEGER NOT NULL,
  tokens INTEGER NOT NULL,
  UNIQUE (workspace, doc_id, n)
);

CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
  content, path,
  content = '', contentless_delete = 1,
  tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER IF NOT EXISTS passages_fts_delete AFTER DELETE ON passages BEGIN
  DELETE FROM passages_fts WHERE rowid = old.rowid;
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
  } else if (Number(row.value) === 2) {
    migrateFrom2(db);
  } else if (Number(row.value) !== store_schema_version) {
    throw new Error(`state.db: document store schema version ${row.value}, this build reads ${store_schema_version}`);
  }
}

/**
 * Version 2 -> 3: every document gets one passage covering it (what apply gives a document written
 * by an op older than passages), so a node upgraded in place holds what every replica that applies
 * the same log holds. Runs once, in one transaction, on the node's first start after the upgrade.
 */
function migrateFrom2(db: Database): void {
  const insert = db.prepare('INSERT INTO passages (workspace, doc_id, n, start, "end", line_start, line_end, tokens) VALUES (?, ?, 0, ?, ?, ?, ?, ?)');
  const fts = db.prepare('INSERT INTO passages_fts (rowid, content, path) VALUES (?, ?, ?)');
  const page = db.prepare(
    'SELECT workspace, id, content, path, tokens FROM documents WHERE (workspace, id) > (?, ?) ORDER BY workspace, id LIMIT 500',
  );
  db.transaction(() => {
    let after: [string, string] = ['', ''];
    for (;;) {
      const rows = page.all(...after) as { workspace: string; id: string; content: string; path: string | null; tokens: number }[];
      for (const r of rows) {
        const p = wholePassage(r.content, r.tokens);
        const { lastInsertRowid } = insert.run(r.workspace, r.id, p.start, p.end, p.line_start, p.line_end, p.tokens);
        fts.run(lastInsertRowid, r.content, r.path);
      }
      const last = rows[rows.length - 1];
      if (last === undefined) break;
      after = [last.workspace, last.id];
    }
    db.prepare('UPDATE cairn_store_meta SET value = ? WHERE key = ?').run(String(store_schema_version), 'schema_version');
  })();
}
