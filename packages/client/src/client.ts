// CairnClient: the document API of one workspace over a cluster's nodes (or nginx in front).
//
//   const cairn = new CairnClient({ endpoints: 'http://127.0.0.1:8000', workspace: 'docs' });
//   const { etag } = await cairn.put({ id: 'notes/a.md', path: 'notes/a.md', content: '...' });
//   await cairn.put({ id: 'notes/a.md', content: '...' }, { ifMatch: etag });
//   for await (const d of cairn.list()) console.log(d.id);
//
// Read your writes: every write answer's X-Cairn-Index is kept (the highest), and every read
// carries it as X-Min-Index, so a read sent to any node (after a failover, or through nginx to
// whichever node it picks) waits until that node has applied the client's writes. On the node
// that took the write it is already applied, so it costs nothing there; a node that cannot reach
// it in server.read_wait_ms_max answers 504, and the read is tried on another node.

import { chunkBody, chunkDocuments, splitChunk, body_bytes_max_default, bulk_documents_max_default } from './bulk.ts';
import type { Chunk } from './bulk.ts';
import { CairnError, PreconditionFailedError } from './errors.ts';
import { Transport } from './transport.ts';
import type { Answer, RequestSpec } from './transport.ts';
import type {
  AssembleRequest,
  AssembleResult,
  BulkItemError,
  BulkProgress,
  BulkResult,
  CairnClientOptions,
  ClusterNodes,
  DeleteResult,
  Document,
  DocumentInput,
  DocumentSummary,
  Health,
  PutResult,
  SearchMode,
  SearchResult,
  WriteConcern,
} from './types.ts';

