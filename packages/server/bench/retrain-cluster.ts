// Retraining on three real nodes: one workspace grows to N documents (built-in 384-dimension
// hashing embedding, computed on the leader) through POST /api/v1/documents/bulk; the leader
// retrains it automatically at each doubling (4,097, ~8k, ~17k, ~34k, ~68k, ~136k vectors) in a
// worker thread while the load goes on. Meanwhile the leader's /_raft/health is polled every
// 100 ms and its /metrics every second (cairn_nodejs_eventloop_lag_max_seconds: the event loop's
// worst delay since the previous scrape, from perf_hooks.monitorEventLoopDelay). Prints every
// retrain the leader logged, the worst health answer and event-loop delay inside each retrain's
// window (from its copy to its op applied on the leader, plus 2 s), and whether the nodes end
// with the same state checksum.
//
//   node --import tsx packages/server/bench/retrain-cluster.ts [--n 140000] [--json FILE]
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { startCluster } from '../../../test/helpers/cluster.ts';
import { waitFor } from '../../../test/helpers/wait.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}
const n = Number(arg('n', '140000'));
const jsonOut = arg('json', '');
const ws = 'grow';
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

interface LogLine {
  time: number;
  msg: string;
  [k: string]: unknown;
}

const cluster = await startCluster({ nodes: 3, configOverrides: { server: { log_level: 'info' } } });
try {
  const base = cluster.leader.url;
  const started = Date.now();
  const health: { at: number; ms: number }[] = [];
  const lag: { at: number; ms: number }[] = [];
  let running = true;
  const poll = (async () => {
    while (running) {
      const t = performance.now();
      const res = await fetch(`${base}/_raft/health`, { signal: AbortSignal.timeout(600_000) });
      await res.arrayBuffer();
      health.push({ at: Date.now(), ms: performance.now() - t });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const scrape = (async () => {
    while (running) {
      const text = await (await fetch(`${base}/metrics`)).text();
      const m = /^cairn_nodejs_eventloop_lag_max_seconds(?:\{[^}]*\})? ([\d.e+-]+)$/m.exec(text);
      if (m !== null) lag.push({ at: Date.now(), ms: Number(m[1]) * 1000 });
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();

  let next = 0;
  const words = Array.from({ length: 3000 }, (_, i) => `w${(i * 2654435761) % 99991}`);
  await Promise.all(
    [0, 1, 2, 3].map(async () => {
      while (next < n) {
        const from = next;
        next += 50;
        const docs = Array.from({ length: Math.min(50, n - from) }, (_, j) => {
          const i = from + j;
          const topic = i % 60;
          return { id: `doc-${i}`, content: Array.from({ length: 40 }, (_, k) => words[(topic * 53 + ((i * 31 + k * 17) % 400)) % words.length]).join(' ') };
        });
        for (let attempt = 1; ; attempt++) {
          const res = await fetch(`${base}/api/v1/documents/bulk?write_concern=leader`, {
            method: 'POST', headers: { 'content-type': 'application/json', 'x-workspace-id': ws }, body: JSON.stringify(docs),
          });
          await res.arrayBuffer();
          if (res.status === 201 || res.status === 200) break;
          if (attempt >= 20) throw new Error(`bulk ${from}: ${res.status}`);
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }),
  );
  const loaded_s = (Date.now() - started) / 1000;
  console.log(`loaded ${n} documents in ${loaded_s.toFixed(1)} s (load ${load()})`);
  // The last retrain (at ~2x the previous size) may still be training: wait for it.
  const logOf = (): LogLine[] => cluster.leader.logTail(10_000_000).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
  await waitFor(() => {
    const lines = logOf();
    const s = lines.filter((l) => l.msg === 'vector index retrain started').length;
    const d = lines.filter((l) => l.msg === 'vector index retrained' || l.msg === 'vector index retrain failed').length;
    return s === d;
  }, { what: 'the running retrain to finish', timeoutMs: 600_000, intervalMs: 1000 });
  await new Promise((r) => setTimeout(r, 3000));
  running = false;
  await Promise.all([poll, scrape]);

  const lines = logOf();
  const starts = lines.filter((l) => l.msg === 'vector index retrain started');
  const retrains = lines.filter((l) => l.msg === 'vector index retrained').map((r, i) => {
    const from = starts[i]?.time ?? r.time;
    const inWindow = <T extends { at: number; ms: number }>(xs: T[]): number => Math.round(Math.max(0, ...xs.filter((x) => x.at >= from && x.at <= r.time + 2000).map((x) => x.ms)));
    // The op's apply on the leader ends just before the record is logged.
    const applyFrom = r.time - Number(r['apply_ms'] ?? 0) - 200;
    const inApply = <T extends { at: number; ms: number }>(xs: T[]): number => Math.round(Math.max(0, ...xs.filter((x) => x.at >= applyFrom && x.at <= r.time + 2000).map((x) => x.ms)));
    return {
      ...r, health_max_ms: inWindow(health), eventloop_lag_max_ms: inWindow(lag),
      health_max_around_apply_ms: inApply(health), eventloop_lag_max_around_apply_ms: inApply(lag), window: [from, r.time],
    };
  });
  const sums = await waitFor(async () => {
    const all = await Promise.all(cluster.nodes.map(async (x) => (await fetch(`${x.url}/_raft/checksum`)).json() as Promise<{ applied_index: number; state_checksum: string }>));
    return all.every((s) => s.applied_index === all[0]!.applied_index && s.state_checksum === all[0]!.state_checksum) ? all : undefined;
  }, { what: 'the nodes to converge', timeoutMs: 120_000, intervalMs: 500 });
  const out = {
    n, loaded_s, load_end: load(),
    health_polls: health.length, health_max_ms: Math.round(Math.max(...health.map((h) => h.ms))),
    health_slowest: [...health].sort((a, b) => b.ms - a.ms).slice(0, 5).map((h) => ({ at: h.at, ms: Math.round(h.ms) })),
    eventloop_lag_max_ms: Math.round(Math.max(...lag.map((h) => h.ms))),
    retrains: retrains.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !['time', 'msg', 'level', 'pid', 'hostname', 'node'].includes(k)))),
    converged: sums.length === 3, applied_index: sums[0]!.applied_index,
    // Other work on the leader's event loop that can stall it (snapshots for lagging followers).
    leader_events: lines.filter((l) => /snapshot|desynced/.test(l.msg) || l['to'] === 'desynced').map((l) => ({ at: l.time, msg: l.msg, ms: l['ms'], to: l['to'] })),
  };
  console.log(JSON.stringify(out, null, 2));
  if (jsonOut !== '') writeFileSync(jsonOut, JSON.stringify(out, null, 2));
} finally {
  await cluster.stop();
}
