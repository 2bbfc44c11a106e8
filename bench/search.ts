// npm run bench -- --sections search [--docs 100000] [--search-queries 200]
//
// Search latency at N documents in one workspace, one query at a time, against two baselines in
// the same run over the same documents and queries: plain SQLite FTS5 (MATCH 'a OR b ...' ORDER
// BY rank LIMIT 10 on the follower's own documents_fts) and LanceDB's full-text search (its BM25
// inverted index, WAND). Cairn is measured as it serves today (Searcher: FTS5 ranking every
// match) and with the top-k index of packages/server/src/store/topk for the lexical list.
//
// The follower's state: the corpus (search-corpus.ts) is prepared by the store's own prepare
// path (token counts, embeddings of the built-in 384-dimensional hashing embedder) in bulk ops
// of 100 documents and applied by the store's Applier, one transaction per op, into a state.db
// on disk; then one retraining op builds the IVF centroids, as the leader's retrainer would. That
// is the state a follower holds after applying the same log; it is cached in
// .bench/search-<seed>-<docs>/ and reused by later runs. The queries run in this process on that
// state.db through DocumentStore (the calls the HTTP handlers make), without HTTP.

import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { HashingEmbedder } from '../packages/server/src/embed/hashing.ts';
import { assemble } from '../packages/server/src/store/assemble.ts';
import type { AssembleSource } from '../packages/server/src/store/assemble.ts';
import { DocumentStore } from '../packages/server/src/store/document-store.ts';
import { Reader } from '../packages/server/src/store/read.ts';
import { rankByPassages } from '../packages/server/src/store/passage-search.ts';
import { ftsQuery, PassageSearcher, Searcher } from '../packages/server/src/store/search.ts';
import type { PassageHit, SearchHit } from '../packages/server/src/store/search.ts';
import { VectorIndexes } from '../packages/server/src/store/vectors.ts';
import { TopKIndex } from '../packages/server/src/store/topk/index.ts';
import { rowTerms, tokens } from '../packages/server/src/store/topk/terms.ts';
import { REPO_ROOT } from '../test/helpers/cluster.ts';
import { Corpus } from './search-corpus.ts';
import { load1, percentile, round } from './stats.ts';

export const search_bench_seed = 20_261_202;
const ws = 'bench-search';
const put_batch_docs = 100;
const lance_batch_docs = 2_000;
const warmup_queries = 10;
const k = 10;
const assemble_tokens = 4_000;

export interface SearchKind {
  kind: string;
  queries: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
  /** CPU time of the process per query (all its threads): less disturbed than wall time by other load on the machine. */
  cpu_p50_ms: number;
  cpu_p99_ms: number;
  load: number;
}

export interface SearchBenchResult {
  docs: number;
  words_total: number;
  text_bytes: number;
  build: {
    state_db_s: number | null; state_db_bytes: number; lance_s: number | null; topk_s: number; topk_heap_mb: number; topk_postings: number;
    passages: number; topk_passages_s: number; topk_passages_heap_mb: number; topk_passage_postings: number;
    topk_passages_cpu_s?: number; topk_passages_slice_max_ms?: number; topk_passages_slice_max_cpu_ms?: number; topk_passages_slices_over_20ms?: number; topk_passages_list_mb?: number;
    /** Bytes of every typed array of the store's passage index (lists, row tables, term ids). */
    topk_passages_bytes_held?: number;
  };
  kinds: SearchKind[];
  /** Of the 10 hits, how many the top-k index shares with FTS5's (Cairn lexical today), averaged over the queries. */
  overlap_topk_fts5_at10: number;
  overlap_lance_fts5_at10: number;
  /** The same for the 10 best passages: the top-k passage index against passages_fts. */
  overlap_topk_fts5_passages_at10: number;
  /** Mean distinct query words (after Cairn drops stopwords) and mean rows FTS5 matched per query. */
  query_words_mean: number;
  fts5_matches_mean: number;
  ratios: Record<string, number>;
}

