// One chaos run: a proxied three-node cluster (plus nginx when installed), the workload, a seeded
// schedule of faults, then heal everything and check. Returns the report; never throws on a failed
// check (the report says what failed), only on a harness error.

import { freePort } from '../helpers/ports.ts';
import { findNginx } from '../../packages/server/src/deploy/nginx-run.ts';
import { startNginx } from '../helpers/nginx.ts';
import type { TestNginx } from '../helpers/nginx.ts';
import { startChaosCluster } from './cluster.ts';
import type { ChaosCluster, ChaosStorage } from './cluster.ts';
import { checkData, compareLogs, waitConverged } from './checker.ts';
import type { DataCheck, LogComparison, NodeChecksum } from './checker.ts';
import { CI_TIMINGS, FAULT_KINDS, injectFault, nodeConditions, planFaults } from './faults.ts';
import type { FaultKind, FaultRecord, FaultTimings, HandoverVariant } from './faults.ts';
import { History } from './history.ts';
import type { Op, WriteOp } from './history.ts';
import { Prng } from './prng.ts';
import { sleep, Workload } from './workload.ts';
import type { Target } from './workload.ts';
import { HistoryRecorder, RegisterWorkload } from './registers.ts';
import { availability, availabilityText } from './availability.ts';
import { checkCairnHistory, historyBudget, pairOperations, parseHistory } from './history-format.ts';
import type { LinearizabilityReport } from './history-format.ts';
import { checkSessions } from './session-check.ts';
import type { LeaderCheck } from './leaders.ts';
import type { PlantedDefect } from '../../packages/server/src/testing/planted-defects.ts';
import type { SessionReport } from './session-check.ts';
import type { AvailabilityRow } from './availability.ts';

export interface ChaosOptions {
  seed: number;
  faults: number;
  /** Only these fault kinds (default: all of FAULT_KINDS). */
  kinds?: readonly FaultKind[];
  timings?: FaultTimings;
  writersPerTarget?: number;
  readers?: number;
  /** Use nginx when the machine has it (default true). */
  nginx?: boolean;
  keepDir?: boolean;
  /** Start the cluster with this defect planted (test only; see packages/server/src/testing/planted-defects.ts). */
  defect?: PlantedDefect;
  /** Keep the workload running at least this long after the last fault, ms (default 0). */
  settleWorkloadMs?: number;
  /** Clients of the shared-key workload (default 6; 0: none). */
  registerClients?: number;
  /** Where to write the shared-key workload's history (history.jsonl; .gz compresses it). */
  historyFile?: string;
  requestTimeoutMs?: number;
  convergeTimeoutMs?: number;
  log?: (line: string) => void;
}

/** Lowered so that a paused follower or a cut link passes the resync threshold within seconds. */
export const CHAOS_REPLICATION = {
  resync_threshold: 80,
  // force-resync and transfer-leadership take it (Authorization: Bearer).
  operator_token: 'chaos-operator-token-0123456789abcdef',
  log_retain_entries: 200,
  silence_lagging_ms: 1_000,
  append_timeout_ms: 1_000,
  failures_lagging: 2,
  commit_timeout_ms: 3_000,
};

export const WORKSPACES = ['chaos-a', 'chaos-b', 'chaos-c'];
/** Workspaces of the shared-key workload, each with REGISTER_KEYS document ids. */
export const REGISTER_WORKSPACES = ['reg-a', 'reg-b', 'reg-c'];
export const REGISTER_KEYS = 6;

interface Tally {
  attempted: number;
  ok: number;
  failed: number;
  unknown: number;
}

