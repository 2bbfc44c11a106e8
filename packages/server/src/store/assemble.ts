// Context assembly: the best documents for a query that fit in a token budget.
// How it ranks, dedupes and packs is explained in RANKING.md; the hard rules are:
//   tokens(result.context)   <= max_tokens     (countTokens of the final string: js-tiktoken cl100k_base
//                                               encode() for ordinary text, see tokens.ts for long runs)
// Token work on large documents (truncation, the final count) and the path filter run in slices
// that give the event loop a turn every ~2 ms.
//   result.documents.length  <= max_documents
//   result.total_tokens       == tokens(result.context)

import { assemblePassages, cosine, slicer } from './assemble-passages.ts';
import type { AssembledPassage, PassageAssembleSource } from './assemble-passages.ts';
import { InputError } from './errors.ts';
import { parseGranularity } from './passage-search.ts';
import type { Granularity } from './passage-search.ts';
import { GlobError, PathMatcher } from './glob.ts';
import { bytesToVector } from './op.ts';
import type { Reader, StoredDocument } from './read.ts';
import { fuseScores, fusion_weight_lexical, fusion_weight_vector } from './search.ts';
import type { SearchHit } from './search.ts';
import { countTokens, countTokensAsync, truncateToTokensAsync } from './tokens.ts';
import { isPlainObject, parseCount, parseQuery } from './validate.ts';

export const assemble_tokens_default = 4000;
export const assemble_tokens_max = 1_000_000;
export const assemble_documents_default = 10;
export const assemble_documents_max = 1000;
/** Candidates ranked before packing: max(candidates_min, documents * candidates_per_document). */
export const candidates_min = 50;
export const candidates_per_document = 5;
/** With path patterns, rank more candidates since many may be filtered out. */
export const candidates_filtered = 500;
/** Two documents whose embeddings have cosine similarity above this are near-duplicates. */
export const near_duplicate_cosine_min = 0.97;
/** A candidate found only by vector search needs at least this cosine similarity to the query. */
export const vector_only_cosine_min = 0.25;
/** A document that does not fit whole is cut to the remaining budget only if that is at least this (or half the budget). */
export const truncated_tokens_min = 64;
const piece_separator = '\n\n';

export interface AssembleRequest {
  query: string;
  max_tokens: number;
  max_documents: number;
  include_patterns: string[];
  exclude_patterns: string[];
  /** "passage" (the default): the best passages; "document": whole documents, at most one cut. */
  granularity?: Granularity;
}

export interface AssembledDocument {
  id: string;
  path: string | null;
  content: string;
  language: string | null;
  relevance_score: number;
  tokens: number;
  inclusion_reason: string;
  /** Granularity "passage": the passages taken, in text order. */
  passages?: AssembledPassage[];
}

export interface AssembleResult {
  context: string;
  documents: AssembledDocument[];
  total_tokens: number;
  processing_time_ms: number;
}

/** What assembly needs from the store. */
export interface AssembleSource extends PassageAssembleSource {
  searchHits(ws: string, query: string, k: number, mode: 'lexical' | 'vector', vector?: Float32Array): Promise<SearchHit[]>;
  queryVector(ws: string, query: string): Promise<Float32Array | null>;
}

/** The request limits of config.server that assembly's parsing enforces. */
export interface AssembleLimits {
  patterns_max: number;
  pattern_chars_max: number;
  query_chars_max: number;
}

function parsePatterns(v: unknown, field: string, limits: AssembleLimits): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((p) => typeof p === 'string' && p.length > 0)) {
    throw new InputError('invalid_type', `${field} must be an array of non-empty glob strings`, field);
  }
  if (v.length > limits.patterns_max) {
    throw new InputError('too_many_patterns', `${field} has ${v.length} patterns; server.patterns_max is ${limits.patterns_max}`, field);
  }
  const patterns = v as string[];
  patterns.forEach((p, i) => {
    if (p.length > limits.pattern_chars_max) {
      throw new InputError('pattern_too_long', `${field}[${i}] has ${p.length} characters; server.pattern_chars_max is ${limits.pattern_chars_max}`, `${field}[${i}]`);
    }
  });
  try {
    // Compiled here only to refuse an invalid pattern before any search runs.
    new PathMatcher(patterns);
  } catch (err) {
    if (!(err instanceof GlobError)) throw err;
    const i = patterns.indexOf(err.pattern);
    throw new InputError('invalid_pattern', `${field}[${i}]: ${err.message}`, `${field}[${i}]`);
  }
  return patterns;
}

/** A query within server.query_chars_max (then parseQuery's own checks). */
export function parseBoundedQuery(q: unknown, field: string, query_chars_max: number): string {
  if (typeof q === 'string' && q.length > query_chars_max) {
    throw new InputError('query_too_long', `${field} has ${q.length} characters; server.query_chars_max is ${query_chars_max}`, field);
  }
  return parseQuery(q, field, query_chars_max);
}

/**
 * Validates a client's assemble body; `documents_cap` is the workspace's max_documents_per_query,
 * `limits` those of config.server.
 */
