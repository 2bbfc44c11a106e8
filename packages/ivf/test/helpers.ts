import { IvfIndex } from '../src/index.ts';
import type { Metric, SearchHit } from '../src/index.ts';
import { Mixture } from '../bench/data.ts';
import type { DataKind } from '../bench/data.ts';

export interface Dataset {
  ids: string[];
  vectors: Float32Array[];
  tags: string[];
  mixture: Mixture;
}

export function dataset(n: number, dim: number, opts: { seed?: number; kind?: DataKind; topics?: number; from?: number } = {}): Dataset {
  const mixture = new Mixture({ n, dim, seed: opts.seed ?? 7, kind: opts.kind ?? 'mixture', topics: opts.topics });
  const from = opts.from ?? 0;
  const ids: string[] = [];
  const vectors: Float32Array[] = [];
  const tags: string[] = [];
  for (let i = from; i < from + n; i++) {
    ids.push(`doc-${i}`);
    vectors.push(mixture.vector(i));
    tags.push(i % 3 === 0 ? 'ws-a' : 'ws-b');
  }
  return { ids, vectors, tags, mixture };
}

export function build(d: Dataset, metric: Metric = 'cosine', exactMax = 0): IvfIndex {
  const index = new IvfIndex({ dim: d.vectors[0]!.length, metric, exact_scan_size_max: exactMax });
  d.ids.forEach((id, i) => index.add(id, d.vectors[i]!, d.tags[i]));
  return index;
}

function score(metric: Metric, q: Float32Array, v: Float32Array): number {
  let dot = 0;
  let qq = 0;
  let vv = 0;
  let l2 = 0;
  for (let j = 0; j < q.length; j++) {
    dot += q[j]! * v[j]!;
    qq += q[j]! * q[j]!;
    vv += v[j]! * v[j]!;
    l2 += (q[j]! - v[j]!) ** 2;
  }
  if (metric === 'cosine') return dot / Math.sqrt(qq * vv);
  if (metric === 'ip') return dot;
  return -l2;
}

/** Brute force over the dataset (optionally restricted to one tag), best first. */
export function bruteForce(d: Dataset, q: Float32Array, k: number, metric: Metric, tag?: string): SearchHit[] {
  const all: SearchHit[] = [];
  d.ids.forEach((id, i) => {
    if (tag === undefined || d.tags[i] === tag) all.push({ id, score: score(metric, q, d.vectors[i]!) });
  });
  all.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
  return all.slice(0, k);
}

/** ann-benchmarks recall: hits whose score is within the true k-th score (tolerance 1e-3). */
export function recall(got: SearchHit[], truth: SearchHit[]): number {
  const kth = truth[truth.length - 1]!.score;
  let ok = 0;
  for (const h of got) if (h.score >= kth - 1e-3) ok++;
  return ok / truth.length;
}

export function queries(d: Dataset, count: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < count; i++) out.push(d.mixture.vector(1_000_000 + i));
  return out;
}

export function meanRecall(index: IvfIndex, d: Dataset, qs: Float32Array[], nprobe?: number): number {
  let sum = 0;
  for (const q of qs) sum += recall(index.search(q, 10, { nprobe }), bruteForce(d, q, 10, index.metric));
  return sum / qs.length;
}
