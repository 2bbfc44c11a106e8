// Writes the "## Replication" section of BENCHMARKS.md: replaced between its markers on every
// run, appended at the end the first time; the rest of the file is left as it is.

import { writeFileSync } from 'node:fs';
import type { BenchResults } from './run.ts';

const START = '<!-- replication-bench:start -->';
const END = '<!-- replication-bench:end -->';

export function writeMarkdown(path: string, current: string, r: BenchResults): void {
  const block = `${START}\n${render(r)}\n${END}`;
  const s = current.indexOf(START);
  const e = current.indexOf(END);
  const next = s >= 0 && e > s ? `${current.slice(0, s)}${block}${current.slice(e + END.length)}` : `${current.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
}

function render(r: BenchResults): string {
  const out: string[] = [];
  out.push('## Replication');
  out.push('');
  const command = r.command.startsWith('`') ? r.command : `\`${r.command}\``;
  out.push(`Measured ${r.date.slice(0, 10)} at commit ${r.commit} with ${command} on ${r.machine}.`);
  out.push('The machine was shared with other jobs while this ran: the 1-minute load average is noted next to each figure (2 cores).');
  out.push('');
  out.push('What is fsynced: Cairn\'s leader writes each batch of up to 100 entries (or 5 ms) to log.db in one transaction and');
  out.push('fdatasyncs the WAL (off the event loop) before it ships or acknowledges it; each follower fdatasyncs every append before it answers; state.db');
  out.push('runs WAL with `synchronous=NORMAL`. etcd fsyncs its WAL once per batch of proposals it commits (defaults kept).');
  out.push('`leader` acknowledges after the leader\'s fsync; `quorum` after the leader and one follower have it durable.');
  if (r.write_summary.length > 0) {
    out.push('');
    out.push(`### Writes: 1 KiB values, 32 connections, wrk (${r.wrk}), ${r.writes.length / r.write_summary.length} alternating runs each`);
    out.push('');
    out.push(`etcd ${r.etcd_version} (Debian etcd-server), three members on loopback, \`POST /v3/kv/put\` with base64 key and a base64 1 KiB value,`);
    out.push('each request a new key. Cairn: three nodes on loopback, `POST /api/v1/documents` with a new id and 1 KiB of content; nginx is');
    out.push('the repository\'s rendered config in front of all three. Medians over the runs; the ratio is Cairn\'s median over etcd\'s.');
    if (r.nginx_served_by !== undefined) {
      out.push(`nginx hashed the benchmark's workspace to ${r.nginx_served_by}${r.nginx_served_by === 'node-1' ? ' (the leader)' : ' (a follower: it forwards each write to the leader and answers once it has applied it itself)'}.`);
    }
    out.push('');
    out.push('CPU per write: CPU time (user + system, from /proc) each member used during the run over the writes acknowledged, in ms,');
    out.push('for the three etcd members or node-1 (leader), node-2, node-3 (nginx and wrk not counted); the machine has 2 cores in all.');
    out.push('');
    out.push('| system | writes/s | p50 ms | p99 ms | vs etcd | CPU ms per write (3 members) | load during runs |');
    out.push('|---|---:|---:|---:|---:|---|---|');
    const cpu = (v: number[] | undefined): string => (v === undefined || v.some((x) => !Number.isFinite(x)) ? 'n/a' : `${v.join(' + ')} = ${Math.round(v.reduce((a, b) => a + b, 0) * 1000) / 1000}`);
    for (const s of r.write_summary) out.push(`| ${s.system} | ${s.rps_median} | ${s.p50_ms_median} | ${s.p99_ms_median} | ${s.ratio_to_etcd}x | ${cpu(s.cpu_ms_per_write_median)} | ${s.loads.join(', ')} |`);
    const bad = r.writes.filter((w) => w.non2xx > 0 || w.socket_errors > 0);
    if (bad.length > 0) out.push('', `Runs with errors: ${bad.map((w) => `${w.system} round ${w.round}: ${w.non2xx} non-2xx, ${w.socket_errors} socket errors`).join('; ')}.`);
    out.push('', 'Every run:', '', '| round | system | writes/s | p50 ms | p99 ms | load |', '|---:|---|---:|---:|---:|---:|');
    for (const w of r.writes) out.push(`| ${w.round} | ${w.system} | ${Math.round(w.rps)} | ${w.p50_ms} | ${w.p99_ms} | ${w.load} |`);
  }
  if (r.lag !== undefined) {
    const l = r.lag;
    out.push('', '### Replication lag at half of the maximum write rate', '');
    out.push(`Open-loop writes (concern \`leader\`) at ${l.target_rate}/s (half of the leader-concern median above; achieved ${l.achieved_rate}/s) for ${l.seconds} s;`);
    out.push(`\`/_raft/sync-status\` sampled every 20 ms (${l.samples} follower samples). Lag in entries: the leader's last log index minus the`);
    out.push('follower\'s last replicated index. Lag in ms: how long ago the leader\'s log first held the oldest entry the follower lacked.');
    out.push('');
    out.push('| lag p50 entries | lag p99 entries | lag p50 ms | lag p99 ms | write p50 ms | write p99 ms | load |');
    out.push('|---:|---:|---:|---:|---:|---:|---:|');
    out.push(`| ${l.lag_entries_p50} | ${l.lag_entries_p99} | ${l.lag_ms_p50} | ${l.lag_ms_p99} | ${l.write_p50_ms} | ${l.write_p99_ms} | ${l.load} |`);
  }
  if (r.catchup !== undefined) {
    const c = r.catchup;
    out.push('', '### Catch-up of a follower below the resync threshold', '');
    out.push(`node-3 SIGSTOPped while 900 single-document quorum writes went in; after SIGCONT it was ${c.entries_behind} entries behind and held them`);
    out.push(`all after ${c.seconds} s: **${c.entries_per_s} entries/s** (snapshot used: ${c.snapshot_used ? 'yes' : 'no'}; load ${c.load}).`);
  }
  if (r.load !== undefined) {
    const l = r.load;
    out.push('', '### Loading 100k documents', '');
    const vectors = l.vector_dim !== undefined && l.vector_dim > 0 ? `, each with a client-supplied ${l.vector_dim}-dimension vector instead of the built-in 384-dimension embedding` : ', embedded by the built-in 384-dimension embedder';
    out.push(`${l.documents} documents of ~300 bytes${vectors}, by \`POST /api/v1/documents/bulk\` (50 per call, 4 in flight, concern \`leader\`): ${l.seconds} s,`);
    out.push(`${l.docs_per_s} documents/s, ${l.log_entries} log entries (load ${l.load}).${l.converged_after_s === undefined ? '' : ` The followers held the same state ${l.converged_after_s} s after the last bulk write was acknowledged.`}`);
  }
  if (r.queries !== undefined) {
    out.push('', `### Query latency at ${r.load?.documents ?? '100k'} documents in one workspace (on a follower, one query at a time)`, '');
    out.push('| query | n | p50 ms | p99 ms | load |', '|---|---:|---:|---:|---:|');
    for (const q of r.queries) out.push(`| ${q.kind} | ${q.queries} | ${q.p50_ms} | ${q.p99_ms} | ${q.load} |`);
  }
  if (r.resync !== undefined) {
    const s = r.resync;
    out.push('', `### Snapshot resync of an empty follower at ${s.documents} documents`, '');
    out.push(`node-3 stopped, its data directory deleted, started again: ${s.seconds} s until it held the leader's applied index with the same`);
    out.push(`state checksum, process start included (snapshot used: ${s.snapshot_used ? 'yes' : 'no'}; ${(s.bytes / 1e6).toFixed(1)} MB received, ${s.mb_per_s} MB/s end to end; load ${s.load}).`);
    out.push(`A force-resync of node-2 right after (transfer and install only): ${s.force_resync_seconds} s, ${s.force_resync_mb_per_s} MB/s — "${s.force_resync_message}".`);
  }
  if (r.profile !== undefined) {
    const p = r.profile;
    out.push('', '### Where the time goes (quorum writes, 32 connections, all three nodes under `node --cpu-prof`)', '');
    out.push(`${p.rps} writes/s during the profiled run (profiling slows the nodes); ${p.total_ms} ms sampled on node-1; ${p.file.replace(/.*bench\//, 'bench/')}.`);
    if (p.cpu_ms_per_write !== undefined && p.cpu_ms_per_write.length > 0) out.push(`CPU ms per write, profiled: node-1 ${p.cpu_ms_per_write[0]}, node-2 ${p.cpu_ms_per_write[1]}, node-3 ${p.cpu_ms_per_write[2]}.`);
    const followerAreas = p.follower?.by_area ?? {};
    const areas = [...new Set([...Object.keys(p.by_area), ...Object.keys(followerAreas)])];
    out.push('', '| area | share of leader samples | share of follower (node-2) samples |', '|---|---:|---:|');
    for (const k of areas) out.push(`| ${k} | ${p.by_area[k] ?? 0}% | ${followerAreas[k] ?? 0}% |`);
    out.push('', 'Leader (node-1), top functions by self time:', '', '| function (self time) | where | share |', '|---|---|---:|');
    for (const l of p.lines) out.push(`| ${l.fn} | ${l.where} | ${l.self_pct}% |`);
  }
  if (r.notes !== undefined && r.notes.length > 0) out.push('', '### Notes', '', ...r.notes.map((n) => `- ${n}`));
  if (r.errors.length > 0) out.push('', `Sections that failed in this run: ${r.errors.join('; ')}.`);
  out.push('', goals(r));
  return out.join('\n');
}

