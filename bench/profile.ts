// Where the leader's time goes: reads a .cpuprofile written by node --cpu-prof and sums self
// time per function (name, file, line), highest first.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../test/helpers/cluster.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileLine {
  fn: string;
  where: string;
  self_pct: number;
}

export function summarizeProfile(dir: string, top = 15): { file: string; total_ms: number; lines: ProfileLine[]; by_area: Record<string, number> } {
  // --cpu-prof writes one file per thread (tsx's loader runs in a worker): the main thread's is the largest.
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort((a, b) => statSync(join(dir, a)).size - statSync(join(dir, b)).size)
    .pop();
  if (file === undefined) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const area = new Map<string, number>();
  let total = 0;
  for (const [i, id] of profile.samples.entries()) {
    const dt = profile.timeDeltas[i] ?? 0;
    const n = byId.get(id);
    if (n === undefined) continue;
    const url = n.callFrame.url.replace('file://', '');
    const local = url.startsWith(REPO_ROOT) ? relative(REPO_ROOT, url) : url.replace(/.*node_modules\//, 'node_modules/').replace(/^\/.*?\/(packages|bench|test)\//, '$1/');
    const where = url === '' ? '(native)' : `${local}:${n.callFrame.lineNumber + 1}`;
    const key = `${n.callFrame.functionName || '(anonymous)'}\t${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
    const a = areaOf(n.callFrame.functionName, url);
    area.set(a, (area.get(a) ?? 0) + dt);
    total += dt;
  }
  const lines = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, us]) => {
      const [fn, where] = k.split('\t') as [string, string];
      return { fn, where, self_pct: Math.round((us / total) * 1000) / 10 };
    });
  const byArea = Object.fromEntries([...area].sort((a, b) => b[1] - a[1]).map(([k, us]) => [k, Math.round((us / total) * 1000) / 10]));
  return { file: join(dir, file), total_ms: Math.round(total / 1000), lines, by_area: byArea };
}

function areaOf(fn: string, url: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'garbage collection';
  if (fn === '(program)') return 'program (native, unattributed)';
  if (url.includes('better-sqlite3')) return 'better-sqlite3 (SQLite, fsync)';
  if (url.includes('msgpackr')) return 'msgpack';
  if (url.includes('js-tiktoken') || url.includes('store/tokens')) return 'token counting';
  if (url.includes('hono') || url.includes('@hono')) return 'HTTP framework (hono)';
  if (url.includes('pino')) return 'logging (pino)';
  if (url.includes('embed/')) return 'embedding';
  if (url.includes('packages/ivf')) return 'vector index (IVF k-means training, list assignment)';
  if (url.includes('packages/raft') || url.includes('replication/')) return 'replication';
  if (url.includes('store/')) return 'document store';
  if (url.startsWith('node:') || url === '') return 'node internals / native (HTTP, fetch, streams)';
  if (url.includes('undici')) return 'node internals / native (HTTP, fetch, streams)';
  return 'other';
}
