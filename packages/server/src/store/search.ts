// Lexical, vector and hybrid search within one workspace.
//
// Lexical: the query is cut into words (Unicode letters and digits); each distinct word becomes
// a quoted FTS5 string and the words are OR-ed, so no FTS5 syntax in user text (quotes, NEAR,
// column filters, "*", "-") is ever interpreted. Ranked by bm25 (content weighted 1, path 0.5).
//
// Vector: the query's embedding against the workspace's IVF index (cosine).
//
// Hybrid: weighted Reciprocal Rank Fusion (Cormack et al., 2009) of the two ranked lists:
// score(d) = sum over lists L of w_L / (rrf_k + rank_L(d)), rank from 1, rrf_k = 60, lexical
// weight 1, vector weight 1 (see RANKING.md). A document absent from a list gets nothing from it.
// Ties break by id so results are stable.

import type { Database, Statement } from 'better-sqlite3';
import type { VectorIndexes } from './vectors.ts';

export type SearchMode = 'lexical' | 'vector' | 'hybrid';
export const search_modes: readonly SearchMode[] = ['lexical', 'vector', 'hybrid'];

export interface SearchHit {
  id: string;
  score: number;
}

export const query_terms_max = 64;
export const rrf_k = 60;
export const rrf_weight_lexical = 1;
export const rrf_weight_vector = 1;

/** The FTS5 MATCH expression for free text, or null when it holds no words. */
export function ftsQuery(text: string): string | null {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const distinct = [...new Set(words)].slice(0, query_terms_max);
  if (distinct.length === 0) return null;
  return distinct.map((w) => `"${w}"`).join(' OR ');
}

export class Searcher {
  private readonly lexicalStmt: Statement;

  constructor(
    db: Database,
    private readonly vectors: VectorIndexes,
  ) {
    this.lexicalStmt = db.prepare(
      `SELECT d.id AS id, -bm25(documents_fts, 1.0, 0.5) AS score
       FROM documents_fts JOIN documents d ON d.rowid = documents_fts.rowid
       WHERE documents_fts MATCH ? AND d.workspace = ?
       ORDER BY score DESC, d.id LIMIT ?`,
    );
  }

  lexical(ws: string, text: string, k: number): SearchHit[] {
    const match = ftsQuery(text);
    if (match === null) return [];
    return this.lexicalStmt.all(match, ws, k) as SearchHit[];
  }

  vector(ws: string, q: Float32Array | null, k: number): SearchHit[] {
    if (q === null) return [];
    return this.vectors.search(ws, q, k);
  }

  hybrid(ws: string, text: string, q: Float32Array | null, k: number, depth: number = Math.max(k * 4, 50)): SearchHit[] {
    return fuseRrf([
      { hits: this.lexical(ws, text, depth), weight: rrf_weight_lexical },
      { hits: this.vector(ws, q, depth), weight: rrf_weight_vector },
    ]).slice(0, k);
  }
}

/** Weighted reciprocal rank fusion; ties by id. */
export function fuseRrf(lists: { hits: SearchHit[]; weight: number }[]): SearchHit[] {
  const scores = new Map<string, number>();
  for (const { hits, weight } of lists) {
    hits.forEach((h, i) => scores.set(h.id, (scores.get(h.id) ?? 0) + weight / (rrf_k + i + 1)));
  }
  return [...scores]
    .map(([id, score]) => ({ id, score }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