export interface ChaosReport {
  seed: number;
  /** The defect the cluster ran with (test only), or null. */
  planted_defect: string | null;
  faults_requested: number;
  started_at: string;
  duration_s: number;
  nginx: boolean;
  link_faults: string;
  /** Where the data directories were: each on its own tmpfs, or plain directories (and why). */
  storage: ChaosStorage;
  writes: Tally & { by_via: Record<string, Tally>; errors: Record<string, number> };
  reads: Tally;
  /** Faults injected, by kind (skipped ones not counted). */
  faults_by_kind: Record<string, number>;
  /** Faults of the schedule that could not be injected on this machine, by kind, and why. */
  faults_skipped: Record<string, { count: number; reason: string }>;
  faults: FaultRecord[];
  /** Per fault kind: writes acknowledged while it lasted, and the time from heal to the first acknowledged write. */
  availability: AvailabilityRow[];
  /** The shared-key workload: operations by kind and outcome. */
  registers: { clients: number; keys: number; events: number; operations: Record<string, Record<string, number>>; history_file: string | null; final_reads_failed: number };
  checks: {
    converged: boolean;
    applied_index: number;
    state_checksums: Record<string, string>;
    lost: number;
    unexpected: number;
    failed_but_present: number;
    unknown_applied: number;
    /** Unknown-outcome writes by answer, and how many of them turned out applied. */
    unknown_by_error: Record<string, { writes: number; applied: number }>;
    divergent: number;
    divergent_during_run: number;
    log_entries_compared: number;
    ryw_checked: number;
    ryw_violations: number;
    ryw_pending: number;
    stale_min_index_reads: number;
    /**
     * Acknowledged with write concern `leader`, before a lose_wal of the leader, above the highest
     * index a follower held: on the deleted WAL only. Not counted as lost (nor their 404s as stale
     * reads), as that concern promises to survive kill -9 of the leader, not the loss of its disk.
     */
    leader_only_writes_on_lost_wal: number;
    /** Of those, how many are missing at the end. */
    leader_only_writes_missing: number;
    /** What the product promises for a fault and did not do (FaultRecord.problems), over all faults. */
    fault_problems: number;
    /** Conditions (disk_full, recovering, ...) still set at the end, by node. */
    conditions_at_end: Record<string, string[]>;
    /**
     * One leader per term (leaders.ts): at most one node ever said it leads in a term, no two
     * nodes acknowledged fresh-id writes in one term, and none acknowledged one in a term older
     * than another node was already seen leading in.
     */
    leaders: Omit<LeaderCheck, 'examples' | 'changes'> & { changes: number };
    /** handover faults: by variant, how many; and how many transfers answered 200. */
    handovers: { by_variant: Record<string, number>; accepted: number; refused: number };
    /** The shared-key history: writes and leader reads, linearizable per key (test/chaos/HISTORY.md). */
    linearizability: { verdict: string; keys: number; ops: number; linearizable: number; not_linearizable: number; unknown: number; ms: number };
    /** The shared-key history: follower reads (session: with min_index; none: without). */
    session: { checked: SessionReport['checked']; never_written: number; stale: number; monotonic: number; violations: number };
    examples: string[];
  };
  pass: boolean;
}

