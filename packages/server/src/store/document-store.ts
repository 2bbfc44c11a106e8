// DocumentStore: the replicated state machine's documents, over one better-sqlite3 Database.
//
// Writes are split in two:
//   prepare*(...)  async, leader only, before the write is logged: validates (InputError naming
//                  the field), derives ids, counts tokens, embeds, stamps the time; returns an Op.
//   apply(op)      sync and deterministic, on every replica, inside the caller's transaction.
// Reads (get, list, search, assemble) are local and always scoped to one workspace.
//
// The store owns no transaction and does not close the database: the node opens it, wraps
// apply in its transaction with the applied log index, and may swap the file and build a new
// store (the constructor is idempotent over an existing schema; vector indexes load lazily).

import { randomUUID } from 'node:crypto';
import { trainSnapshot } from '@cairn/ivf';
import type { Assignment, VectorSnapshot } from '@cairn/ivf';
import type { Database, Statement } from 'better-sqlite3';
import { HashingEmbedder } from '../embed/hashing.ts';
import type { Embedder } from '../embed/types.ts';
import { Applier, documentStorageBytes, skipKey } from './apply.ts';
import type { ApplyResult, ConditionalOutcome } from './apply.ts';
import { assemble } from './assemble.ts';
import type { AssembleRequest, AssembleResult } from './assemble.ts';
import { stateChecksum } from './checksum.ts';
import { InputError } from './errors.ts';
import { documentEtag } from './etag.ts';
import type { Precondition } from './etag.ts';
import { centroids_assigned_op_version, conditional_op_version, op_version, passages_op_version, uint32ToBytes, vectorToBytes } from './op.ts';
import { passage_tokens_target_default, splitPassages } from './passages.ts';
import type { CentroidsOp, DeleteOp, NoopOp, Op, OpDocument, PutOp } from './op.ts';
import { Reader } from './read.ts';
import type { ListPage, StoredDocument } from './read.ts';
import { ensureSchema } from './schema.ts';
import { PassageSearcher, Searcher } from './search.ts';
import { rankByPassages, snippetOf } from './passage-search.ts';
import type { Granularity, RankedByPassage } from './passage-search.ts';
import { sharedPreparePool } from './prepare-pool.ts';
import type { PreparePool } from './prepare-pool.ts';
import { prepareWork } from './prepare-work.ts';
import type { PrepareResult, PrepareTask } from './prepare-work.ts';
import type { SearchHit, SearchMode } from './search.ts';
import { PassageIndexes } from './topk/passage-index.ts';
import type { PassageIndexBuild } from './topk/passage-index.ts';
import { assertDocumentId, assertNoPrecondition, assertWorkspaceId, languageFromPath, parseDocumentInput } from './validate.ts';
import type { DocumentInput, DocumentLimits } from './validate.ts';
import { VectorIndexes, index_seed } from './vectors.ts';

/** Length of a content-derived id: the first 32 hex digits (128 bits) of sha256(content). */
export const derived_id_hex_chars = 32;
export const list_limit_max = 1000;
export const search_k_max = 1000;
export const preview_chars_max = 240;
/**
 * Content up to this many characters is prepared on the event loop (in ~2 ms slices); longer
 * content in the prepare pool's threads. 16 KiB of prose takes ~5 ms to count and embed, while
 * a thread round trip costs ~0.2 ms plus copying the text.
 */
export const prepare_inline_chars_max = 16 * 1024;
/** Small contents of one bulk request go to the prepare pool in groups of about this many characters. */
export const prepare_group_chars = 128 * 1024;

