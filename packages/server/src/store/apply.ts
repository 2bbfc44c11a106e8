// apply(op): the deterministic state transition every replica runs.
//
// Rules: runs inside the caller's transaction (never opens one), never reads the clock (times
// come from op.ts), never computes an embedding (vectors come in the op). Same state + same op
// bytes => same resulting state on every node. A put of an existing id replaces it (created_at
// is kept), so a retried client write is harmless; deleting an absent id changes no document (an
// existing workspace's last write time still moves to the op's, on every replica alike).
// A conditional op (v3) is checked against the current row here, in the same transaction as its
// write: a precondition that does not hold leaves the document as it was, on every replica.

import type { Database, Statement } from 'better-sqlite3';
import { checkPrecondition, documentEtag } from './etag.ts';
import type { PreconditionFailure } from './etag.ts';
import { assertOp, bytesToUint32, bytesToVector } from './op.ts';
import type { CentroidsOp, DeleteOp, Op, OpDocument, PutOp } from './op.ts';
import { assertPassagesCover, bytesToPassages, wholePassage } from './passages.ts';
import type { PassageIndexes } from './topk/passage-index.ts';
import type { VectorIndexes } from './vectors.ts';
import { planted } from '../testing/planted-defects.ts';

export interface ApplyResult {
  /** Documents written (put) or removed (delete). */
  changed: number;
  /**
   * Documents refused at apply time, with the reason (identical on every replica): a vector
   * dimension other than the workspace's, or `precondition_failed` with the ETag the document
   * had (null: absent).
   */
  skipped: { id: string; reason: string; current_etag?: string | null }[];
}

/** What apply decided for one conditional op, for the write handler that proposed it. */
export interface ConditionalOutcome {
  /** Preconditions that did not hold; those documents were left as they were. */
  failed: PreconditionFailure[];
  /** Documents refused for another reason (a vector dimension), as in ApplyResult. */
  skipped: { id: string; reason: string }[];
}

interface WorkspaceRow {
  dim: number | null;
  document_count: number;
  bytes: number;
  last_write_at: number;
}

interface ExistingRow {
  created_at: number;
  storage: number;
  content_hash: string;
  path: string | null;
  language: string | null;
  metadata: string | null;
}

function etagOf(row: ExistingRow | undefined): string | null {
  return row === undefined ? null : documentEtag(row);
}

/** Storage a document accounts for: content, metadata and vector bytes. */
export function documentStorageBytes(d: Pick<OpDocument, 'bytes' | 'metadata' | 'vector'>): number {
  return d.bytes + (d.metadata === null ? 0 : Buffer.byteLength(d.metadata, 'utf8')) + d.vector.byteLength;
}

/** Skipped puts remembered for the write handler that proposed them (side information, not state). */
export const recent_skips_max = 1000;

export function skipKey(ws: string, ts: number, id: string): string {
  return `${ws}\u0000${ts}\u0000${id}`;
}

/** Outcomes of conditional ops remembered by request id (side information, not state). */
export const recent_outcomes_max = 4096;

export class Applier {
  /** skipKey -> reason, for the most recent skipped documents of unconditional puts (oldest evicted first). */
  readonly recentSkips = new Map<string, string>();
  /** op.rid -> outcome, for the most recent conditional ops (oldest evicted first). */
  readonly recentOutcomes = new Map<string, ConditionalOutcome>();

  private readonly wsGet: Statement;
  private readonly wsInsert: Statement;
  private readonly wsUpdate: Statement;
  private readonly docGet: Statement;
  private readonly docInsert: Statement;
  private readonly docUpdate: Statement;
  private readonly docDelete: Statement;
  private readonly passagesDelete: Statement;
  private readonly passageInsert: Statement;
  private readonly passageFtsInsert: Statement;
  private readonly passageRows: Statement;

