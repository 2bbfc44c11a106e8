/**
 * Benchmark of the IVF engine against an exact scan over the same vectors, in one run.
 * `npm run bench:ivf -- --help` lists the options; BENCHMARKS.md records results.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { IvfIndex, suggestNlist } from '../src/index.ts';
import type { SearchHit } from '../src/index.ts';
import { parseArgs } from './args.ts';
import type { BenchArgs } from './args.ts';
import { runCrossover } from './crossover.ts';
import { Mixture, held_out_base, query_base } from './data.ts';
import { runDrift } from './drift.ts';
import { runGrow } from './grow.ts';
import { runLoadOnly, runLoadTest } from './load-test.ts';
import { k_recall, log, meanRecall, pickNprobe, summarise, timeQueries } from './measure.ts';
import { NpyWriter, writeNpy } from './npy.ts';

const chunk_vectors = 10_000;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapBytes(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

export function makeQueries(mixture: Mixture, count: number, base: number): Float32Array[] {
  return Array.from({ length: count }, (_, j) => mixture.vector(base + j));
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function runMain(args: BenchArgs): Record<string, unknown> {
  const { n, dim, seed } = args;
  const mixture = new Mixture({ n, dim, seed, kind: args.data });
  if (args.export_dir !== undefined) mkdirSync(args.export_dir, { recursive: true });
  const base = args.export_dir === undefined ? null : new NpyWriter(join(args.export_dir, 'base.npy'), n, dim);
  const memBefore = heapBytes();
  let index: IvfIndex | null = new IvfIndex({ dim, metric: 'cosine', seed });
  let t = performance.now();
  const chunk = new Float32Array(chunk_vectors * dim);
  for (let start = 0; start < n; start += chunk_vectors) {
    const count = Math.min(chunk_vectors, n - start);
    for (let r = 0; r < count; r++) mixture.write(start + r, chunk, r * dim);
    base?.write(chunk.subarray(0, count * dim));
    for (let r = 0; r < count; r++) index.add(`v${start + r}`, chunk.subarray(r * dim, (r + 1) * dim));
    if ((start / chunk_vectors) % 20 === 0) log(`generated ${start + count}/${n}`);
  }
  base?.close();
  const build_ms = performance.now() - t;

  const nlist = args.nlist ?? suggestNlist(n);
  log(`training nlist=${nlist} over ${n} vectors`);
  t = performance.now();
  const centroids = index.train({ nlist, seed });
  const train_ms = performance.now() - t;
  t = performance.now();
  index.applyCentroids(centroids);
  const apply_ms = performance.now() - t;
  const stats = index.stats();
  const bytesPerVector = (heapBytes() - memBefore) / n;
  const typedPerVector = index.typedBytes() / n;
  log(`trained in ${round(train_ms, 0)} ms, applied in ${round(apply_ms, 0)} ms; imbalance ${round(stats.imbalance)}`);

  const queries = makeQueries(mixture, args.queries, query_base);
  const heldOut = makeQueries(mixture, args.held_out, held_out_base);
  const ix = index;
  log(`exact scan over ${queries.length} queries`);
  timeQueries(queries.slice(0, 20), (q) => ix.search(q, k_recall, { exact: true })); // warm
  const exact = timeQueries(queries, (q) => ix.search(q, k_recall, { exact: true }));
  const heldTruth = heldOut.map((q) => ix.search(q, k_recall, { exact: true }));

  let nprobe = args.nprobe;
  let heldRecall: number | null = null;
  if (nprobe === undefined) {
    const picked = pickNprobe(ix, heldOut, heldTruth, args.recall_target);
    nprobe = picked.nprobe;
    heldRecall = picked.recall;
    log(`picked nprobe=${nprobe} (held-out recall ${round(picked.recall)})`);
  }
  const np = Math.min(nprobe, ix.nlist);
  timeQueries(queries, (q) => ix.search(q, k_recall, { nprobe: np })); // warm
  const ivf = timeQueries(queries, (q) => ix.search(q, k_recall, { nprobe: np }));
  const recall = meanRecall(ivf.hits, exact.hits, ix.metric);
  let scanned = 0;
  for (const q of queries) scanned += ix.scanCount(q, np);
  const ivfT = summarise(ivf.ms);
  const exactT = summarise(exact.ms);

  const result: Record<string, unknown> = {
    engine: 'cairn-ivf', data: args.data, metric: 'cosine', n, dim, seed, queries: queries.length,
    nlist: ix.nlist, nprobe: np, nprobe_picked: args.nprobe === undefined,
    held_out_recall_at_10: heldRecall === null ? null : round(heldRecall),
    recall_at_10: round(recall, 4),
    ms_per_query_ivf: round(ivfT.median), p99_ms_ivf: round(ivfT.p99),
    ms_per_query_exact: round(exactT.median), p99_ms_exact: round(exactT.p99),
    speedup_vs_exact: round(exactT.median / ivfT.median, 1),
    vectors_scanned_per_query: Math.round(scanned / queries.length),
    train_ms: Math.round(train_ms), apply_ms: Math.round(apply_ms), build_ms: Math.round(build_ms),
    // Typed arrays (vectors, norms, tags, centroids) counted exactly; the heap delta also includes
    // ids and the id map, but garbage collection timing makes it noisy (see BENCHMARKS.md).
    bytes_per_vector: round(typedPerVector, 1), heap_bytes_per_vector_measured: Math.round(bytesPerVector),
    imbalance: round(stats.imbalance), list_size_max: stats.list_size_max, retrain_due: ix.retrainDue(),
    node: process.version,
  };

  if (args.export_dir !== undefined) {
    writeNpy(join(args.export_dir, 'queries.npy'), queries, dim);
    writeNpy(join(args.export_dir, 'held_out.npy'), heldOut, dim);
    const c = new NpyWriter(join(args.export_dir, 'centroids.npy'), ix.nlist, dim);
    c.write(centroids);
    c.close();
    writeFileSync(join(args.export_dir, 'params.json'), `${JSON.stringify({ ...result, k: k_recall })}\n`);
    log(`exported to ${args.export_dir}`);
  }

  if (args.load_test) {
    const sample = queries.slice(0, 20);
    const sampleHits: SearchHit[][] = sample.map((q) => ix.search(q, k_recall, { nprobe: np }));
    const lists = new Int32Array(n);
    for (let i = 0; i < n; i++) lists[i] = ix.listOf(`v${i}`);
    const sizes = ix.listSizes();
    const training = ix.trainingState();
    index = null; // release before loading a second copy
    Object.assign(result, runLoadTest(args, mixture, { centroids, lists, sizes, training, np, sample, sampleHits }));
  }
  return result;
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  if (args.load_only && args.db_path === undefined) throw new Error('--load-only needs --db PATH');
  const result = args.load_only ? runLoadOnly(args.db_path!) : args.crossover ? runCrossover(args) : args.drift ? runDrift(args) : args.grow ? runGrow(args) : runMain(args);
  if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

main();