export interface DocumentStoreOptions {
  embedder: Embedder;
  /** Wall clock for prepare-time timestamps (ms). Never read by apply. */
  clock?: () => number;
  /** Request ids of conditional ops, drawn at prepare time (randomUUID by default). Never called by apply. */
  requestId?: () => string;
  /** Threads for the CPU work of large puts; the process's shared pool by default. */
  preparePool?: () => PreparePool;
  /** Document size and metadata limits (config.server's); the config defaults when absent. */
  limits?: DocumentLimits;
  /** Target passage size in tokens for the documents this node prepares (config server.passage_tokens_target). */
  passage_tokens?: number;
  /**
   * A second connection to the same database for reads (get, list, search, facts): it sees
   * committed state only, so a batch of entries applied over several event-loop turns in one
   * transaction of `db` is never seen in part. `db` itself by default.
   */
  readDb?: Database;
  /**
   * Resolves when no apply transaction is open. Vector and hybrid search wait for it, since the
   * in-memory vector indexes change with the open transaction, before its commit.
   */
  applyIdle?: () => Promise<void>;
}

export interface BulkItemError {
  item: number;
  error: { code: string; message: string; field?: string };
}

export interface PreparedPut {
  /** null when no item was valid: nothing to propose. */
  op: PutOp | null;
  /** Ids of the valid items, in input order. */
  ids: string[];
  /** Input positions of those items (parallel to ids). */
  items: number[];
  errors: BulkItemError[];
}

export interface SearchResult {
  id: string;
  score: number;
  path: string | null;
  language: string | null;
  tokens: number;
  preview: string;
  /** Granularity "passage": the document's best passages for the query, best first. */
  passages?: ResultPassage[];
  /** Granularity "passage": a piece of the best passage around the first query word it holds. */
  snippet?: string;
}

/** A passage of a search hit: where it is (UTF-16 offsets, 1-based inclusive lines) and its bm25. */
export interface ResultPassage {
  n: number;
  start: number;
  end: number;
  line_start: number;
  line_end: number;
  tokens: number;
  score: number;
}

export interface WorkspaceStats {
  document_count: number;
  /** Bytes stored: content + metadata + vectors. */
  bytes: number;
  /** Vector dimension, null before the first document. */
  dim: number | null;
  /** ms timestamp of the last applied write (the leader's clock at prepare time). */
  last_write_ms: number;
}

export class DocumentStore {
  readonly embedder: Embedder;
  private readonly clock: () => number;
  private readonly requestId: () => string;
  private readonly preparePool: () => PreparePool;
  private readonly limits: DocumentLimits | undefined;
  private readonly passageTokens: number;
  private readonly vectors: VectorIndexes;
  private readonly applier: Applier;
  private readonly reader: Reader;
  private readonly searcher: Searcher;
  /** Passage-level reads (the passage index, passages_fts while it builds). */
  readonly passageSearcher: PassageSearcher;
  /** The in-memory passage index (topk/passage-index.ts), built from the database at open. */
  readonly passageIndex: PassageIndexes;
  /** Resolves with the build's figures once the passage index answers searches. */
  readonly passageIndexBuilt: Promise<PassageIndexBuild>;
  private readonly wsDimStmt: Statement;
  private readonly wsStatsStmt: Statement;
  private readonly storageOfStmt: Statement;
  private readonly etagFieldsStmt: Statement;
  private readonly readDb: Database;
  private readonly applyIdle: () => Promise<void>;
  private closed = false;

  constructor(
    readonly db: Database,
    opts: DocumentStoreOptions,
  ) {
    ensureSchema(db);
    this.embedder = opts.embedder;
    this.limits = opts.limits;
    this.passageTokens = opts.passage_tokens ?? passage_tokens_target_default;
    splitPassages('', this.passageTokens); // refuses a target out of range here, not at the first write
    this.clock = opts.clock ?? Date.now;
    this.requestId = opts.requestId ?? randomUUID;
    this.preparePool = opts.preparePool ?? sharedPreparePool;
    const readDb = opts.readDb ?? db;
    this.readDb = readDb;
    this.applyIdle = opts.applyIdle ?? (() => Promise.resolve());
    this.vectors = new VectorIndexes(db);
    this.passageIndex = new PassageIndexes();
    this.applier = new Applier(db, this.vectors, this.passageIndex);
    this.reader = new Reader(readDb);
    this.searcher = new Searcher(readDb, this.vectors);
    this.passageSearcher = new PassageSearcher(readDb, this.passageIndex, () => db !== readDb && db.inTransaction);
    this.passageIndexBuilt = this.passageIndex.build(readDb, () => db !== readDb && db.inTransaction, this.applyIdle);
    this.wsDimStmt = readDb.prepare('SELECT dim, bytes FROM workspaces WHERE workspace = ?');
    this.wsStatsStmt = readDb.prepare('SELECT workspace, dim, document_count, bytes, last_write_at FROM workspaces ORDER BY workspace');
    this.storageOfStmt = readDb.prepare('SELECT storage FROM documents WHERE workspace = ? AND id = ?');
    this.etagFieldsStmt = readDb.prepare('SELECT content_hash, path, language, metadata FROM documents WHERE workspace = ? AND id = ?');
  }