function tally(ops: Op[]): Tally {
  return {
    attempted: ops.length,
    ok: ops.filter((o) => o.outcome === 'ok').length,
    failed: ops.filter((o) => o.outcome === 'failed').length,
    unknown: ops.filter((o) => o.outcome === 'unknown').length,
  };
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? ((): void => undefined);
  const timings = opts.timings ?? CI_TIMINGS;
  const rng = new Prng(opts.seed);
  // The workload draws from its own stream so that the fault schedule depends on the seed only.
  const workloadRng = new Prng(opts.seed ^ 0x5bd1e995);
  const startedAt = new Date();
  const history = new History();
  let cluster: ChaosCluster | undefined;
  let lb: TestNginx | undefined;
  try {
    cluster = await startChaosCluster({ configOverrides: { replication: CHAOS_REPLICATION }, keepDir: opts.keepDir, nodeEnv: defectEnv(opts.defect) });
    log(`cluster up in ${cluster.cluster.dir}`);
    if (opts.nginx !== false && findNginx() !== undefined) {
      lb = await startNginx(cluster.cluster.config, await freePort());
      log(`nginx on ${lb.url}`);
    }
    const leaders = cluster.leaders;
    // A node is a follower while another one leads (the harness follows the nodes' /_raft/health).
    const targets: Target[] = cluster.nodes.map((n) => ({
      name: n.id,
      url: n.url,
      get follower(): boolean {
        return leaders.leaderId !== n.id;
      },
    }));
    if (lb !== undefined) targets.push({ name: 'nginx', url: lb.url, follower: false });
    const workload = new Workload({
      targets,
      readUrls: cluster.nodes.map((n) => n.url),
      workspaces: WORKSPACES,
      writersPerTarget: opts.writersPerTarget ?? 2,
      readers: opts.readers ?? 2,
      requestTimeoutMs: opts.requestTimeoutMs ?? 5_000,
      rng: workloadRng,
      history,
      leaderId: () => leaders.leaderId,
    });
    const recorder = new HistoryRecorder();
    const registerClients = opts.registerClients ?? 6;
    const registers = registerClients === 0 ? undefined : new RegisterWorkload({
      targets,
      workspaces: REGISTER_WORKSPACES,
      keysPerWorkspace: REGISTER_KEYS,
      clients: registerClients,
      thinkMs: [20, 120],
      requestTimeoutMs: opts.requestTimeoutMs ?? 5_000,
      rng: new Prng(opts.seed ^ 0x27d4eb2f),
      recorder,
      leaderId: () => leaders.leaderId,
      leaderRead: (servedBy, sentMs, doneMs) => leaders.leaderThroughout(servedBy, sentMs, doneMs),
    });
    const urls = new Map(cluster.nodes.map((n) => [n.id, n.url]));
    workload.start();
    registers?.start();
    const warm = Date.now();
    while (history.writes().filter((w) => w.outcome === 'ok').length < 100 && Date.now() - warm < 20_000) await sleep(100);

    const faults: FaultRecord[] = [];
    let divergentDuringRun = 0;
    const divergenceExamples: string[] = [];
    const plan = planFaults(rng, opts.faults, opts.kinds);
    // Pushed writes go to whichever node leads now.
    const leaderTarget = (): Target => targets.find((x) => x.name === leaders.leaderId) ?? (targets[0] as Target);
    const pump = (count: number, contentBytes?: number): Promise<number> => workload.burst(leaderTarget(), count, 8, contentBytes);
    const acked = (): WriteOp[] => history.writes().filter((w) => w.outcome === 'ok');
    const handoverDeck: HandoverVariant[] = [];
    if (!cluster.storage.tmpfs) log(`no tmpfs per node (${cluster.storage.reason ?? '?'}): disk_full faults are skipped`);
    for (const [i, kind] of plan.entries()) {
      const hotKey = registers === undefined ? undefined : (ms: number): Promise<{ attempted: number; ok: number }> => registers.hotKey(ms);
      const fault = await injectFault(
        { cluster, rng, timings, resyncThreshold: CHAOS_REPLICATION.resync_threshold, pump, acked, hotKey, operatorToken: CHAOS_REPLICATION.operator_token, handoverDeck },
        kind,
        i + 1,
      );
      faults.push(fault);
      cluster.healAllLinks();
      const what = fault.skipped === undefined ? fault.detail : `skipped: ${fault.skipped}`;
      const problems = fault.problems === undefined ? '' : `; PROBLEMS: ${fault.problems.join('; ')}`;
      log(`fault ${i + 1}/${plan.length} ${fault.kind} ${fault.target}: ${what} (${fault.held_ms} ms; ${acked().length} writes acknowledged so far)${problems}`);
      const sample = await compareLogs(urls);
      divergentDuringRun += sample.divergent;
      divergenceExamples.push(...sample.examples);
      await sleep(rng.int(...timings.gapMs));
    }

    if (opts.settleWorkloadMs !== undefined) await sleep(opts.settleWorkloadMs);
    await Promise.all([workload.stop(), registers?.stop()]);
    log('workload stopped; healing');
    cluster.healAllLinks();
    for (const n of cluster.nodes) {
      n.resume();
      if (!n.process.running) n.start();
    }
    await Promise.all(cluster.nodes.map((n) => n.waitReady('answering', 60_000)));
    const converge = await waitConverged([...urls.values()], opts.convergeTimeoutMs ?? 60_000);
    await leaders.waitLeader(30_000);
    log(`converged=${converge.converged} at ${converge.sums.map((s) => `${s.node_id}:${s.applied_index}`).join(' ')}`);
    // Every register read once more on the leader and, with min_index of where the nodes
    // converged, on every node: a lost update or a node that kept another value shows there.
    const finalReadsFailed = (await registers?.finalReads(targets.filter((t) => t.name !== 'nginx'), converge.sums[0]?.applied_index ?? 0)) ?? 0;
    const reclassified = registers?.classifyReads() ?? 0;
    if (opts.historyFile !== undefined) recorder.write(opts.historyFile);
    log(`checking the shared-key history (${recorder.events.length} events; ${reclassified} reads were leader reads as they completed and not once every change of leader was seen, or the reverse)`);
    const checkStarted = Date.now();
    const events = parseHistory(recorder.text());
    const lin = checkCairnHistory(events, historyBudget());
    const linMs = Date.now() - checkStarted;
    const sessions = checkSessions(pairOperations(events));
    const conditions = await conditionsAtEnd(urls, 30_000);
    const logs: LogComparison = await compareLogs(urls);
    const data: DataCheck = await checkData(urls, WORKSPACES, history, leaderOnlyWrites(history, faults));
    await leaders.stop();
    const leaderCheck = leaders.check(history.writes());
    return buildReport({
      leaderCheck,
      opts, startedAt, history, faults, converge, logs, data, divergentDuringRun, divergenceExamples, nginx: lb !== undefined, storage: cluster.storage, conditions,
      recorder, registerClients, finalReadsFailed, lin, linMs, sessions,
    });
  } finally {
    await lb?.stop();
    await cluster?.stop();
  }
}

