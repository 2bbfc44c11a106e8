// Passage assembly on the search bench's follower state, for profiling and before/after checks.
//
//   node --import tsx bench/profile-assemble.ts --build-only [--docs 10000]
//   node --import tsx bench/profile-assemble.ts --profile /tmp/assemble.cpuprofile [--rounds 3]
//   node --import tsx bench/profile-assemble.ts --save /tmp/assemble-before.json
//   node --import tsx bench/profile-assemble.ts --check /tmp/assemble-before.json
//   node --import tsx bench/profile-assemble.ts --compare /tmp/old/assemble.ts --rounds 5
//
// The state.db is the one bench/search.ts builds and caches (.bench/search-<seed>-<docs>/, built
// here when absent: prepareSearchState). The store is opened as bench/search.ts opens it, the
// passage index awaited, then the bench's queries (the same seed) are assembled at 4,000 tokens,
// `--rounds` times each. `--save` writes every answer (without processing_time_ms) to a JSON file;
// `--check` compares the answers with such a file, byte for byte. `--compare` loads another
// assemble.ts (a copy of an older one, its imports pointing into packages/server/src/store) and
// alternates the two per query, so that both see the same machine state; it also checks that the
// two answer the same. `--profile` writes a CPU profile (the inspector's, as --cpu-prof) of the
// measured rounds only, not of the index build before them. `--search` also times the store's
// passage search (hybrid, k=10: the lexical and vector lists assemble starts from) in the same
// alternation, for what assembly costs beyond its search.

import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { HashingEmbedder } from '../packages/server/src/embed/hashing.ts';
import { assemble } from '../packages/server/src/store/assemble.ts';
import type { AssembleRequest, AssembleResult, AssembleSource } from '../packages/server/src/store/assemble.ts';
import { DocumentStore } from '../packages/server/src/store/document-store.ts';
import { Reader } from '../packages/server/src/store/read.ts';
import { REPO_ROOT } from '../test/helpers/cluster.ts';
import { Corpus } from './search-corpus.ts';
import { prepareSearchState, search_bench_seed } from './search.ts';
import { load1, percentile, round } from './stats.ts';

type AssembleFn = (source: AssembleSource, reader: Reader, ws: string, req: AssembleRequest) => Promise<AssembleResult>;

const { values: args } = parseArgs({
  options: {
    docs: { type: 'string', default: '10000' },
    queries: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    tokens: { type: 'string', default: '4000' },
    'build-only': { type: 'boolean', default: false },
    save: { type: 'string' },
    check: { type: 'string' },
    compare: { type: 'string' },
    profile: { type: 'string' },
    search: { type: 'boolean', default: false },
  },
});
const docs = Number(args.docs);
const ws = 'bench-search';
const log = (line: string): void => console.error(`[profile-assemble] ${line}`);

await prepareSearchState(docs, log, 'state');
if (args['build-only']) process.exit(0);

const db = new Database(join(REPO_ROOT, '.bench', `search-${search_bench_seed}-${docs}`, 'state.db'));
db.pragma('journal_mode = WAL');
const store = new DocumentStore(db, { embedder: new HashingEmbedder({ dim: 384 }) });
const built = await store.passageIndexBuilt;
log(`passage index: ${built.passages} passages in ${round(built.ms / 1000)} s`);
const reader = new Reader(db);
const corpus = new Corpus(search_bench_seed);
const queries = corpus.queries(docs, Number(args.queries), search_bench_seed + 1);
const warm = corpus.queries(docs, 10, search_bench_seed + 2);
const req = (query: string): AssembleRequest => ({ query, max_tokens: Number(args.tokens), max_documents: 10, include_patterns: [], exclude_patterns: [] });
const answer = (r: AssembleResult): string => JSON.stringify({ context: r.context, documents: r.documents, total_tokens: r.total_tokens });

const other: AssembleFn | null = args.compare === undefined ? null : ((await import(args.compare)) as { assemble: AssembleFn }).assemble;
const impls: Array<[string, AssembleFn]> = [['current', assemble]];
if (other !== null) impls.push(['compared', other]);
if (args.search) impls.push(['search hybrid k=10', async (source, _reader, w, r) => { await (source as DocumentStore).searchPassages(w, r.query, 10, 'hybrid'); return { context: '', documents: [], total_tokens: 0, processing_time_ms: 0 }; }]);

for (const q of warm) for (const [, f] of impls) await f(store, reader, ws, req(q));
const ms = new Map<string, number[]>(impls.map(([name]) => [name, []]));
const answers: string[] = [];
let differ = 0;
const rounds = Number(args.rounds);
const session = args.profile === undefined ? null : new Session();
if (session !== null) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
}
const started = performance.now();
const firstRound = new Map<string, number[]>(impls.map(([name]) => [name, []]));
for (let r = 0; r < rounds; r++) {
  for (const [i, q] of queries.entries()) {
    // Alternate which runs first, so neither always sees the other's warm caches.
    const order = (r + i) % 2 === 0 ? impls : [...impls].reverse();
    const outs = new Map<string, string>();
    for (const [name, f] of order) {
      const t = performance.now();
      const out = await f(store, reader, ws, req(q));
      (ms.get(name) as number[]).push(performance.now() - t);
      if (r === 0) (firstRound.get(name) as number[]).push(performance.now() - t);
      outs.set(name, answer(out));
    }
    if (r === 0) answers.push(outs.get('current') as string);
    if (other !== null && outs.get('current') !== outs.get('compared')) differ += 1;
  }
}
if (session !== null && args.profile !== undefined) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(args.profile, JSON.stringify(profile));
  session.disconnect();
  log(`CPU profile of the rounds written to ${args.profile}`);
}
log(`${rounds} x ${queries.length} queries in ${round((performance.now() - started) / 1000)} s, load ${load1()}`);
for (const [name, xs] of ms) {
  const first = firstRound.get(name) as number[];
  console.log(`${name}: p50 ${round(percentile(xs, 50), 2)} ms, p99 ${round(percentile(xs, 99), 2)} ms, mean ${round(xs.reduce((a, b) => a + b, 0) / xs.length, 2)} ms over ${xs.length} calls; first round (each query's first call) p50 ${round(percentile(first, 50), 2)} ms, p99 ${round(percentile(first, 99), 2)} ms`);
}
if (other !== null) console.log(`answers differing between current and compared: ${differ} of ${rounds * queries.length}`);
if (args.save !== undefined) {
  writeFileSync(args.save, `${JSON.stringify(answers.map((a, i) => ({ query: queries[i], answer: JSON.parse(a) as unknown })))}\n`);
  log(`answers written to ${args.save}`);
}
if (args.check !== undefined) {
  const saved = JSON.parse(readFileSync(args.check, 'utf8')) as { query: string; answer: unknown }[];
  let same = 0;
  for (const [i, a] of answers.entries()) if (saved[i] !== undefined && saved[i].query === queries[i] && JSON.stringify(saved[i].answer) === a) same += 1;
  console.log(`answers identical to ${args.check}: ${same} of ${answers.length}${saved.length === answers.length ? '' : ` (file holds ${saved.length})`}`);
  if (same !== answers.length || saved.length !== answers.length) process.exitCode = 1;
}
store.close();
db.close();
