// The request schemas of the public API: the routes check what clients send against these, and
// the OpenAPI document (document.ts) is generated from the same objects, so the two cannot drift.
// The schemas hold the shape (types, required fields, enums) and the limits of config.server and
// store/validate.ts; they are built from the node's own limits (requestSchemas(config.server)).
// The store's own checks run after them (text encoding, id rules, metadata depth, globs, vector
// dimensions) and stay the last word; a schema never refuses what the store would take.

import { z } from '@hono/zod-openapi';
import type { ServerConfig } from '../../config/types.ts';
import { assemble_documents_max, assemble_tokens_max } from '../../store/assemble.ts';
import { list_limit_max, search_k_max } from '../../store/document-store.ts';
import { search_modes } from '../../store/search.ts';
import { document_id_chars_max, language_chars_max, path_chars_max, vector_dim_max, workspace_id_pattern, workspace_id_rule } from '../../store/validate.ts';

/** The limits of config.server the request schemas carry. */
export type RequestLimits = Pick<ServerConfig, 'query_chars_max' | 'patterns_max' | 'pattern_chars_max' | 'bulk_documents_max'>;

/** How a search or an assembly cuts its results: whole documents or passages of them. */
export const granularities = ['passage', 'document'] as const;
export type Granularity = (typeof granularities)[number];

export const write_concerns = ['leader', 'quorum', 'all'] as const;

/** A positive count as JSON or query text: an integer >= 1 or its decimal digits; over `max` it is served as `max`. */
function count(what: string, dflt: number, max: number): z.ZodType<number | string | null | undefined> {
  return z
    .union([z.int().min(1), z.string().regex(/^\d*[1-9]\d*$/), z.literal('')])
    .nullable()
    .optional()
    .openapi({ description: `${what}: a positive integer (or its digits as a string); default ${dflt}, values over ${max} are served as ${max}`, example: dflt });
}

function query(limits: RequestLimits, description: string): z.ZodString {
  return z
    .string()
    .max(limits.query_chars_max)
    .regex(/\S/)
    .openapi({ description: `${description}; not blank, at most server.query_chars_max (${limits.query_chars_max}) characters`, example: 'AI enforcement patterns' });
}

function patterns(limits: RequestLimits, what: string): z.ZodType<string[] | null | undefined> {
  return z
    .array(z.string().min(1).max(limits.pattern_chars_max))
    .max(limits.patterns_max)
    .nullable()
    .optional()
    .openapi({ description: `${what}: glob patterns over the document's path (or id), at most server.patterns_max (${limits.patterns_max}) of at most server.pattern_chars_max (${limits.pattern_chars_max}) characters`, example: ['docs/**/*.md'] });
}

const vector = z
  .array(z.number())
  .min(1)
  .max(vector_dim_max)
  .nullable()
  .optional()
  .openapi({ description: `an embedding of 1..${vector_dim_max} finite numbers, not all zero, of the workspace's dimension` });

const workspace_path = z
  .string()
  .nullable()
  .optional()
  .openapi({ description: 'a path whose last segment names the workspace, when no X-Workspace-ID, ?workspace= or /workspace/{workspace}/ prefix does' });

const granularity = z
  .enum(granularities)
  .nullable()
  .optional()
  .openapi({ description: 'results as passages of documents or as whole documents' });

function text(max: number, description: string): z.ZodType<string | null | undefined> {
  return z.string().max(max).nullable().optional().openapi({ description: `${description}; at most ${max} characters, no control characters` });
}

export const DocumentId = z
  .string()
  .min(1)
  .max(document_id_chars_max)
  .openapi({ description: `1..${document_id_chars_max} characters without control characters or surrounding spaces, not "." or ".." (may hold /)`, example: 'docs/policy.md' });

export const WorkspaceId = z
  .string()
  .regex(workspace_id_pattern)
  .openapi({ description: `workspace id: ${workspace_id_rule}`, example: 'mission-architect' });

