// Server-side rendering of the dashboard. The page is complete HTML on first paint (readable
// with JavaScript off); the live stream (/dashboard/events) sends the same sections rendered by
// these same functions, and the page's small script swaps them in. One renderer, no build step.
import type { RateHistory } from '../cluster/rates.ts';
import type { ClusterEvent, ClusterSnapshot, NodeRow, NodeState } from '../cluster/types.ts';

export const state_colours: Record<NodeState, string> = {
  leader: '#2563eb',
  healthy: '#15803d',
  lagging: '#b45309',
  desynced: '#b91c1c',
  unknown: '#6b7280',
  unreachable: '#7c3aed',
};

export const section_ids = ['summary', 'topology', 'nodes', 'events', 'workspaces'] as const;
export type SectionId = (typeof section_ids)[number];

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

function num(n: number | null | undefined, suffix = ''): string {
  return n === null || n === undefined ? '–' : `${n.toLocaleString('en-US')}${suffix}`;
}

function duration(s: number | null): string {
  if (s === null) return '–';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function badge(state: NodeState): string {
  return `<span class="state state-${state}" data-state="${state}" style="--c:${state_colours[state]}">${state}</span>`;
}

export function renderSummary(s: ClusterSnapshot): string {
  const f = s.followers;
  return `<dl class="summary">
<div><dt>Nodes reachable</dt><dd>${s.reachable_nodes} / ${s.total_nodes}</dd></div>
<div><dt>Leader</dt><dd>${esc(s.leader.id)} ${s.leader.reachable ? '' : badge('unreachable')}</dd></div>
<div><dt>Term</dt><dd>${num(s.term)}</dd></div>
<div><dt>Commit index</dt><dd>${num(s.commit_index)}</dd></div>
<div><dt>Writes</dt><dd>${num(s.write_rate_per_s)} /s</dd></div>
<div><dt>Queries</dt><dd>${num(s.query_rate_per_s)} /s</dd></div>
<div><dt>Followers</dt><dd>${f.healthy} healthy, ${f.lagging} lagging, ${f.desynced} desynced, ${f.unknown} unknown</dd></div>
<div><dt>Snapshots sent</dt><dd>${s.resync_stats === null ? '–' : `${s.resync_stats.snapshot_send_successes} ok, ${s.resync_stats.snapshot_send_failures} failed`}</dd></div>
</dl>
<p class="muted">Seen from ${esc(s.observed_by)} at <time datetime="${esc(s.at)}">${esc(s.at.slice(11, 19))} UTC</time>.</p>`;
}

/** The leader on top, followers below, a link per follower coloured (and labelled) by its state. */
export function renderTopology(s: ClusterSnapshot): string {
  const width = 520;
  const height = 230;
  const leader = s.nodes.find((n) => n.role === 'leader');
  const followers = s.nodes.filter((n) => n.role === 'follower');
  const lx = width / 2;
  const ly = 50;
  const fy = 175;
  const pos = (i: number): number => (width * (i + 1)) / (followers.length + 1);
  const parts: string[] = [];
  followers.forEach((f, i) => {
    const x = pos(i);
    const colour = state_colours[f.state];
    const dash = f.state === 'healthy' ? '' : ' stroke-dasharray="6 4"';
    parts.push(`<line x1="${lx}" y1="${ly}" x2="${x}" y2="${fy}" stroke="${colour}" stroke-width="3"${dash}/>`);
    const mx = (lx + x) / 2;
    const my = (ly + fy) / 2;
    parts.push(`<text x="${mx + (x < lx ? -8 : 8)}" y="${my}" text-anchor="${x < lx ? 'end' : 'start'}" class="link-label">${esc(f.state)}${f.lag === null ? '' : `, lag ${f.lag}`}</text>`);
  });
  const circle = (n: NodeRow, x: number, y: number): string =>
    `<g class="topo-node" data-node-id="${esc(n.id)}"><circle cx="${x}" cy="${y}" r="30" fill="${state_colours[n.state]}"/>` +
    `<text x="${x}" y="${y + 4}" text-anchor="middle" class="node-id">${esc(n.id)}</text>` +
    `<text x="${x}" y="${y + (y < height / 2 ? -38 : 48)}" text-anchor="middle" class="node-sub">${n.role === 'leader' ? 'leader' : esc(n.state)} · ${esc(n.address)}</text></g>`;
  if (leader !== undefined) parts.push(circle(leader, lx, ly));
  followers.forEach((f, i) => parts.push(circle(f, pos(i), fy)));
  return `<svg viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="Cluster topology: ${s.nodes.map((n) => `${esc(n.id)} ${n.state}`).join(', ')}">${parts.join('')}</svg>`;
}

export function renderNodes(s: ClusterSnapshot, opts: { tokenRequired: boolean }): string {
  const rows = s.nodes.map((n) => {
    const action =
      n.role === 'follower'
        ? `<form method="post" action="/_raft/force-resync?target=${encodeURIComponent(n.id)}" class="resync"><button type="submit" data-target="${esc(n.id)}" data-token="${opts.tokenRequired ? '1' : '0'}"${n.snapshot_in_progress ? ' disabled' : ''} title="Force a snapshot resync of this follower now">Resync</button></form>`
        : '';
    return `<tr data-node-id="${esc(n.id)}" data-state="${n.state}">
<td class="id">${esc(n.id)}</td><td>${esc(n.address)}</td><td>${n.role}</td><td>${badge(n.state)}${n.snapshot_in_progress ? ' <span class="muted">snapshot…</span>' : ''}</td>
<td>${n.reachable ? 'yes' : `<span title="${esc(n.error ?? '')}">no</span>`}</td><td class="num">${num(n.applied_index)}</td><td class="num lag">${num(n.lag)}</td>
<td class="num">${n.last_latency_ms === null ? '–' : `${n.last_latency_ms} ms`}</td><td class="num">${num(n.consecutive_failures)}</td><td class="num">${n.resyncs}</td>
<td>${duration(n.uptime_s)}</td><td>${esc(n.version ?? '–')}</td><td>${action}</td></tr>`;
  });
  return `<table class="nodes"><thead><tr><th>Node</th><th>Address</th><th>Role</th><th>State</th><th>Reachable</th><th>Applied</th><th>Lag</th><th>Latency</th><th>Failures</th><th>Resyncs</th><th>Uptime</th><th>Version</th><th></th></tr></thead>
<tbody>${rows.join('')}</tbody></table>`;
}

export function renderEvents(events: ClusterEvent[]): string {
  if (events.length === 0) return '<p class="muted">No replication events yet.</p>';
  const items = events.map(
    (e) => `<li><time datetime="${esc(e.at)}">${esc(e.at.slice(11, 19))}</time> <b>${esc(e.kind)}</b>${e.follower === undefined ? '' : ` ${esc(e.follower)}`} <span class="muted">(${esc(e.node)})</span> ${esc(e.detail)}</li>`,
  );
  return `<ol class="events">${items.join('')}</ol>`;
}

export function renderWorkspaces(s: ClusterSnapshot): string {
  if (s.workspaces.length === 0) return '<p class="muted">No workspaces yet.</p>';
  const rows = s.workspaces.map((w) => `<tr><td>${esc(w.workspace)}</td><td class="num">${num(w.documents)}</td><td class="num">${bytes(w.bytes)}</td></tr>`);
  const more = s.workspaces_total > s.workspaces.length ? `<p class="muted">${s.workspaces_total - s.workspaces.length} more not shown.</p>` : '';
  return `<table><thead><tr><th>Workspace</th><th>Documents</th><th>Size</th></tr></thead><tbody>${rows.join('')}</tbody></table>${more}`;
}

/** A sparkline of per-second values (the same drawing as the page script's). */
export function renderChart(id: string, title: string, values: number[], colour: string): string {
  const w = 300;
  const h = 60;
  const max = Math.max(1, ...values);
  const n = values.length;
  const pts = values.map((v, i) => `${(n <= 1 ? w : (i * w) / (n - 1)).toFixed(1)},${(h - (v / max) * (h - 4) - 2).toFixed(1)}`).join(' ');
  const last = values.at(-1) ?? 0;
  return `<figure class="chart" id="${id}" data-max="${max}"><figcaption>${esc(title)}: <b class="chart-last">${last}</b>/s <span class="muted">(max <span class="chart-max">${max}</span>, last ${n < 120 ? `${n} s` : `${Math.round(n / 60)} min`})</span></figcaption>
<svg viewBox="0 0 ${w} ${h}" width="100%" height="${h}" preserveAspectRatio="none"><polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${pts}"/></svg></figure>`;
}

export function renderSections(s: ClusterSnapshot, opts: { tokenRequired: boolean }): Record<SectionId, string> {
  return {
    summary: renderSummary(s),
    topology: renderTopology(s),
    nodes: renderNodes(s, opts),
    events: renderEvents(s.events),
    workspaces: renderWorkspaces(s),
  };
}

/**
 * The rolling restart action (POST /_raft/rolling-restart, http/rolling-routes.ts): outside the
 * live sections, so the stream's updates leave the checkbox and the progress line alone.
 */
export function renderRollingRestart(opts: { tokenRequired: boolean }): string {
  return `<form method="post" action="/_raft/rolling-restart" class="rolling"><button type="submit" data-token="${opts.tokenRequired ? '1' : '0'}" title="Restart every node once, one at a time: followers first, the leader after handing leadership to a follower">Rolling restart</button>
<label><input type="checkbox" name="keep_leader" value="true" checked> hand leadership back to the current leader</label></form>
<p id="rolling-result" role="status"></p>`;
}

export interface PageOptions {
  tokenRequired: boolean;
  css: string;
  script: string;
}

export function renderPage(s: ClusterSnapshot, history: { write: RateHistory; query: RateHistory }, opts: PageOptions): string {
  const sec = renderSections(s, opts);
  const seed = JSON.stringify({ write: history.write.write, query: history.query.query, at_s: s.last_second.at_s }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cairn cluster ${esc(s.cluster_id)}</title><style>${opts.css}</style></head>
<body>
<header><h1>Cairn <span class="muted">cluster ${esc(s.cluster_id)}</span></h1><p id="live" class="muted">Live updates need JavaScript; this page shows the state when it was loaded.</p></header>
<main>
<section><h2>Overview</h2><div id="summary">${sec.summary}</div></section>
<section class="two"><div><h2>Topology</h2><div id="topology">${sec.topology}</div></div>
<div><h2>Rates</h2>${renderChart('chart-write', 'Writes (log entries)', history.write.write, '#2563eb')}${renderChart('chart-query', 'Queries', history.query.query, '#15803d')}</div></section>
<section><h2>Nodes</h2><div id="nodes">${sec.nodes}</div><p id="resync-result" role="status"></p>${renderRollingRestart(opts)}</section>
<section class="two"><div><h2>Replication events</h2><div id="events">${sec.events}</div></div><div><h2>Workspaces</h2><div id="workspaces">${sec.workspaces}</div></div></section>
</main>
<script id="seed" type="application/json">${seed}</script>
<script>${opts.script}</script>
</body></html>`;
}