type Log = (line: string) => void;

async function buildState(dir: string, docs: number, corpus: Corpus, log: Log): Promise<number> {
  const t = performance.now();
  for (const f of ['state.db', 'state.db-wal', 'state.db-shm']) rmSync(join(dir, f), { force: true });
  const db = new Database(join(dir, 'state.db'));
  db.pragma('journal_mode = WAL');
  const store = new DocumentStore(db, { embedder: new HashingEmbedder({ dim: 384 }) });
  try {
    for (let start = 0; start < docs; start += put_batch_docs) {
      const batch = [];
      for (let i = start; i < Math.min(docs, start + put_batch_docs); i++) batch.push(corpus.document(i));
      const prepared = await store.preparePutMany(ws, batch);
      if (prepared.op === null || prepared.errors.length > 0) throw new Error(`prepare failed: ${JSON.stringify(prepared.errors.slice(0, 2))}`);
      const op = prepared.op;
      db.transaction(() => store.apply(op))();
      if ((start / put_batch_docs) % 100 === 0) log(`state.db: ${start + batch.length} of ${docs} documents applied`);
    }
    const retrain = store.prepareRetrain(ws);
    db.transaction(() => store.apply(retrain))();
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    store.close();
    db.close();
  }
  writeFileSync(join(dir, 'complete'), `${docs}\n`);
  return (performance.now() - t) / 1000;
}

/** The LanceDB table of the same documents (from the corpus: it needs no state.db, so it can be built beside it). */
async function buildLance(dir: string, docs: number, corpus: Corpus, log: Log): Promise<number> {
  const lancedb = await import('@lancedb/lancedb');
  const t = performance.now();
  rmSync(dir, { recursive: true, force: true });
  const conn = await lancedb.connect(dir);
  let table: Awaited<ReturnType<typeof conn.createTable>> | undefined;
  for (let start = 0; start < docs; start += lance_batch_docs) {
    const batch: { id: string; content: string }[] = [];
    for (let i = start; i < Math.min(docs, start + lance_batch_docs); i++) {
      const d = corpus.document(i);
      batch.push({ id: d.id, content: d.content });
    }
    if (table === undefined) table = await conn.createTable('docs', batch);
    else await table.add(batch);
    if ((start / lance_batch_docs) % 10 === 0) log(`lance: ${start + batch.length} rows added`);
  }
  if (table === undefined) throw new Error('lance: no rows');
  log('lance: building the full-text index');
  await table.createIndex('content', { config: lancedb.Index.fts() });
  writeFileSync(join(dir, 'complete'), `${docs}\n`);
  return (performance.now() - t) / 1000;
}

