import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { HashingEmbedder } from '../../embed/hashing.ts';
import { NodeCondition } from '../../replication/condition.ts';
import { openTestStore } from '../../store/testing.ts';
import { createPublicApi } from './app.ts';
import type { ClusterInfo } from './deps.ts';
import { FakeReplicator, openTestApi, testConfig } from './testing.ts';

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

describe('GET /health with a node condition set', () => {
  function withConditions() {
    const t = openTestStore({ embedder: new HashingEmbedder({ dim: 64 }) });
    const condition = new NodeCondition();
    const cluster: ClusterInfo = { leaderId: () => 'node-1', clusterSize: () => 3, status: () => 'healthy', conditions: () => condition.list() };
    const app = createPublicApi({ config: testConfig(), nodeId: 'node-1', store: () => t.store, replicator: new FakeReplicator(t), cluster, logger: pino({ level: 'silent' }) });
    return { app, condition, [Symbol.dispose]: () => t.close() };
  }

  it('answers 503 "unhealthy" with the conditions listed, and healthy again once they are cleared', async () => {
    using node = withConditions();
    const ok = await node.app.request('/health');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ status: 'healthy', conditions: [] });

    node.condition.set('disk_full', 'the disk holding /data is full (SQLITE_FULL)');
    const full = await node.app.request('/health');
    expect(full.status).toBe(503);
    const body = (await full.json()) as Health & { conditions: Array<{ code: string; message: string; since: string }> };
    expect(body.status).toBe('unhealthy');
    expect(body.conditions).toEqual([{ code: 'disk_full', message: 'the disk holding /data is full (SQLITE_FULL)', since: expect.any(String) }]);
    // Still the guide's shape: the rest of the body is there.
    expect(body).toMatchObject({ node_id: 'node-1', cluster: { cluster_size: 3, leader_node: 'node-1' } });

    node.condition.set('fsync_failed', 'log fsync failed: EIO');
    const both = (await (await node.app.request('/health')).json()) as { conditions: Array<{ code: string }> };
    expect(both.conditions.map((x) => x.code)).toEqual(['disk_full', 'fsync_failed']);

    node.condition.clear('disk_full');
    node.condition.clear('fsync_failed');
    const again = await node.app.request('/health');
    expect(again.status).toBe(200);
    expect(((await again.json()) as Health).status).toBe('healthy');
  });
});

describe('GET /health with server.auth_token set', () => {
  const TOKEN = 'read-token';
  async function withData() {
    const api = openTestApi({ config: testConfig({ server: { auth_token: TOKEN } }) });
    const auth = { Authorization: `Bearer ${TOKEN}` };
    await api.call('POST', '/api/v1/documents', { content: 'one' }, { 'X-Workspace-ID': 'secret-project', ...auth });
    return api;
  }

  it('answers status, node and cluster without the token, and no workspace names or counts', async () => {
    using api = await withData();
    const attempts: Array<Record<string, string>> = [{}, { 'X-Workspace-ID': 'secret-project' }, { Authorization: 'Bearer wrong' }];
    for (const headers of attempts) {
      const res = await api.app.request('/health', { headers });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).not.toContain('secret-project');
      const body = JSON.parse(text) as Record<string, unknown>;
      expect(body).toMatchObject({ status: 'healthy', node_id: 'node-1', cluster: { cluster_size: 3, leader_node: 'node-1' } });
      expect(body).not.toHaveProperty('workspaces');
    }
  });

  it('answers the workspace block to a request with the token, as Bearer or as the Basic password', async () => {
    using api = await withData();
    const basic = `Basic ${Buffer.from(`anyone:${TOKEN}`).toString('base64')}`;
    for (const authorization of [`Bearer ${TOKEN}`, basic]) {
      const body = (await (await api.app.request('/health', { headers: { Authorization: authorization } })).json()) as Health;
      expect(body.workspaces.workspaces['secret-project']?.document_count).toBe(1);
    }
  });
});
