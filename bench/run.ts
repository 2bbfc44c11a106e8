// npm run bench -- [--rounds 3] [--seconds 10] [--docs 100000] [--sections writes,lag,catchup,load,query,resync,profile] [--no-md]
// npm run bench -- --sections abuse [--abuse-seconds 20] [--abuse-each-seconds 6] [--abuse-writers 8] [--abuse-pin]
// npm run bench -- --sections availability [--availability-down-ms 5000] [--availability-client-retry]
// npm run bench -- --sections search|search-lexical [--docs 100000] [--search-queries 200]   (bench/search.ts)
//
// Replication benchmarks of a three-node Cairn cluster against a three-member etcd cluster
// (Debian's etcd-server) on the same machine, measured alternately in the same run with the same
// load generator (wrk, 32 connections, 1 KiB values). Results go to bench/results/*.json and to
// the "## Replication" section of BENCHMARKS.md. The abuse section (hostile requests, bench/abuse.ts)
// and the availability section (writes through nginx while nodes are killed, bench/availability.ts),
// neither in the default list, write their own sections of BENCHMARKS.md.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../packages/server/src/config/load.ts';
import { startNginx } from '../test/helpers/nginx.ts';
import type { TestNginx } from '../test/helpers/nginx.ts';
import { freePort } from '../test/helpers/ports.ts';
import { REPO_ROOT } from '../test/helpers/cluster.ts';
import { startBenchCluster } from './cairn.ts';
import type { BenchCluster } from './cairn.ts';
import { startEtcd } from './etcd.ts';
import type { EtcdCluster } from './etcd.ts';
import { summarizeProfile } from './profile.ts';
import { measureQueries } from './query.ts';
import type { QueryResult } from './query.ts';
import { bulkLoad, measureCatchUp, measureLag, measureResync, waitConverged } from './replication.ts';
import type { CatchUpResult, LagResult, LoadResult, ResyncResult } from './replication.ts';
import { cpuSeconds, load1, median, round } from './stats.ts';
import { wrk } from './wrk.ts';
import type { WrkResult } from './wrk.ts';
import { writeMarkdown } from './markdown.ts';
import { OTHERS_CPU, measureAbuse, pinnedCpus } from './abuse.ts';
import type { AbuseResult } from './abuse.ts';
import { writeAbuseMarkdown } from './abuse-markdown.ts';
import { availability_defaults, measureAvailability } from './availability.ts';
import type { AvailabilityResult } from './availability.ts';
import { writeAvailabilityMarkdown } from './availability-markdown.ts';
import { findNginx } from '../packages/server/src/deploy/nginx-run.ts';
import { searchLexicalSection, searchSection } from './search.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '10' },
    docs: { type: 'string', default: '100000' },
    /** Client-supplied vectors of this size for the 100k load (0: the built-in embedder). */
    'vector-dim': { type: 'string', default: '0' },
    sections: { type: 'string', default: 'writes,lag,catchup,load,query,resync,profile' },
    /** abuse: length of the baseline and of the hostile phase. */
    'abuse-seconds': { type: 'string', default: '20' },
    /** abuse: length of each single-kind run after them (0: none). */
    'abuse-each-seconds': { type: 'string', default: '6' },
    'abuse-writers': { type: 'string', default: '8' },
    /** abuse: the leader alone on CPU 0, the rest (followers, writers, probe, hostile client) on CPU 1. */
    'abuse-pin': { type: 'boolean', default: false },
    /** availability: how long the killed nodes stay down. */
    'availability-down-ms': { type: 'string', default: String(availability_defaults.down_ms) },
    /** availability: writers retry a failed write as the shipped client does (bench/availability.ts client_retry). */
    'availability-client-retry': { type: 'boolean', default: false },
    /** search: queries measured per system. */
    'search-queries': { type: 'string', default: '200' },
    'no-md': { type: 'boolean', default: false },
    /** Only write BENCHMARKS.md from an earlier results file. */
    'from-json': { type: 'string' },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const docs = Number(values.docs);
const sections = new Set(values.sections.split(','));
const CONNECTIONS = 32;
const THREADS = 2;
const VALUE_BYTES = 1024;

export interface WriteRun extends WrkResult {
  system: string;
  round: number;
  load: number;
  /** CPU ms (user + system) each member used per acknowledged write during the run (etcd members or Cairn nodes; nginx not counted). */
  cpu_ms_per_write?: number[];
}