/** Cairn's query words for `text` (ftsQuery's choice: distinct, stopwords dropped), cut as the index cuts. */
export function queryTerms(text: string): string[] {
  const match = ftsQuery(text);
  if (match === null) return [];
  return tokens(match.replace(/"/g, ' ').replace(/ OR /g, ' '));
}

/** Wall ms, and CPU ms of this process (every thread: LanceDB's too), of one call. */
async function time(ms: number[], cpu: number[], run: () => Promise<unknown>): Promise<void> {
  const c = process.cpuUsage();
  const t = performance.now();
  await run();
  ms.push(performance.now() - t);
  const d = process.cpuUsage(c);
  cpu.push((d.user + d.system) / 1000);
}

const stateDir = (docs: number): string => join(REPO_ROOT, '.bench', `search-${search_bench_seed}-${docs}`);

/**
 * Builds (or finds cached) the follower's state.db and the LanceDB table for `docs` documents;
 * seconds spent on each (null: cached). `only` builds one of them.
 */
export async function prepareSearchState(docs: number, log: Log, only?: 'state' | 'lance'): Promise<{ state_s: number | null; lance_s: number | null }> {
  if (process.env['LANCE_CPU_THREADS'] === undefined) process.env['LANCE_CPU_THREADS'] = '2'; // before the native module loads
  const dir = stateDir(docs);
  mkdirSync(dir, { recursive: true });
  let stateS: number | null = null;
  if (only !== 'lance' && !existsSync(join(dir, 'complete'))) {
    log(`building the follower's state.db for ${docs} documents in ${dir}`);
    stateS = await buildState(dir, docs, new Corpus(search_bench_seed), log);
  }
  const lanceDir = join(dir, 'lance');
  let lanceS: number | null = null;
  if (only !== 'state' && !existsSync(join(lanceDir, 'complete'))) lanceS = await buildLance(lanceDir, docs, new Corpus(search_bench_seed), log);
  return { state_s: stateS, lance_s: lanceS };
}

export async function runSearchBench(opts: { docs: number; queries: number; log: Log }): Promise<SearchBenchResult> {
  const { docs, log } = opts;
  const corpus = new Corpus(search_bench_seed);
  const dir = stateDir(docs);
  const { state_s: stateS, lance_s: lanceS } = await prepareSearchState(docs, log);
  const db = new Database(join(dir, 'state.db'), { readonly: false });
  db.pragma('journal_mode = WAL');
  global.gc?.();
  const pHeapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const store = new DocumentStore(db, { embedder: new HashingEmbedder({ dim: 384 }) });
  // The store's own passage index (store/topk/passage-index.ts), built from state.db as a node does when it opens.
  const passageCpu = process.cpuUsage();
  const passageBuild = await store.passageIndexBuilt;
  const passageCpuUsed = process.cpuUsage(passageCpu);
  const passageCpuS = (passageCpuUsed.user + passageCpuUsed.system) / 1e6;
  const passageListBytes = store.passageIndex.postingBytes();
  const passageBytesHeld = store.passageIndex.bytesHeld();
  global.gc?.();
  const pHeapMb = (process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - pHeapBefore) / 2 ** 20;
  const passagePostings = passageBuild.postings;
  const passageRows = passageBuild.passages;
  const passagesS = passageBuild.ms / 1000;
  log(`store's passage index: ${passageRows} passages, ${passagePostings} postings in ${round(passagesS)} s (longest slice ${round(passageBuild.slice_max_ms)} ms, ${round(passageBuild.slice_max_cpu_ms)} ms CPU), ~${round(pHeapMb, 0)} MB, lists ${round(store.passageIndex.postingBytes() / 2 ** 20)} MB, typed arrays ${round(passageBytesHeld / passagePostings, 2)} bytes a posting`);

  const reader = new Reader(db);
  const lanceDir = join(dir, 'lance');
  const lancedb = await import('@lancedb/lancedb');
  const table = await (await lancedb.connect(lanceDir)).openTable('docs');

  const totals = db.prepare('SELECT count(*) AS n, sum(length(content)) AS bytes FROM documents WHERE workspace = ?').get(ws) as { n: number; bytes: number };
  if (totals.n !== docs) throw new Error(`state.db holds ${totals.n} documents, expected ${docs}`);

  // The top-k index, rebuilt from state.db as a node would on start.
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const tTopk = performance.now();
  const index = new TopKIndex();
  const idOf = new Map<number, string>();
  let words = 0;
  let postings = 0;
  for (const r of db.prepare('SELECT rowid AS rowid, id, content, path FROM documents WHERE workspace = ?').iterate(ws) as IterableIterator<{ rowid: number; id: string; content: string; path: string | null }>) {
    const terms = rowTerms([{ text: r.content, weight: 1 }, { text: r.path, weight: 0.5 }]);
    index.put(r.rowid, terms);
    idOf.set(r.rowid, r.id);
    words += terms.length;
    postings += terms.terms.size;
  }
  const topkS = (performance.now() - tTopk) / 1000;
  const rowOfId = new Map([...idOf].map(([row, id]) => [id, row]));
  global.gc?.();
  const heapMb = (process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - heapBefore) / 2 ** 20;
  log(`top-k index: ${docs} rows, ${postings} postings in ${round(topkS)} s, ~${round(heapMb, 0)} MB`);

  const topkHits = (text: string, n: number): SearchHit[] =>
    index.search(queryTerms(text), n).map((h) => ({ id: idOf.get(h.row) as string, score: h.score }));
  /** Passage lists from passages_fts alone (as before the passage index). */
  const ftsPassages = new PassageSearcher(db);
  const searcher = new Searcher(db, new VectorIndexes(db));
  const ftsSource: AssembleSource = {
    passageSearcher: ftsPassages,
    queryVector: (w, q) => store.queryVector(w, q),
    searchHits: (w, q, n, mode, v) => store.searchHits(w, q, n, mode, v),
  };
  const plainFts = db.prepare('SELECT rowid FROM documents_fts WHERE documents_fts MATCH ? ORDER BY rank LIMIT ?');
  const assembleReq = (q: string) => ({ query: q, max_tokens: assemble_tokens, max_documents: 10, include_patterns: [], exclude_patterns: [] });
  const ftsPassageSearch = async (q: string, mode: 'lexical' | 'hybrid') => {
    const v = mode === 'lexical' ? null : await store.queryVector(ws, q);
    return rankByPassages(searcher, ftsPassages, ws, q, v, k, mode);
  };

  const systems: Array<[string, (q: string) => Promise<unknown>]> = [
    ['sqlite fts5 documents: MATCH a OR b ORDER BY rank LIMIT 10', async (q) => plainFts.all(ftsQuery(q), k)],
    ['lancedb 0.31 full-text search, limit 10', async (q) => table.query().fullTextSearch(q).select(['id', '_score']).limit(k).toArray()],
    ['cairn search lexical k=10, passages (passages_fts)', (q) => ftsPassageSearch(q, 'lexical')],
    ['cairn search hybrid k=10, passages (passages_fts)', (q) => ftsPassageSearch(q, 'hybrid')],
    ['cairn assemble 4000 tokens (passages_fts)', (q) => assemble(ftsSource, reader, ws, assembleReq(q))],
    ['cairn search lexical k=10, documents (documents_fts)', (q) => store.searchHits(ws, q, k, 'lexical')],
    ['cairn search lexical k=10, passages (store: passage index)', (q) => store.searchPassages(ws, q, k, 'lexical')],
    ['cairn search hybrid k=10, passages (store: passage index)', (q) => store.searchPassages(ws, q, k, 'hybrid')],
    ['cairn assemble 4000 tokens (store: passage index)', (q) => store.assemble(ws, assembleReq(q))],
    ['cairn search lexical k=10, documents (top-k index)', async (q) => topkHits(q, k)],
  ];
  const queries = corpus.queries(docs, opts.queries, search_bench_seed + 1);
  const warm = corpus.queries(docs, warmup_queries, search_bench_seed + 2);
  const kinds: SearchKind[] = [];
  for (const [kind, run] of systems) {
    for (const q of warm) await run(q);
    const ms: number[] = [];
    const cpu: number[] = [];
    for (const q of queries) await time(ms, cpu, () => run(q));
    const r = {
      kind, queries: ms.length, p50_ms: round(percentile(ms, 50), 2), p99_ms: round(percentile(ms, 99), 2), mean_ms: round(ms.reduce((a, b) => a + b, 0) / ms.length, 2),
      cpu_p50_ms: round(percentile(cpu, 50), 2), cpu_p99_ms: round(percentile(cpu, 99), 2), load: load1(),
    };
    kinds.push(r);
    log(`${kind}: p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, cpu p50 ${r.cpu_p50_ms} ms (load ${r.load})`);
  }

  // How close the answers are: the index does not stem (FTS5 here uses porter), LanceDB has its own tokenizer.
  let overlapTopk = 0;
  let overlapLance = 0;
  let overlapPassages = 0;
  let matches = 0;
  let qwords = 0;
  const countMatches = db.prepare('SELECT count(*) AS n FROM documents_fts WHERE documents_fts MATCH ?');
  for (const q of queries) {
    const fts = new Set((plainFts.all(ftsQuery(q), k) as { rowid: number }[]).map((r) => r.rowid));
    overlapTopk += index.search(queryTerms(q), k).filter((h) => fts.has(h.row)).length;
    const lance = (await table.query().fullTextSearch(q).select(['id', '_score']).limit(k).toArray()) as { id: string }[];
    overlapLance += lance.filter((r) => fts.has(rowOfId.get(r.id) ?? -1)).length;
    const key = (h: PassageHit): string => `${h.doc_id}#${h.n}`;
    const fromFts = new Set(ftsPassages.lexical(ws, q, k).map(key));
    overlapPassages += store.passageSearcher.lexical(ws, q, k).filter((h) => fromFts.has(key(h))).length;
    if (!store.passageSearcher.lastFromIndex) throw new Error('the store answered from passages_fts: its passage index is not built');
    matches += (countMatches.get(ftsQuery(q)) as { n: number }).n;
    qwords += queryTerms(q).length;
  }
  const p50 = (name: string): number => kinds.find((x) => x.kind.startsWith(name))?.p50_ms ?? Number.NaN;
  const lanceP50 = p50('lancedb');
  const ratios = {
    'lexical passages passages_fts / lance': round(p50('cairn search lexical k=10, passages (passages_fts') / lanceP50, 2),
    'hybrid passages passages_fts / lance': round(p50('cairn search hybrid k=10, passages (passages_fts') / lanceP50, 2),
    'lexical passages store index / lance': round(p50('cairn search lexical k=10, passages (store') / lanceP50, 2),
    'hybrid passages store index / lance': round(p50('cairn search hybrid k=10, passages (store') / lanceP50, 2),
    'lexical documents top-k / lance': round(p50('cairn search lexical k=10, documents (top-k') / lanceP50, 2),
    'lexical documents top-k / fts5 documents': round(p50('cairn search lexical k=10, documents (top-k') / p50('sqlite fts5'), 3),
  };

  const stateBytes = (db.prepare('SELECT page_count * page_size AS b FROM pragma_page_count(), pragma_page_size()').get() as { b: number }).b;
  store.close();
  db.close();
  return {
    docs,
    words_total: words,
    text_bytes: totals.bytes,
    build: {
      state_db_s: stateS === null ? null : round(stateS), state_db_bytes: stateBytes, lance_s: lanceS === null ? null : round(lanceS),
      topk_s: round(topkS), topk_heap_mb: round(heapMb, 0), topk_postings: postings,
      passages: passageRows, topk_passages_s: round(passagesS), topk_passages_heap_mb: round(pHeapMb, 0), topk_passage_postings: passagePostings,
      topk_passages_cpu_s: round(passageCpuS), topk_passages_slice_max_ms: round(passageBuild.slice_max_ms), topk_passages_slice_max_cpu_ms: round(passageBuild.slice_max_cpu_ms),
      topk_passages_slices_over_20ms: passageBuild.slices_over_20ms, topk_passages_list_mb: round(passageListBytes / 2 ** 20),
      topk_passages_bytes_held: passageBytesHeld,
    },
    kinds,
    overlap_topk_fts5_at10: round(overlapTopk / queries.length, 2),
    overlap_lance_fts5_at10: round(overlapLance / queries.length, 2),
    overlap_topk_fts5_passages_at10: round(overlapPassages / queries.length, 2),
    query_words_mean: round(qwords / queries.length, 2),
    fts5_matches_mean: round(matches / queries.length, 0),
    ratios,
  };
}

/** The search section of npm run bench: runs, saves bench/results/search-<date>.json, writes BENCHMARKS.md. */
export async function searchSection(meta: { docs: number; queries: number; md: boolean; command: string; commit: string; machine: string; log: Log }): Promise<void> {
  const date = new Date().toISOString();
  const search = await runSearchBench({ docs: meta.docs, queries: meta.queries, log: meta.log });
  const run = { date, command: meta.command, commit: meta.commit, machine: meta.machine, search };
  const outDir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, `search-${date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(json, `${JSON.stringify(run, null, 2)}\n`);
  meta.log(`results: ${json}`);
  if (meta.md) {
    const { writeSearchMarkdown } = await import('./search-markdown.ts');
    writeSearchMarkdown(join(REPO_ROOT, 'BENCHMARKS.md'), run);
    meta.log('BENCHMARKS.md updated');
  }
}

export interface LexicalScaleResult {
  docs: number;
  words_total: number;
  build: { fts5_s: number | null; lance_s: number | null; topk_s: number; topk_postings: number };
  kinds: SearchKind[];
  overlap_topk_fts5_at10: number;
  overlap_lance_fts5_at10: number;
  /** Queries whose top-k answer was checked against scoring every matching row, and how many were identical. */
  exact_checked: number;
  exact_same: number;
  ratios: Record<string, number>;
}

/**
 * Lexical search only, at sizes where building a follower's whole state.db (token counts,
 * embeddings, passages) takes longer than the machine allows: a plain FTS5 table of the same
 * documents (content and path, Cairn's tokenizer), LanceDB, and the top-k index built from the corpus.
 */
export async function runLexicalScale(opts: { docs: number; queries: number; log: Log }): Promise<LexicalScaleResult> {
  const { docs, log } = opts;
  if (process.env['LANCE_CPU_THREADS'] === undefined) process.env['LANCE_CPU_THREADS'] = '2';
  const corpus = new Corpus(search_bench_seed);
  const dir = join(REPO_ROOT, '.bench', `search-lexical-${search_bench_seed}-${docs}`);
  mkdirSync(dir, { recursive: true });
  const db = new Database(join(dir, 'fts.db'));
  db.pragma('journal_mode = WAL');
  let ftsS: number | null = null;
  const index = new TopKIndex();
  let words = 0;
  let postings = 0;
  let topkS = 0;
  if (!existsSync(join(dir, 'fts-complete'))) {
    const t = performance.now();
    db.exec("DROP TABLE IF EXISTS docs_fts; CREATE VIRTUAL TABLE docs_fts USING fts5(content, path, tokenize = 'porter unicode61 remove_diacritics 2')");
    const ins = db.prepare('INSERT INTO docs_fts (rowid, content, path) VALUES (?, ?, ?)');
    for (let start = 0; start < docs; start += 1000) {
      db.transaction(() => {
        for (let i = start; i < Math.min(docs, start + 1000); i++) {
          const d = corpus.document(i);
          ins.run(i + 1, d.content, d.path);
        }
      })();
      if ((start / 1000) % 10 === 0) log(`fts5: ${start + 1000} of ${docs} rows`);
    }
    db.exec("INSERT INTO docs_fts (docs_fts) VALUES ('optimize')");
    writeFileSync(join(dir, 'fts-complete'), `${docs}\n`);
    ftsS = (performance.now() - t) / 1000;
  }
  {
    const t = performance.now();
    for (let i = 0; i < docs; i++) {
      const d = corpus.document(i);
      const terms = rowTerms([{ text: d.content, weight: 1 }, { text: d.path, weight: 0.5 }]);
      index.put(i + 1, terms);
      words += terms.length;
      postings += terms.terms.size;
      if (i % 10_000 === 0) log(`top-k: ${i} of ${docs} rows`);
    }
    topkS = (performance.now() - t) / 1000;
  }
  const lanceDir = join(dir, 'lance');
  let lanceS: number | null = null;
  if (!existsSync(join(lanceDir, 'complete'))) lanceS = await buildLance(lanceDir, docs, corpus, log);
  const lancedb = await import('@lancedb/lancedb');
  const table = await (await lancedb.connect(lanceDir)).openTable('docs');
  const plainFts = db.prepare('SELECT rowid FROM docs_fts WHERE docs_fts MATCH ? ORDER BY rank LIMIT ?');
  const systems: Array<[string, (q: string) => Promise<unknown>]> = [
    ['sqlite fts5 documents: MATCH a OR b ORDER BY rank LIMIT 10', async (q) => plainFts.all(ftsQuery(q), k)],
    ['lancedb 0.31 full-text search, limit 10', async (q) => table.query().fullTextSearch(q).select(['id', '_score']).limit(k).toArray()],
    ['top-k index, documents, k=10', async (q) => index.search(queryTerms(q), k)],
  ];
  const queries = corpus.queries(docs, opts.queries, search_bench_seed + 1);
  const warm = corpus.queries(docs, warmup_queries, search_bench_seed + 2);
  const kinds: SearchKind[] = [];
  for (const [kind, run] of systems) {
    for (const q of warm) await run(q);
    const ms: number[] = [];
    const cpu: number[] = [];
    for (const q of queries) await time(ms, cpu, () => run(q));
    const r = {
      kind, queries: ms.length, p50_ms: round(percentile(ms, 50), 2), p99_ms: round(percentile(ms, 99), 2), mean_ms: round(ms.reduce((a, b) => a + b, 0) / ms.length, 2),
      cpu_p50_ms: round(percentile(cpu, 50), 2), cpu_p99_ms: round(percentile(cpu, 99), 2), load: load1(),
    };
    kinds.push(r);
    log(`${kind}: p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, cpu p50 ${r.cpu_p50_ms} ms (load ${r.load})`);
  }
  let overlapTopk = 0;
  let overlapLance = 0;
  let same = 0;
  const checked = Math.min(queries.length, 50);
  for (const [i, q] of queries.entries()) {
    const fts = new Set((plainFts.all(ftsQuery(q), k) as { rowid: number }[]).map((r) => r.rowid));
    const hits = index.search(queryTerms(q), k);
    overlapTopk += hits.filter((h) => fts.has(h.row)).length;
    const lance = (await table.query().fullTextSearch(q).select(['id', '_score']).limit(k).toArray()) as { id: string }[];
    overlapLance += lance.filter((r) => fts.has(Number(r.id.slice(4)) + 1)).length;
    if (i < checked && JSON.stringify(hits) === JSON.stringify(index.bruteForce(queryTerms(q), k))) same += 1;
  }
  db.close();
  const p50 = (name: string): number => kinds.find((x) => x.kind.startsWith(name))?.p50_ms ?? Number.NaN;
  return {
    docs,
    words_total: words,
    build: { fts5_s: ftsS === null ? null : round(ftsS), lance_s: lanceS === null ? null : round(lanceS), topk_s: round(topkS), topk_postings: postings },
    kinds,
    overlap_topk_fts5_at10: round(overlapTopk / queries.length, 2),
    overlap_lance_fts5_at10: round(overlapLance / queries.length, 2),
    exact_checked: checked,
    exact_same: same,
    ratios: {
      'top-k / lance': round(p50('top-k') / p50('lancedb'), 2),
      'top-k / fts5': round(p50('top-k') / p50('sqlite fts5'), 3),
    },
  };
}

/** npm run bench -- --sections search-lexical: runLexicalScale, saved and written like searchSection. */
export async function searchLexicalSection(meta: { docs: number; queries: number; md: boolean; command: string; commit: string; machine: string; log: Log }): Promise<void> {
  const date = new Date().toISOString();
  const lexical = await runLexicalScale({ docs: meta.docs, queries: meta.queries, log: meta.log });
  const run = { date, command: meta.command, commit: meta.commit, machine: meta.machine, lexical };
  const outDir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, `search-lexical-${date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(json, `${JSON.stringify(run, null, 2)}\n`);
  meta.log(`results: ${json}`);
  if (meta.md) {
    const { writeLexicalMarkdown } = await import('./search-markdown.ts');
    writeLexicalMarkdown(join(REPO_ROOT, 'BENCHMARKS.md'), run);
    meta.log('BENCHMARKS.md updated');
  }
}
