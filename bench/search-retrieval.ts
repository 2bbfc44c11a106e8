// node --import tsx bench/search-retrieval.ts [--files 300] [--queries 200] [--seed 1]
//
// A retrieval check on text no one here wrote: the READMEs of the npm packages installed under
// node_modules (pinned by package-lock.json, so the same files on every machine that ran npm ci).
// Each query is one sentence taken from deep inside a long README (after the first 40 % of it,
// 8 to 30 words, mostly words rather than code), and the answer is right when
//   document: the README is among the top 3 hits (search, hybrid and lexical, both granularities)
//   passage:  a top-3 hit of that README carries, among its passages, the one holding the sentence
//   assemble: assemble with max_tokens 1000 includes the sentence.
// Prints the figures as JSON; nothing is asserted (the suite's check comes once these are known).

import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { HashingEmbedder } from '../packages/server/src/embed/hashing.ts';
import { DocumentStore } from '../packages/server/src/store/document-store.ts';
import { REPO_ROOT } from '../test/helpers/cluster.ts';
import { rng } from './search-corpus.ts';

const file_bytes_min = 8 * 1024;
const file_bytes_max = 400 * 1024;
const ws = 'readmes';

/** README.md files of installed packages (top level and scoped), one per distinct content, sorted by path. */
export function readmes(root: string): { path: string; content: string }[] {
  const out: { path: string; content: string }[] = [];
  const seen = new Set<string>();
  const consider = (dir: string): void => {
    for (const name of ['README.md', 'readme.md', 'Readme.md']) {
      const p = join(dir, name);
      let size = 0;
      try {
        size = statSync(p).size;
      } catch {
        continue;
      }
      if (size < file_bytes_min || size > file_bytes_max) return;
      const content = readFileSync(p, 'utf8');
      const hash = createHash('sha256').update(content).digest('hex');
      if (seen.has(hash)) return;
      seen.add(hash);
      out.push({ path: p.slice(root.length + 1), content });
      return;
    }
  };
  for (const name of readdirSync(root).sort()) {
    if (name.startsWith('.')) continue;
    if (name.startsWith('@')) for (const sub of readdirSync(join(root, name)).sort()) consider(join(root, name, sub));
    else consider(join(root, name));
  }
  return out;
}

export interface RetrievalQuery {
  doc: string;
  sentence: string;
  offset: number;
}

/** One sentence from deep inside each long document (deterministic for a seed). */
export function deepSentences(docs: { path: string; content: string }[], seed: number): RetrievalQuery[] {
  const rand = rng(seed);
  const out: RetrievalQuery[] = [];
  for (const d of docs) {
    const candidates: { sentence: string; offset: number }[] = [];
    const re = /[^.!?\n]+(?:[.!?]+|\n\n)/g;
    for (const m of d.content.matchAll(re)) {
      const offset = (m.index ?? 0) + (m[0].length - m[0].trimStart().length);
      if (offset < d.content.length * 0.4) continue;
      const sentence = m[0].trim();
      const words = sentence.split(/\s+/);
      const wordy = words.filter((w) => /^[A-Za-z][a-z'-]*[,;:]?$/.test(w)).length;
      if (words.length < 8 || words.length > 30 || wordy < words.length * 0.7) continue;
      candidates.push({ sentence, offset });
    }
    if (candidates.length === 0) continue;
    const c = candidates[Math.floor(rand() * candidates.length)] as { sentence: string; offset: number };
    out.push({ doc: d.path, ...c });
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { files: { type: 'string', default: '300' }, queries: { type: 'string', default: '200' }, seed: { type: 'string', default: '1' } } });
  const all = readmes(join(REPO_ROOT, 'node_modules'));
  const docs = all.slice(0, Number(values.files));
  const queries = deepSentences(docs, Number(values.seed)).slice(0, Number(values.queries));
  const dir = mkdtempSync(join(tmpdir(), 'cairn-retrieval-'));
  const db = new Database(join(dir, 'state.db'));
  db.pragma('journal_mode = WAL');
  const store = new DocumentStore(db, { embedder: new HashingEmbedder({ dim: 384 }) });
  try {
    for (let i = 0; i < docs.length; i += 20) {
      const prepared = await store.preparePutMany(ws, docs.slice(i, i + 20).map((d) => ({ id: d.path, path: d.path, content: d.content })));
      if (prepared.errors.length > 0) console.error(JSON.stringify(prepared.errors.slice(0, 3)));
      const op = prepared.op;
      if (op !== null) db.transaction(() => store.apply(op))();
    }
    const retrain = store.prepareRetrain(ws);
    db.transaction(() => store.apply(retrain))();
    const tally: Record<string, number> = {};
    const hit = (name: string, ok: boolean): void => {
      tally[name] = (tally[name] ?? 0) + (ok ? 1 : 0);
    };
    const squash = (s: string): string => s.replace(/\s+/g, ' ').trim();
    for (const q of queries) {
      for (const mode of ['hybrid', 'lexical'] as const) {
        const ranked = await store.searchPassages(ws, q.sentence, 3, mode);
        hit(`passage granularity ${mode}: document in top 3`, ranked.hits.some((h) => h.id === q.doc));
        const ps = ranked.passages.get(q.doc) ?? [];
        hit(`passage granularity ${mode}: passage in top 3`, ps.some((p) => p.start <= q.offset && q.offset < p.end));
        const docHits = await store.searchHits(ws, q.sentence, 3, mode);
        hit(`document granularity ${mode}: document in top 3`, docHits.some((h) => h.id === q.doc));
      }
      const assembled = await store.assemble(ws, { query: q.sentence, max_tokens: 1000, max_documents: 10, include_patterns: [], exclude_patterns: [] });
      hit('assemble 1000 tokens: includes the sentence', assembled.documents.some((d) => d.id === q.doc && squash(d.content).includes(squash(q.sentence))));
    }
    const figures = Object.fromEntries(Object.entries(tally).map(([k, v]) => [k, `${v} of ${queries.length} (${Math.round((1000 * v) / queries.length) / 10} %)`]));
    console.log(JSON.stringify({ files: docs.length, readmes_found: all.length, queries: queries.length, figures }, null, 2));
  } finally {
    store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('search-retrieval.ts')) await main();