export interface BenchResults {
  date: string;
  command: string;
  commit: string;
  machine: string;
  etcd_version: string;
  wrk: string;
  writes: WriteRun[];
  /** The node nginx sent the benchmark's workspace to (the leader is node-1). */
  nginx_served_by?: string;
  write_summary: Array<{ system: string; rps_median: number; p50_ms_median: number; p99_ms_median: number; ratio_to_etcd: number; runs: number; loads: number[]; cpu_ms_per_write_median?: number[] }>;
  lag?: LagResult;
  catchup?: CatchUpResult;
  load?: LoadResult;
  queries?: QueryResult[];
  resync?: ResyncResult;
  abuse?: AbuseResult;
  /** Written by hand after an abuse run (merged in with --from-json): what else ran on the machine. */
  abuse_notes?: string[];
  availability?: AvailabilityResult;
  /** Written by hand after an availability run (merged in with --from-json). */
  availability_notes?: string[];
  profile?: ReturnType<typeof summarizeProfile> & {
    rps: number;
    /** CPU ms per write of node-1 (leader), node-2, node-3 during the profiled run. */
    cpu_ms_per_write?: number[];
    /** The same summary for a follower (node-2). */
    follower?: ReturnType<typeof summarizeProfile>;
  };
  errors: string[];
  /** Written by hand after a run (merged in with --from-json): what the figures mean, what was seen. */
  notes?: string[];
}

function log(line: string): void {
  console.log(`[${new Date().toISOString().slice(11, 19)} load ${load1()}] ${line}`);
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} x ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ${execFileSync('uname', ['-sr']).toString().trim()}`;
}

/** Runs one section; a failure is recorded in the results and the run goes on. */
async function section(results: BenchResults, name: string, body: () => Promise<void>): Promise<void> {
  if (!sections.has(name)) return;
  try {
    await body();
  } catch (error) {
    results.errors.push(`${name}: ${(error as Error).message}`);
    log(`section ${name} failed: ${(error as Error).stack ?? String(error)}`);
  }
  save(results);
}

function save(results: BenchResults): string {
  const outDir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const jsonPath = join(outDir, `replication-${results.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(jsonPath, `${JSON.stringify(results, null, 2)}\n`);
  return jsonPath;
}

