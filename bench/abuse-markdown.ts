// Writes the "## Hostile requests" section of BENCHMARKS.md: replaced between its markers on
// every abuse run, appended at the end the first time; the rest of the file is left as it is.

import { writeFileSync } from 'node:fs';
import { health_p99_ms_max, writer_p99_ratio_max } from './abuse.ts';
import type { AbuseResult, PhaseResult } from './abuse.ts';

const START = '<!-- abuse-bench:start -->';
const END = '<!-- abuse-bench:end -->';

export interface AbuseRun {
  date: string;
  command: string;
  commit: string;
  machine: string;
  abuse: AbuseResult;
  /** Written by hand after a run: what else ran on the machine, what the figures mean. */
  notes?: string[];
}

export function writeAbuseMarkdown(path: string, current: string, r: AbuseRun): void {
  const block = `${START}\n${renderAbuse(r)}\n${END}`;
  const s = current.indexOf(START);
  const e = current.indexOf(END);
  const next = s >= 0 && e > s ? `${current.slice(0, s)}${block}${current.slice(e + END.length)}` : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
}

const num = (x: number): string => (Number.isFinite(x) ? String(x) : '-');

const counts = (m: Record<string, number>): string =>
  Object.entries(m)
    .map(([k, v]) => `${k} x${v}`)
    .join(', ');

