// Availability of quorum writes through nginx while nodes are killed and restarted: a fresh
// three-node cluster with nginx in front (the config `cairn nginx-config` renders), writers that
// each write to one workspace every interval (three workspaces per node, so every node serves
// some), and per scenario: kill -9 of some nodes, a pause, a restart. Next to the writers, a
// prober writes directly to each killed node, which says when that node itself takes writes again;
// the difference to the first write through nginx that the node serves is nginx's part.

import { execFileSync } from 'node:child_process';
import { classifyFetchError, decide } from '../packages/client/src/retry.ts';
import type { Failure } from '../packages/client/src/retry.ts';
import { loadConfig } from '../packages/server/src/config/load.ts';
import { rollingRestart } from '../packages/server/src/deploy/rolling-restart.ts';
import { startNginx } from '../test/helpers/nginx.ts';
import type { TestNginx } from '../test/helpers/nginx.ts';
import { freePort } from '../test/helpers/ports.ts';
import { httpStatus } from '../test/helpers/wait.ts';
import { startBenchCluster } from './cairn.ts';
import type { BenchCluster } from './cairn.ts';
import { load1, round, sleep } from './stats.ts';

export interface AvailabilityOptions {
  /** ms between the writes of one writer (each writer has at most one write in flight). */
  interval_ms: number;
  /** Workspaces (one writer each) per node. */
  workspaces_per_node: number;
  /** How long the killed nodes stay down. */
  down_ms: number;
  /** Per write. */
  timeout_ms: number;
  /**
   * Writers send a failed write again as the shipped client does (packages/client's decide() for
   * a put by id: idempotent), within the write's timeout; a write counts as failed only when that
   * gives up. Off: the first answer counts, as a client without retries sees it.
   */
  client_retry?: boolean;
}

export const availability_defaults: AvailabilityOptions = { interval_ms: 20, workspaces_per_node: 3, down_ms: 5_000, timeout_ms: 5_000 };

interface Write {
  workspace: string;
  id: string;
  /** The node nginx sends the workspace to when every node is up. */
  home: string;
  start: number;
  end: number;
  status: number;
  code: string;
  served_by: string | null;
  /** With client_retry: the attempts that failed before the last one, by code. */
  retried?: string[];
}

export interface ScenarioResult {
  scenario: string;
  killed: string[];
  down_ms: number;
  load: number;
  writes: number;
  acknowledged: number;
  failed: number;
  /** Failed writes that were in flight at the kill (sent to a node that then died: outcome unknown to the client). */
  failed_in_flight_at_kill: number;
  /** Failed writes started while the killed nodes were down, and after the restart. */
  failed_while_down: number;
  failed_after_restart: number;
  /** Failed writes started once every killed node had taken a write sent to it directly: nginx's part. */
  failed_after_direct: number;
  /** status or error code -> count, over the failed writes. */
  failures: Record<string, number>;
  /** Longest time without an acknowledged write through nginx, over all workspaces and over the killed nodes' workspaces. */
  gap_all_ms: number;
  gap_killed_ms: number;
  /** From the restart: every killed node answers HTTP; takes a write sent to it directly; serves an acknowledged write through nginx. */
  answering_ms: number;
  direct_write_ms: number;
  nginx_write_ms: number;
  /** nginx_write_ms - direct_write_ms: how long nginx kept the nodes out after they took writes. */
  nginx_after_direct_ms: number;
}

/** A planned handover (POST /_raft/transfer-leadership) under the same writers: nothing is killed. */
export interface HandoverResult {
  from: string;
  to: string;
  load: number;
  /** The transfer request's answer time and status. */
  transfer_ms: number;
  transfer_status: number;
  writes: number;
  acknowledged: number;
  failed: number;
  failures: Record<string, number>;
  /** Longest time without an acknowledged write through nginx, over all workspaces. */
  gap_all_ms: number;
  /** Acknowledged writes the new leader does not hold afterwards. */
  lost: number;
}