async function main(): Promise<void> {
  const commit = process.env['CAIRN_BENCH_COMMIT'] ?? gitCommit();
  const results: BenchResults = {
    date: new Date().toISOString(),
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    commit,
    machine: machine(),
    etcd_version: '',
    // wrk is needed by the query sections only; the others run without it.
    wrk: (spawnSync('wrk', ['--version'], { encoding: 'utf8' }).stdout ?? '').split('\n')[0]?.trim() || 'wrk: not installed',
    writes: [],
    write_summary: [],
    errors: [],
  };
  let cluster: BenchCluster | undefined;
  let etcd: EtcdCluster | undefined;
  let lb: TestNginx | undefined;
  try {
    if (values['abuse-pin']) {
      // This process (writers, probe) and every thread of it on the others' CPU; the nodes by taskset.
      const r = spawnSync('taskset', ['-a', '-p', '-c', OTHERS_CPU, String(process.pid)], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`taskset: ${r.stderr || r.error?.message}`);
    }
    cluster = await startBenchCluster(values['abuse-pin'] ? { cpus: pinnedCpus() } : {});
    log(`cairn cluster up (${cluster.dir})${values['abuse-pin'] ? ': node-1 on CPU 0, the rest on CPU 1' : ''}`);
    if (sections.has('writes')) {
      etcd = await startEtcd();
      results.etcd_version = etcd.version;
      lb = await startNginx(loadConfig({ file: cluster.configPath, env: {}, anyNode: true }), await freePort());
      log(`etcd ${etcd.version} and nginx up`);
      // nginx hashes X-Workspace-ID: which node serves the benchmark's workspace decides whether
      // "via nginx" writes are forwarded by a follower (and wait for its apply) or not.
      const probe = await fetch(`${lb.url}/api/v1/documents?limit=1`, { headers: { 'x-workspace-id': 'bench' } });
      results.nginx_served_by = probe.headers.get('x-served-by') ?? 'unknown';
      log(`nginx sends workspace "bench" to ${results.nginx_served_by}`);
      const etcdUrl = `${etcd.clientUrls[0]}/v3/kv/put`;
      const leaderUrl = cluster.leader.url;
      const lbUrl = lb.url;
      const etcdPids = etcd.pids();
      const cairnPids = cluster.nodes.map((n) => n.process.pid);
      const targets: Array<[string, (s: number) => Promise<WrkResult>]> = [
        ['etcd (3 members, /v3/kv/put)', (s) => wrk({ url: etcdUrl, kind: 'etcd', connections: CONNECTIONS, threads: THREADS, seconds: s, valueBytes: VALUE_BYTES })],
        ['cairn leader, via leader', (s) => cairnWrk(`${leaderUrl}/api/v1/documents?write_concern=leader`, s)],
        ['cairn quorum, via leader', (s) => cairnWrk(`${leaderUrl}/api/v1/documents?write_concern=quorum`, s)],
        ['cairn leader, via nginx', (s) => cairnWrk(`${lbUrl}/api/v1/documents?write_concern=leader`, s)],
        ['cairn quorum, via nginx', (s) => cairnWrk(`${lbUrl}/api/v1/documents?write_concern=quorum`, s)],
      ];
      // Warm-up: a short run on each, not recorded.
      for (const [, run] of targets) await run(3);
      for (let r = 1; r <= rounds; r++) {
        const order = r % 2 === 1 ? targets : [...targets].reverse();
        for (const [system, run] of order) {
          const load = load1();
          const pids = system.startsWith('etcd') ? etcdPids : cairnPids;
          const cpuBefore = cpuSeconds(pids);
          const res = await run(seconds);
          const cpuAfter = cpuSeconds(pids);
          const acknowledged = Math.max(1, res.requests - res.non2xx);
          const cpu_ms_per_write = cpuAfter.map((a, i) => round(((a - (cpuBefore[i] ?? 0)) * 1000) / acknowledged, 3));
          results.writes.push({ system, round: r, load, ...res, cpu_ms_per_write });
          log(`round ${r} ${system}: ${round(res.rps, 0)} writes/s, p50 ${res.p50_ms} ms, p99 ${res.p99_ms} ms, non-2xx ${res.non2xx}, socket errors ${res.socket_errors}`);
        }
      }
      const etcdRps = median(results.writes.filter((w) => w.system.startsWith('etcd')).map((w) => w.rps));
      for (const [system] of targets) {
        const runs = results.writes.filter((w) => w.system === system);
        const rps = median(runs.map((w) => w.rps));
        results.write_summary.push({
          system,
          rps_median: round(rps, 0),
          p50_ms_median: round(median(runs.map((w) => w.p50_ms))),
          p99_ms_median: round(median(runs.map((w) => w.p99_ms))),
          ratio_to_etcd: round(rps / etcdRps, 2),
          runs: runs.length,
          loads: runs.map((w) => w.load),
          cpu_ms_per_write_median: [0, 1, 2].map((i) => round(median(runs.map((w) => w.cpu_ms_per_write?.[i] ?? Number.NaN)), 3)),
        });
      }
      save(results);
      await lb.stop();
      lb = undefined;
      await etcd.stop();
      etcd = undefined;
      // The rest starts from an empty cluster, so that "100k documents" means 100k documents.
      await cluster.stop();
      cluster = await startBenchCluster();
      log(`fresh cairn cluster up (${cluster.dir})`);
    }
    const c = cluster;
    await section(results, 'lag', async () => {
      const max = results.write_summary.find((s) => s.system === 'cairn leader, via leader')?.rps_median ?? 1000;
      log(`lag at half of ${max} writes/s`);
      results.lag = await measureLag(c, max / 2, 15);
      log(`lag: ${JSON.stringify(results.lag)}`);
    });
    await section(results, 'catchup', async () => {
      results.catchup = await measureCatchUp(c, 900);
      log(`catch-up: ${JSON.stringify(results.catchup)}`);
    });
    await section(results, 'load', async () => {
      results.load = { ...(await bulkLoad(c, 'bench-100k', docs, 50, 4, Number(values['vector-dim']))), vector_dim: Number(values['vector-dim']) };
      log(`bulk load: ${JSON.stringify(results.load)}`);
      const t = performance.now();
      await waitConverged(c, 900_000);
      results.load.converged_after_s = round((performance.now() - t) / 1000);
      log(`all nodes converged ${results.load.converged_after_s} s after the load`);
    });
    await section(results, 'query', async () => {
      // Queries run on a follower once it holds everything, not while it is still applying the load.
      await waitConverged(c, 900_000);
      results.queries = await measureQueries(c.node('node-2').url, 'bench-100k', 200);
      log(`queries: ${JSON.stringify(results.queries)}`);
    });
    await section(results, 'resync', async () => {
      results.resync = await measureResync(c, docs);
      log(`resync: ${JSON.stringify(results.resync)}`);
    });
    await section(results, 'abuse', async () => {
      results.abuse = await measureAbuse(
        c,
        { seconds: Number(values['abuse-seconds']), each_seconds: Number(values['abuse-each-seconds']), writers: Number(values['abuse-writers']), probe_interval_ms: 20, pin: values['abuse-pin'] },
        log,
      );
    });
  } finally {
    await lb?.stop();
    await etcd?.stop();
    await cluster?.stop();
  }
  await section(results, 'availability', async () => {
    const nginx = findNginx();
    if (nginx === undefined) throw new Error('nginx is not installed');
    const version = spawnSync(nginx, ['-v'], { encoding: 'utf8' }).stderr.trim().replace(/^nginx version: /, '');
    results.availability = await measureAvailability({ ...availability_defaults, down_ms: Number(values['availability-down-ms']), client_retry: values['availability-client-retry'] }, log, version);
  });
  await section(results, 'profile', async () => {
    const dir = join(REPO_ROOT, 'bench', 'results', `profile-${results.date.replace(/[:.]/g, '-')}`);
    const profiled = await startBenchCluster({ profileDir: dir, profileAll: true });
    let rps = 0;
    let cpu_ms_per_write: number[] = [];
    try {
      const pids = profiled.nodes.map((n) => n.process.pid);
      const before = cpuSeconds(pids);
      const res = await wrk({ url: `${profiled.leader.url}/api/v1/documents?write_concern=quorum`, kind: 'cairn', headers: { 'x-workspace-id': 'bench' }, connections: CONNECTIONS, threads: THREADS, seconds, valueBytes: VALUE_BYTES });
      const after = cpuSeconds(pids);
      rps = res.rps;
      cpu_ms_per_write = after.map((a, i) => round(((a - (before[i] ?? 0)) * 1000) / Math.max(1, res.requests - res.non2xx), 3));
    } finally {
      await profiled.stop();
    }
    results.profile = { ...summarizeProfile(join(dir, 'node-1')), rps: round(rps, 0), cpu_ms_per_write, follower: summarizeProfile(join(dir, 'node-2')) };
    log(`profile: ${JSON.stringify(results.profile.by_area)}`);
  });
  const jsonPath = save(results);
  log(`results: ${jsonPath}`);
  if (!values['no-md']) {
    const md = join(REPO_ROOT, 'BENCHMARKS.md');
    const read = (): string => (existsSync(md) ? readFileSync(md, 'utf8') : '# Cairn benchmarks\n');
    // A run of the abuse or availability section alone leaves the replication figures as they are.
    if ([...sections].some((s) => s !== 'abuse' && s !== 'availability')) writeMarkdown(md, read(), results);
    if (results.abuse !== undefined) writeAbuseMarkdown(md, read(), { ...results, abuse: results.abuse, notes: results.abuse_notes ?? [] });
    if (results.availability !== undefined) {
      writeAvailabilityMarkdown(md, read(), { ...results, availability: results.availability, notes: results.availability_notes ?? [] });
    }
    log(`BENCHMARKS.md updated`);
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown (not a git checkout)';
  }
}