/** The nodes a planted defect runs on: the leader's defects on node-1, a follower's on both or on node-3. */
export function defectEnv(defect: PlantedDefect | undefined): Record<string, Record<string, string>> | undefined {
  if (defect === undefined) return undefined;
  const on: Record<PlantedDefect, string[]> = {
    ack_before_fsync: ['node-1'],
    cas_on_leader_only: ['node-1'],
    ignore_min_index: ['node-2', 'node-3'],
    skip_deletes: ['node-3'],
  };
  return Object.fromEntries(on[defect].map((id) => [id, { CAIRN_PLANTED_DEFECTS: defect, CAIRN_ALLOW_PLANTED_DEFECTS: '1' }]));
}

/** Waits (bounded) until no node reports a condition; resolves with what is still set, by node. */
async function conditionsAtEnd(urls: Map<string, string>, timeoutMs: number): Promise<Record<string, string[]>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now: Record<string, string[]> = {};
    for (const [id, url] of urls) {
      const codes = await nodeConditions(url);
      if (codes === undefined || codes.length > 0) now[id] = codes ?? ['(no answer)'];
    }
    if (Object.keys(now).length === 0 || Date.now() >= deadline) return now;
    await sleep(200);
  }
}

/**
 * The writes a lose_wal of the leader may legitimately have taken: acknowledged with concern
 * `leader` before the kill, at an index above every follower's log then (see
 * FaultRecord.leader_wal_lost). Keys workspace/id.
 */
export function leaderOnlyWrites(history: History, faults: FaultRecord[]): Set<string> {
  const keys = new Set<string>();
  for (const f of faults) {
    const lost = f.leader_wal_lost;
    if (lost === undefined) continue;
    for (const w of history.writes()) {
      if (w.outcome !== 'ok' || w.concern !== 'leader' || w.index === undefined || w.started_ms >= lost.killed_ms) continue;
      // No follower answered: nothing is known to be elsewhere, so nothing is excused.
      if (lost.followers_last_index === null || w.index <= lost.followers_last_index) continue;
      keys.add(history.key(w.workspace, w.id));
    }
  }
  return keys;
}