function phaseRow(p: PhaseResult): string {
  const failed = p.health_failed + p.writes_failed > 0 ? ` (failed: ${p.health_failed} probes, ${p.writes_failed} writes)` : '';
  return `| ${p.phase} | ${p.health_probes} | ${p.health_p50_ms} | ${p.health_p99_ms} | ${p.health_max_ms} | ${p.writes_per_s} | ${p.write_p50_ms} | ${p.write_p99_ms}${failed} | ${num(p.leader_loop_p99_ms ?? Number.NaN)} | ${num(p.leader_loop_max_ms ?? Number.NaN)} | ${p.load} |`;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

export function renderAbuse(r: AbuseRun): string {
  const a = r.abuse;
  const o = a.options;
  const out: string[] = [];
  out.push('## Hostile requests (`npm run bench -- --sections abuse`)', '');
  const command = r.command.startsWith('`') ? r.command : `\`${r.command}\``;
  out.push(`Measured ${r.date.slice(0, 16).replace('T', ' ')} UTC at commit ${r.commit} with ${command} on ${r.machine} (2 shared cores).`);
  out.push('');
  out.push(`Three nodes on loopback (bench/cairn.ts, default settings: body_bytes_max 512 KiB, document_bytes_max 256 KiB). Two phases of ${o.seconds} s:`);
  out.push(`${o.writers} writers doing quorum writes of ~80-byte documents to the leader (node-1), one at a time each, while a probe GETs the`);
  out.push(`leader's \`/_raft/health\` every ${o.probe_interval_ms} ms (one in flight); in the second phase one hostile client (bench/hostile.ts, its own`);
  out.push('process) sends the kinds below one at a time, in a loop. Writers and probe run in the bench process; a 3 s warm-up is not recorded.');
  out.push(
    o.pin === true
      ? 'Pinned (`--abuse-pin`): the leader alone on CPU 0; the followers, the bench process and the hostile client on CPU 1 (taskset), as separate machines would run the nodes.'
      : 'Not pinned: the three nodes, the bench process and the hostile client share both CPUs.',
  );
  out.push('"Leader loop": the leader\'s event-loop delay over the phase from its `/metrics` (`cairn_nodejs_eventloop_lag_p99_seconds` and `_max_seconds`, 10 ms resolution): how late a timer ran, the leader\'s own work and any wait for a CPU together.');
  out.push('');
  out.push('| phase | health probes | health p50 ms | health p99 ms | health max ms | writes/s | write p50 ms | write p99 ms | leader loop p99 ms | leader loop max ms | load |');
  out.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  out.push(phaseRow(a.baseline), phaseRow(a.hostile));
  out.push('');
  const healthOk = a.hostile.health_p99_ms <= health_p99_ms_max;
  const ratio = Math.round((a.hostile.write_p99_ms / a.baseline.write_p99_ms) * 100) / 100;
  const writerOk = ratio <= writer_p99_ratio_max;
  out.push('Targets:', '');
  out.push(`- leader \`/_raft/health\` p99 <= ${health_p99_ms_max} ms under the hostile client: ${a.hostile.health_p99_ms} ms — ${healthOk ? 'met' : 'missed'}`);
  out.push(`- writer p99 within ${writer_p99_ratio_max}x of the baseline: ${a.hostile.write_p99_ms} / ${a.baseline.write_p99_ms} ms = ${ratio}x — ${writerOk ? 'met' : 'missed'}`);
  out.push('');
  out.push('Hostile requests during the second phase, by kind (the follower is node-2). "While in flight": the leader health probes and');
  out.push('the writes whose time overlapped a request of that kind (how many, their p99 and max), which attributes the slow ones to a kind.', '');
  out.push('| kind | requests | statuses | error codes | p50 ms | max ms | health while in flight: n / p99 / max ms | writes while in flight: n / p99 ms |');
  out.push('|---|---:|---|---|---:|---:|---|---|');
  for (const k of a.hostile.hostile ?? []) {
    const notJson = k.not_json > 0 ? `, ${k.not_json} not JSON` : '';
    const f = k.in_flight;
    const during = f === undefined ? '| |' : `| ${f.health_probes} / ${num(f.health_p99_ms)} / ${num(f.health_max_ms)} | ${f.writes} / ${num(f.write_p99_ms)} |`;
    out.push(`| ${k.kind} | ${k.requests} | ${counts(k.statuses)} | ${counts(k.codes)}${notJson} | ${k.p50_ms} | ${k.max_ms} ${during}`);
  }
  const worst = [...(a.hostile.hostile ?? [])]
    .filter((k) => k.in_flight !== undefined && k.in_flight.health_probes > 0)
    .sort((x, y) => (y.in_flight?.health_max_ms ?? 0) - (x.in_flight?.health_max_ms ?? 0))
    .slice(0, 3);
  if (worst.length > 0) {
    out.push('', `Slowest leader health probes while in flight: ${worst.map((k) => `${k.kind} (max ${k.in_flight?.health_max_ms} ms, writes p99 ${k.in_flight?.write_p99_ms} ms)`).join('; ')}.`);
  }
  if (a.each.length > 0) {
    out.push('');
    out.push(`Each kind alone for ${o.each_seconds} s (same writers and probe), to attribute a miss:`, '');
    out.push('| kind alone | requests | statuses | health p99 ms | health max ms | writes/s | write p99 ms | leader loop max ms | load |');
    out.push('|---|---:|---|---:|---:|---:|---:|---:|---:|');
    const controls = a.controls ?? [];
    for (const p of [...controls.slice(0, 1), ...a.each, ...controls.slice(1)]) {
      const k = p.hostile?.[0];
      out.push(`| ${p.phase} | ${k?.requests ?? 0} | ${k === undefined ? '' : counts(k.statuses)} | ${p.health_p99_ms} | ${p.health_max_ms} | ${p.writes_per_s} | ${p.write_p99_ms} | ${num(p.leader_loop_max_ms ?? Number.NaN)} | ${p.load} |`);
    }
    // When the machine's noise alone is over the health target (a loaded machine), a kind counts
    // only when it at least doubles the worst of the baseline and the control runs.
    const quiet = [a.baseline, ...controls];
    const healthBar = Math.max(health_p99_ms_max, writer_p99_ratio_max * Math.max(...quiet.map((p) => p.health_p99_ms)));
    const writeBar = writer_p99_ratio_max * Math.max(...quiet.map((p) => p.write_p99_ms));
    const over = a.each.filter((p) => p.health_p99_ms > healthBar || p.write_p99_ms > writeBar);
    out.push('');
    const bar = `health p99 over ${round1(healthBar)} ms (the larger of ${health_p99_ms_max} ms and 2x the worst of the baseline and the "none" controls) or write p99 over ${round1(writeBar)} ms (2x the same)`;
    out.push(over.length === 0 ? `No kind alone put the ${bar}.` : `Kinds alone with ${bar}: ${over.map((p) => `${p.phase} (health p99 ${p.health_p99_ms} ms, write p99 ${p.write_p99_ms} ms)`).join('; ')}.`);
  }
  if (r.notes !== undefined && r.notes.length > 0) out.push('', 'Notes:', '', ...r.notes.map((n) => `- ${n}`));
  return out.join('\n');
}
