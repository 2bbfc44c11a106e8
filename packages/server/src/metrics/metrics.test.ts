import { afterEach, describe, expect, it } from 'vitest';
import { CONDITION_CODES } from '../replication/condition.ts';
import { openOneNode } from '../testing/one-node.ts';
import { HttpMetrics } from './http-metrics.ts';
import { Registry } from 'prom-client';
import { parsePrometheusText, sampleValue } from './prom-text.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** A one-node cluster in memory: the real Replica and app, no socket. */
function oneNode(id = 'node-1') {
  const node = openOneNode({ id });
  cleanups.push(() => node.close());
  return { app: node.app, replica: node.replica };
}

async function scrape(app: ReturnType<typeof oneNode>['app']) {
  const res = await app.request('/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await res.text());
}

describe('prometheus text parser', () => {
  it('reads help, type, labels with escapes and histogram series', () => {
    const f = parsePrometheusText(
      [
        '# HELP a_total things',
        '# TYPE a_total counter',
        'a_total{x="q\\"uote",y="new\\nline"} 3',
        '# TYPE h histogram',
        'h_bucket{le="1"} 1',
        'h_bucket{le="+Inf"} 2',
        'h_sum 3.5',
        'h_count 2',
      ].join('\n'),
    );
    expect(f.get('a_total')).toMatchObject({ type: 'counter', help: 'things' });
    expect(f.get('a_total')?.samples[0]?.labels).toEqual({ x: 'q"uote', y: 'new\nline' });
    expect(sampleValue(f, 'h_count')).toBe(2);
  });

  it('refuses samples without a TYPE, bad values and histograms without +Inf', () => {
    expect(() => parsePrometheusText('x 1')).toThrow(/no # TYPE/);
    expect(() => parsePrometheusText('# TYPE x gauge\nx one')).toThrow(/bad value/);
    expect(() => parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 1')).toThrow(/\+Inf/);
    expect(() => parsePrometheusText('# TYPE x gauge\nx{a="1} 1')).toThrow();
  });
});

describe('GET /metrics', () => {
  it('serves Prometheus text with cairn_ names, units and types', async () => {
    const { app } = oneNode();
    const f = await scrape(app);
    const expected: Record<string, string> = {
      cairn_http_requests_total: 'counter',
      cairn_http_request_duration_seconds: 'histogram',
      cairn_raft_last_log_index: 'gauge',
      cairn_raft_commit_index: 'gauge',
      cairn_raft_applied_index: 'gauge',
      cairn_raft_term: 'gauge',
      cairn_raft_follower_lag_entries: 'gauge',
      cairn_raft_follower_state: 'gauge',
      cairn_raft_append_duration_seconds: 'histogram',
      cairn_raft_batch_entries: 'histogram',
      cairn_raft_log_write_duration_seconds: 'histogram',
      cairn_raft_snapshots_sent_total: 'counter',
      cairn_raft_snapshot_send_failures_total: 'counter',
      cairn_raft_snapshots_received_total: 'counter',
      cairn_raft_snapshot_sent_bytes_total: 'counter',
      cairn_raft_snapshot_duration_seconds: 'histogram',
      cairn_workspace_documents: 'gauge',
      cairn_workspace_bytes: 'gauge',
      cairn_workspace_requests_total: 'counter',
      cairn_workspace_limit_rejections_total: 'counter',
      cairn_ivf_lists: 'gauge',
      cairn_ivf_vectors: 'gauge',
      cairn_ivf_list_size_max: 'gauge',
      cairn_process_resident_memory_bytes: 'gauge',
    };
    for (const [name, type] of Object.entries(expected)) expect(f.get(name)?.type, name).toBe(type);
    for (const f2 of f.values()) {
      expect(f2.name).toMatch(/^cairn_/);
      if (f2.type === 'counter') expect(f2.name).toMatch(/_total$/);
    }
    expect(sampleValue(f, 'cairn_raft_is_leader', { node: 'node-1' })).toBe(1);
  });

  it('labels requests by route pattern and status, and counts documents per workspace', async () => {
    const { app, replica } = oneNode();
    const post = await app.request('/api/v1/documents', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-workspace-id': 'ws-m' },
      body: JSON.stringify({ id: 'doc-1', content: 'metrics are numbers with names' }),
    });
    expect(post.status).toBeLessThan(300);
    for (const id of ['doc-1', 'doc-2', 'doc-3']) await app.request(`/api/v1/documents/${id}`, { headers: { 'x-workspace-id': 'ws-m' } });
    await app.request('/no/such/path');
    const f = await scrape(app);
    const routes = new Set(f.get('cairn_http_requests_total')?.samples.map((s) => s.labels['route']));
    expect([...routes].some((r) => r?.includes(':'))).toBe(true); // a pattern, e.g. /api/v1/documents/:id
    expect([...routes].some((r) => r?.includes('doc-2'))).toBe(false); // never the raw URL
    expect(routes.has('unmatched')).toBe(true);
    const gets = f.get('cairn_http_requests_total')?.samples.filter((s) => s.labels['method'] === 'GET' && s.labels['route']?.includes(':')) ?? [];
    expect(gets.reduce((a, s) => a + s.value, 0)).toBe(3);
    expect(new Set(gets.map((s) => s.labels['status']))).toEqual(new Set(['200', '404']));
    expect(sampleValue(f, 'cairn_workspace_requests_total', { workspace: 'ws-m' })).toBe(4);
    expect(sampleValue(f, 'cairn_workspace_documents', { workspace: 'ws-m' })).toBe(1);
    expect(sampleValue(f, 'cairn_raft_applied_index')).toBe(replica.appliedIndex());
    expect(sampleValue(f, 'cairn_raft_batch_entries_count')).toBeGreaterThanOrEqual(1);
    expect(sampleValue(f, 'cairn_raft_log_write_duration_seconds_count', { role: 'leader' })).toBeGreaterThanOrEqual(1);
  });

  it('keeps one registry per node, so two nodes share a process', async () => {
    const a = oneNode('node-a');
    const b = oneNode('node-b');
    const [fa, fb] = [await scrape(a.app), await scrape(b.app)];
    expect(fa.get('cairn_raft_term')?.samples[0]?.labels['node']).toBe('node-a');
    expect(fb.get('cairn_raft_term')?.samples[0]?.labels['node']).toBe('node-b');
  });

  it('cairn_node_condition is 1 for each condition set on the replica and 0 for the others; /_raft/health answers 503 with them', async () => {
    const { app, replica } = oneNode();
    const before = await scrape(app);
    for (const code of CONDITION_CODES) expect(sampleValue(before, 'cairn_node_condition', { node: 'node-1', code }), code).toBe(0);
    expect((await app.request('/_raft/health')).status).toBe(200);

    replica.condition.set('fsync_failed', 'log fsync failed: EIO: i/o error, fdatasync');
    replica.condition.set('disk_full', 'no space left on the data disk');
    const f = await scrape(app);
    expect(f.get('cairn_node_condition')?.type).toBe('gauge');
    for (const code of CONDITION_CODES) {
      expect(sampleValue(f, 'cairn_node_condition', { node: 'node-1', code }), code).toBe(code === 'fsync_failed' || code === 'disk_full' ? 1 : 0);
    }
    expect(sampleValue(f, 'cairn_raft_in_sync', { node: 'node-1' })).toBe(0);
    const res = await app.request('/_raft/health');
    expect(res.status).toBe(503);
    const body = (await res.json()) as { in_sync: boolean; status: string; conditions: Array<{ code: string; message: string }> };
    expect(body.in_sync).toBe(false);
    expect(body.status).toContain('fsync_failed: log fsync failed: EIO');
    expect(body.status).toContain('disk_full: no space left');
    expect(body.conditions.map((c) => c.code)).toEqual(['fsync_failed', 'disk_full']);

    replica.condition.clear('fsync_failed');
    replica.condition.clear('disk_full');
    const after = await scrape(app);
    expect(sampleValue(after, 'cairn_node_condition', { node: 'node-1', code: 'fsync_failed' })).toBe(0);
    expect((await app.request('/_raft/health')).status).toBe(200);
  });

  it('does not count the 507 answers of a full disk as workspace limit rejections', async () => {
    let full = true;
    const registry = new Registry();
    const m = new HttpMetrics(registry, { diskFull: () => full });
    m.record({ method: 'POST', path: '/api/v1/documents', route: '/api/v1/documents', status: 507, workspace: 'ws-a', ms: 1, write: true });
    full = false;
    m.record({ method: 'POST', path: '/api/v1/documents', route: '/api/v1/documents', status: 507, workspace: 'ws-a', ms: 1, write: true });
    const f = parsePrometheusText(await registry.metrics());
    expect(sampleValue(f, 'cairn_workspace_limit_rejections_total', { workspace: 'ws-a', status: '507' })).toBe(1);
    expect(sampleValue(f, 'cairn_http_requests_total', { status: '507' })).toBe(2);
  });

  it('counts 429 and 507 answers as limit rejections of the workspace, with bounded labels', async () => {
    const m = new HttpMetrics(new Registry());
    m.record({ method: 'POST', path: '/api/v1/documents', route: '/api/v1/documents', status: 507, workspace: 'ws-full', ms: 1, write: true });
    m.record({ method: 'POST', path: '/api/v1/search', route: '/api/v1/search', status: 429, workspace: 'ws-busy', ms: 1, write: false });
    m.record({ method: 'POST', path: '/api/v1/search', route: '/api/v1/search', status: 200, workspace: 'ws-busy', ms: 1, write: false });
    for (let i = 0; i < 1100; i++) m.workspaceLabel(`w${i}`);
    expect(m.workspaceLabel('one-too-many')).toBe('_other');
    expect(m.counts).toEqual({ writes: 1, queries: 2 });
  });
});
