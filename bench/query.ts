// Query latency at N documents in one workspace: search (lexical, vector, hybrid) and assemble,
// one query at a time, after a warm-up.

import { percentile, round, load1 } from './stats.ts';

const QUERIES = [
  'raft snapshot follower', 'vector search latency', 'quorum fsync journal', 'context assemble token budget', 'leader commit index term',
  'alpha omega sigma', 'checksum resync heartbeat', 'workspace cluster replica', 'sqlite document throughput', 'gamma delta epsilon',
];

export interface QueryResult {
  kind: string;
  queries: number;
  p50_ms: number;
  p99_ms: number;
  load: number;
}

async function timed(url: string, path: string, ws: string, body: unknown): Promise<number> {
  const t = performance.now();
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-workspace-id': ws }, body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`${path}: ${res.status} ${text.slice(0, 300)}`);
  return performance.now() - t;
}

export async function measureQueries(url: string, ws: string, count: number): Promise<QueryResult[]> {
  const kinds: Array<[string, string, (q: string) => unknown]> = [
    ['search lexical k=10', '/api/v1/search', (q) => ({ query: q, k: 10, mode: 'lexical' })],
    ['search vector k=10', '/api/v1/search', (q) => ({ query: q, k: 10, mode: 'vector' })],
    ['search hybrid k=10', '/api/v1/search', (q) => ({ query: q, k: 10, mode: 'hybrid' })],
    ['assemble max_tokens=4000', '/api/v1/assemble', (q) => ({ query: q, max_tokens: 4000 })],
  ];
  const out: QueryResult[] = [];
  for (const [kind, path, body] of kinds) {
    for (let i = 0; i < 5; i++) await timed(url, path, ws, body(QUERIES[i % QUERIES.length] as string));
    const ms: number[] = [];
    for (let i = 0; i < count; i++) ms.push(await timed(url, path, ws, body(`${QUERIES[i % QUERIES.length] as string} ${i % 7 === 0 ? 'document' : ''}`.trim())));
    out.push({ kind, queries: count, p50_ms: round(percentile(ms, 50)), p99_ms: round(percentile(ms, 99)), load: load1() });
  }
  return out;
}
