// Writes the "## Search" section of BENCHMARKS.md: one block per corpus size, each replaced by a
// run at that size and left alone by runs at other sizes; the section is appended the first time.

import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import type { LexicalScaleResult, SearchBenchResult } from './search.ts';

const START = '<!-- search-bench:start -->';
const END = '<!-- search-bench:end -->';
const blockStart = (docs: number | string): string => `<!-- search-bench:${docs}:start -->`;
const blockEnd = (docs: number | string): string => `<!-- search-bench:${docs}:end -->`;

export interface SearchRun {
  date: string;
  command: string;
  commit: string;
  machine: string;
  search: SearchBenchResult;
}

const intro = `## Search (\`npm run bench -- --sections search\`)

One query at a time over one workspace of N documents, every system on the same documents and
queries in the same run (bench/search.ts, corpus bench/search-corpus.ts). The corpus: a
50,000-word pseudo-word vocabulary drawn by Zipf's law (s = 1), documents of 100 to 5,000 words
(density ~ n^-1.5: many short pages and a long tail, mean ~710 words), seeded; 200 queries of 2
to 8 words: runs of consecutive words from a document (45 %), such runs with one or two words
replaced by a frequent or a rare word (30 %), and one or two frequent words with rare ones (25 %).

How the follower's state is built: the documents go through the store's prepare path (token
counts, passages, the built-in hashing embedder at 384 dimensions) in bulk ops of 100 and are
applied by the store's Applier into a state.db on disk, then one retraining op builds the IVF
centroids: the state a follower holds after applying the same log, without loading the text
through HTTP into three nodes on 2 cores. Cairn's figures are DocumentStore calls in the bench
process on that state.db (the calls the HTTP handlers make; no HTTP). "(store: passage index)"
is the store as it ships: search at passage granularity (the default) and assemble of passages,
their lexical lists (the best passages, and the passages of given documents) from the store's
in-memory passage index (packages/server/src/store/topk/passage-index.ts: BM25 with MaxScore,
stemmed as passages_fts, built from state.db when the store opens, before the queries).
"(passages_fts)" is the same search and assemble with those lists from passages_fts (FTS5, what
the store answered from before, and still does while its index builds). "documents
(documents_fts)" is the document-granularity lexical list as it ships; "documents (top-k index)"
is a bench-only BM25 index over whole documents (packages/server/src/store/topk, not stemmed),
which the store does not use. Plain SQLite FTS5 is
\`SELECT rowid FROM documents_fts WHERE documents_fts MATCH '"a" OR "b" ...' ORDER BY rank LIMIT 10\`
on the same state.db; LanceDB 0.31.0 is \`table.query().fullTextSearch(q).limit(10)\` over the
documents' content with \`Index.fts()\` defaults, LANCE_CPU_THREADS=2.

The machine is shared: the 1-minute load average on its 2 cores (other test suites) was 3 to 35
during these runs, noted on each row, so wall times carry waits for a core. The CPU columns (CPU time of the bench
process per query, all its threads, LanceDB's included) are the steadier comparison; a query's
CPU time is a lower bound of its latency on an idle machine. The 100,000-document follower's
state.db was built by the bench's own prepare path (prepareSearchState, the same code as a
first run of the command) from 15:35 to 16:03 UTC, 1,686 s at load 1 to 7, and reused by the
run below; at load 20 to 35 earlier in the day the same path applied about 1,100 documents a
minute. 1,000,000 documents were not tried: at ~60 documents a second that state.db would take
about 5 hours to build, and the passage index ~7 GB of heap at ten times the figure below (its
typed arrays ~4.3 GB); the lexical-only
block (\`--sections search-lexical\`) compares the lexical systems at 100,000 without hybrid and
assemble. The 10,000-document state.db was built by an earlier run of the same command (07:19 to
07:30 UTC, at load 20 to 30) and reused. Runs from 16:00 UTC on were made with
NODE_OPTIONS=--expose-gc, so that the heap figures are taken after a full collection.

The store's passage index in the 100,000-document run (b20e27e, which holds the compact lists of
b33995f and the per-passage slices of d0e3998): 6.9 bytes of typed arrays a posting, from 15.5
at aedc83b (Int32 row numbers and Float32 frequencies grown by doubling, an Int32Array of term
ids per row); heap and array buffers measured around the store's open, the store's other state
included, ~11 bytes a posting, from ~28 (178 MB) at 10,000 documents at aedc83b. Its longest build slice there,
927 ms, was a Map of a million rows rehashing in one step; with sharded maps and only the lists
trimmed (cef433a), a build over the same state.db (the store opened in a script, node
--expose-gc, load 2 to 3.6) took 301 s wall, longest slice 615 ms (11 passages put, no GC pause
over 7 ms inside it), 631 of 53,317 slices over 20 ms, 7.2 bytes of typed arrays a posting;
with the row tables and term ids in chunks as well (2e9672b: growing one large buffer by copying
costs ~3 ms a MB here), 190 s wall, longest slice 134 ms wall / 175 ms CPU (9 passages put),
45 of 41,648 slices over 20 ms, 6.9 bytes a posting; on the 10,000-document state.db 18.3 s,
longest slice 15.4 ms, none over 20 ms. The query rows below were not re-run after cef433a.

Where assemble's time goes with the store's passage index (a CPU profile, \`node --cpu-prof\`,
of 300 assembles of 4,000 tokens on the 10,000-document state.db at aedc83b): the rows of the
candidate documents without content but with their vectors (Reader.summaries, for the
near-duplicate check), the index search of 200 passages, passage counts, then token counting;
contents are read only for documents whose passages fit (2a2b184). In that process, one query
at a time and nothing else running in it: lexical searchPassages k=10 2.7 ms CPU a query,
assemble 18.4 ms. Not measured on a follower process over HTTP: the figures here are in-process
calls.
`;

