// Point reads and listing, always scoped to one workspace.

import type { Database, Statement } from 'better-sqlite3';
import { InputError } from './errors.ts';

export interface StoredDocument {
  id: string;
  workspace: string;
  content: string;
  path: string | null;
  language: string | null;
  metadata: Record<string, unknown> | null;
  tokens: number;
  content_hash: string;
  bytes: number;
  created_at: number;
  updated_at: number;
}

/** A listed document: everything but the content. */
export type DocumentSummary = Omit<StoredDocument, 'content'>;

export interface ListPage {
  documents: DocumentSummary[];
  /** Opaque; pass back as `cursor` for the next page. null on the last page. */
  next_cursor: string | null;
}

interface Row {
  id: string;
  workspace: string;
  content?: string;
  path: string | null;
  language: string | null;
  metadata: string | null;
  tokens: number;
  content_hash: string;
  bytes: number;
  created_at: number;
  updated_at: number;
}

const summary_columns = 'id, workspace, path, language, metadata, tokens, content_hash, bytes, created_at, updated_at';

function toDocument(r: Row): StoredDocument {
  return { ...r, content: r.content ?? '', metadata: r.metadata === null ? null : (JSON.parse(r.metadata) as Record<string, unknown>) };
}

function toSummary(r: Row): DocumentSummary {
  const { content: _content, ...rest } = toDocument(r);
  return rest;
}

export function encodeCursor(afterId: string): string {
  return Buffer.from(JSON.stringify({ a: afterId }), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { a?: unknown };
    if (typeof v.a === 'string') return v.a;
  } catch {
    // fall through
  }
  throw new InputError('invalid_cursor', 'cursor is not one this server returned', 'cursor');
}

export class Reader {
  private readonly getStmt: Statement;
  private readonly listFirst: Statement;
  private readonly listAfter: Statement;
  private readonly byIds: Statement;
  private readonly summariesByIds: Statement;
  private readonly contentStmt: Statement;

  constructor(db: Database) {
    this.getStmt = db.prepare(`SELECT ${summary_columns}, content FROM documents WHERE workspace = ? AND id = ?`);
    this.listFirst = db.prepare(`SELECT ${summary_columns} FROM documents WHERE workspace = ? ORDER BY id LIMIT ?`);
    this.listAfter = db.prepare(`SELECT ${summary_columns} FROM documents WHERE workspace = ? AND id > ? ORDER BY id LIMIT ?`);
    // Embeddings are stored once, in @cairn/ivf's embeddings table (workspace, doc_id, vec).
    this.byIds = db.prepare(
      `SELECT ${summary_columns.split(', ').map((c) => `d.${c}`).join(', ')}, d.content, e.vec AS vector
       FROM documents d LEFT JOIN embeddings e ON e.workspace = d.workspace AND e.doc_id = d.id
       WHERE d.workspace = ? AND d.id IN (SELECT value FROM json_each(?))`,
    );
    this.summariesByIds = db.prepare(
      `SELECT ${summary_columns.split(', ').map((c) => `d.${c}`).join(', ')}, e.vec AS vector
       FROM documents d LEFT JOIN embeddings e ON e.workspace = d.workspace AND e.doc_id = d.id
       WHERE d.workspace = ? AND d.id IN (SELECT value FROM json_each(?))`,
    );
    this.contentStmt = db.prepare('SELECT content FROM documents WHERE workspace = ? AND id = ?').pluck();
  }

  get(ws: string, id: string): StoredDocument | null {
    const r = this.getStmt.get(ws, id) as Row | undefined;
    return r === undefined ? null : toDocument(r);
  }

  list(ws: string, limit: number, cursor?: string | null): ListPage {
    const rows = (cursor ? this.listAfter.all(ws, decodeCursor(cursor), limit + 1) : this.listFirst.all(ws, limit + 1)) as Row[];
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return { documents: page.map(toSummary), next_cursor: more && last !== undefined ? encodeCursor(last.id) : null };
  }

  /** Full rows (with content and embedding bytes) of the given ids in one workspace, keyed by id. */
  many(ws: string, ids: string[]): Map<string, StoredDocument & { vector: Buffer | null }> {
    const out = new Map<string, StoredDocument & { vector: Buffer | null }>();
    if (ids.length === 0) return out;
    for (const r of this.byIds.all(ws, JSON.stringify(ids)) as (Row & { vector: Buffer | null })[]) {
      out.set(r.id, { ...toDocument(r), vector: r.vector });
    }
    return out;
  }

  /** Rows of the given ids without their content (with embedding bytes), keyed by id. */
  summaries(ws: string, ids: string[]): Map<string, DocumentSummary & { vector: Buffer | null }> {
    const out = new Map<string, DocumentSummary & { vector: Buffer | null }>();
    if (ids.length === 0) return out;
    for (const r of this.summariesByIds.all(ws, JSON.stringify(ids)) as (Row & { vector: Buffer | null })[]) {
      out.set(r.id, { ...toSummary(r), vector: r.vector });
    }
    return out;
  }

  /** One document's content, null when it is absent. */
  content(ws: string, id: string): string | null {
    return (this.contentStmt.get(ws, id) as string | undefined) ?? null;
  }
}