  // ---- writes: prepare (leader) ----

  /**
   * One document -> a put op. Throws InputError (or EmbeddingError) on failure. With a
   * precondition the op is conditional (v3, a fresh `rid`): apply writes the document only when
   * the precondition holds then; read the outcome with conditionalOutcome(op) after it applied.
   */
  async preparePut(ws: string, raw: unknown, precondition: Precondition | null = null): Promise<PutOp> {
    const prepared = await this.prepareDocuments(ws, [raw], false);
    const first = prepared.errors[0];
    if (first !== undefined) throw new InputError(first.error.code as InputError['code'], first.error.message, first.error.field);
    const op = prepared.op;
    if (op === null) throw new Error('invariant: a valid document produced no op');
    if (precondition === null) return op;
    const [doc] = op.docs;
    if (doc === undefined || op.docs.length !== 1) throw new Error(`invariant: a single put holds ${op.docs.length} documents`);
    return { ...op, docs: [{ ...doc, ...opPrecondition(precondition) }], rid: this.requestId() };
  }

  /**
   * Many documents -> one put op with the valid ones; invalid items are reported by position.
   * The workspace's vector dimension is the stored one, or (new workspace) that of the first
   * item: a client `vector` of another length, or an embedder of another dimension, is an error.
   */
  async preparePutMany(ws: string, raws: unknown[]): Promise<PreparedPut> {
    return this.prepareDocuments(ws, raws, true);
  }

  /** `bulk` names fields by position ("[3].content"); a single document's fields are plain ("content"). */
  private async prepareDocuments(ws: string, raws: unknown[], bulk: boolean): Promise<PreparedPut> {
    this.assertOpen();
    assertWorkspaceId(ws);
    const errors: BulkItemError[] = [];
    const valid: { item: number; input: DocumentInput }[] = [];
    let dim = this.workspaceDim(ws);
    raws.forEach((raw, item) => {
      const prefix = bulk ? `[${item}].` : '';
      try {
        if (bulk) assertNoPrecondition(raw, prefix);
        const input = parseDocumentInput(raw, prefix, this.limits);
        const itemDim = input.vector?.length ?? this.embedder.dim;
        dim ??= itemDim;
        if (itemDim !== dim) {
          throw new InputError(
            'dimension_mismatch',
            input.vector === null
              ? `workspace ${ws} holds ${dim}-dimensional vectors and the embedder ${this.embedder.name} gives ${itemDim}: send ${prefix}vector`
              : `${prefix}vector has ${itemDim} dimensions; workspace ${ws} holds ${dim}`,
            `${prefix}vector`,
          );
        }
        valid.push({ item, input });
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        errors.push({ item, error: err.toJSON() });
      }
    });
    if (valid.length === 0) return { op: null, ids: [], items: [], errors };
    // Tokens, sha256 and (hashing embedder) the vector, large contents in the pool's threads.
    const hashing_dim = this.embedder instanceof HashingEmbedder ? this.embedder.dim : null;
    const tasks = valid.map(({ input }) => ({
      content: input.content, hashing_dim: input.vector === null ? hashing_dim : null, passage_tokens: this.passageTokens,
    }));
    const work = await this.prepareWorkOf(tasks);
    const prepared = new Map<DocumentInput, PrepareResult>();
    valid.forEach((v, i) => {
      const w = work[i];
      if (w === undefined) throw new Error('invariant: prepared work per valid document');
      prepared.set(v.input, w);
      if (v.input.vector === null && w.vector !== null) v.input.vector = w.vector;
    });
    const toEmbed = valid.filter((v) => v.input.vector === null);
    const embedded = toEmbed.length === 0 ? [] : await this.embedder.embed(toEmbed.map((v) => v.input.content));
    if (embedded.length !== toEmbed.length) throw new Error('invariant: embedder returned a vector per text');
    toEmbed.forEach((v, i) => (v.input.vector = embedded[i] ?? null));
    const embeddable = valid.filter(({ item, input }) => {
      if (input.vector !== null && input.vector.some((x) => x !== 0)) return true;
      const field = bulk ? `[${item}].content` : 'content';
      errors.push({ item, error: { code: 'invalid_value', message: `${field} has nothing to embed`, field } });
      return false;
    });
    errors.sort((a, b) => a.item - b.item);
    if (embeddable.length === 0) return { op: null, ids: [], items: [], errors };
    const docs: OpDocument[] = [];
    for (const { input } of embeddable) {
      if (input.vector === null) throw new Error('invariant: every valid document has a vector');
      const w = prepared.get(input);
      if (w === undefined) throw new Error('invariant: every valid document was prepared');
      docs.push({
        id: input.id ?? w.content_hash.slice(0, derived_id_hex_chars),
        content: input.content,
        path: input.path,
        language: input.language ?? languageFromPath(input.path),
        metadata: input.metadata,
        tokens: w.tokens,
        content_hash: w.content_hash,
        bytes: Buffer.byteLength(input.content, 'utf8'),
        vector: vectorToBytes(input.vector),
        passages: w.passages,
      });
    }
    const op: PutOp = { kind: 'put', v: passages_op_version, ws, ts: this.clock(), docs };
    return { op, ids: docs.map((d) => d.id), items: embeddable.map((v) => v.item), errors };
  }

