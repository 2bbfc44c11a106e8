// npm run bench -- --sections worker-priority [--seconds 5] [--rounds 3]
//
// What running the worker threads below the main thread (packages/server/src/worker-priority.ts)
// buys the event loop when both compete for one core. This process and every thread of it are
// pinned to one CPU (taskset -a); the real prepare pool (2 threads) is kept busy with documents
// of ~200 KiB of prose (tokens, sha256, passages, the hashing embedder at 384 dimensions), while
// the main thread does what a node's does between requests: 1 ms of work, then a 4 ms timer,
// over and over. Measured: how late each timer fires (the wait a heartbeat or a /_raft/health
// answer would see) and how many documents the pool prepared. Alternating rounds with the pool's
// threads at the main thread's level (nice_increment 0) and at the shipped increment.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { PreparePool } from '../packages/server/src/store/prepare-pool.ts';
import { worker_nice_increment } from '../packages/server/src/worker-priority.ts';
import { load1, percentile, round } from './stats.ts';

export interface PriorityRow {
  round: number;
  nice_increment: number;
  ticks: number;
  late_p50_ms: number;
  late_p99_ms: number;
  late_max_ms: number;
  docs_prepared: number;
  docs_per_s: number;
  load: number;
}

export interface PriorityMeta {
  command: string;
  commit: string;
  machine: string;
  seconds: number;
  rounds: number;
  md: boolean;
  repoRoot: string;
  log: (line: string) => void;
}

const START = '<!-- worker-priority-bench:start -->';
const END = '<!-- worker-priority-bench:end -->';

/** ~200 KiB of seeded prose-like text: words of a 2,000-word vocabulary, sentences and paragraphs. */
function prose(seed: number): string {
  let s = seed >>> 0;
  const rand = (): number => {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    return s / 2 ** 32;
  };
  const word = (): string => {
    const n = Math.floor(2_000 ** rand());
    let w = '';
    for (let k = n + 7; w.length < 2 + (n % 9); k = Math.floor(k / 3) + 11) w += String.fromCharCode(97 + (k % 26));
    return w;
  };
  const parts: string[] = [];
  let bytes = 0;
  while (bytes < 200 * 1024) {
    const sentence = Array.from({ length: 6 + Math.floor(rand() * 14) }, word).join(' ');
    const piece = `${sentence[0]?.toUpperCase() ?? ''}${sentence.slice(1)}.${rand() < 0.15 ? '\n\n' : ' '}`;
    parts.push(piece);
    bytes += piece.length;
  }
  return parts.join('');
}

async function oneRound(roundNo: number, nice_increment: number, seconds: number, docs: string[]): Promise<PriorityRow> {
  const pool = new PreparePool({ threads_max: 2, queue_max: 8, nice_increment });
  try {
    // Both threads started and warm before the clock runs.
    await Promise.all([0, 1].map((i) => pool.run({ content: docs[i] ?? '', hashing_dim: 384, passage_tokens: 256 })));
    let running = true;
    let prepared = 0;
    const feed = async (lane: number): Promise<void> => {
      for (let i = lane; running; i += 2) {
        await pool.run({ content: docs[i % docs.length] ?? '', hashing_dim: 384, passage_tokens: 256 });
        if (running) prepared += 1;
      }
    };
    const lanes = [feed(0), feed(1)];
    const late: number[] = [];
    const started = performance.now();
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const s = performance.now();
        while (performance.now() - s < 1) {
          // 1 ms of the main thread's own work
        }
        if (performance.now() - started > seconds * 1000) {
          resolve();
          return;
        }
        const due = performance.now() + 4;
        setTimeout(() => {
          late.push(performance.now() - due);
          tick();
        }, 4);
      };
      tick();
    });
    const elapsed = (performance.now() - started) / 1000;
    running = false;
    await Promise.all(lanes);
    return {
      round: roundNo,
      nice_increment,
      ticks: late.length,
      late_p50_ms: round1(percentile(late, 50)),
      late_p99_ms: round1(percentile(late, 99)),
      late_max_ms: round1(Math.max(...late)),
      docs_prepared: prepared,
      docs_per_s: round(prepared / elapsed, 1),
      load: load1(),
    };
  } finally {
    await pool.close();
  }
}


const round1 = (x: number): number => round(x, 1);

