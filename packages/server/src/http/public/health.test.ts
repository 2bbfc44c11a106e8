import { describe, expect, it } from 'vitest';
import { openTestApi } from './testing.ts';

interface Health {
  status: string;
  cluster: { load_factor: number };
  workspaces: { workspaces: Record<string, { document_count: number; last_access: number; access_pattern: string }> };
}

describe('GET /health', () => {
  it('answers the clustering guide shape with real values', async () => {
    using api = openTestApi();
    await api.call('POST', '/api/v1/documents', { content: 'one' }, { 'X-Workspace-ID': 'mission-architect' });
    await api.call('POST', '/api/v1/documents', { content: 'two' }, { 'X-Workspace-ID': 'mission-architect' });
    await api.call('POST', '/api/v1/documents', { content: 'three' }, { 'X-Workspace-ID': 'archive' });
    const res = await api.app.request('/health');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Health;
    expect(body).toMatchObject({
      status: 'healthy',
      node_id: 'node-1',
      cluster: { enabled: true, node_id: 'node-1', cluster_size: 3, leader_node: 'node-1', discovery_method: 'static', load_balancing: 'workspace_hash' },
      workspaces: { total_workspaces: 2, active_workspaces: 2 },
    });
    expect(body.cluster.load_factor).toEqual(expect.any(Number));
    expect(body.workspaces.workspaces['mission-architect']).toMatchObject({
      document_count: 2, resource_tier: 'high', access_pattern: 'normal', active_requests: 0,
    });
    expect(body.workspaces.workspaces['mission-architect']?.last_access).toBeGreaterThan(1_600_000_000);
    expect(body.workspaces.workspaces.archive).toMatchObject({ document_count: 1, resource_tier: 'medium' });
  });

  it('answers only the asked workspace block with X-Workspace-ID', async () => {
    using api = openTestApi();
    await api.call('POST', '/api/v1/documents', { content: 'one' }, { 'X-Workspace-ID': 'mission-architect' });
    await api.call('POST', '/api/v1/documents', { content: 'two' }, { 'X-Workspace-ID': 'other' });
    const body = (await (await api.app.request('/health', { headers: { 'X-Workspace-ID': 'mission-architect' } })).json()) as Health;
    expect(Object.keys(body.workspaces.workspaces)).toEqual(['mission-architect']);
    expect(body.workspaces.workspaces['mission-architect']?.document_count).toBe(1);
    const fresh = (await (await api.app.request('/health', { headers: { 'X-Workspace-ID': 'never-seen' } })).json()) as Health;
    expect(fresh.workspaces.workspaces['never-seen']).toMatchObject({ document_count: 0, access_pattern: 'archive' });
  });
});
