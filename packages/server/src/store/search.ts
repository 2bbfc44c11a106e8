// Lexical, vector and hybrid search within one workspace.
//
// Lexical: the query is cut into words (Unicode letters and digits); each distinct word becomes
// a quoted FTS5 string and the words are OR-ed, so no FTS5 syntax in user text (quotes, NEAR,
// column filters, "*", "-") is ever interpreted. English stopwords are dropped when at least two
// other words remain. Ranked by bm25 (content weighted 1, path 0.5).
//
// Vector: the query's embedding against the workspace's IVF index (cosine).
//
// Hybrid: a convex combination of min-max normalised scores (Bruch et al., "An Analysis of
// Fusion Functions for Hybrid Retrieval", 2023). Each list (lexical bm25, vector cosine; the top
// `depth` of each) is rescaled to [0, 1] by its own min and max, then
//   score(d) = 0.7 * lexical_norm(d) + 0.3 * vector_norm(d)
// where a document absent from a list gets 0 from it. We measured it against Reciprocal Rank
// Fusion on the README corpus (retrieval.test.ts): RRF (k = 60) flattens the gap between lexical
// ranks 1 and 2 and lost 8 points of top-3 accuracy; see RANKING.md. Ties break by id.

import type { Database, Statement } from 'better-sqlite3';
import { k_max as index_k_max } from './topk/index.ts';
import type { PassageIndexes } from './topk/passage-index.ts';
import { stem, tokens } from './topk/terms.ts';
import type { VectorIndexes } from './vectors.ts';

export type SearchMode = 'lexical' | 'vector' | 'hybrid';
export const search_modes: readonly SearchMode[] = ['lexical', 'vector', 'hybrid'];

export interface SearchHit {
  id: string;
  score: number;
}

export const query_terms_max = 64;
export const fusion_weight_lexical = 0.7;
export const fusion_weight_vector = 0.3;

/** English function words dropped from a query that has at least `content_terms_min` other words. */
const stopwords = new Set(
  ('a an and are as at be but by for from has have how i if in into is it its of on or that the their then there these they ' +
    'this to was were what when where which who will with you your can do does not no so than too very just we our')
    .split(' '),
);
const content_terms_min = 2;

/**
 * The words of free text a search looks for, in order: distinct by their Porter stem (FTS5's
 * porter tokenizer makes "index" and "indexes" one term, and bm25 would count it once per word),
 * stopwords dropped when at least `content_terms_min` others remain, at most query_terms_max.
 */
export function queryWords(text: string): string[] {
  const words: string[] = [];
  const stems = new Set<string>();
  for (const w of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const key = tokens(w).map(stem).join(' ');
    if (stems.has(key)) continue;
    stems.add(key);
    words.push(w);
  }
  const content = words.filter((w) => !stopwords.has(w));
  // Stopwords match nearly every document: they cost time and add nothing to bm25's ranking.
  return (content.length >= content_terms_min ? content : words).slice(0, query_terms_max);
}

/** The FTS5 MATCH expression for free text, or null when it holds no words. */
export function ftsQuery(text: string): string | null {
  const terms = queryWords(text);
  if (terms.length === 0) return null;
  return terms.map((w) => `"${w}"`).join(' OR ');
}

/** The terms of the passage index (topk/passage-index.ts) for free text: queryWords, stemmed. */
export function indexTerms(text: string): string[] {
  return queryWords(text).flatMap((w) => tokens(w).map(stem));
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
    return fuseScores([
      { hits: this.lexical(ws, text, depth), weight: fusion_weight_lexical },
      { hits: this.vector(ws, q, depth), weight: fusion_weight_vector },
    ]).slice(0, k);
  }
}

