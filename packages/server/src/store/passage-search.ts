// Search at the passage level: documents ranked by their passages (RANKING.md, "Passages").
// Lexical: the workspace's best passages by bm25 (passages_fts), each document scored by its
// passages (aggregatePassages). Vector: the document's vector, as at the document level (passages
// have no vector of their own; see RANKING.md), its best passages found lexically within it.
// Hybrid: the two document lists fused as at the document level (fuseScores).

import { InputError } from './errors.ts';
import { aggregatePassages, fuseScores, fusion_weight_lexical, fusion_weight_vector } from './search.ts';
import type { PassageHit, PassageSearcher, Searcher, SearchHit, SearchMode } from './search.ts';

export type Granularity = 'passage' | 'document';
export const granularities: readonly Granularity[] = ['passage', 'document'];
/** Passages ranked for a search: max(passage_depth_min, k * passage_depth_per_hit). */
export const passage_depth_min = 200;
export const passage_depth_per_hit = 20;
/** Passages reported with each search hit. */
export const hit_passages_max = 3;
export const snippet_chars_max = 240;

/** `granularity` of a search or assemble body: "passage" (the default) or "document". */
export function parseGranularity(v: unknown, field = 'granularity'): Granularity {
  if (v === undefined || v === null) return 'passage';
  if (typeof v !== 'string' || !(granularities as readonly string[]).includes(v)) {
    throw new InputError('invalid_value', `${field} must be one of ${granularities.join(', ')}`, field);
  }
  return v as Granularity;
}

export interface RankedByPassage {
  /** Documents, best first (at most k). */
  hits: SearchHit[];
  /** The best passages of each hit, best first (at most hit_passages_max). */
  passages: Map<string, PassageHit[]>;
}

/** Documents ranked by their passages (see the header); `q` is the query's vector (null: none). */
export function rankByPassages(
  searcher: Searcher, passages: PassageSearcher, ws: string, text: string, q: Float32Array | null, k: number, mode: SearchMode,
): RankedByPassage {
  const depth = Math.max(passage_depth_min, k * passage_depth_per_hit);
  const found = mode === 'vector' ? [] : passages.lexical(ws, text, depth);
  const lexical = aggregatePassages(found);
  let hits: SearchHit[];
  if (mode === 'lexical') hits = lexical.slice(0, k);
  else if (mode === 'vector') hits = searcher.vector(ws, q, k);
  else {
    hits = fuseScores([
      { hits: lexical, weight: fusion_weight_lexical },
      { hits: searcher.vector(ws, q, Math.max(k * 4, 50)), weight: fusion_weight_vector },
    ]).slice(0, k);
  }
  const byDoc = new Map<string, PassageHit[]>();
  const wanted = new Set(hits.map((h) => h.id));
  for (const p of found) {
    if (!wanted.has(p.doc_id)) continue;
    const l = byDoc.get(p.doc_id) ?? [];
    if (l.length < hit_passages_max) l.push(p);
    byDoc.set(p.doc_id, l);
  }
  const rest = hits.filter((h) => !byDoc.has(h.id)).map((h) => h.id);
  for (const [id, l] of passages.within(ws, text, rest, hit_passages_max)) byDoc.set(id, l);
  return { hits, passages: byDoc };
}

function isSurrogateTail(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * Up to snippet_chars_max characters of the passage around the first query word it holds,
 * starting and ending at spaces where there are any, never inside a character.
 */
export function snippetOf(content: string, p: Pick<PassageHit, 'start' | 'end'>, query: string): string {
  const text = content.slice(p.start, p.end);
  if (text.length <= snippet_chars_max) return text.trim();
  const lower = text.toLowerCase();
  let at = -1;
  for (const w of query.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    if (w.length < 3) continue;
    const i = lower.indexOf(w);
    if (i !== -1 && (at === -1 || i < at)) at = i;
  }
  let start = Math.max(0, (at === -1 ? 0 : at) - snippet_chars_max / 3);
  if (start > 0) {
    const space = text.indexOf(' ', start);
    if (space !== -1 && space < start + snippet_chars_max / 3) start = space + 1;
  }
  let end = Math.min(text.length, start + snippet_chars_max);
  if (end < text.length) {
    const space = text.lastIndexOf(' ', end);
    if (space > start + snippet_chars_max / 2) end = space;
  }
  if (start > 0 && isSurrogateTail(text, start)) start += 1;
  if (end < text.length && isSurrogateTail(text, end)) end -= 1;
  return text.slice(start, end).trim();
}