export function renderSearch(r: SearchRun): string {
  const s = r.search;
  const lines = [
    `### ${s.docs.toLocaleString('en-US')} documents`,
    '',
    `${r.date.slice(0, 16).replace('T', ' ')} UTC, \`${r.command}\`, commit ${r.commit}, ${r.machine}.`,
    `${s.words_total.toLocaleString('en-US')} words, ${Math.round(s.text_bytes / 2 ** 20)} MiB of text; state.db ${Math.round(s.build.state_db_bytes / 2 ** 20)} MiB` +
      `${s.build.state_db_s === null ? ' (cached from an earlier run)' : `, built in ${s.build.state_db_s} s`}; LanceDB table and index ` +
      `${s.build.lance_s === null ? 'cached from an earlier run' : `built in ${s.build.lance_s} s`}; the bench's document top-k index built from state.db in ${s.build.topk_s} s, ` +
      `${s.build.topk_postings.toLocaleString('en-US')} postings, ~${s.build.topk_heap_mb} MB of heap; the store's passage index over the ${s.build.passages.toLocaleString('en-US')} passages built in ` +
      `${s.build.topk_passages_s} s (${s.build.topk_passages_cpu_s ?? '?'} s CPU; longest slice ${s.build.topk_passages_slice_max_ms ?? '?'} ms, ${s.build.topk_passages_slice_max_cpu_ms ?? '?'} ms CPU; ` +
      `${s.build.topk_passages_slices_over_20ms ?? '?'} slices over 20 ms), ${s.build.topk_passage_postings.toLocaleString('en-US')} postings, lists ${s.build.topk_passages_list_mb ?? '?'} MB` +
      (s.build.topk_passages_bytes_held === undefined ? '' : `, ${s.build.topk_passages_bytes_held.toLocaleString('en-US')} bytes of typed arrays in all (${round2(s.build.topk_passages_bytes_held / s.build.topk_passage_postings)} a posting)`) +
      `, ~${s.build.topk_passages_heap_mb} MB of heap and array buffers in all (${round2((s.build.topk_passages_heap_mb * 2 ** 20) / s.build.topk_passage_postings)} bytes a posting).`,
    `Queries hold ${s.query_words_mean} words on average and FTS5 matches ${s.fts5_matches_mean.toLocaleString('en-US')} documents per query on average.`,
    `Answers: of the 10 best documents, the top-k index shares ${s.overlap_topk_fts5_at10} with FTS5's on average (it does not stem; FTS5 here uses porter), ` +
      `LanceDB ${s.overlap_lance_fts5_at10}; of the 10 best passages, the store's passage index shares ${s.overlap_topk_fts5_passages_at10} with passages_fts.`,
    '',
    '| what | p50 ms | p99 ms | mean ms | CPU p50 ms | CPU p99 ms | load (1 min) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...s.kinds.map((x) => `| ${x.kind} | ${x.p50_ms} | ${x.p99_ms} | ${x.mean_ms} | ${x.cpu_p50_ms} | ${x.cpu_p99_ms} | ${x.load} |`),
    '',
    `Ratios of p50: ${Object.entries(s.ratios).map(([name, v]) => `${name} ${v}`).join(', ')}.`,
  ];
  return lines.join('\n');
}