interface ReportInput {
  leaderCheck: LeaderCheck;
  opts: ChaosOptions;
  startedAt: Date;
  history: History;
  faults: FaultRecord[];
  converge: { converged: boolean; sums: NodeChecksum[] };
  logs: LogComparison;
  data: DataCheck;
  divergentDuringRun: number;
  divergenceExamples: string[];
  nginx: boolean;
  storage: ChaosStorage;
  conditions: Record<string, string[]>;
  recorder: HistoryRecorder;
  registerClients: number;
  finalReadsFailed: number;
  lin: LinearizabilityReport;
  linMs: number;
  sessions: SessionReport;
}

function operationCounts(recorder: HistoryRecorder): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const e of recorder.events) {
    if (e.type === 'invoke') continue;
    const kind = e.f === 'cas' ? `cas ${e.applied === false ? 'not applied' : 'applied'}` : e.f === 'get' ? `get ${e.consistency}` : e.f;
    const row = (out[kind] ??= {});
    row[e.type] = (row[e.type] ?? 0) + 1;
  }
  return out;
}

function buildReport(r: ReportInput): ChaosReport {
  const writes = r.history.writes();
  const byVia: Record<string, Tally> = {};
  for (const via of [...new Set(writes.map((w) => w.via))].sort()) byVia[via] = tally(writes.filter((w) => w.via === via));
  const byKind: Record<string, number> = {};
  const skipped: Record<string, { count: number; reason: string }> = {};
  for (const k of FAULT_KINDS) {
    byKind[k] = r.faults.filter((f) => f.kind === k && f.skipped === undefined).length;
    const s = r.faults.filter((f) => f.kind === k && f.skipped !== undefined);
    if (s.length > 0) skipped[k] = { count: s.length, reason: s[0]?.skipped ?? '' };
  }
  const excused = leaderOnlyWrites(r.history, r.faults);
  const staleReads = r.history.staleReads.filter((x) => !excused.has(x.key)).map((x) => x.text);
  const problems = r.faults.flatMap((f) => (f.problems ?? []).map((p) => `fault ${f.n} ${f.kind}: ${p}`));
  const sums = r.converge.sums;
  const checks: ChaosReport['checks'] = {
    converged: r.converge.converged,
    applied_index: sums[0]?.applied_index ?? 0,
    state_checksums: Object.fromEntries(sums.map((s) => [s.node_id, s.state_checksum])),
    lost: r.data.lost,
    unexpected: r.data.unexpected,
    failed_but_present: r.data.failed_but_present,
    unknown_applied: r.data.unknown_applied,
    unknown_by_error: r.data.unknown_by_error,
    divergent: r.logs.divergent,
    divergent_during_run: r.divergentDuringRun,
    log_entries_compared: r.logs.compared,
    ryw_checked: r.history.rywChecked,
    ryw_violations: r.history.rywViolations.length,
    ryw_pending: r.history.rywPending,
    stale_min_index_reads: staleReads.length,
    leader_only_writes_on_lost_wal: r.data.excused,
    leader_only_writes_missing: r.data.excused_missing,
    fault_problems: problems.length,
    conditions_at_end: r.conditions,
    leaders: (({ examples: _e, changes, ...rest }) => ({ ...rest, changes: changes.length }))(r.leaderCheck),
    handovers: handoverSummary(r.faults),
    linearizability: { verdict: r.lin.verdict, ...r.lin.totals, ms: r.linMs },
    session: {
      checked: r.sessions.checked, never_written: r.sessions.counts.never_written, stale: r.sessions.counts.stale, monotonic: r.sessions.counts.monotonic,
      violations: r.sessions.counts.never_written + r.sessions.counts.stale + r.sessions.counts.monotonic,
    },
    examples: [
      ...r.lin.keys.filter((k) => k.verdict !== 'linearizable').flatMap((k) => [`${k.key} ${k.verdict}:`, ...k.explanation.slice(0, 8).map((l) => `  ${l}`)]),
      ...r.sessions.violations,
      ...r.leaderCheck.examples,
      ...r.data.examples, ...r.logs.examples, ...r.divergenceExamples, ...r.history.rywViolations, ...staleReads, ...problems,
      ...Object.entries(r.conditions).map(([id, c]) => `${id} still reports ${c.join(', ')} at the end`),
    ].slice(0, 40),
  };
  const pass =
    checks.converged &&
    checks.lost === 0 &&
    checks.unexpected === 0 &&
    checks.failed_but_present === 0 &&
    checks.divergent === 0 &&
    checks.divergent_during_run === 0 &&
    checks.ryw_violations === 0 &&
    checks.stale_min_index_reads === 0 &&
    checks.fault_problems === 0 &&
    checks.leaders.shared_terms === 0 &&
    checks.leaders.acks_shared_terms === 0 &&
    checks.leaders.acks_after_superseded === 0 &&
    Object.keys(checks.conditions_at_end).length === 0 &&
    checks.linearizability.verdict === 'linearizable' &&
    checks.session.violations === 0;
  return {
    seed: r.opts.seed,
    planted_defect: r.opts.defect ?? null,
    faults_requested: r.opts.faults,
    started_at: r.startedAt.toISOString(),
    duration_s: Math.round((Date.now() - r.startedAt.getTime()) / 100) / 10,
    nginx: r.nginx,
    link_faults: 'TCP proxies in the test process between every pair of nodes (each node config names the proxies as the other nodes addresses)',
    storage: r.storage,
    writes: { ...tally(writes), by_via: byVia, errors: errorCounts(writes) },
    reads: tally(r.history.reads()),
    faults_by_kind: byKind,
    faults_skipped: skipped,
    faults: r.faults,
    availability: availability(r.faults, writes),
    registers: {
      clients: r.registerClients, keys: REGISTER_WORKSPACES.length * REGISTER_KEYS, events: r.recorder.events.length,
      operations: operationCounts(r.recorder), history_file: r.opts.historyFile ?? null, final_reads_failed: r.finalReadsFailed,
    },
    checks,
    pass,
  };
}

