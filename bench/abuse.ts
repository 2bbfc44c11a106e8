// Hostile requests against a three-node cluster: the leader's /_raft/health latency and quorum
// writers' latency, first without (baseline) and then with one hostile client (bench/hostile.ts,
// its own process) sending every hostile kind one at a time; then each kind alone for a few
// seconds, to attribute a miss. The targets (issue): health p99 <= 50 ms and writer p99 within 2x
// of the baseline phase.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/helpers/cluster.ts';
import type { BenchCluster } from './cairn.ts';
import { hostileKinds } from './hostile.ts';
import type { HostileOptions, HostileRun, KindResult } from './hostile.ts';
import { load1, percentile, round, sleep } from './stats.ts';
import { parsePrometheusText, sampleValue } from '../packages/server/src/metrics/prom-text.ts';

export const health_p99_ms_max = 50;

/** With AbuseOptions.pin: the leader's CPU, and the one everything else runs on. */
export const LEADER_CPU = '0';
export const OTHERS_CPU = '1';

/** The CPUs of each node for startBenchCluster when pinned (AbuseOptions.pin). */
export function pinnedCpus(): Record<string, string> {
  return { 'node-1': LEADER_CPU, 'node-2': OTHERS_CPU, 'node-3': OTHERS_CPU };
}
export const writer_p99_ratio_max = 2;

export interface AbuseOptions {
  /** Length of each of the two phases. */
  seconds: number;
  /** Length of each single-kind run (0: none). */
  each_seconds: number;
  writers: number;
  probe_interval_ms: number;
  /**
   * The leader alone on CPU 0, the followers, the bench (writers, probe) and the hostile client on
   * CPU 1 (taskset): on 2 cores three nodes otherwise wait for each other's CPU, and the leader's
   * latency then measures that more than its own event loop. As separate machines would run them.
   */
  pin?: boolean;
}

export interface PhaseResult {
  phase: string;
  seconds: number;
  load: number;
  health_probes: number;
  health_failed: number;
  health_p50_ms: number;
  health_p99_ms: number;
  health_max_ms: number;
  writes: number;
  writes_failed: number;
  writes_per_s: number;
  write_p50_ms: number;
  write_p99_ms: number;
  /**
   * The leader's event-loop delay over the phase (its /metrics: prom-client's monitorEventLoopDelay,
   * 10 ms resolution, reset by each scrape; the bench scrapes at the phase's start and end): how
   * long a timer waited past its time, its own work and any wait for a CPU together.
   */
  leader_loop_p99_ms?: number;
  leader_loop_max_ms?: number;
  hostile?: KindResult[];
}

export interface AbuseResult {
  options: AbuseOptions;
  baseline: PhaseResult;
  hostile: PhaseResult;
  /** Each kind alone (with the writers and the probe), when each_seconds > 0. */
  each: PhaseResult[];
  /** Runs of each_seconds with no hostile client, before and after the kinds alone: the machine's noise at that time. */
  controls: PhaseResult[];
}

const request_timeout_ms = 30_000;

interface Sample {
  /** Date.now() when sent. */
  at: number;
  ms: number;
  ok: boolean;
}

async function timed(url: string, init: RequestInit): Promise<Sample> {
  const at = Date.now();
  const started = performance.now();
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(request_timeout_ms) });
    await res.arrayBuffer();
    return { at, ms: performance.now() - started, ok: res.ok };
  } catch {
    return { at, ms: performance.now() - started, ok: false };
  }
}

/** Adds to each kind the probes and writes whose time overlapped one of its requests. */
function attribute(run: HostileRun, health: Sample[], writes: Sample[]): KindResult[] {
  const overlapping = (samples: Sample[], spans: Array<[string, number, number]>): number[] =>
    samples.filter((x) => spans.some(([, s, e]) => x.at <= e && x.at + x.ms >= s)).map((x) => x.ms);
  return run.kinds.map((k) => {
    const spans = run.spans.filter(([kind]) => kind === k.kind);
    const h = overlapping(health, spans);
    const w = overlapping(writes, spans);
    return {
      ...k,
      in_flight: {
        health_probes: h.length,
        health_p99_ms: round(percentile(h, 99)),
        health_max_ms: h.length === 0 ? Number.NaN : round(Math.max(...h)),
        writes: w.length,
        write_p99_ms: round(percentile(w, 99)),
      },
    };
  });
}

/** The leader's event-loop delay p99 and max since the last scrape, in ms (undefined without the metric). */
async function leaderLoop(url: string): Promise<{ p99?: number; max?: number }> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(request_timeout_ms) });
    const families = parsePrometheusText(await res.text());
    const ms = (name: string): number | undefined => {
      const v = sampleValue(families, name);
      return v === undefined ? undefined : round(v * 1000);
    };
    return { p99: ms('cairn_nodejs_eventloop_lag_p99_seconds'), max: ms('cairn_nodejs_eventloop_lag_max_seconds') };
  } catch {
    return {};
  }
}