export function parseAssembleRequest(raw: unknown, documents_cap: number, limits: AssembleLimits): AssembleRequest {
  if (!isPlainObject(raw)) throw new InputError('invalid_type', 'body must be a JSON object', 'body');
  return {
    query: parseBoundedQuery(raw.query, 'query', limits.query_chars_max),
    max_tokens: parseCount(raw.max_tokens, 'max_tokens', assemble_tokens_default, assemble_tokens_max),
    max_documents: parseCount(raw.max_documents, 'max_documents', assemble_documents_default, Math.min(documents_cap, assemble_documents_max)),
    include_patterns: parsePatterns(raw.include_patterns, 'include_patterns', limits),
    exclude_patterns: parsePatterns(raw.exclude_patterns, 'exclude_patterns', limits),
    granularity: parseGranularity(raw.granularity),
  };
}

function header(d: StoredDocument): string {
  return `--- ${d.path ?? d.id} ---\n`;
}

function rankNote(rank: number | undefined, name: string): string | null {
  return rank === undefined ? null : `${name} #${rank}`;
}

export async function assemble(source: AssembleSource, reader: Reader, ws: string, req: AssembleRequest): Promise<AssembleResult> {
  const started = performance.now();
  if ((req.granularity ?? 'passage') === 'passage') {
    const r = await assemblePassages(source, reader, ws, req, { truncated_tokens_min, near_duplicate_cosine_min, vector_only_cosine_min });
    return { context: r.context, documents: r.documents, total_tokens: r.total_tokens, processing_time_ms: Math.round((performance.now() - started) * 1000) / 1000 };
  }
  const include = new PathMatcher(req.include_patterns);
  const exclude = new PathMatcher(req.exclude_patterns);
  const filtered = !include.empty || !exclude.empty;
  const depth = filtered ? candidates_filtered : Math.max(candidates_min, req.max_documents * candidates_per_document);

  const q = await source.queryVector(ws, req.query);
  const lexical = await source.searchHits(ws, req.query, depth, 'lexical');
  const vector = q === null ? [] : await source.searchHits(ws, req.query, depth, 'vector', q);
  const fused = fuseScores([{ hits: lexical, weight: fusion_weight_lexical }, { hits: vector, weight: fusion_weight_vector }]);
  const lexRank = new Map(lexical.map((h, i) => [h.id, i + 1]));
  const vecRank = new Map(vector.map((h, i) => [h.id, i + 1]));
  const vecScore = new Map(vector.map((h) => [h.id, h.score]));
  const rows = reader.many(ws, fused.map((h) => h.id));

  const documents: AssembledDocument[] = [];
  const pieces: string[] = [];
  const keptHashes = new Set<string>();
  const keptVectors: Float32Array[] = [];
  let used = 0;
  let truncatedOne = false;
  const sepTokens = countTokens(piece_separator);
  const turn = slicer();

  for (const [rank0, hit] of fused.entries()) {
    await turn();
    if (documents.length >= req.max_documents) break;
    if (!lexRank.has(hit.id) && (vecScore.get(hit.id) ?? 0) < vector_only_cosine_min) continue;
    const doc = rows.get(hit.id);
    if (doc === undefined) continue;
    const where = doc.path ?? doc.id;
    if (!include.empty && !(await include.matchesSliced(where, turn))) continue;
    if (!exclude.empty && (await exclude.matchesSliced(where, turn))) continue;
    if (keptHashes.has(doc.content_hash)) continue;
    const v = doc.vector === null ? null : bytesToVector(doc.vector);
    if (v !== null && keptVectors.some((k) => cosine(k, v) > near_duplicate_cosine_min)) continue;

    const head = header(doc);
    const overhead = countTokens(head) + (pieces.length > 0 ? sepTokens : 0);
    const remaining = req.max_tokens - used - overhead;
    let content = doc.content;
    let tokens = doc.tokens;
    const similarity = vecScore.get(doc.id);
    const vectorNote = rankNote(vecRank.get(doc.id), 'vector');
    const notes = [
      `fused rank #${rank0 + 1}`,
      rankNote(lexRank.get(doc.id), 'lexical'),
      vectorNote === null || similarity === undefined ? null : `${vectorNote} (cosine ${similarity.toFixed(2)})`,
    ].filter(
      (n): n is string => n !== null,
    );
    if (tokens > remaining) {
      if (truncatedOne || remaining < Math.min(truncated_tokens_min, req.max_tokens / 2)) continue;
      content = await truncateToTokensAsync(doc.content, remaining);
      tokens = await countTokensAsync(content);
      if (tokens === 0 || tokens > remaining) continue;
      truncatedOne = true;
      notes.push(`truncated to ${tokens} of ${doc.tokens} tokens`);
    }
    pieces.push(head + content);
    used += overhead + tokens;
    keptHashes.add(doc.content_hash);
    if (v !== null) keptVectors.push(v);
    documents.push({
      id: doc.id,
      path: doc.path,
      content,
      language: doc.language,
      relevance_score: Number(hit.score.toFixed(6)),
      tokens,
      inclusion_reason: notes.join(', '),
    });
  }

  // The sum of piece counts estimates the whole; BPE merges across piece boundaries can differ,
  // so the final string is counted and trailing pieces are dropped until it fits.
  let context = pieces.join(piece_separator);
  let total = await countTokensAsync(context);
  while (total > req.max_tokens && pieces.length > 0) {
    pieces.pop();
    documents.pop();
    context = pieces.join(piece_separator);
    total = await countTokensAsync(context);
  }
  if (total > req.max_tokens || documents.length > req.max_documents) throw new Error('invariant: assembled context within budget');
  return { context, documents, total_tokens: total, processing_time_ms: Math.round((performance.now() - started) * 1000) / 1000 };
}