export function writeSearchMarkdown(path: string, r: SearchRun): void {
  writeBlock(path, String(r.search.docs), renderSearch(r));
}

/** Replaces (or appends) the block `name` inside the section; the intro is rewritten. */
function writeBlock(path: string, name: string, body: string): void {
  let current = existsSync(path) ? readFileSync(path, 'utf8') : '# Cairn benchmarks\n';
  if (!current.includes(START)) current = `${current.trimEnd()}\n\n${START}\n${intro}\n${END}\n`;
  const s = current.indexOf(START);
  const e = current.indexOf(END);
  let section = current.slice(s + START.length, e);
  const block = `${blockStart(name)}\n${body}\n${blockEnd(name)}`;
  const bs = section.indexOf(blockStart(name));
  const be = section.indexOf(blockEnd(name));
  if (bs >= 0 && be > bs) section = `${section.slice(0, bs)}${block}${section.slice(be + blockEnd(name).length)}`;
  else section = `${section.trimEnd()}\n\n${block}\n`;
  const introEnd = section.indexOf('<!-- search-bench:');
  section = `\n${intro}\n${introEnd >= 0 ? section.slice(introEnd) : ''}`;
  writeFileSync(path, `${current.slice(0, s + START.length)}${section}${current.slice(e)}`);
}

export interface LexicalRun {
  date: string;
  command: string;
  commit: string;
  machine: string;
  lexical: LexicalScaleResult;
}

export function renderLexical(r: LexicalRun): string {
  const s = r.lexical;
  return [
    `### ${s.docs.toLocaleString('en-US')} documents, lexical only (\`--sections search-lexical\`)`,
    '',
    `${r.date.slice(0, 16).replace('T', ' ')} UTC, \`${r.command}\`, commit ${r.commit}, ${r.machine}.`,
    `The same corpus and queries without a follower's state.db (see below): a plain FTS5 table of the documents' content and path with Cairn's tokenizer ` +
      `(${s.build.fts5_s === null ? 'cached' : `built in ${s.build.fts5_s} s`}), LanceDB (${s.build.lance_s === null ? 'cached' : `built in ${s.build.lance_s} s`}), ` +
      `and the top-k index built from the corpus in ${s.build.topk_s} s (${s.build.topk_postings.toLocaleString('en-US')} postings, ${s.words_total.toLocaleString('en-US')} words).`,
    `Of the 10 best documents the top-k index shares ${s.overlap_topk_fts5_at10} with FTS5's on average (no stemming), LanceDB ${s.overlap_lance_fts5_at10}; ` +
      `its answer equals scoring every matching row (bruteForce) for ${s.exact_same} of ${s.exact_checked} queries checked.`,
    '',
    '| what | p50 ms | p99 ms | mean ms | CPU p50 ms | CPU p99 ms | load (1 min) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...s.kinds.map((x) => `| ${x.kind} | ${x.p50_ms} | ${x.p99_ms} | ${x.mean_ms} | ${x.cpu_p50_ms} | ${x.cpu_p99_ms} | ${x.load} |`),
    '',
    `Ratios of p50: ${Object.entries(s.ratios).map(([name, v]) => `${name} ${v}`).join(', ')}.`,
  ].join('\n');
}

export function writeLexicalMarkdown(path: string, r: LexicalRun): void {
  writeBlock(path, `lexical-${r.lexical.docs}`, renderLexical(r));
}

function round2(x: number): string {
  return x.toFixed(1);
}