function cairnWrk(url: string, s: number): Promise<WrkResult> {
  return wrk({ url, kind: 'cairn', headers: { 'x-workspace-id': 'bench' }, connections: CONNECTIONS, threads: THREADS, seconds: s, valueBytes: VALUE_BYTES });
}

if (values['from-json'] !== undefined) {
  const md = join(REPO_ROOT, 'BENCHMARKS.md');
  // Several files: later ones add or replace sections (e.g. a rerun of lag and resync only).
  const files = values['from-json'].split(',').map((f) => JSON.parse(readFileSync(f, 'utf8')) as BenchResults);
  const merged = files.reduce((acc, r) => ({
    ...acc,
    ...Object.fromEntries(Object.entries(r).filter(([k, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0) && !(k === 'etcd_version' && v === ''))),
    date: acc.date,
  }));
  merged.command = files
    .filter((f) => typeof f.command === 'string' && f.command.startsWith('npm run bench'))
    .map((f) => `\`${f.command}\` (${f.date.slice(11, 16)} UTC)`)
    .join(', then ');
  if (files.some((f) => f.write_summary.length > 0 || f.lag !== undefined || f.load !== undefined || f.resync !== undefined || f.profile !== undefined)) {
    writeMarkdown(md, existsSync(md) ? readFileSync(md, 'utf8') : '# Cairn benchmarks\n', merged);
  }
  if (merged.abuse !== undefined) writeAbuseMarkdown(md, readFileSync(md, 'utf8'), { ...merged, abuse: merged.abuse, notes: merged.abuse_notes ?? [] });
  if (merged.availability !== undefined) {
    writeAvailabilityMarkdown(md, readFileSync(md, 'utf8'), { ...merged, availability: merged.availability, notes: merged.availability_notes ?? [] });
  }
  log('BENCHMARKS.md updated');
} else if (sections.size === 1 && (sections.has('search') || sections.has('search-lexical'))) {
  // Needs no cluster: it builds a follower's state.db in process (bench/search.ts).
  const command = `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim();
  const meta = { docs, queries: Number(values['search-queries']), md: !values['no-md'], command, commit: gitCommit(), machine: machine(), log };
  await (sections.has('search') ? searchSection(meta) : searchLexicalSection(meta));
} else {
  await main();
}
