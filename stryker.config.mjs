// Mutation testing (StrykerJS): `npm run mutate` changes the code of the folders below one small
// edit at a time (a mutant) and runs the tests that cover it; a mutant no test notices "survived".
// TESTING.md has the scores, the times and the survivors worth a test. Not part of `npm test`/CI.
//
//   npm run mutate                          every folder below (hours on 2 cores)
//   CAIRN_MUTATE=raft npm run mutate        one folder: raft, replication, store or config
//   CAIRN_MUTATE=store-text npm run mutate  one part of store: store-text, store-topk, store-core
//                                           (store-core = store-data + store-rank,
//                                           store-topk = store-topk-index + store-topk-rest,
//                                           store-rank = store-rank-assemble + store-rank-search)
//
// Incremental: results are kept per folder in stryker/incremental-<folder>.json (committed), so a
// rerun tests only the mutants in code or tests that changed since. `-- --force` reruns everything.
//
// Which tests: only in-process ones (packages/*/src, packages/*/test; never test/, whose real
// node processes run the unmutated tree and take minutes each), and of those, vitest's related
// mode runs only the test files that import the mutated file, then only the tests that covered
// the mutant in the first run (coverageAnalysis perTest). A mutant of packages/raft is seen by
// packages/raft/test only: the server imports @cairn/raft through node_modules, which the sandbox
// links to the unmutated package.
//
// concurrency 1: this machine has 2 cores shared with other work; raise it on a machine of your own.

// tsconfig: the package's own, for the type checker's program (the root one also holds test/ and
// bench/, and checking each mutant against it took about 5 s; the package's is a fraction of that).
const server = { tsconfig: 'packages/server/tsconfig.json' };
// retrieval.test.ts is left out of store's runs: it indexes the machine's /usr/share/doc (26 s)
// and checks ranking quality, and a surviving mutant runs every test that covered it.
const storeTests = ['packages/server/src/store/**/*.test.ts', '!packages/server/src/store/retrieval.test.ts'];
const topkTests = ['packages/server/src/store/topk/**/*.test.ts', 'packages/server/src/store/passage-index.test.ts'];
const storeText = 'packages/server/src/store/{tokens,bpe,glob,passages,validate,errors,etag}.ts';
const storeData =
  'packages/server/src/store/{document-store,apply,op,schema,read,checksum,state-digest,digest-worker,index}.ts';
const storeAssemble = 'packages/server/src/store/{assemble,assemble-passages}.ts';
const folders = {
  raft: { mutate: ['packages/raft/src/**/*.ts'], testFiles: ['packages/raft/test/**/*.test.ts'], tsconfig: 'packages/raft/tsconfig.json' },
  replication: { ...server, mutate: ['packages/server/src/replication/**/*.ts'], testFiles: ['packages/server/src/**/*.test.ts', 'packages/server/test/**/*.test.ts'] },
  // store: its own tests only (packages/server/src/store), so that the score says what they check
  // and each mutant runs seconds, not the whole server's tests. In three parts, each with its own
  // incremental file, so that one part's results are kept when a run is stopped; `store` is the
  // three at once. `node stryker/score.mjs` sums the parts' reports into the folder's score.
  store: { ...server, mutate: ['packages/server/src/store/**/*.ts'], testFiles: storeTests },
  'store-text': {
    ...server,
    mutate: [storeText],
    testFiles: storeTests,
  },
  // store-topk: the top-k index's own tests and the passage index's (which compares it with
  // passages_fts). Every store test opens a store and so covers most of the index, and with all of
  // them a mutant ran ~15 s here (about 4 h for the part); these two files check its answers.
  // In two halves, each with its own incremental file: store-topk-index (topk/index.ts, the
  // index itself) and store-topk-rest (bm25, terms, the sharded map, the passage index).
  'store-topk': { ...server, mutate: ['packages/server/src/store/topk/**/*.ts'], testFiles: topkTests },
  'store-topk-index': { ...server, mutate: ['packages/server/src/store/topk/index.ts'], testFiles: topkTests },
  'store-topk-rest': { ...server, mutate: ['packages/server/src/store/topk/*.ts', '!packages/server/src/store/topk/index.ts'], testFiles: topkTests },
  // store-core is the rest of store/*.ts, in two halves that each finish within a couple of hours
  // here: store-data (writes, schema, reads, state digest) and store-rank (search and assembly).
  'store-core': {
    ...server,
    mutate: ['packages/server/src/store/*.ts', `!${storeText}`],
    testFiles: storeTests,
  },
  'store-data': { ...server, mutate: [storeData], testFiles: storeTests },
  'store-rank': {
    ...server,
    mutate: ['packages/server/src/store/*.ts', `!${storeText}`, `!${storeData}`],
    testFiles: storeTests,
  },
  // store-rank (1,335 mutants) in two halves: assembly, and search with the vectors and the
  // prepare pool.
  'store-rank-assemble': { ...server, mutate: [storeAssemble], testFiles: storeTests },
  'store-rank-search': {
    ...server,
    mutate: ['packages/server/src/store/*.ts', `!${storeText}`, `!${storeData}`, `!${storeAssemble}`],
    testFiles: storeTests,
  },
  config: { ...server, mutate: ['packages/server/src/config/**/*.ts'], testFiles: ['packages/server/src/**/*.test.ts'] },
};

const chosen = (process.env.CAIRN_MUTATE ?? '').trim();
if (chosen !== '' && !(chosen in folders)) {
  throw new Error(`CAIRN_MUTATE=${chosen}: expected one of ${Object.keys(folders).join(', ')}`);
}
const whole = ['raft', 'replication', 'store', 'config'];
const selected = chosen === '' ? whole.map((k) => folders[k]) : [folders[chosen]];
const name = chosen === '' ? 'all' : chosen;
const tsconfigs = [...new Set(selected.map((f) => f.tsconfig))];

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.config.ts', related: true },
  checkers: ['typescript'],
  tsconfigFile: tsconfigs.length === 1 ? tsconfigs[0] : 'tsconfig.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  mutate: [
    ...selected.flatMap((f) => f.mutate),
    '!**/*.test.ts',
    '!**/testing.ts',
    '!**/testing-disk.ts',
  ],
  // The simulation's seeded run covers nearly every replication mutant: `npm run mutate` sets
  // SIM_SEEDS=20 (200 in `npm test`) so that each of those runs takes seconds.
  testFiles: [...new Set(selected.flatMap((f) => f.testFiles))],
  concurrency: 1,
  timeoutMS: 20_000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 30,
  incremental: true,
  incrementalFile: `stryker/incremental-${name}.json`,
  ignoreStatic: true,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  clearTextReporter: { allowColor: false, logTests: false, reportMutants: false, reportScoreTable: true },
  tempDirName: `.stryker-tmp-${name}`,
  // Another run's sandbox and the reports are not part of the project to copy.
  ignorePatterns: ['/.stryker-tmp*', '/reports'],
  cleanTempDir: true,
};