  /**
   * prepareWork for each task: a request's small contents, when they are few in all (at most
   * prepare_inline_chars_max), on the event loop one after the other; otherwise in the prepare
   * pool, large contents alone and small ones in groups. One request holds at most threads_max of
   * the pool's slots at a time, so a bulk goes in rounds and only concurrent requests can fill the
   * queue.
   */
  private async prepareWorkOf(tasks: PrepareTask[]): Promise<PrepareResult[]> {
    const out: (PrepareResult | null)[] = tasks.map(() => null);
    const small = tasks.flatMap((t, i) => (t.content.length > prepare_inline_chars_max ? [] : [i]));
    const smallChars = small.reduce((n, i) => n + (tasks[i] as PrepareTask).content.length, 0);
    // Jobs for the pool: each large content alone, small ones in groups of about
    // prepare_group_chars (a bulk of a thousand short documents is a few jobs, not a second of
    // microtasks on the event loop). Small contents of one request that are few in all are
    // prepared here, one after the other.
    const jobs: number[][] = tasks.flatMap((t, i) => (t.content.length > prepare_inline_chars_max ? [[i]] : []));
    if (smallChars <= prepare_inline_chars_max) {
      for (const i of small) out[i] = await prepareWork(tasks[i] as PrepareTask);
    } else {
      let group: number[] = [];
      let chars = 0;
      for (const i of small) {
        group.push(i);
        chars += (tasks[i] as PrepareTask).content.length;
        if (chars >= prepare_group_chars) {
          jobs.push(group);
          group = [];
          chars = 0;
        }
      }
      if (group.length > 0) jobs.push(group);
    }
    const pool = this.preparePool();
    for (let r = 0; r < jobs.length; r += pool.threads_max) {
      const round = jobs.slice(r, r + pool.threads_max);
      const results = await Promise.all(
        round.map((job) => (job.length === 1 && (tasks[job[0] as number] as PrepareTask).content.length > prepare_inline_chars_max
          ? pool.run(tasks[job[0] as number] as PrepareTask).then((x) => [x])
          : pool.runGroup(job.map((i) => tasks[i] as PrepareTask)))),
      );
      round.forEach((job, k) => job.forEach((i, m) => (out[i] = results[k]?.[m] ?? null)));
    }
    return out.map((w) => {
      if (w === null) throw new Error('invariant: every task was prepared');
      return w;
    });
  }

