// Writes the "## Availability" section of BENCHMARKS.md: replaced between its markers on every
// availability run, appended at the end the first time; the rest of the file is left as it is.

import { writeFileSync } from 'node:fs';
import type { AvailabilityResult, ScenarioResult } from './availability.ts';

const START = '<!-- availability-bench:start -->';
const END = '<!-- availability-bench:end -->';

export interface AvailabilityRun {
  date: string;
  command: string;
  commit: string;
  machine: string;
  availability: AvailabilityResult;
  /** Written by hand after a run: what else ran on the machine, what the figures mean. */
  notes?: string[];
}

export function writeAvailabilityMarkdown(path: string, current: string, r: AvailabilityRun): void {
  const block = `${START}\n${renderAvailability(r)}\n${END}`;
  const s = current.indexOf(START);
  const e = current.indexOf(END);
  const next = s >= 0 && e > s ? `${current.slice(0, s)}${block}${current.slice(e + END.length)}` : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
}

const ms = (x: number): string => (Number.isFinite(x) ? x.toLocaleString('en-US') : '-');

const failures = (m: Record<string, number>): string =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} x${v}`)
    .join(', ') || 'none';

function row(s: ScenarioResult): string {
  return [
    s.scenario,
    s.killed.join(', '),
    ms(s.down_ms),
    `${ms(s.writes)} / ${ms(s.failed)}`,
    [s.failed_in_flight_at_kill, s.failed_while_down, s.failed_after_restart, s.failed_after_direct].map(ms).join(' / '),
    failures(s.failures),
    ms(s.gap_all_ms),
    ms(s.gap_killed_ms),
    ms(s.answering_ms),
    ms(s.direct_write_ms),
    ms(s.nginx_write_ms),
    ms(s.nginx_after_direct_ms),
    String(s.load),
  ].join(' | ');
}

export function renderAvailability(r: AvailabilityRun): string {
  const a = r.availability;
  const o = a.options;
  const out: string[] = [];
  out.push('## Availability (`npm run bench -- --sections availability`)', '');
  const command = r.command.startsWith('`') ? r.command : `\`${r.command}\``;
  out.push(`Measured ${r.date.slice(0, 16).replace('T', ' ')} UTC at commit ${r.commit} with ${command} on ${r.machine} (2 shared cores), ${a.nginx_version}.`);
  out.push('');
  out.push('Quorum writes through nginx (the config `cairn nginx-config` renders) to a fresh three-node cluster on loopback per');
  out.push(`scenario (bench/availability.ts): ${o.workspaces_per_node} workspaces per node (the node nginx hashes each to), one writer each writing a new`);
  out.push(`document every ${o.interval_ms} ms (one write in flight, ${ms(o.timeout_ms)} ms timeout). After 2 s, kill -9 of the nodes named, ${ms(o.down_ms)} ms down,`);
  out.push('a restart; meanwhile a prober writes directly to each killed node every 20 ms. Times are ms from the restart:');
  out.push('"answering" when every killed node answers HTTP, "direct write" when every killed node has acknowledged a write sent to');
  out.push('it directly (the nodes\' own readiness), "via nginx" when every killed node has served an acknowledged write through nginx;');
  out.push('"nginx after direct" is the difference, the time nginx kept a node out after it took writes, and "failed after direct');
  out.push('write" counts the writes through nginx that failed although every killed node took writes again. A gap is the longest time');
  out.push('without an acknowledged write through nginx, from 1 s before the kill to the end, over all workspaces and over those of');
  out.push('the killed nodes.');
  out.push('');
  out.push('| scenario | killed | down ms | writes / failed | failed: in flight at the kill / while down / after restart / after direct write | failures | gap all ms | gap killed nodes\' workspaces ms | answering ms | direct write ms | via nginx ms | nginx after direct ms | load |');
  out.push('|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const s of a.scenarios) out.push(`| ${row(s)} |`);
  const h = a.handover;
  if (h !== undefined) {
    out.push('', `A planned handover under the same writers (nothing killed): \`POST /_raft/transfer-leadership?target=${h.to}\` on ${h.from}, 2 s into the writes, then 3 s more.`, '');
    out.push('| from | to | transfer answered | writes / acknowledged / failed | failures | longest gap without an acknowledgement ms | acknowledged writes missing on the new leader | load |');
    out.push('|---|---|---|---:|---|---:|---:|---:|');
    const codes = Object.entries(h.failures).map(([k, v]) => `${k} x${v}`).join(', ') || '-';
    out.push(`| ${h.from} | ${h.to} | ${h.transfer_status} in ${h.transfer_ms} ms | ${h.writes} / ${h.acknowledged} / ${h.failed} | ${codes} | ${h.gap_all_ms} | ${h.lost} | ${h.load} |`);
  }
  const rr = a.rolling_restart;
  if (rr !== undefined) {
    out.push(
      '',
      `Measured ${rr.measured_at.slice(0, 16).replace('T', ' ')} UTC at commit ${rr.commit} (\`npm run bench -- --sections availability\`): a rolling restart under the same writers (deploy/rolling-restart.ts, what \`cairn rolling-restart\` runs, with each node stopped by SIGTERM and started again${rr.keep_leader ? ', leadership handed back' : ''}), 2 s into the writes, then 2 s more: ${ms(rr.total_ms)} ms in all, ${rr.writes} writes / ${rr.acknowledged} acknowledged / ${rr.failed} failed (${failures(rr.failures)}), longest gap without an acknowledgement ${ms(rr.gap_all_ms)} ms, ${rr.lost} acknowledged writes missing on the leader at the end (${rr.leader}), load ${rr.load}.`,
      '',
      'Per step (a write counts for the step it started in): how long the step took (the node back and healthy in the leader\'s view, or the new leader leading), the writes that failed, how long some write was failing (the union of the failed writes\' start-to-answer times), and the longest time without any acknowledged write.',
      '',
      '| step | ms | failed writes | failing ms | failures | longest gap without an acknowledgement ms |',
      '|---|---:|---:|---:|---|---:|',
    );
    for (const st of rr.steps) out.push(`| ${st.step} | ${ms(st.ms)} | ${st.failed} | ${ms(st.failed_ms)} | ${failures(st.failures)} | ${ms(st.gap_ms)} |`);
  }
  if ((r.notes ?? []).length > 0) {
    out.push('');
    for (const note of r.notes ?? []) out.push(note);
  }
  return out.join('\n');
}