/** One step of a rolling restart: a node's restart until it is back, or a handover. */
export interface RollingStep {
  step: string;
  /** From the step's start to its end (the node back and healthy, the new leader leading). */
  ms: number;
  /** Writes through nginx started during the step that failed. */
  failed: number;
  /** How long some write was failing: the union of those failed writes' [start, end] (0: none failed). */
  failed_ms: number;
  /** status or error code -> count, over those failed writes. */
  failures: Record<string, number>;
  /** Longest time without an acknowledged write through nginx during the step. */
  gap_ms: number;
}

/** A rolling restart (deploy/rolling-restart.ts, SIGTERM and start of each node) under the same writers. */
export interface RollingRestartResult {
  /** When and at which commit this block was measured (it may be merged beside older rows). */
  measured_at: string;
  commit: string;
  load: number;
  keep_leader: boolean;
  /** The rolling restart's own time, first step to last. */
  total_ms: number;
  /** Who led at the end. */
  leader: string;
  writes: number;
  acknowledged: number;
  failed: number;
  failures: Record<string, number>;
  gap_all_ms: number;
  steps: RollingStep[];
  /** Acknowledged writes the leader at the end does not hold. */
  lost: number;
}

export interface AvailabilityResult {
  options: AvailabilityOptions;
  nginx_version: string;
  scenarios: ScenarioResult[];
  handover?: HandoverResult;
  rolling_restart?: RollingRestartResult;
}

/** Acknowledged writes of `writes` that the node at `url` does not list. */
async function lostOn(url: string, homes: Map<string, string>, writes: Write[]): Promise<number> {
  let lost = 0;
  for (const workspace of homes.keys()) {
    const held = new Set<string>();
    let cursor: string | null = null;
    do {
      const page = (await (await fetch(`${url}/api/v1/documents?limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`, { headers: { 'x-workspace-id': workspace } })).json()) as { documents: Array<{ id: string }>; next_cursor: string | null };
      for (const d of page.documents) held.add(d.id);
      cursor = page.next_cursor;
    } while (cursor !== null);
    lost += writes.filter((w) => w.workspace === workspace && w.status === 201 && !held.has(w.id)).length;
  }
  return lost;
}

async function rolling(cluster: BenchCluster, lb: TestNginx, homes: Map<string, string>, o: AvailabilityOptions, log: Log): Promise<RollingRestartResult> {
  const load = load1();
  const writers = new Writers(lb.url, homes, o);
  await sleep(2_000);
  // Each progress line starts a step; "X: back" and the end of a handover close one.
  const marks: Array<{ at: number; line: string }> = [];
  const start = Date.now();
  const result = await rollingRestart({
    nodes: cluster.nodes.map((n) => ({ id: n.id, url: n.url })),
    restarter: {
      async restart(node) {
        const n = cluster.node(node.id);
        await n.process.stop();
        n.process.start();
      },
    },
    operatorToken: '',
    authToken: '',
    timeoutMs: 60_000,
    keepLeader: true,
    progress: (line) => marks.push({ at: Date.now(), line }),
    pollMs: 50,
  });
  const finish = Date.now();
  await sleep(2_000);
  await writers.stop();
  const end = Date.now();
  const all = writers.writes;
  const failedWrites = all.filter((w) => w.status !== 201);
  const failures: Record<string, number> = {};
  for (const w of failedWrites) failures[w.code] = (failures[w.code] ?? 0) + 1;
  const steps: RollingStep[] = [];
  for (let i = 0; i < marks.length; i++) {
    const m = marks[i] as { at: number; line: string };
    const restartOf = /^(\S+): restarting$/.exec(m.line);
    const handover = /^leadership: (\S+) -> (\S+)$/.exec(m.line);
    if (restartOf === null && handover === null) continue;
    const next = marks[i + 1]?.at ?? finish;
    const failed = failedWrites.filter((w) => w.start >= m.at && w.start < next);
    const codes: Record<string, number> = {};
    for (const w of failed) codes[w.code] = (codes[w.code] ?? 0) + 1;
    steps.push({
      step: restartOf !== null ? `restart ${restartOf[1]}` : `handover ${handover?.[1]} -> ${handover?.[2]}`,
      ms: next - m.at,
      failed: failed.length,
      failed_ms: unionMs(failed),
      failures: codes,
      gap_ms: longestGap(all, m.at, next),
    });
  }
  const out: RollingRestartResult = {
    measured_at: new Date(start).toISOString(),
    commit: gitCommit(),
    load,
    keep_leader: true,
    total_ms: finish - start,
    leader: result.leader,
    writes: all.length,
    acknowledged: all.length - failedWrites.length,
    failed: failedWrites.length,
    failures,
    gap_all_ms: longestGap(all, start - 1_000, end),
    steps,
    lost: await lostOn(cluster.node(result.leader).url, homes, all),
  };
  log(`availability rolling restart: ${JSON.stringify(out)}`);
  return out;
}