  /** With a precondition (If-Match only; exactly one id) the op is conditional, as in preparePut. */
  prepareDelete(ws: string, ids: string[], precondition: Precondition | null = null): DeleteOp {
    this.assertOpen();
    assertWorkspaceId(ws);
    ids.forEach((id, i) => assertDocumentId(id, ids.length === 1 ? 'id' : `ids[${i}]`));
    if (precondition === null) return { kind: 'delete', v: op_version, ws, ts: this.clock(), ids: [...ids] };
    if (ids.length !== 1) throw new Error(`invariant: a conditional delete of ${ids.length} ids`);
    if (precondition.if_match === undefined || precondition.if_none_match !== undefined) {
      throw new InputError('invalid_value', 'a delete takes If-Match only', 'If-None-Match');
    }
    return { kind: 'delete', v: conditional_op_version, ws, ts: this.clock(), ids: [...ids], if_match: precondition.if_match, rid: this.requestId() };
  }

  /** Workspaces whose vector index asks to be retrained (check after applying). */
  retrainCandidates(): string[] {
    this.assertOpen();
    return this.vectors.retrainDue();
  }

  /**
   * A copy of a workspace's vectors to retrain on, off the event loop (leader only): give it to
   * trainSnapshot() (in a worker) and the result to centroidsOp(). With `only`: the vectors of
   * those ids the workspace holds (vectors written since an earlier copy). Null when there is
   * nothing to train. Costs one copy of the vectors (count * dim floats).
   */
  retrainSnapshot(ws: string, only?: Iterable<string>): VectorSnapshot | null {
    this.assertOpen();
    assertWorkspaceId(ws);
    return this.vectors.snapshot(ws, only);
  }

  /**
   * Records the ids of `ws` whose vector is written from now on (take() returns and clears them;
   * stop() ends it): the leader's retraining assigns them before logging its op. Not state.
   */
  trackVectorWrites(ws: string): { take(): string[]; stop(): void } {
    this.assertOpen();
    return this.vectors.trackWrites(ws);
  }

  /** The centroids op for a training result: the centroids and where each assigned vector goes. */
  centroidsOp(ws: string, dim: number, centroids: Float32Array, assignment: Assignment): CentroidsOp {
    this.assertOpen();
    const n = assignment.ids.length;
    if (assignment.lists.length !== n || assignment.fingerprints.length !== n || centroids.length % dim !== 0) {
      throw new Error(`invariant: an assignment of ${n} ids has ${assignment.lists.length} lists, ${assignment.fingerprints.length} fingerprints`);
    }
    return {
      kind: 'centroids', v: centroids_assigned_op_version, ws, ts: this.clock(), dim,
      centroids: vectorToBytes(centroids), ids: assignment.ids, lists: uint32ToBytes(assignment.lists),
      fingerprints: uint32ToBytes(assignment.fingerprints),
    };
  }

  /**
   * Trains new centroids for `ws` on this thread without installing them; a noop when there is
   * nothing to train. The daemon trains in a worker instead (retrain/retrainer.ts).
   */
  prepareRetrain(ws: string): CentroidsOp | NoopOp {
    const snapshot = this.retrainSnapshot(ws);
    if (snapshot === null) return this.prepareNoop();
    const r = trainSnapshot(snapshot, { seed: index_seed });
    return this.centroidsOp(ws, snapshot.dim, r.centroids, { ids: snapshot.ids, lists: r.lists, fingerprints: r.fingerprints });
  }

  /** The last centroids op this replica applied: workspace, vectors, vectors routed at apply, ms (side information). */
  lastCentroidsInstall(): { ws: string; vectors: number; routed: number; ms: number } | null {
    return this.vectors.lastInstall;
  }

  prepareNoop(): NoopOp {
    return { kind: 'noop', v: op_version, ts: this.clock() };
  }

  // ---- writes: apply (every replica) ----