/** Weighted sum of per-list min-max normalised scores, best first; ties by id. */
export function fuseScores(lists: { hits: SearchHit[]; weight: number }[]): SearchHit[] {
  const scores = new Map<string, number>();
  for (const { hits, weight } of lists) {
    if (hits.length === 0) continue;
    let min = Infinity;
    let max = -Infinity;
    for (const h of hits) {
      min = Math.min(min, h.score);
      max = Math.max(max, h.score);
    }
    const span = max - min;
    for (const h of hits) {
      const norm = span > 0 ? (h.score - min) / span : 1;
      scores.set(h.id, (scores.get(h.id) ?? 0) + weight * norm);
    }
  }
  return [...scores]
    .map(([id, score]) => ({ id, score }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** One passage found for a query: where it sits in its document and its score. */
export interface PassageHit {
  doc_id: string;
  /** 0-based number of the passage in its document. */
  n: number;
  start: number;
  end: number;
  line_start: number;
  line_end: number;
  tokens: number;
  /** bm25 of the passage (higher is better); 0 for a passage found by its document's vector only. */
  score: number;
}

/**
 * How a document's lexical score comes from its passages' (measured in retrieval.test.ts, see
 * RANKING.md): `max` is its best passage's; `decayed` adds its next best at decreasing weights
 * (1, 1/2, 1/4), which favours a document with several good passages.
 */
export type PassageAggregation = 'max' | 'decayed';
export const passage_aggregation_default: PassageAggregation = 'max';
const decay_weights = [1, 0.5, 0.25];

/** Document scores from passage hits, best first; ties by id. */
export function aggregatePassages(hits: PassageHit[], how: PassageAggregation = passage_aggregation_default): SearchHit[] {
  const byDoc = new Map<string, number[]>();
  for (const h of hits) {
    const l = byDoc.get(h.doc_id);
    if (l === undefined) byDoc.set(h.doc_id, [h.score]);
    else l.push(h.score);
  }
  const out: SearchHit[] = [];
  for (const [id, scores] of byDoc) {
    scores.sort((a, b) => b - a);
    const score = how === 'max' ? (scores[0] ?? 0) : scores.slice(0, decay_weights.length).reduce((s, x, i) => s + x * (decay_weights[i] ?? 0), 0);
    out.push({ id, score });
  }
  return out.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

const passage_columns = 'p.doc_id AS doc_id, p.n AS n, p.start AS start, p."end" AS "end", p.line_start AS line_start, p.line_end AS line_end, p.tokens AS tokens';

/**
 * Passage-level reads: lexical search over the workspace's passages, and passages of given
 * documents. With a passage index (topk/passage-index.ts) that is ready and no apply batch open on
 * the writing connection (`writerBusy`), the lexical lists come from the index (MaxScore, exact
 * bm25); otherwise from passages_fts, whose bm25 ranking the index's equals.
 */
export class PassageSearcher {
  private readonly lexicalStmt: Statement;
  private readonly withinStmt: Statement;
  private readonly firstStmt: Statement;
  private readonly countStmt: Statement;
  private readonly byRowsStmt: Statement;
  private readonly ofDocsStmt: Statement;

  constructor(
    db: Database,
    private readonly index: PassageIndexes | null = null,
    private readonly writerBusy: () => boolean = () => false,
  ) {
    this.lexicalStmt = db.prepare(
      `SELECT ${passage_columns}, -bm25(passages_fts, 1.0, 0.5) AS score
       FROM passages_fts JOIN passages p ON p.rowid = passages_fts.rowid
       WHERE passages_fts MATCH ? AND p.workspace = ?
       ORDER BY score DESC, p.doc_id, p.n LIMIT ?`,
    );
    this.withinStmt = db.prepare(
      `SELECT ${passage_columns}, -bm25(passages_fts, 1.0, 0.5) AS score
       FROM passages_fts JOIN passages p ON p.rowid = passages_fts.rowid
       WHERE passages_fts MATCH ? AND p.workspace = ? AND p.doc_id IN (SELECT value FROM json_each(?))
       ORDER BY score DESC, p.doc_id, p.n`,
    );
    this.firstStmt = db.prepare(`SELECT ${passage_columns}, 0 AS score FROM passages p WHERE p.workspace = ? AND p.doc_id = ? AND p.n = 0`);
    this.countStmt = db.prepare(
      `SELECT doc_id, count(*) AS c FROM passages WHERE workspace = ? AND doc_id IN (SELECT value FROM json_each(?)) GROUP BY doc_id`,
    );
    // By rowid alone (a workspace term would make SQLite walk the workspace's passages); the workspace is checked on each row.
    this.byRowsStmt = db.prepare(`SELECT p.rowid AS rowid, p.workspace AS workspace, ${passage_columns}, 0 AS score FROM passages p WHERE p.rowid IN (SELECT value FROM json_each(?))`);
    this.ofDocsStmt = db.prepare(`SELECT p.rowid AS rowid, ${passage_columns}, 0 AS score FROM passages p WHERE p.workspace = ? AND p.doc_id IN (SELECT value FROM json_each(?))`);
  }

  /** The passage index, when it answers now (see the class comment). */
  private indexNow(): PassageIndexes | null {
    return this.index !== null && this.index.ready() && !this.writerBusy() ? this.index : null;
  }

  /** Whether the last lexical()/within() call was answered by the passage index (for tests and figures). */
  lastFromIndex = false;

  /** The best `depth` passages of the workspace for free text, best first (ties by document id, then n). */
  lexical(ws: string, text: string, depth: number): PassageHit[] {
    const match = ftsQuery(text);
    if (match === null) return [];
    const index = depth <= index_k_max ? this.indexNow() : null;
    this.lastFromIndex = index !== null;
    if (index === null) return this.lexicalStmt.all(match, ws, depth) as PassageHit[];
    const hits = index.search(ws, indexTerms(text), depth);
    const rows = new Map((this.byRowsStmt.all(JSON.stringify(hits.map((h) => h.row))) as (PassageHit & { rowid: number; workspace: string })[]).map((r) => [r.rowid, r]));
    const out: PassageHit[] = [];
    for (const h of hits) {
      const r = rows.get(h.row);
      // the index ahead of committed rows cannot happen outside a batch; skip defensively
      if (r === undefined || r.workspace !== ws) continue;
      const { rowid: _rowid, workspace: _ws, ...p } = r;
      out.push({ ...p, score: h.score });
    }
    return out.sort(byScoreThenPlace);
  }

  /**
   * The best passages of each of `ids` for the text, at most `per_doc` each: those that match it
   * lexically, else the document's first passage (score 0).
   */
  within(ws: string, text: string, ids: string[], per_doc: number): Map<string, PassageHit[]> {
    const out = new Map<string, PassageHit[]>();
    if (ids.length === 0) return out;
    const match = ftsQuery(text);
    const index = this.indexNow();
    this.lastFromIndex = index !== null;
    if (match !== null && index !== null) {
      const rows = this.ofDocsStmt.all(ws, JSON.stringify(ids)) as (PassageHit & { rowid: number })[];
      const byRow = new Map(rows.map((r) => [r.rowid, r]));
      const scored: PassageHit[] = [];
      for (let i = 0; i < rows.length; i += index_k_max) {
        for (const h of index.scoreRows(ws, indexTerms(text), rows.slice(i, i + index_k_max).map((r) => r.rowid))) {
          const { rowid: _rowid, ...p } = byRow.get(h.row) as PassageHit & { rowid: number };
          scored.push({ ...p, score: h.score });
        }
      }
      for (const h of scored.sort(byScoreThenPlace)) {
        const l = out.get(h.doc_id) ?? [];
        if (l.length < per_doc) l.push(h);
        out.set(h.doc_id, l);
      }
      for (const id of ids) {
        if (out.has(id)) continue;
        const first = rows.find((r) => r.doc_id === id && r.n === 0);
        if (first === undefined) continue;
        const { rowid: _rowid, ...p } = first;
        out.set(id, [{ ...p, score: 0 }]);
      }
      return out;
    }
    if (match !== null) {
      for (const h of this.withinStmt.all(match, ws, JSON.stringify(ids)) as PassageHit[]) {
        const l = out.get(h.doc_id) ?? [];
        if (l.length < per_doc) l.push(h);
        out.set(h.doc_id, l);
      }
    }
    for (const id of ids) {
      if (out.has(id)) continue;
      const first = this.firstStmt.get(ws, id) as PassageHit | undefined;
      if (first !== undefined) out.set(id, [first]);
    }
    return out;
  }

  /** How many passages each of `ids` has. */
  counts(ws: string, ids: string[]): Map<string, number> {
    const out = new Map<string, number>();
    if (ids.length === 0) return out;
    for (const r of this.countStmt.all(ws, JSON.stringify(ids)) as { doc_id: string; c: number }[]) out.set(r.doc_id, r.c);
    return out;
  }
}

/** passages_fts's order: score descending, then document id, then passage number. */
function byScoreThenPlace(a: PassageHit, b: PassageHit): number {
  return b.score - a.score || (a.doc_id < b.doc_id ? -1 : a.doc_id > b.doc_id ? 1 : 0) || a.n - b.n;
}