function runHostileProcess(opts: HostileOptions, cpu: string | undefined): Promise<HostileRun> {
  return new Promise((resolve, reject) => {
    const argv = ['--import', 'tsx', join(REPO_ROOT, 'bench', 'hostile.ts'), JSON.stringify(opts)];
    const child = cpu === undefined ? spawn(process.execPath, argv, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] }) : spawn('taskset', ['-c', cpu, process.execPath, ...argv], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`hostile client exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as HostileRun);
      } catch (error) {
        reject(new Error(`hostile client printed no results: ${(error as Error).message}: ${out.slice(0, 300)}`));
      }
    });
  });
}

let writeSeq = 0;

/** One phase: writers and the health probe for `seconds`, with the hostile client when kinds is given. */
async function phase(c: BenchCluster, name: string, seconds: number, opts: AbuseOptions, kinds: string[] | undefined): Promise<PhaseResult> {
  const leader = c.leader.url;
  const load = load1();
  const untilEpoch = Date.now() + seconds * 1000;
  await leaderLoop(leader);
  const hostile = kinds === undefined ? undefined : runHostileProcess({ leader, follower: c.node('node-2').url, until_epoch_ms: untilEpoch, kinds }, opts.pin === true ? OTHERS_CPU : undefined);
  const until = performance.now() + seconds * 1000;
  const samples: Sample[] = [];
  let healthFailed = 0;
  const probe = (async () => {
    while (performance.now() < until) {
      const r = await timed(`${leader}/_raft/health`, {});
      samples.push(r);
      if (!r.ok) healthFailed += 1;
      await sleep(Math.max(0, opts.probe_interval_ms - r.ms));
    }
  })();
  const writeSamples: Sample[] = [];
  let writesFailed = 0;
  const writers = Array.from({ length: opts.writers }, async () => {
    while (performance.now() < until) {
      const id = `w-${writeSeq++}`;
      const r = await timed(`${leader}/api/v1/documents?write_concern=quorum`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-workspace-id': 'abuse-writes' },
        body: JSON.stringify({ id, content: `a small document ${id} written while the leader is probed` }),
      });
      writeSamples.push(r);
      if (!r.ok) writesFailed += 1;
    }
  });
  const started = performance.now();
  await Promise.all([probe, ...writers]);
  const elapsed = (performance.now() - started) / 1000;
  const loop = await leaderLoop(leader);
  const hostileRun = hostile === undefined ? undefined : await hostile;
  const hostileResults = hostileRun === undefined ? undefined : attribute(hostileRun, samples, writeSamples);
  const health = samples.map((x) => x.ms);
  const writes = writeSamples.map((x) => x.ms);
  return {
    phase: name,
    seconds,
    load,
    health_probes: health.length,
    health_failed: healthFailed,
    health_p50_ms: round(percentile(health, 50)),
    health_p99_ms: round(percentile(health, 99)),
    health_max_ms: round(Math.max(...health)),
    writes: writes.length,
    writes_failed: writesFailed,
    writes_per_s: round(writes.length / elapsed, 0),
    write_p50_ms: round(percentile(writes, 50)),
    write_p99_ms: round(percentile(writes, 99)),
    ...(loop.p99 === undefined ? {} : { leader_loop_p99_ms: loop.p99 }),
    ...(loop.max === undefined ? {} : { leader_loop_max_ms: loop.max }),
    ...(hostileResults === undefined ? {} : { hostile: hostileResults }),
  };
}

/** The workspace the glob kinds assemble over: one document whose path is 30 `a`s. */
async function seedGlobWorkspace(c: BenchCluster): Promise<void> {
  const res = await fetch(`${c.leader.url}/api/v1/documents?write_concern=all`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-workspace-id': 'abuse-glob' },
    body: JSON.stringify({ id: 'aaa', path: 'a'.repeat(30), content: 'a document whose path is thirty a characters' }),
  });
  if (res.status !== 201) throw new Error(`seeding abuse-glob: ${res.status} ${await res.text()}`);
}

export async function measureAbuse(c: BenchCluster, opts: AbuseOptions, log: (line: string) => void): Promise<AbuseResult> {
  await seedGlobWorkspace(c);
  // Warm-up (not recorded): connections, JIT, the hostile client's first bodies.
  await phase(c, 'warm-up', 3, opts, undefined);
  const baseline = await phase(c, 'baseline', opts.seconds, opts, undefined);
  log(`abuse baseline: ${JSON.stringify(baseline)}`);
  const hostile = await phase(c, 'hostile', opts.seconds, opts, [...hostileKinds('', '').keys()]);
  log(`abuse hostile: ${JSON.stringify(hostile)}`);
  const each: PhaseResult[] = [];
  const controls: PhaseResult[] = [];
  const control = async (): Promise<void> => {
    const r = await phase(c, 'none (control)', opts.each_seconds, opts, undefined);
    log(`abuse control: health p99 ${r.health_p99_ms} ms, max ${r.health_max_ms} ms, writes p99 ${r.write_p99_ms} ms`);
    controls.push(r);
  };
  if (opts.each_seconds > 0) {
    await control();
    for (const kind of hostileKinds('', '').keys()) {
      const r = await phase(c, kind, opts.each_seconds, opts, [kind]);
      log(`abuse alone "${kind}": health p99 ${r.health_p99_ms} ms, max ${r.health_max_ms} ms, writes p99 ${r.write_p99_ms} ms`);
      each.push(r);
    }
    await control();
  }
  return { options: opts, baseline, hostile, each, controls };
}