/** The server's workspace id rule. */
export const workspace_id_pattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** GET /documents pages at most this many (the server's list limit). */
export const list_page_max = 1000;
export const bulk_concurrency_max = 8;

export interface CallOptions {
  signal?: AbortSignal;
}

export interface PutOptions extends CallOptions {
  /** Write only if the document's ETag is one of these (`*`: it exists). */
  ifMatch?: string | string[];
  /** `*`: create only if the document is absent. */
  ifNoneMatch?: '*';
  writeConcern?: WriteConcern;
}

export interface DeleteOptions extends CallOptions {
  ifMatch?: string | string[];
  writeConcern?: WriteConcern;
}

export interface BulkOptions extends CallOptions {
  /** Called after each chunk is answered. */
  onProgress?: (p: BulkProgress) => void;
  /** How many documents there are, for progress, when `docs` is not an array. */
  total?: number;
  /** Chunks in flight at once (default 1). */
  concurrency?: number;
  /** server.bulk_documents_max of the cluster (default 1000). */
  documentsMax?: number;
  /** server.body_bytes_max of the cluster (default 512 KiB). */
  bodyBytesMax?: number;
  writeConcern?: WriteConcern;
}

export interface ListOptions extends CallOptions {
  /** Documents per request (default 500, at most 1000). */
  pageSize?: number;
}

export interface SearchOptions extends CallOptions {
  k?: number;
  mode?: SearchMode;
  vector?: number[];
}

export class CairnClient {
  readonly workspace: string;
  private readonly transport: Transport;
  private readonly writeConcern: WriteConcern | undefined;
  private highestIndex = 0;

  constructor(opts: CairnClientOptions) {
    if (!workspace_id_pattern.test(opts.workspace)) {
      throw new TypeError(`workspace must be a letter or digit followed by up to 63 letters, digits, ".", "_" or "-"; got ${JSON.stringify(opts.workspace)}`);
    }
    this.workspace = opts.workspace;
    this.writeConcern = opts.writeConcern;
    this.transport = new Transport(opts);
  }

  /** The highest log index of this client's writes: what its reads wait for. */
  get index(): number {
    return this.highestIndex;
  }

  /** The URLs the client sends to, in the order it would try them now. */
  endpoints(): string[] {
    return this.transport.endpoints.order().map((e) => e.url);
  }

  /** Asks the cluster for its nodes (GET /api/v1/cluster/nodes) and adds them as fallbacks. */
  async nodes(opts: CallOptions = {}): Promise<ClusterNodes | null> {
    return this.transport.refreshNodes(opts.signal);
  }

  private track(a: Answer): void {
    if (a.index !== null && a.index > this.highestIndex) this.highestIndex = a.index;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { 'x-workspace-id': this.workspace, ...extra };
  }

  private readHeaders(): Record<string, string> {
    return this.headers(this.highestIndex > 0 ? { 'x-min-index': String(this.highestIndex) } : {});
  }

  private writeHeaders(concern: WriteConcern | undefined, extra: Record<string, string> = {}): Record<string, string> {
    const c = concern ?? this.writeConcern;
    return this.headers(c === undefined ? extra : { ...extra, 'x-write-concern': c });
  }

  private send(spec: RequestSpec): Promise<Answer> {
    return this.transport.send(spec);
  }

  /** Writes one document (replacing the one of the same id). 412 is a PreconditionFailedError. */
  async put(doc: DocumentInput, opts: PutOptions = {}): Promise<PutResult> {
    if (opts.ifMatch !== undefined && opts.ifNoneMatch !== undefined) throw new TypeError('put: ifMatch and ifNoneMatch together');
    const pre: Record<string, string> = {};
    if (opts.ifMatch !== undefined) pre['if-match'] = formatIfMatch(opts.ifMatch);
    if (opts.ifNoneMatch !== undefined) pre['if-none-match'] = '*';
    const conditional = Object.keys(pre).length > 0;
    const what = `put ${doc.id === undefined ? '(id from content)' : JSON.stringify(doc.id)}${conditional ? ` (${Object.entries(pre).map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''}`;
    const a = await this.send({
      method: 'POST',
      path: '/api/v1/documents',
      body: JSON.stringify(doc),
      kind: conditional ? 'conditional' : 'idempotent',
      headers: this.writeHeaders(opts.writeConcern, pre),
      accept: [412],
      what,
      ...signal(opts),
    });
    this.track(a);
    if (a.status === 412) throw preconditionFailed(what, a);
    const body = a.body as { id: string; index: number; etag: string };
    return { id: body.id, index: body.index, etag: body.etag, servedBy: a.servedBy };
  }

  /**
   * Writes many documents in requests within the cluster's limits (documentsMax, bodyBytesMax),
   * one chunk after another (or `concurrency` at once). Each chunk is a set of puts by id, so a
   * chunk whose answer was lost is sent again: a document is never lost nor stored twice. A
   * document refused by the server (or too large to send) is an item error, not an exception.
   */
  async bulk(docs: Iterable<DocumentInput> | AsyncIterable<DocumentInput>, opts: BulkOptions = {}): Promise<BulkResult> {
    const concurrency = opts.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > bulk_concurrency_max) {
      throw new TypeError(`bulk: concurrency must be an integer from 1 to ${bulk_concurrency_max}`);
    }
    const limits = { documentsMax: opts.documentsMax ?? bulk_documents_max_default, bodyBytesMax: opts.bodyBytesMax ?? body_bytes_max_default };
    const total = Array.isArray(docs) ? docs.length : (opts.total ?? null);
    const events = chunkDocuments(docs, limits);
    // Per chunk, in input order: what it stored.
    const stored: Array<{ first: number; ids: string[]; etags: Array<string | null> }> = [];
    const errors: BulkItemError[] = [];
    const progress: BulkProgress = { done: 0, total, added: 0, errors: 0, chunks: 0, servedBy: null };
    let index = 0;
    let given = 0;

    const sendChunk = async (chunk: Chunk): Promise<void> => {
      let a: Answer;
      try {
        a = await this.send({
          method: 'POST',
          path: '/api/v1/documents/bulk',
          body: chunkBody(chunk),
          kind: 'idempotent',
          headers: this.writeHeaders(opts.writeConcern),
          what: `bulk of ${chunk.items.length} documents (items ${chunk.items[0]}..${chunk.items[chunk.items.length - 1]})`,
          ...signal(opts),
        });
      } catch (err) {
        // A server with lower limits than ours: halve the chunk until it fits.
        if (err instanceof CairnError && err.status === 413 && (err.code === 'body_too_large' || err.code === 'too_many_documents') && chunk.items.length > 1) {
          for (const half of splitChunk(chunk)) await sendChunk(half);
          return;
        }
        const itemErrors = err instanceof CairnError ? noValidDocuments(err, chunk) : null;
        if (itemErrors === null) throw err;
        errors.push(...itemErrors);
        progress.errors += itemErrors.length;
        progress.done += chunk.items.length;
        progress.chunks++;
        opts.onProgress?.({ ...progress });
        return;
      }
      this.track(a);
      const body = a.body as { added: number; ids: string[]; etags: Array<string | null>; errors: BulkItemError[]; index: number };
      if (typeof body.index === 'number' && body.index > index) index = body.index;
      stored.push({ first: chunk.items[0] ?? 0, ids: body.ids, etags: body.etags });
      const mapped = body.errors.map((e) => ({ item: chunk.items[e.item] ?? -1, error: e.error }));
      errors.push(...mapped);
      progress.added += body.added;
      progress.errors += mapped.length;
      progress.done += chunk.items.length;
      progress.chunks++;
      progress.servedBy = a.servedBy;
      opts.onProgress?.({ ...progress });
    };

    const worker = async (): Promise<void> => {
      for (;;) {
        const next = await events.next();
        if (next.done === true) return;
        const ev = next.value;
        if ('tooLarge' in ev) {
          given = Math.max(given, ev.tooLarge.item + 1);
          errors.push({
            item: ev.tooLarge.item,
            error: { code: 'body_too_large', message: `not sent: the document is ${ev.tooLarge.bytes} bytes of JSON, over the body limit of ${limits.bodyBytesMax} bytes`, field: `[${ev.tooLarge.item}]` },
          });
          progress.errors++;
          progress.done++;
          continue;
        }
        given = Math.max(given, (ev.chunk.items[ev.chunk.items.length - 1] ?? 0) + 1);
        await sendChunk(ev.chunk);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, () => worker()));

    stored.sort((x, y) => x.first - y.first);
    errors.sort((x, y) => x.item - y.item);
    return {
      added: progress.added,
      ids: stored.flatMap((s) => s.ids),
      etags: stored.flatMap((s) => s.etags),
      errors,
      total: total ?? given,
      index,
      chunks: progress.chunks,
    };
  }

  /** The document, or null when there is none. */
  async get(id: string, opts: CallOptions = {}): Promise<Document | null> {
    const a = await this.send({ method: 'GET', path: documentPath(id), kind: 'read', headers: this.readHeaders(), accept: [404], what: `get ${JSON.stringify(id)}`, ...signal(opts) });
    if (a.status === 404) return null;
    return a.body as Document;
  }

  /** Every document of the workspace (without content), in id order, page by page. */
  async *list(opts: ListOptions = {}): AsyncGenerator<DocumentSummary> {
    const limit = opts.pageSize ?? 500;
    if (!Number.isInteger(limit) || limit < 1 || limit > list_page_max) throw new TypeError(`list: pageSize must be an integer from 1 to ${list_page_max}`);
    let cursor: string | undefined;
    for (;;) {
      const a = await this.send({
        method: 'GET',
        path: '/api/v1/documents',
        query: { limit, cursor },
        kind: 'read',
        headers: this.readHeaders(),
        what: `list${cursor === undefined ? '' : ' (next page)'}`,
        ...signal(opts),
      });
      const page = a.body as { documents: DocumentSummary[]; next_cursor: string | null };
      for (const d of page.documents) yield d;
      if (page.next_cursor === null) return;
      cursor = page.next_cursor;
    }
  }

  /**
   * Deletes a document. Without ifMatch a delete is sent again after a lost answer (the document
   * is gone either way); with ifMatch it is conditional (412: PreconditionFailedError).
   */
  async delete(id: string, opts: DeleteOptions = {}): Promise<DeleteResult> {
    const pre: Record<string, string> = opts.ifMatch === undefined ? {} : { 'if-match': formatIfMatch(opts.ifMatch) };
    const what = `delete ${JSON.stringify(id)}${opts.ifMatch === undefined ? '' : ` (if-match: ${pre['if-match']})`}`;
    const a = await this.send({
      method: 'DELETE',
      path: documentPath(id),
      kind: opts.ifMatch === undefined ? 'idempotent' : 'conditional',
      headers: this.writeHeaders(opts.writeConcern, pre),
      accept: [404, 412],
      what,
      ...signal(opts),
    });
    this.track(a);
    if (a.status === 412) throw preconditionFailed(what, a);
    if (a.status === 404) return { id, deleted: false, index: null };
    return { id, deleted: true, index: a.index };
  }

  async search(query: string, opts: SearchOptions = {}): Promise<SearchResult> {
    const body: Record<string, unknown> = { query };
    if (opts.k !== undefined) body['k'] = opts.k;
    if (opts.mode !== undefined) body['mode'] = opts.mode;
    if (opts.vector !== undefined) body['vector'] = opts.vector;
    const a = await this.send({ method: 'POST', path: '/api/v1/search', body: JSON.stringify(body), kind: 'read', headers: this.readHeaders(), what: 'search', ...signal(opts) });
    return a.body as SearchResult;
  }

  /** The best documents for the query that fit in max_tokens (store/RANKING.md). */
  async assemble(query: string, opts: AssembleRequest & CallOptions = {}): Promise<AssembleResult> {
    const { signal: s, ...fields } = opts;
    const a = await this.send({
      method: 'POST',
      path: '/api/v1/assemble',
      body: JSON.stringify({ query, ...fields }),
      kind: 'read',
      headers: this.readHeaders(),
      what: 'assemble',
      ...(s === undefined ? {} : { signal: s }),
    });
    return a.body as AssembleResult;
  }

  /** GET /health of the node that answers (503 unhealthy is answered, not thrown). */
  async health(opts: CallOptions = {}): Promise<Health & { servedBy: string | null; httpStatus: number }> {
    const a = await this.send({ method: 'GET', path: '/health', kind: 'read', headers: this.headers(), accept: [503], what: 'health', ...signal(opts) });
    if (typeof a.body !== 'object' || a.body === null) throw new CairnError('invalid_answer', `health: ${a.endpoint} answered ${a.status} without JSON`, { status: a.status, endpoint: a.endpoint });
    return { ...(a.body as Health), servedBy: a.servedBy, httpStatus: a.status };
  }
}

function signal(opts: CallOptions): { signal?: AbortSignal } {
  return opts.signal === undefined ? {} : { signal: opts.signal };
}

/** `/api/v1/documents/<id>`, `/` in an id sent as %2F. */
export function documentPath(id: string): string {
  if (id === '' || id === '.' || id === '..') throw new CairnError('invalid_value', `no URL can address the document id ${JSON.stringify(id)}`, { field: 'id' });
  return `/api/v1/documents/${encodeURIComponent(id)}`;
}

/** An If-Match header: `*`, or the ETags quoted and comma-separated. */
export function formatIfMatch(m: string | string[]): string {
  if (m === '*') return '*';
  const list = typeof m === 'string' ? [m] : m;
  if (list.length === 0) throw new TypeError('ifMatch: no ETag given');
  return list.map((e) => (e.startsWith('"') || e.startsWith('W/') ? e : `"${e}"`)).join(', ');
}

function preconditionFailed(what: string, a: Answer): PreconditionFailedError {
  const body = a.body as { error?: { message?: string; field?: string }; current_etag?: string | null } | null;
  const current = typeof body?.current_etag === 'string' ? body.current_etag : null;
  return new PreconditionFailedError(`${what}: 412 ${body?.error?.message ?? 'precondition failed'}`, current, a.index, {
    status: 412,
    endpoint: a.endpoint,
    servedBy: a.servedBy,
    body: a.body,
    field: body?.error?.field ?? null,
  });
}

/** A 400 no_valid_documents lists every item's error; anything else is not an item error. */
function noValidDocuments(err: CairnError, chunk: Chunk): BulkItemError[] | null {
  if (err.status !== 400 || err.code !== 'no_valid_documents') return null;
  const list = (err.body as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(list)) return null;
  return (list as BulkItemError[]).map((e) => ({ item: chunk.items[e.item] ?? -1, error: e.error }));
}