  constructor(
    db: Database,
    private readonly vectors: VectorIndexes,
    /** The in-memory passage index, kept in step with passages_fts (topk/passage-index.ts). */
    private readonly passageIndex: PassageIndexes | null = null,
  ) {
    this.wsGet = db.prepare('SELECT dim, document_count, bytes, last_write_at FROM workspaces WHERE workspace = ?');
    this.wsInsert = db.prepare(
      'INSERT INTO workspaces (workspace, dim, document_count, bytes, created_at, last_write_at) VALUES (?, NULL, 0, 0, ?, ?)',
    );
    this.wsUpdate = db.prepare(
      'UPDATE workspaces SET dim = ?, document_count = ?, bytes = ?, last_write_at = ? WHERE workspace = ?',
    );
    this.docGet = db.prepare(
      'SELECT created_at, storage, content_hash, path, language, metadata FROM documents WHERE workspace = ? AND id = ?',
    );
    this.docInsert = db.prepare(
      `INSERT INTO documents (workspace, id, content, path, language, metadata, tokens, content_hash, bytes, storage, created_at, updated_at)
       VALUES (@ws, @id, @content, @path, @language, @metadata, @tokens, @content_hash, @bytes, @storage, @ts, @ts)`,
    );
    this.docUpdate = db.prepare(
      `UPDATE documents SET content = @content, path = @path, language = @language, metadata = @metadata, tokens = @tokens,
       content_hash = @content_hash, bytes = @bytes, storage = @storage, updated_at = @ts WHERE workspace = @ws AND id = @id`,
    );
    this.docDelete = db.prepare('DELETE FROM documents WHERE workspace = ? AND id = ?');
    // The passages_fts_delete trigger removes each deleted passage's index row.
    this.passagesDelete = db.prepare('DELETE FROM passages WHERE workspace = ? AND doc_id = ?');
    this.passageInsert = db.prepare(
      'INSERT INTO passages (workspace, doc_id, n, start, "end", line_start, line_end, tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.passageFtsInsert = db.prepare('INSERT INTO passages_fts (rowid, content, path) VALUES (?, ?, ?)');
    this.passageRows = db.prepare('SELECT rowid FROM passages WHERE workspace = ? AND doc_id = ?').pluck();
  }

  apply(op: Op): ApplyResult {
    const steps = this.steps(op);
    for (;;) {
      const r = steps.next();
      if (r.done === true) return r.value;
    }
  }

  /**
   * apply(op) as steps: the generator yields after each document of a put or delete, and between
   * the passages of a document, so a caller holding the transaction open across event-loop turns
   * (StateHolder) can stop there (a 256 KiB document is a few hundred passages). Running it to the end is apply(op): the same statements in the same order.
   */
  *steps(op: Op): Generator<void, ApplyResult, void> {
    assertOp(op);
    switch (op.kind) {
      case 'noop':
        return { changed: 0, skipped: [] };
      case 'put':
        return yield* this.applyPut(op);
      case 'delete':
        return yield* this.applyDelete(op);
      case 'centroids':
        return this.applyCentroids(op);
    }
  }

  private rememberSkip(key: string, reason: string): void {
    if (this.recentSkips.size >= recent_skips_max) {
      const oldest = this.recentSkips.keys().next().value;
      if (oldest !== undefined) this.recentSkips.delete(oldest);
    }
    this.recentSkips.set(key, reason);
  }

  private rememberOutcome(rid: string, outcome: ConditionalOutcome): void {
    // An entry applied again after its transaction rolled back (a failed disk write) overwrites.
    this.recentOutcomes.delete(rid);
    if (this.recentOutcomes.size >= recent_outcomes_max) {
      const oldest = this.recentOutcomes.keys().next().value;
      if (oldest !== undefined) this.recentOutcomes.delete(oldest);
    }
    this.recentOutcomes.set(rid, outcome);
  }

  private createWorkspace(ws: string, ts: number): WorkspaceRow {
    this.wsInsert.run(ws, ts, ts);
    return { dim: null, document_count: 0, bytes: 0, last_write_at: ts };
  }

  private saveWorkspace(ws: string, row: WorkspaceRow): void {
    if (row.document_count < 0 || row.bytes < 0) throw new Error(`invariant: workspace ${ws} counters went negative`);
    this.wsUpdate.run(row.dim, row.document_count, row.bytes, row.last_write_at, ws);
  }

  private *applyPut(op: PutOp): Generator<void, ApplyResult, void> {
    // The workspace row is created by the first document written: a put refused entirely by its
    // precondition leaves no trace in a workspace that did not exist.
    let row = this.wsGet.get(op.ws) as WorkspaceRow | undefined;
    const skipped: ApplyResult['skipped'] = [];
    const outcome: ConditionalOutcome = { failed: [], skipped: [] };
    let changed = 0;
    let first = true;
    for (const doc of op.docs) {
      if (!first) yield;
      first = false;
      const dim = doc.vector.byteLength / 4;
      if (!Number.isInteger(dim) || dim === 0) throw new Error(`invariant: op vector of ${doc.id} has ${doc.vector.byteLength} bytes`);
      const existing = this.docGet.get(op.ws, doc.id) as ExistingRow | undefined;
      const failure = doc.if_match === undefined && doc.if_none_match === undefined
        ? null
        : checkPrecondition(doc.id, doc.if_none_match === true ? { if_none_match: true } : { if_match: doc.if_match ?? '*' }, etagOf(existing));
      if (failure !== null) {
        skipped.push({ id: doc.id, reason: 'precondition_failed', current_etag: failure.current_etag });
        outcome.failed.push(failure);
        continue;
      }
      row ??= this.createWorkspace(op.ws, op.ts);
      row.dim ??= dim;
      if (row.dim !== dim) {
        const reason = `vector dimension ${dim}, workspace holds ${row.dim}`;
        skipped.push({ id: doc.id, reason });
        if (op.rid === undefined) this.rememberSkip(skipKey(op.ws, op.ts, doc.id), reason);
        else outcome.skipped.push({ id: doc.id, reason });
        continue;
      }
      const params = {
        ws: op.ws, id: doc.id, content: doc.content, path: doc.path, language: doc.language, metadata: doc.metadata,
        tokens: doc.tokens, content_hash: doc.content_hash, bytes: doc.bytes, storage: documentStorageBytes(doc), ts: op.ts,
      };
      if (existing === undefined) {
        this.docInsert.run(params);
        row.document_count += 1;
      } else {
        this.docUpdate.run(params);
        yield* this.unindexPassages(op.ws, doc.id);
        this.passagesDelete.run(op.ws, doc.id);
        row.bytes -= existing.storage;
      }
      yield* this.insertPassages(op.ws, doc);
      row.bytes += params.storage;
      this.vectors.put(op.ws, doc.id, bytesToVector(doc.vector));
      changed += 1;
    }
    if (op.rid !== undefined) this.rememberOutcome(op.rid, outcome);
    if (row === undefined) return { changed, skipped };
    row.last_write_at = Math.max(row.last_write_at, op.ts);
    this.saveWorkspace(op.ws, row);
    return { changed, skipped };
  }

  /**
   * The document's passages as the op carries them (v4), or one passage covering it (an op
   * logged before passages): rows and their full-text index entries.
   */
  private *insertPassages(ws: string, doc: OpDocument): Generator<void, void, void> {
    const passages = doc.passages === undefined ? [wholePassage(doc.content, doc.tokens)] : bytesToPassages(doc.passages);
    assertPassagesCover(passages, doc.content.length, `passages of ${doc.id}`);
    let n = 0;
    for (const p of passages) {
      const { lastInsertRowid } = this.passageInsert.run(ws, doc.id, n, p.start, p.end, p.line_start, p.line_end, p.tokens);
      const text = doc.content.slice(p.start, p.end);
      this.passageFtsInsert.run(lastInsertRowid, text, doc.path);
      this.passageIndex?.put(ws, Number(lastInsertRowid), text, doc.path);
      n++;
      // A large document is many passages, each a full-text insert: a caller slicing the
      // transaction may stop between two of them.
      if (n < passages.length) yield;
    }
  }

  /** Removes a document's passages from the passage index, before their rows are deleted; may stop between two. */
  private *unindexPassages(ws: string, id: string): Generator<void, void, void> {
    if (this.passageIndex === null) return;
    const rows = this.passageRows.all(ws, id) as number[];
    for (let i = 0; i < rows.length; i++) {
      if (i > 0) yield;
      this.passageIndex.remove(ws, rows[i] as number);
    }
  }

  private *applyDelete(op: DeleteOp): Generator<void, ApplyResult, void> {
    const row = this.wsGet.get(op.ws) as WorkspaceRow | undefined;
    const skipped: ApplyResult['skipped'] = [];
    const outcome: ConditionalOutcome = { failed: [], skipped: [] };
    let changed = 0;
    for (const id of op.ids) {
      const existing = row === undefined ? undefined : (this.docGet.get(op.ws, id) as ExistingRow | undefined);
      const failure = op.if_match === undefined ? null : checkPrecondition(id, { if_match: op.if_match }, etagOf(existing));
      if (failure !== null) {
        skipped.push({ id, reason: 'precondition_failed', current_etag: failure.current_etag });
        outcome.failed.push(failure);
        continue;
      }
      if (existing === undefined || row === undefined) continue;
      if (planted('skip_deletes')) continue; // a planted defect (test only): this node keeps deleted documents
      this.docDelete.run(op.ws, id);
      yield* this.unindexPassages(op.ws, id);
      this.passagesDelete.run(op.ws, id);
      this.vectors.remove(op.ws, id);
      row.document_count -= 1;
      row.bytes -= existing.storage;
      changed += 1;
      yield;
    }
    if (op.rid !== undefined) this.rememberOutcome(op.rid, outcome);
    if (row === undefined) return { changed: 0, skipped }; // nothing was ever written there
    row.last_write_at = Math.max(row.last_write_at, op.ts);
    this.saveWorkspace(op.ws, row);
    return { changed, skipped };
  }

  private applyCentroids(op: CentroidsOp): ApplyResult {
    const row = this.wsGet.get(op.ws) as WorkspaceRow | undefined;
    if (row === undefined || row.dim !== op.dim) {
      return { changed: 0, skipped: [{ id: '', reason: `centroids of dim ${op.dim} for workspace dim ${row?.dim ?? 'none'}` }] };
    }
    const c = bytesToVector(op.centroids);
    if (c.length === 0 || c.length % op.dim !== 0) throw new Error(`invariant: centroids op holds ${c.length} floats for dim ${op.dim}`);
    // v2 ops carry the lists of the vectors the leader trained on: only vectors written since are
    // routed here. v1 ops (older logs) route every vector.
    const assignment = op.ids === undefined || op.lists === undefined || op.fingerprints === undefined
      ? undefined
      : { ids: op.ids, lists: bytesToUint32(op.lists), fingerprints: bytesToUint32(op.fingerprints) };
    this.vectors.applyCentroids(op.ws, op.dim, c, assignment);
    return { changed: c.length / op.dim, skipped: [] };
  }
}
