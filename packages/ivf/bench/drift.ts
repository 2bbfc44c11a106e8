import { IvfIndex, suggestNlist } from '../src/index.ts';
import type { BenchArgs } from './args.ts';
import { Mixture, query_base } from './data.ts';
import { k_recall, log, meanRecall, summarise, timeQueries } from './measure.ts';

/**
 * Drift: train on the vectors of the first half of the topics, insert the rest without
 * retraining, then apply the retrain policy (retrainDue -> train -> applyCentroids). Recall and
 * latency at one fixed nprobe, queries from the final distribution.
 */
export function runDrift(args: BenchArgs): Record<string, unknown> {
  const { n, dim, seed } = args;
  const mixture = new Mixture({ n, dim, seed, kind: args.data });
  const half = Math.floor(mixture.topics / 2);
  const index = new IvfIndex({ dim, metric: 'cosine', seed });
  const v = new Float32Array(dim);
  for (let i = 0; i < n; i++) {
    if (mixture.topicOf(i) >= half) continue;
    mixture.write(i, v, 0);
    index.add(`v${i}`, v);
  }
  const nprobe = args.nprobe ?? 16;
  const queries = Array.from({ length: args.queries }, (_, j) => mixture.vector(query_base + j));
  const measure = (label: string): Record<string, unknown> => {
    const exact = queries.map((q) => index.search(q, k_recall, { exact: true }));
    const np = Math.min(nprobe, index.nlist);
    timeQueries(queries, (q) => index.search(q, k_recall, { nprobe: np }));
    const run = timeQueries(queries, (q) => index.search(q, k_recall, { nprobe: np }));
    const t = summarise(run.ms);
    const s = index.stats();
    let scanned = 0;
    for (const q of queries) scanned += index.scanCount(q, np);
    const out = {
      size: s.size, nlist: s.nlist, nprobe: np, imbalance: Math.round(s.imbalance * 100) / 100,
      list_size_max: s.list_size_max, recall_at_10: Math.round(meanRecall(run.hits, exact, 'cosine') * 1000) / 1000,
      ms_per_query_ivf: Math.round(t.median * 1000) / 1000, p99_ms_ivf: Math.round(t.p99 * 1000) / 1000,
      vectors_scanned_per_query: Math.round(scanned / queries.length), residual_growth: Math.round(s.residual_growth * 1000) / 1000,
      retrain_due: index.retrainDue(),
    };
    log(`${label}: ${JSON.stringify(out)}`);
    return out;
  };
  const train = (): number => {
    const t = performance.now();
    index.applyCentroids(index.train({ nlist: args.nlist ?? suggestNlist(index.size), seed }));
    return Math.round(performance.now() - t);
  };
  log(`training on ${index.size} vectors of ${half}/${mixture.topics} topics`);
  const first_train_ms = train();
  const trained = measure('trained on half the topics');
  let dueAt: number | null = null;
  for (let i = 0; i < n; i++) {
    if (mixture.topicOf(i) < half) continue;
    mixture.write(i, v, 0);
    index.add(`v${i}`, v);
    if (dueAt === null && i % 1000 === 0 && index.retrainDue()) dueAt = index.size;
  }
  const inserted = measure('rest inserted, no retrain');
  let retrains = 0;
  let retrain_ms = 0;
  while (index.retrainDue() && retrains < 3) {
    retrain_ms += train();
    retrains++;
  }
  const after = measure('after the retrain policy');
  return {
    mode: 'drift', data: args.data, n, dim, seed, queries: queries.length, topics: mixture.topics,
    first_train_ms, retrain_due_at_size: dueAt, retrains, retrain_ms,
    trained_on_half: trained, inserted_rest_no_retrain: inserted, after_retrain_policy: after,
  };
}
