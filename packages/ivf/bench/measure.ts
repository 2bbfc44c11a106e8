import type { IvfIndex, SearchHit } from '../src/index.ts';

export const k_recall = 10;

/** ann-benchmarks recall@k: a hit counts when its distance is within the true k-th distance + 1e-3. */
export function recallAt(got: SearchHit[], truth: SearchHit[], metric: IvfIndex['metric']): number {
  if (truth.length === 0) return 1;
  const dist = (s: number): number => (metric === 'cosine' ? 1 - s : metric === 'l2' ? Math.sqrt(Math.max(0, -s)) : -s);
  const kth = dist(truth[truth.length - 1]!.score);
  let ok = 0;
  for (const h of got) if (dist(h.score) <= kth + 1e-3) ok++;
  return ok / truth.length;
}

export interface Timing {
  median: number;
  p99: number;
  mean: number;
}

export function summarise(ms: number[]): Timing {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { median: at(0.5), p99: at(0.99), mean: s.reduce((x, y) => x + y, 0) / s.length };
}

/** Runs every query once, one at a time, timing each; returns hits and times. */
export function timeQueries(
  queries: Float32Array[], run: (q: Float32Array) => SearchHit[],
): { hits: SearchHit[][]; ms: number[] } {
  const hits: SearchHit[][] = [];
  const ms: number[] = [];
  for (const q of queries) {
    const t = performance.now();
    hits.push(run(q));
    ms.push(performance.now() - t);
  }
  return { hits, ms };
}

export function meanRecall(hits: SearchHit[][], truth: SearchHit[][], metric: IvfIndex['metric']): number {
  let sum = 0;
  hits.forEach((h, i) => (sum += recallAt(h, truth[i]!, metric)));
  return sum / hits.length;
}

/** Candidate nprobe values, increasing, up to nlist. */
export function nprobeLadder(nlist: number): number[] {
  const out: number[] = [];
  for (let p = 1; p < nlist; p = p < 4 ? p + 1 : Math.ceil(p * 1.25)) out.push(p);
  out.push(nlist);
  return out;
}

/** Smallest nprobe on the ladder whose mean recall on the held-out queries reaches `target`. */
export function pickNprobe(
  index: IvfIndex, heldOut: Float32Array[], truth: SearchHit[][], target: number,
): { nprobe: number; recall: number } {
  const ladder = nprobeLadder(index.nlist);
  let lo = 0;
  let hi = ladder.length - 1;
  const recallFor = (p: number): number =>
    meanRecall(heldOut.map((q) => index.search(q, k_recall, { nprobe: p })), truth, index.metric);
  // Recall grows with nprobe: binary search the ladder.
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (recallFor(ladder[mid]!) >= target) hi = mid;
    else lo = mid + 1;
  }
  const nprobe = ladder[lo]!;
  return { nprobe, recall: recallFor(nprobe) };
}

export function log(message: string): void {
  process.stderr.write(`[bench:ivf ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
