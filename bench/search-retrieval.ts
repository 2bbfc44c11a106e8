// node --import tsx bench/search-retrieval.ts [--per-doc 3] [--max-tokens 1000]
//
// A retrieval check on text no one here wrote: the documentation that the npm packages of
// package-lock.json ship (READMEs and docs, 8-400 KiB each, the same files on every machine that
// ran npm ci; test/helpers/deep-queries.ts). Each query is one sentence from deep inside a document
// (after its first 40 %, 8 to 30 words, mostly words rather than code, found in no other
// document), and the answer is right when
//   document: the document is among the top 3 hits (search, hybrid and lexical, both granularities)
//   passage:  a top-3 hit of that document reports, among its passages, one holding the sentence
//   assemble: assemble with max_tokens 1000 includes the sentence.
// Prints the figures as JSON. test/retrieval-deep.test.ts asserts them in the suite (the same
// corpus, queries and checks, 3 queries a document); here the number of queries a document and the
// budget can change.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { HashingEmbedder } from '../packages/server/src/embed/hashing.ts';
import { DocumentStore } from '../packages/server/src/store/document-store.ts';
import { REPO_ROOT } from '../test/helpers/cluster.ts';
import { assembledHolds, deepQueries, documentFound, lockedCorpus, passageFound } from '../test/helpers/deep-queries.ts';

const ws = 'deep-docs';
const top_n = 3;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'per-doc': { type: 'string', default: '3' }, 'max-tokens': { type: 'string', default: '1000' } } });
  const perDoc = Number(values['per-doc']);
  const maxTokens = Number(values['max-tokens']);
  if (!Number.isInteger(perDoc) || perDoc < 1) throw new Error(`--per-doc must be a positive integer; got ${values['per-doc']}`);
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new Error(`--max-tokens must be a positive integer; got ${values['max-tokens']}`);
  const corpus = lockedCorpus(REPO_ROOT);
  if (corpus.missing.length > 0) throw new Error(`packages of package-lock.json not installed (run npm ci): ${corpus.missing.slice(0, 10).join(', ')}`);
  const docs = corpus.docs;
  const { queries, shared_skipped } = deepQueries(docs, perDoc);
  const dir = mkdtempSync(join(tmpdir(), 'cairn-retrieval-'));
  const db = new Database(join(dir, 'state.db'));
  db.pragma('journal_mode = WAL');
  const store = new DocumentStore(db, { embedder: new HashingEmbedder({ dim: 384 }) });
  try {
    for (let i = 0; i < docs.length; i += 20) {
      const prepared = await store.preparePutMany(ws, docs.slice(i, i + 20).map((d) => ({ id: d.path, path: d.path, content: d.content })));
      if (prepared.errors.length > 0) throw new Error(`documents refused: ${JSON.stringify(prepared.errors.slice(0, 3))}`);
      const op = prepared.op;
      if (op !== null) db.transaction(() => store.apply(op))();
    }
    const retrain = store.prepareRetrain(ws);
    db.transaction(() => store.apply(retrain))();
    const tally: Record<string, number> = {};
    const hit = (name: string, ok: boolean): void => {
      tally[name] = (tally[name] ?? 0) + (ok ? 1 : 0);
    };
    for (const q of queries) {
      for (const mode of ['hybrid', 'lexical'] as const) {
        const byPassage = await store.search(ws, { query: q.sentence, k: top_n, mode, granularity: 'passage' });
        hit(`passage granularity ${mode}: document in top 3`, documentFound(byPassage, q, top_n));
        hit(`passage granularity ${mode}: passage in top 3`, passageFound(byPassage, q, top_n));
        const byDocument = await store.search(ws, { query: q.sentence, k: top_n, mode, granularity: 'document' });
        hit(`document granularity ${mode}: document in top 3`, documentFound(byDocument, q, top_n));
      }
      const assembled = await store.assemble(ws, { query: q.sentence, max_tokens: maxTokens, max_documents: 10, include_patterns: [], exclude_patterns: [] });
      hit(`assemble ${maxTokens} tokens: includes the sentence`, assembledHolds(assembled.documents, q));
    }
    const figures = Object.fromEntries(Object.entries(tally).map(([k, v]) => [k, `${v} of ${queries.length} (${Math.round((1000 * v) / queries.length) / 10} %)`]));
    console.log(JSON.stringify({ packages: corpus.packages, files: corpus.files, documents: docs.length, queries: queries.length, documents_queried: new Set(queries.map((q) => q.doc)).size, shared_skipped, figures }, null, 2));
  } finally {
    store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('search-retrieval.ts')) await main();