function handoverSummary(faults: readonly FaultRecord[]): ChaosReport['checks']['handovers'] {
  const by: Record<string, number> = {};
  let accepted = 0;
  let refused = 0;
  for (const f of faults) {
    if (f.handover === undefined) continue;
    by[f.handover.variant] = (by[f.handover.variant] ?? 0) + 1;
    if (f.handover.status === '200') accepted++;
    else if (/^\d+$/.test(f.handover.status)) refused++;
  }
  return { by_variant: by, accepted, refused };
}

function errorCounts(writes: WriteOp[]): Record<string, number> {
  const counts = new Map<string, number>();
  for (const w of writes) {
    if (w.outcome === 'ok') continue;
    const key = `${w.via} ${w.status ?? '-'} ${w.error ?? ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]));
}

export function reportText(report: ChaosReport): string {
  const c = report.checks;
  const row = (name: string, t: Tally): string =>
    `${name.padEnd(14)} ${String(t.attempted).padStart(9)} ${String(t.ok).padStart(9)} ${String(t.failed).padStart(9)} ${String(t.unknown).padStart(9)}`;
  const lines = [
    ...(report.planted_defect === null ? [] : [`PLANTED DEFECT: ${report.planted_defect} (the checks must fail)`]),
    `chaos run: seed ${report.seed}, ${report.faults.length} faults, ${report.duration_s} s, nginx ${report.nginx ? 'yes' : 'no'}, started ${report.started_at}`,
    '',
    `${'operations'.padEnd(14)} ${'attempted'.padStart(9)} ${'ok'.padStart(9)} ${'failed'.padStart(9)} ${'unknown'.padStart(9)}`,
    row('writes', report.writes),
    ...Object.entries(report.writes.by_via).map(([via, t]) => row(`  via ${via}`, t)),
    row('reads', report.reads),
    `most frequent write errors: ${Object.entries(report.writes.errors).slice(0, 6).map(([e, n]) => `${e} x${n}`).join('; ') || 'none'}`,
    '',
    `faults: ${Object.entries(report.faults_by_kind).map(([k, n]) => `${k} ${n}`).join(', ')}`,
    ...Object.entries(report.faults_skipped).map(([k, s]) => `skipped: ${k} ${s.count} (${s.reason})`),
    `shared keys: ${report.registers.clients} clients on ${report.registers.keys} ids, ${report.registers.events} events: ${Object.entries(report.registers.operations).map(([k, t]) => `${k} ${Object.entries(t).map(([x, n]) => `${x} ${n}`).join('/')}`).join('; ') || 'none'}`,
    `storage: ${report.storage.tmpfs ? `each node's data directory on its own ${report.storage.size_mb} MB tmpfs` : `plain directories (${report.storage.reason ?? '?'})`}`,
    '',
    `converged        ${c.converged ? 'yes' : 'NO'} (applied index ${c.applied_index}, checksums ${new Set(Object.values(c.state_checksums)).size === 1 ? 'identical' : 'DIFFERENT'})`,
    `lost             ${c.lost}`,
    `unexpected       ${c.unexpected}`,
    `failed but there ${c.failed_but_present}`,
    `divergent        ${c.divergent} at the end (${c.log_entries_compared} log entries compared), ${c.divergent_during_run} in samples during the run`,
    `read-your-writes ${c.ryw_violations} violations in ${c.ryw_checked} checks (${c.ryw_pending} follower 201s said apply pending)`,
    `min_index reads  ${c.stale_min_index_reads} stale`,
    `unknown writes found applied: ${c.unknown_applied} (${Object.entries(c.unknown_by_error).sort((a, b) => b[1].writes - a[1].writes).slice(0, 8).map(([e, x]) => `${e}: ${x.applied} of ${x.writes}`).join('; ') || 'none'})`,
    `leader-only writes on a deleted leader WAL: ${c.leader_only_writes_on_lost_wal} (${c.leader_only_writes_missing} missing at the end; not counted as lost)`,
    `linearizable     ${c.linearizability.verdict === 'linearizable' ? 'yes' : c.linearizability.verdict.toUpperCase()}: ${c.linearizability.linearizable} of ${c.linearizability.keys} keys linearizable, ${c.linearizability.not_linearizable} not, ${c.linearizability.unknown} undecided (${c.linearizability.ops} operations, checked in ${c.linearizability.ms} ms)`,
    `follower reads   ${c.session.violations} violations in ${c.session.checked.session} session and ${c.session.checked.none} other follower reads (stale ${c.session.stale}, not monotonic ${c.session.monotonic}, never written ${c.session.never_written})`,
    `one leader/term  ${c.leaders.shared_terms + c.leaders.acks_shared_terms + c.leaders.acks_after_superseded === 0 ? 'yes' : 'NO'}: terms with two nodes saying they lead ${c.leaders.shared_terms}, with writes acknowledged by two nodes ${c.leaders.acks_shared_terms}, ` +
      `writes acknowledged in a superseded term ${c.leaders.acks_after_superseded} (${c.leaders.acks_pinned} acknowledgements with their term pinned, ${c.leaders.acks_unpinned} not; ` +
      `${c.leaders.observations} /_raft/health answers; leaders by term: ${Object.entries(c.leaders.leaders_by_term).map(([t, n]) => `${t}:${n.join('+')}`).join(' ')})`,
    `handovers        ${Object.entries(c.handovers.by_variant).map(([v, n]) => `${v} ${n}`).join(', ') || 'none'}; ${c.handovers.accepted} answered 200, ${c.handovers.refused} refused`,
    `fault problems   ${c.fault_problems}`,
    `conditions left  ${Object.entries(c.conditions_at_end).map(([id, x]) => `${id}: ${x.join(',')}`).join('; ') || 'none'}`,
    '',
    'availability (writes started while each fault lasted; heal = end of the fault or the restart):',
    ...availabilityText(report.availability).map((l) => `  ${l}`),
    '',
    report.pass ? 'PASS' : 'FAIL',
  ];
  if (c.examples.length > 0) lines.push('', 'examples:', ...c.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}