async function handover(cluster: BenchCluster, lb: TestNginx, homes: Map<string, string>, o: AvailabilityOptions, log: Log): Promise<HandoverResult> {
  const load = load1();
  const from = cluster.leader.id;
  const to = cluster.nodes.find((n) => n.id !== from)?.id ?? 'node-2';
  const writers = new Writers(lb.url, homes, o);
  await sleep(2_000);
  const at = Date.now();
  const res = await fetch(`${cluster.node(from).url}/_raft/transfer-leadership?target=${to}`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
  await res.arrayBuffer();
  const transferMs = Date.now() - at;
  await sleep(3_000);
  await writers.stop();
  const end = Date.now();
  const all = writers.writes;
  const failedWrites = all.filter((w) => w.status !== 201);
  const failures: Record<string, number> = {};
  for (const w of failedWrites) failures[w.code] = (failures[w.code] ?? 0) + 1;
  const lost = await lostOn(cluster.node(to).url, homes, all);
  const result: HandoverResult = {
    from,
    to,
    load,
    transfer_ms: transferMs,
    transfer_status: res.status,
    writes: all.length,
    acknowledged: all.length - failedWrites.length,
    failed: failedWrites.length,
    failures,
    gap_all_ms: longestGap(all, at - 1_000, end),
    lost,
  };
  log(`availability handover: ${JSON.stringify(result)}`);
  return result;
}

type Log = (line: string) => void;

async function write(base: string, workspace: string, id: string, timeoutMs: number): Promise<{ status: number; code: string; served_by: string | null }> {
  try {
    const response = await fetch(`${base}/api/v1/documents?write_concern=quorum`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-workspace-id': workspace },
      body: JSON.stringify({ id, content: `availability ${id}` }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let code = String(response.status);
    try {
      const body = JSON.parse(text) as { error?: { code?: string } };
      if (body.error?.code !== undefined) code = `${response.status} ${body.error.code}`;
    } catch {
      // Not JSON: the status says enough.
    }
    return { status: response.status, code, served_by: response.headers.get('x-served-by') };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { status: 0, code: cause ?? (error as Error).name, served_by: null };
  }
}

/** A failed attempt as the client's Failure (packages/client/src/retry.ts). */
function failureOf(r: { status: number; code: string }): Failure {
  if (r.status === 0) return classifyFetchError({ name: r.code === 'TimeoutError' ? 'TimeoutError' : 'Error', cause: { code: r.code } });
  const code = r.code.includes(' ') ? r.code.slice(r.code.indexOf(' ') + 1) : null;
  return { type: 'http', status: r.status, code, retryAfterMs: null };
}

/** One write, sent again while the client's rules say so and its time lasts (client_retry). */
async function writeAsClient(base: string, workspace: string, id: string, o: AvailabilityOptions): Promise<{ status: number; code: string; served_by: string | null; retried?: string[] }> {
  const deadline = Date.now() + o.timeout_ms;
  let r = await write(base, workspace, id, o.timeout_ms);
  if (o.client_retry !== true) return r;
  const retried: string[] = [];
  while (r.status !== 201 && decide('idempotent', failureOf(r)) === 'retry' && deadline - Date.now() > retry_pause_ms) {
    retried.push(r.code);
    await sleep(retry_pause_ms);
    // The pause may have used the rest of the write's time (a timer late on a busy machine).
    if (Date.now() >= deadline) break;
    r = await write(base, workspace, id, deadline - Date.now());
  }
  return retried.length === 0 ? r : { ...r, retried };
}

/** Between a writer's attempts of one write (the client backs off from 50 ms too). */
const retry_pause_ms = 50;

/** Writers through nginx, one per workspace, each paced at interval_ms. */
class Writers {
  readonly writes: Write[] = [];
  private running = true;
  private readonly loops: Array<Promise<void>>;

  constructor(url: string, homes: Map<string, string>, o: AvailabilityOptions) {
    let seq = 0;
    this.loops = [...homes].map(async ([workspace, home]) => {
      while (this.running) {
        const start = Date.now();
        const id = `d${seq++}`;
        const r = await writeAsClient(url, workspace, id, o);
        this.writes.push({ workspace, id, home, start, end: Date.now(), ...r });
        await sleep(Math.max(0, o.interval_ms - (Date.now() - start)));
      }
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }
}

/** Calls `attempt` every interval until it succeeds; the time that attempt started (NaN after the deadline). */
async function firstSuccess(attempt: () => Promise<boolean>, intervalMs: number, deadline: number): Promise<number> {
  for (;;) {
    const start = Date.now();
    if (await attempt()) return start;
    if (Date.now() > deadline) return Number.NaN;
    await sleep(Math.max(0, intervalMs - (Date.now() - start)));
  }
}

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return 'unknown';
  }
}

/** The length of the union of the writes' [start, end] intervals. */
function unionMs(writes: Write[]): number {
  const spans = writes.map((w) => [w.start, w.end] as const).sort((a, b) => a[0] - b[0]);
  let total = 0;
  let from = Number.NaN;
  let to = Number.NaN;
  for (const [s, e] of spans) {
    if (Number.isNaN(from) || s > to) {
      if (!Number.isNaN(from)) total += to - from;
      from = s;
      to = e;
    } else {
      to = Math.max(to, e);
    }
  }
  return Number.isNaN(from) ? 0 : total + (to - from);
}

/** Longest time between acknowledgements (by completion) within [from, to]. */
function longestGap(writes: Write[], from: number, to: number): number {
  const acks = writes.filter((w) => w.status === 201 && w.end >= from && w.end <= to).map((w) => w.end).sort((a, b) => a - b);
  let gap = 0;
  let last = from;
  for (const t of acks) {
    gap = Math.max(gap, t - last);
    last = t;
  }
  return Math.max(gap, to - last);
}

async function scenario(cluster: BenchCluster, lb: TestNginx, homes: Map<string, string>, name: string, killed: string[], o: AvailabilityOptions, log: Log): Promise<ScenarioResult> {
  const load = load1();
  const writers = new Writers(lb.url, homes, o);
  await sleep(2_000);
  const nodes = killed.map((id) => cluster.node(id));
  const killAt = Date.now();
  await Promise.all(nodes.map((n) => n.process.kill9()));
  await sleep(Math.max(0, o.down_ms - (Date.now() - killAt)));
  const restartAt = Date.now();
  for (const n of nodes) n.process.start();
  const deadline = restartAt + 60_000;
  let probe = 0;
  const [answering, direct, viaNginx] = await Promise.all([
    Promise.all(nodes.map((n) => firstSuccess(async () => (await httpStatus(`${n.url}/_raft/health`, 500)) !== undefined, o.interval_ms, deadline))),
    Promise.all(nodes.map((n) => firstSuccess(async () => (await write(n.url, `probe-${n.id}`, `p${probe++}`, o.timeout_ms)).status === 201, o.interval_ms, deadline))),
    // The first acknowledged write through nginx that each killed node served, started after the restart.
    Promise.all(
      nodes.map(async (n) => {
        for (;;) {
          const w = writers.writes.find((x) => x.start >= restartAt && x.status === 201 && x.served_by === n.id);
          if (w !== undefined) return w.start;
          if (Date.now() > deadline) return Number.NaN;
          await sleep(o.interval_ms);
        }
      }),
    ),
  ]);
  await sleep(2_000);
  await writers.stop();
  const end = Date.now();
  for (const n of nodes) await cluster.waitReady(n);

  const all = writers.writes;
  const failedWrites = all.filter((w) => w.status !== 201);
  const failures: Record<string, number> = {};
  for (const w of failedWrites) failures[w.code] = (failures[w.code] ?? 0) + 1;
  const killedHomes = all.filter((w) => killed.includes(w.home));
  const since = (t: number): number => round(t - restartAt, 0);
  const answeringMs = since(Math.max(...answering));
  const directMs = since(Math.max(...direct));
  const nginxMs = since(Math.max(...viaNginx));
  const result: ScenarioResult = {
    scenario: name,
    killed,
    down_ms: restartAt - killAt,
    load,
    writes: all.length,
    acknowledged: all.length - failedWrites.length,
    failed: failedWrites.length,
    failed_in_flight_at_kill: failedWrites.filter((w) => w.start < killAt && w.end >= killAt).length,
    failed_while_down: failedWrites.filter((w) => w.start >= killAt && w.start < restartAt).length,
    failed_after_restart: failedWrites.filter((w) => w.start >= restartAt).length,
    failed_after_direct: failedWrites.filter((w) => w.start >= Math.max(...direct)).length,
    failures,
    gap_all_ms: longestGap(all, killAt - 1_000, end),
    gap_killed_ms: longestGap(killedHomes, killAt - 1_000, end),
    answering_ms: answeringMs,
    direct_write_ms: directMs,
    nginx_write_ms: nginxMs,
    nginx_after_direct_ms: nginxMs - directMs,
  };
  log(`availability ${name}: ${JSON.stringify(result)}`);
  return result;
}

export async function measureAvailability(o: AvailabilityOptions, log: Log, nginxVersion: string): Promise<AvailabilityResult> {
  const scenarios: ScenarioResult[] = [];
  const plan: Array<[string, (c: BenchCluster) => string[]]> = [
    ['full restart', (c) => c.nodes.map((n) => n.id)],
    ['follower kill', () => ['node-2']],
    ['leader kill', (c) => [c.leader.id]],
  ];
  for (const [name, pick] of plan) {
    // A fresh cluster and nginx for each scenario: no marks or connections left from the last one.
    const cluster = await startBenchCluster();
    let lb: TestNginx | undefined;
    try {
      lb = await startNginx(loadConfig({ file: cluster.configPath, env: {}, anyNode: true }), await freePort());
      const homes = await workspaces(lb.url, cluster, o.workspaces_per_node);
      scenarios.push(await scenario(cluster, lb, homes, name, pick(cluster), o, log));
    } finally {
      await lb?.stop();
      await cluster.stop();
    }
  }
  const cluster = await startBenchCluster();
  let lb: TestNginx | undefined;
  let handed: HandoverResult;
  try {
    lb = await startNginx(loadConfig({ file: cluster.configPath, env: {}, anyNode: true }), await freePort());
    handed = await handover(cluster, lb, await workspaces(lb.url, cluster, o.workspaces_per_node), o, log);
  } finally {
    await lb?.stop();
    await cluster.stop();
  }
  const rolled = await measureRollingRestart(o, log);
  return { options: o, nginx_version: nginxVersion, scenarios, handover: handed, rolling_restart: rolled };
}

/** The rolling restart alone, on a fresh cluster and nginx. */
export async function measureRollingRestart(o: AvailabilityOptions, log: Log): Promise<RollingRestartResult> {
  const cluster = await startBenchCluster();
  let lb: TestNginx | undefined;
  try {
    lb = await startNginx(loadConfig({ file: cluster.configPath, env: {}, anyNode: true }), await freePort());
    return await rolling(cluster, lb, await workspaces(lb.url, cluster, o.workspaces_per_node), o, log);
  } finally {
    await lb?.stop();
    await cluster.stop();
  }
}

/** `perNode` workspaces that nginx sends to each node: workspace -> node. */
async function workspaces(url: string, cluster: BenchCluster, perNode: number): Promise<Map<string, string>> {
  const homes = new Map<string, string>();
  const count = new Map<string, number>();
  for (let i = 0; i < 2_000 && homes.size < perNode * cluster.nodes.length; i++) {
    const workspace = `avail-${i}`;
    const response = await fetch(`${url}/health`, { headers: { 'x-workspace-id': workspace } });
    await response.arrayBuffer();
    const node = response.headers.get('x-served-by');
    if (node === null || (count.get(node) ?? 0) >= perNode) continue;
    count.set(node, (count.get(node) ?? 0) + 1);
    homes.set(workspace, node);
  }
  if (homes.size < perNode * cluster.nodes.length) throw new Error(`found ${homes.size} workspaces, not ${perNode} on each node`);
  return homes;
}
