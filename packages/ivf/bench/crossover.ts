import { IvfIndex, suggestNlist } from '../src/index.ts';
import type { BenchArgs } from './args.ts';
import { Mixture, held_out_base, query_base } from './data.ts';
import { k_recall, log, meanRecall, pickNprobe, summarise, timeQueries } from './measure.ts';

/**
 * For growing n: IVF (nlist = suggestNlist(n), nprobe picked for the recall target on held-out
 * queries) against an exact scan, one query at a time. The crossover is the smallest n from
 * which IVF is faster.
 */
export function runCrossover(args: BenchArgs): Record<string, unknown> {
  const sizes = [500, 1000, 2000, 4000, 8000, 16000, 32000, 64000].filter((s) => s <= args.n);
  const rows: Record<string, unknown>[] = [];
  let crossover: number | null = null;
  for (const n of sizes) {
    const mixture = new Mixture({ n, dim: args.dim, seed: args.seed, kind: args.data });
    const index = new IvfIndex({ dim: args.dim, seed: args.seed, exact_scan_size_max: 0 });
    for (let i = 0; i < n; i++) index.add(`v${i}`, mixture.vector(i));
    index.applyCentroids(index.train({ nlist: suggestNlist(n) }));
    const queries = Array.from({ length: Math.min(args.queries, 200) }, (_, j) => mixture.vector(query_base + j));
    const heldOut = Array.from({ length: Math.min(args.held_out, 100) }, (_, j) => mixture.vector(held_out_base + j));
    const heldTruth = heldOut.map((q) => index.search(q, k_recall, { exact: true }));
    const { nprobe } = pickNprobe(index, heldOut, heldTruth, args.recall_target);
    timeQueries(queries, (q) => index.search(q, k_recall, { exact: true }));
    const exact = timeQueries(queries, (q) => index.search(q, k_recall, { exact: true }));
    timeQueries(queries, (q) => index.search(q, k_recall, { nprobe }));
    const ivf = timeQueries(queries, (q) => index.search(q, k_recall, { nprobe }));
    const e = summarise(exact.ms).median;
    const f = summarise(ivf.ms).median;
    const row = {
      n, nlist: index.nlist, nprobe, recall_at_10: Math.round(meanRecall(ivf.hits, exact.hits, 'cosine') * 1000) / 1000,
      ms_per_query_ivf: Math.round(f * 1000) / 1000, ms_per_query_exact: Math.round(e * 1000) / 1000,
    };
    log(JSON.stringify(row));
    rows.push(row);
    if (f < e && crossover === null) crossover = n;
    if (f >= e) crossover = null;
  }
  return { mode: 'crossover', data: args.data, dim: args.dim, recall_target: args.recall_target, crossover_n: crossover, rows };
}