function goals(r: BenchResults): string {
  const lines = ['Goals of issue 7:', ''];
  const q = r.write_summary.find((s) => s.system === 'cairn quorum, via leader');
  const l = r.write_summary.find((s) => s.system === 'cairn leader, via leader');
  if (q !== undefined) lines.push(`- quorum writes >= 1.0x etcd: ${q.ratio_to_etcd}x — ${q.ratio_to_etcd >= 1 ? 'met' : 'missed'}`);
  if (l !== undefined) lines.push(`- leader-acknowledged writes >= 2x etcd: ${l.ratio_to_etcd}x — ${l.ratio_to_etcd >= 2 ? 'met' : 'missed'}`);
  if (r.lag !== undefined) {
    const short = r.lag.achieved_rate < 0.9 * r.lag.target_rate;
    const verdict = r.lag.lag_ms_p99 > 50 ? 'missed' : short ? `not demonstrated: only ${r.lag.achieved_rate} of ${r.lag.target_rate} writes/s were achieved (see the notes)` : 'met';
    lines.push(`- lag p99 <= 50 ms at half load: ${r.lag.lag_ms_p99} ms — ${verdict}`);
  }
  if (r.resync !== undefined) {
    const small = r.load?.vector_dim !== undefined && r.load.vector_dim > 0 ? ` with ${r.load.vector_dim}-dimension client vectors; probably missed with the default embedder (see the notes)` : '';
    lines.push(`- 100k-document resync <= 10 s: ${r.resync.seconds} s — ${r.resync.seconds <= 10 ? 'met' : 'missed'}${small}`);
  }
  return lines.join('\n');
}