  /** Applies an op. Synchronous; the caller holds the transaction. Throws only on a broken invariant. */
  apply(op: Op): ApplyResult {
    this.assertOpen();
    return this.applier.apply(op);
  }

  /** apply(op) as steps, one document at a time (Applier.steps); the caller holds the transaction. */
  applySteps(op: Op): Generator<void, ApplyResult, void> {
    this.assertOpen();
    return this.applier.steps(op);
  }

  /**
   * Documents of `op` that this replica's apply refused (a workspace dimension set by a write
   * prepared concurrently), with the reason. For the write handler after propose resolved.
   */
  skippedDocuments(op: PutOp): { id: string; reason: string }[] {
    if (op.rid !== undefined) return this.conditionalOutcome(op)?.skipped ?? [];
    const out: { id: string; reason: string }[] = [];
    for (const d of op.docs) {
      const reason = this.applier.recentSkips.get(skipKey(op.ws, op.ts, d.id));
      if (reason !== undefined) out.push({ id: d.id, reason });
    }
    return out;
  }

  /**
   * What this replica's apply decided for a conditional op (one with a `rid`): the preconditions
   * that failed and the documents skipped otherwise. undefined when the op has not been applied
   * here, or so long ago that its outcome was evicted (recent_outcomes_max). For the write handler
   * after propose resolved.
   */
  conditionalOutcome(op: PutOp | DeleteOp): ConditionalOutcome | undefined {
    if (op.rid === undefined) throw new Error('invariant: the outcome of an unconditional op was asked for');
    return this.applier.recentOutcomes.get(op.rid);
  }

  // ---- reads ----

  /** The current ETag of a document (see etag.ts), null when it is absent. */
  etag(ws: string, id: string): string | null {
    this.assertOpen();
    const r = this.etagFieldsStmt.get(ws, id) as Parameters<typeof documentEtag>[0] | undefined;
    return r === undefined ? null : documentEtag(r);
  }

  get(ws: string, id: string): StoredDocument | null {
    this.assertOpen();
    return this.reader.get(ws, id);
  }

  list(ws: string, opts: { limit?: number; cursor?: string | null } = {}): ListPage {
    this.assertOpen();
    const limit = Math.min(Math.max(1, opts.limit ?? 100), list_limit_max);
    return this.reader.list(ws, limit, opts.cursor);
  }

  /**
   * Ranked documents of one workspace. `vector` replaces the query's embedding in vector/hybrid
   * modes. Granularity "passage" (the default) ranks documents by their passages and gives each
   * hit its best passages and a snippet; "document" ranks whole documents.
   */
  async search(ws: string, req: { query: string; k?: number; mode?: SearchMode; vector?: Float32Array; granularity?: Granularity }): Promise<SearchResult[]> {
    this.assertOpen();
    const k = Math.min(Math.max(1, req.k ?? 10), search_k_max);
    if ((req.granularity ?? 'passage') === 'passage') {
      const ranked = await this.searchPassages(ws, req.query, k, req.mode ?? 'hybrid', req.vector);
      const rows = this.reader.many(ws, ranked.hits.map((h) => h.id));
      const out: SearchResult[] = [];
      for (const h of ranked.hits) {
        const r = rows.get(h.id);
        if (r === undefined) continue;
        const ps = ranked.passages.get(h.id) ?? [];
        out.push({
          id: h.id, score: h.score, path: r.path, language: r.language, tokens: r.tokens, preview: r.content.slice(0, preview_chars_max),
          passages: ps.map(({ doc_id: _d, ...p }) => p),
          snippet: ps[0] === undefined ? r.content.slice(0, preview_chars_max) : snippetOf(r.content, ps[0], req.query),
        });
      }
      return out;
    }
    const hits = await this.searchHits(ws, req.query, k, req.mode ?? 'hybrid', req.vector);
    const rows = this.reader.many(ws, hits.map((h) => h.id));
    const out: SearchResult[] = [];
    for (const h of hits) {
      const r = rows.get(h.id);
      if (r === undefined) continue; // index ahead of rows cannot happen inside one apply; skip defensively
      out.push({ id: h.id, score: h.score, path: r.path, language: r.language, tokens: r.tokens, preview: r.content.slice(0, preview_chars_max) });
    }
    return out;
  }

