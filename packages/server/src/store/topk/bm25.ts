// BM25 as SQLite FTS5's bm25() computes it (fts5_aux.c, fts5Bm25Function), so an index beside
// FTS5 ranks the way it does:
//   idf(t)       = ln((N - n(t) + 0.5) / (n(t) + 0.5)), and 1e-6 where that is <= 0
//   score(d, q)  = sum over the query's distinct terms t, in query order, of
//                  idf(t) * f(t,d) * (k1 + 1) / (f(t,d) + k1 * (1 - b + b * |d| / avgdl))
// where f(t,d) is the term's column-weighted frequency in d, |d| the row's token count over all
// columns and avgdl the mean of |d| over the indexed rows. k1 = 1.2, b = 0.75 as in FTS5.

export const bm25_k1 = 1.2;
export const bm25_b = 0.75;
/** FTS5's floor for a term found in half the rows or more. */
export const idf_floor = 1e-6;

export function idf(rows: number, df: number): number {
  const v = Math.log((rows - df + 0.5) / (df + 0.5));
  return v <= 0 ? idf_floor : v;
}

/** The saturated term frequency part of one term's score; `avgdl` > 0. */
export function saturation(tf: number, length: number, avgdl: number): number {
  return (tf * (bm25_k1 + 1)) / (tf + bm25_k1 * (1 - bm25_b + (bm25_b * length) / avgdl));
}
