import { IvfIndex, suggestNlist } from '../src/index.ts';
import type { BenchArgs } from './args.ts';
import { Mixture, query_base } from './data.ts';
import { k_recall, log, meanRecall, summarise, timeQueries } from './measure.ts';

/**
 * Growth 4x: train on the first n/4 vectors, insert the rest, checking retrainDue() every 1% of n
 * and retraining when due; the same inserts without retraining for comparison. Recall and latency
 * at one fixed nprobe on queries from the same distribution.
 */
export function runGrow(args: BenchArgs): Record<string, unknown> {
  const { n, dim, seed } = args;
  const mixture = new Mixture({ n, dim, seed, kind: args.data });
  const nprobe = args.nprobe ?? 16;
  const queries = Array.from({ length: args.queries }, (_, j) => mixture.vector(query_base + j));
  const v = new Float32Array(dim);
  const run = (policy: boolean): Record<string, unknown> => {
    const index = new IvfIndex({ dim, metric: 'cosine', seed });
    const start = Math.floor(n / 4);
    for (let i = 0; i < start; i++) {
      mixture.write(i, v, 0);
      index.add(`v${i}`, v);
    }
    index.applyCentroids(index.train({ nlist: suggestNlist(start), seed }));
    const retrainedAt: number[] = [];
    let retrainMs = 0;
    const step = Math.max(1, Math.floor(n / 100));
    for (let i = start; i < n; i++) {
      mixture.write(i, v, 0);
      index.add(`v${i}`, v);
      if (policy && (i + 1) % step === 0 && index.retrainDue()) {
        const t = performance.now();
        index.applyCentroids(index.train({ nlist: suggestNlist(index.size), seed }));
        retrainMs += performance.now() - t;
        retrainedAt.push(index.size);
      }
    }
    const exact = queries.map((q) => index.search(q, k_recall, { exact: true }));
    const np = Math.min(nprobe, index.nlist);
    timeQueries(queries, (q) => index.search(q, k_recall, { nprobe: np }));
    const timed = timeQueries(queries, (q) => index.search(q, k_recall, { nprobe: np }));
    const s = index.stats();
    let scanned = 0;
    for (const q of queries) scanned += index.scanCount(q, np);
    const out = {
      policy, size: s.size, nlist: s.nlist, nprobe: np, trained_at_size: s.trained_at_size,
      retrained_at: retrainedAt, retrain_ms: Math.round(retrainMs),
      imbalance: Math.round(s.imbalance * 100) / 100, list_size_max: s.list_size_max,
      recall_at_10: Math.round(meanRecall(timed.hits, exact, 'cosine') * 1000) / 1000,
      ms_per_query_ivf: Math.round(summarise(timed.ms).median * 1000) / 1000,
      vectors_scanned_per_query: Math.round(scanned / queries.length),
    };
    log(JSON.stringify(out));
    return out;
  };
  return { mode: 'grow', data: args.data, n, dim, seed, queries: queries.length, without_policy: run(false), with_policy: run(true) };
}