  /** Ranked ids and scores only. */
  async searchHits(ws: string, query: string, k: number, mode: SearchMode, vector?: Float32Array): Promise<SearchHit[]> {
    if (mode === 'lexical') return this.searcher.lexical(ws, query, k);
    // The in-memory vector indexes are read only while no apply transaction is open (they hold
    // its documents before it commits); the workspace's dimension, for the query's embedding, is
    // read once the last one committed.
    await this.applyIdle();
    const q = vector ?? (await this.queryVector(ws, query));
    await this.applyIdle();
    if (mode === 'vector') return this.searcher.vector(ws, q, k);
    return this.searcher.hybrid(ws, query, q, k);
  }

  /** Documents ranked by their passages, with the best passages of each (passage-search.ts). */
  async searchPassages(ws: string, query: string, k: number, mode: SearchMode, vector?: Float32Array): Promise<RankedByPassage> {
    this.assertOpen();
    let q: Float32Array | null = null;
    if (mode !== 'lexical') {
      await this.applyIdle();
      q = vector ?? (await this.queryVector(ws, query));
      await this.applyIdle();
    }
    return rankByPassages(this.searcher, this.passageSearcher, ws, query, q, k, mode);
  }

  /** The query's embedding when the embedder matches the workspace's dimension, else null. */
  async queryVector(ws: string, query: string): Promise<Float32Array | null> {
    const dim = this.workspaceDim(ws);
    if (dim === null || dim !== this.embedder.dim) return null;
    const [v] = await this.embedder.embed([query]);
    return v ?? null;
  }

  /** Context assembly: see assemble.ts and RANKING.md. */
  async assemble(ws: string, req: AssembleRequest): Promise<AssembleResult> {
    this.assertOpen();
    return assemble(this, this.reader, ws, req);
  }

  // ---- facts ----

  workspaceDim(ws: string): number | null {
    const r = this.wsDimStmt.get(ws) as { dim: number | null } | undefined;
    return r?.dim ?? null;
  }

  storageBytes(ws: string): number {
    const r = this.wsDimStmt.get(ws) as { bytes: number } | undefined;
    return r?.bytes ?? 0;
  }

  /** Bytes a put op would add to its workspace: new storage minus that of the documents it replaces. */
  storageDelta(op: PutOp): number {
    let delta = 0;
    for (const d of op.docs) {
      delta += documentStorageBytes(d);
      const old = this.storageOfStmt.get(op.ws, d.id) as { storage: number } | undefined;
      if (old !== undefined) delta -= old.storage;
    }
    return delta;
  }

  workspaceStats(): Record<string, WorkspaceStats> {
    this.assertOpen();
    const out: Record<string, WorkspaceStats> = {};
    type Row = { workspace: string; dim: number | null; document_count: number; bytes: number; last_write_at: number };
    for (const r of this.wsStatsStmt.all() as Row[]) {
      out[r.workspace] = { document_count: r.document_count, bytes: r.bytes, dim: r.dim, last_write_ms: r.last_write_at };
    }
    return out;
  }

  /** sha256 over documents, workspaces, vectors and centroids in canonical order. */
  checksum(): string {
    this.assertOpen();
    return stateChecksum(this.readDb);
  }

  /** Drops in-memory state (vector indexes). Does not close the database, which the caller owns. */
  close(): void {
    this.passageIndex.stop();
    this.vectors.reset();
    this.closed = true;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('DocumentStore is closed; build a new one on the reopened database');
  }
}


/** The precondition fields of an op document; exactly one of them. */
function opPrecondition(p: Precondition): Pick<OpDocument, 'if_match' | 'if_none_match'> {
  if (p.if_none_match === true) {
    if (p.if_match !== undefined) throw new InputError('invalid_value', 'If-Match and If-None-Match cannot be combined', 'If-None-Match');
    return { if_none_match: true };
  }
  if (p.if_match === undefined) throw new Error('invariant: a precondition with neither if_match nor if_none_match');
  return { if_match: p.if_match };
}
