import { describe, expect, it } from 'vitest';
import type { ClusterSnapshot, NodeRow } from '../cluster/types.ts';
import { renderPage, renderSections } from './render.ts';

function row(id: string, over: Partial<NodeRow> = {}): NodeRow {
  return {
    id, address: `${id}:80`, role: 'follower', reachable: true, state: 'healthy', applied_index: 10, commit_index: 10, last_log_index: 10, term: 1, lag: 0,
    last_latency_ms: 1, consecutive_failures: 0, resyncs: 0, snapshot_in_progress: false, in_sync: true, db_size_bytes: 4096, version: '0.1.0', uptime_s: 5,
    write_rate_per_s: 0, query_rate_per_s: 0, error: null, seen_ms_ago: 0, ...over,
  };
}

function snapshot(): ClusterSnapshot {
  return {
    at: '2026-01-01T00:00:00.000Z', cluster_id: 'c<1>', observed_by: 'node-1', total_nodes: 3, reachable_nodes: 2,
    leader: { id: 'node-1', address: 'node-1:80', reachable: true }, term: 1, commit_index: 10, write_rate_per_s: 1, query_rate_per_s: 0,
    last_second: { at_s: 100, write: 1, query: 0 }, followers: { healthy: 1, lagging: 0, desynced: 1, unknown: 0 }, resync_stats: null,
    nodes: [row('node-1', { role: 'leader', state: 'leader' }), row('node-2'), row('node-3', { state: 'desynced', reachable: false, lag: 900 })],
    events: [{ at: '2026-01-01T00:00:00.000Z', kind: 'desynced', follower: 'node-3', detail: '<script>alert(1)</script>', node: 'node-1' }],
    workspaces: [{ workspace: 'ws-1', documents: 12, bytes: 4096 }], workspaces_total: 1,
  };
}

describe('dashboard rendering', () => {
  it('shows every node with its state as text and colour, and a resync button per follower', () => {
    const s = renderSections(snapshot(), { tokenRequired: true });
    expect(s.nodes.match(/<tr data-node-id=/g)).toHaveLength(3);
    expect(s.nodes).toContain('data-state="desynced" style="--c:#b91c1c">desynced</span>');
    expect(s.nodes.match(/>Resync<\/button>/g)).toHaveLength(2);
    expect(s.nodes).toContain('data-token="1"');
    expect(s.topology.match(/class="topo-node"/g)).toHaveLength(3);
    expect(s.topology).toContain('desynced, lag 900');
    expect(s.workspaces).toContain('ws-1');
  });

  it('escapes what it did not write itself', () => {
    const page = renderPage(snapshot(), { write: { start_s: 0, write: [1, 2], query: [] }, query: { start_s: 0, write: [], query: [0, 1] } }, { tokenRequired: false, css: '', script: '' });
    expect(page).not.toContain('<script>alert(1)</script>');
    expect(page).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
    expect(page).toContain('cluster c&#60;1&#62;');
    expect(page).not.toMatch(/https?:\/\//); // nothing loaded from elsewhere
  });
});