/** One document as a client sends it (POST /documents, and each item of a bulk). */
export const DocumentInput = z
  .looseObject({
    content: z.string().min(1).openapi({ description: 'the text; not blank, at most server.document_bytes_max bytes of UTF-8 (413 document_too_large)' }),
    id: DocumentId.nullable().optional().openapi({ description: 'the document id; derived from the content when absent. The same id replaces the document' }),
    path: text(path_chars_max, 'the document path, used by include/exclude patterns'),
    language: text(language_chars_max, 'the language; derived from the path extension when absent'),
    metadata: z.record(z.string(), z.unknown()).nullable().optional().openapi({ description: 'a JSON object, at most server.metadata_bytes_max bytes of canonical JSON and server.metadata_depth_max levels' }),
    vector,
    if_match: z.string().nullable().optional().openapi({ description: 'as the If-Match header, for clients that cannot set headers' }),
    if_none_match: z.string().nullable().optional().openapi({ description: 'as the If-None-Match header: "*" only' }),
    workspace_path,
  })
  .openapi('DocumentInput');

export interface RequestSchemas {
  document: typeof DocumentInput;
  bulk: z.ZodType<unknown>;
  search: z.ZodType<{ query: string; k?: unknown; mode?: string | null; vector?: number[] | null; granularity?: Granularity | null }>;
  assemble: z.ZodType<{ query: string; granularity?: Granularity | null }>;
  lexicalQuery: z.ZodObject<{ q: z.ZodString; limit: ReturnType<typeof count> }>;
  listQuery: z.ZodObject<{ limit: ReturnType<typeof count>; cursor: z.ZodOptional<z.ZodString> }>;
}

/** The body and query schemas of the public API under the node's limits. */
export function requestSchemas(limits: RequestLimits): RequestSchemas {
  const bulkItems = z.array(DocumentInput).min(1).openapi({ description: `1..server.bulk_documents_max (${limits.bulk_documents_max}) documents (413 too_many_documents over it); each item is checked alone: the valid ones are written, the others listed in errors` });
  return {
    document: DocumentInput,
    bulk: z.union([bulkItems, z.looseObject({ documents: bulkItems, workspace_path })]).openapi('BulkInput'),
    search: z
      .looseObject({
        query: query(limits, 'the search text'),
        k: count('results wanted', 10, search_k_max),
        mode: z.enum(search_modes as readonly ['lexical', 'vector', 'hybrid']).nullable().optional().openapi({ description: 'lexical (FTS5), vector or hybrid (both, fused); default hybrid' }),
        vector,
        granularity,
        workspace_path,
      })
      .openapi('SearchRequest'),
    assemble: z
      .looseObject({
        query: query(limits, 'what the context is for'),
        max_tokens: count('the token budget', 4000, assemble_tokens_max),
        max_documents: count('documents at most (also capped by the workspace max_documents_per_query)', 10, assemble_documents_max),
        include_patterns: patterns(limits, 'only documents matching one of these'),
        exclude_patterns: patterns(limits, 'no document matching one of these'),
        granularity,
        workspace_path,
      })
      .openapi('AssembleRequest'),
    lexicalQuery: z.looseObject({
      q: query(limits, 'the search text'),
      limit: count('results wanted', 10, search_k_max),
    }),
    listQuery: z.looseObject({
      limit: count('documents per page', 100, list_limit_max),
      cursor: z.string().optional().openapi({ description: 'next_cursor of the previous page' }),
    }),
  };
}

/** ?write_concern= / X-Write-Concern. */
export const WriteConcernParam = z.enum(write_concerns).openapi({ description: 'how durable a write is when answered; default replication.write_concern (quorum)' });

/** ?min_index= / X-Min-Index: a non-negative integer. */
export const MinIndexParam = z
  .string()
  .regex(/^\d{1,15}$/)
  .openapi({ description: 'answer only once this node applied this log index (waits up to server.read_wait_ms_max, then 504)', example: '42' });
