// The shapes of the API's requests and answers (packages/server/src/http/public/API.md), and the
// client's options. Request bodies keep the API's field names (snake_case); options that steer
// the client itself are camelCase.

export type WriteConcern = 'leader' | 'quorum' | 'all';
export type SearchMode = 'lexical' | 'vector' | 'hybrid';

/** A document to write. Without an id the server derives one from the content's sha256. */
export interface DocumentInput {
  /** 1..256 characters, `/` allowed; not `.` or `..`, no control characters, no surrounding spaces. */
  id?: string;
  content: string;
  path?: string | null;
  language?: string | null;
  metadata?: Record<string, unknown> | null;
  vector?: number[] | null;
}

/** A stored document as GET /documents/:id answers it. */
export interface Document {
  id: string;
  workspace: string;
  content: string;
  path: string | null;
  language: string | null;
  metadata: Record<string, unknown> | null;
  tokens: number;
  /** sha256 of the content (UTF-8), hex. */
  content_hash: string;
  bytes: number;
  created_at: number;
  updated_at: number;
  /** The document's strong ETag, unquoted. */
  etag: string;
}

/** A listed document: everything but the content and the ETag. */
export type DocumentSummary = Omit<Document, 'content' | 'etag'>;

export interface PutResult {
  id: string;
  /** The log index of the write (`X-Cairn-Index`). */
  index: number;
  etag: string;
  /** The node that answered (`X-Served-By`). */
  servedBy: string | null;
}

export interface BulkItemError {
  /** Position of the item in the documents given to bulk(). */
  item: number;
  error: { code: string; message: string; field?: string };
}

export interface BulkResult {
  /** Documents stored. */
  added: number;
  /** The stored ids, in the order given (items with an error left out). */
  ids: string[];
  /** Parallel to ids: the ETag each stored document now has. */
  etags: Array<string | null>;
  errors: BulkItemError[];
  /** Items given. */
  total: number;
  /** The highest log index of the chunks (0 when nothing was sent). */
  index: number;
  /** Requests it took. */
  chunks: number;
}

export interface BulkProgress {
  /** Items answered so far (stored or refused). */
  done: number;
  /** Items in all, when known (an array, or the `total` option). */
  total: number | null;
  added: number;
  errors: number;
  chunks: number;
  /** The node that took the last chunk. */
  servedBy: string | null;
}

export interface DeleteResult {
  id: string;
  /**
   * false: the document was absent when the answering delete ran. After a retried attempt
   * (the first attempt's answer was lost) that may be because the first attempt deleted it.
   */
  deleted: boolean;
  /** The log index of the delete; null when nothing was deleted. */
  index: number | null;
}

export interface SearchHit {
  id: string;
  score: number;
  path: string | null;
  language: string | null;
  tokens: number;
  preview: string;
}

export interface SearchResult {
  query: string;
  mode: SearchMode;
  k: number;
  results: SearchHit[];
  total: number;
}

export interface AssembleRequest {
  max_tokens?: number;
  max_documents?: number;
  include_patterns?: string[];
  exclude_patterns?: string[];
}

export interface AssembledDocument {
  id: string;
  path: string | null;
  content: string;
  language: string | null;
  relevance_score: number;
  tokens: number;
  inclusion_reason: string;
}

export interface AssembleResult {
  context: string;
  documents: AssembledDocument[];
  total_tokens: number;
  processing_time_ms: number;
}

/** One node as GET /api/v1/cluster/nodes lists it (the fields the client reads, and the rest). */
export interface ClusterNode {
  id: string;
  address: string;
  role: 'leader' | 'follower';
  reachable: boolean;
  state: string;
  [field: string]: unknown;
}

export interface ClusterNodes {
  observed_by: string;
  at: string;
  leader: string;
  nodes: ClusterNode[];
}

/** GET /health in the clustering guide's shape (the open part; `workspaces` needs the token). */
export interface Health {
  status: string;
  node_id: string;
  cluster: Record<string, unknown>;
  [field: string]: unknown;
}

/** Bounds on retrying a request. */
export interface RetryOptions {
  /** Attempts after the first (default 8). */
  retries?: number;
  /** First backoff (default 100 ms), doubled per retry up to backoffMaxMs (default 2000 ms), with jitter. */
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** A Retry-After longer than this is waited only this long (default 10000 ms). */
  retryAfterMaxMs?: number;
}

export interface RetryEvent {
  method: string;
  path: string;
  endpoint: string;
  /** 1 for the first retry. */
  attempt: number;
  reason: string;
  delayMs: number;
}

export interface CairnClientOptions {
  /** Node URLs, or one nginx URL (http://127.0.0.1:8000). At least one. */
  endpoints: string | string[];
  /** X-Workspace-ID of every request. */
  workspace: string;
  /** server.auth_token, sent as `Authorization: Bearer`. */
  token?: string;
  /**
   * Ask /api/v1/cluster/nodes for the cluster's nodes and fail over to them too (default true).
   * The endpoints given are tried first; the nodes found are the fallbacks.
   */
  discover?: boolean;
  /**
   * 'workspace' (default): the endpoints are ranked per workspace (rendezvous hashing), so every
   * client of a workspace goes to the same node first. 'ordered': in the order given.
   */
  affinity?: 'workspace' | 'ordered';
  /** Per attempt (default 30000 ms). */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** Write concern of every write (default: the server's, quorum). */
  writeConcern?: WriteConcern;
  /** Called before each retry (for logs). */
  onRetry?: (event: RetryEvent) => void;
  /** Default globalThis.fetch. */
  fetch?: typeof globalThis.fetch;
}