export async function workerPrioritySection(meta: PriorityMeta): Promise<PriorityRow[]> {
  const cpu = String(cpus().length - 1);
  // Every thread of this process, the pool's included (they inherit it), on one CPU.
  execFileSync('taskset', ['-a', '-p', '-c', cpu, String(process.pid)], { stdio: 'ignore' });
  const docs = Array.from({ length: 8 }, (_, i) => prose(i + 1));
  const rows: PriorityRow[] = [];
  for (let r = 1; r <= meta.rounds; r++) {
    for (const inc of [0, worker_nice_increment]) {
      const row = await oneRound(r, inc, meta.seconds, docs);
      meta.log(`worker-priority round ${r}, nice +${inc}: timer late p50 ${row.late_p50_ms} / p99 ${row.late_p99_ms} / max ${row.late_max_ms} ms, ${row.ticks} ticks, ${row.docs_per_s} docs/s`);
      rows.push(row);
    }
  }
  const date = new Date().toISOString();
  mkdirSync(join(meta.repoRoot, 'bench', 'results'), { recursive: true });
  const raw = join(meta.repoRoot, 'bench', 'results', `worker-priority-${date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(raw, `${JSON.stringify({ date, command: meta.command, commit: meta.commit, machine: meta.machine, cpu, rows }, null, 2)}\n`);
  if (meta.md) {
    const md = join(meta.repoRoot, 'BENCHMARKS.md');
    const current = existsSync(md) ? readFileSync(md, 'utf8') : '# Cairn benchmarks\n';
    writeFileSync(md, withSection(current, markdown(date, meta, cpu, rows, raw.slice(meta.repoRoot.length + 1))));
  }
  return rows;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
}

function markdown(date: string, meta: PriorityMeta, cpu: string, rows: PriorityRow[], raw: string): string {
  const lines = [
    START,
    '## Worker threads below the event loop (`npm run bench -- --sections worker-priority`)',
    '',
    `Measured ${date.slice(0, 16).replace('T', ' ')} UTC at commit ${meta.commit} with \`${meta.command}\` on ${meta.machine}. Raw results: \`${raw}\`.`,
    '',
    `The bench process and all its threads on CPU ${cpu} (taskset -a). The prepare pool's 2 threads kept busy with ~200 KiB prose documents`,
    '(tokens, sha256, passages, the 384-dimension hashing embedder); the main thread does 1 ms of work, then waits on a 4 ms timer, for',
    `${meta.seconds} s a round. "Late": how long after its due time each timer fired. Rounds alternate the pool's threads at the main thread's`,
    `level (+0) and at the shipped \`worker_nice_increment\` (+${worker_nice_increment}).`,
    '',
    '| round | pool threads at | ticks | late p50 ms | late p99 ms | late max ms | documents prepared/s | load |',
    '|---:|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.round} | nice +${r.nice_increment} | ${r.ticks} | ${r.late_p50_ms} | ${r.late_p99_ms} | ${r.late_max_ms} | ${r.docs_per_s} | ${r.load} |`),
    '',
  ];
  const at = (inc: number, f: (r: PriorityRow) => number): number => round(median(rows.filter((r) => r.nice_increment === inc).map(f)), 1);
  const base = (f: (r: PriorityRow) => number): number => at(0, f);
  const low = (f: (r: PriorityRow) => number): number => at(worker_nice_increment, f);
  const ratio = (a: number, b: number): string => (b > 0 ? `${round(a / b, 2)}x` : 'n/a');
  lines.push(
    `Medians over the rounds, +${worker_nice_increment} against +0: timer late p50 ${low((r) => r.late_p50_ms)} / ${base((r) => r.late_p50_ms)} ms (${ratio(low((r) => r.late_p50_ms), base((r) => r.late_p50_ms))}), ` +
      `p99 ${low((r) => r.late_p99_ms)} / ${base((r) => r.late_p99_ms)} ms (${ratio(low((r) => r.late_p99_ms), base((r) => r.late_p99_ms))}), ` +
      `ticks ${low((r) => r.ticks)} / ${base((r) => r.ticks)}, documents prepared ${low((r) => r.docs_per_s)} / ${base((r) => r.docs_per_s)} a second (${ratio(low((r) => r.docs_per_s), base((r) => r.docs_per_s))}).`,
    '',
    END,
  );
  return lines.join('\n');
}

function withSection(current: string, section: string): string {
  const a = current.indexOf(START);
  const b = current.indexOf(END);
  if (a >= 0 && b > a) return current.slice(0, a) + section + current.slice(b + END.length);
  return `${current.trimEnd()}\n\n${section}\n`;
}
