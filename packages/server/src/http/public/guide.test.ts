// The clustering guide's curl lines, as curl sends them (-d without a Content-Type header is
// sent as application/x-www-form-urlencoded), must get working answers.

import { describe, expect, it } from 'vitest';
import { openTestApi } from './testing.ts';

const form = { 'content-type': 'application/x-www-form-urlencoded' };

interface Assembled {
  context: string;
  documents: { id: string; path: string | null; content: string; language: string | null; relevance_score: number; tokens: number; inclusion_reason: string }[];
  total_tokens: number;
  processing_time_ms: number;
}

describe('the clustering guide, followed to the letter', () => {
  it('assembles context for curl -H "X-Workspace-ID: mission-architect" -X POST /api/v1/assemble -d \'{"query": ...}\'', async () => {
    using api = openTestApi();
    await api.call('POST', '/api/v1/documents', { content: 'AI enforcement patterns keep agents inside their policy.', path: 'docs/enforcement.md' }, { 'X-Workspace-ID': 'mission-architect' });
    await api.call('POST', '/api/v1/documents', { content: 'React component patterns: hooks, composition.', path: 'docs/react.md' }, { 'X-Workspace-ID': 'code-assistant' });
    const res = await api.app.request('/api/v1/assemble', {
      method: 'POST', headers: { ...form, 'X-Workspace-ID': 'mission-architect' }, body: '{"query": "AI enforcement patterns"}',
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Assembled;
    expect(body.documents.map((d) => d.path)).toEqual(['docs/enforcement.md']);
    expect(body.documents[0]).toMatchObject({ language: 'markdown', tokens: expect.any(Number), relevance_score: expect.any(Number), inclusion_reason: expect.any(String) });
    expect(body.context).toContain('AI enforcement patterns');
    expect(body.total_tokens).toBeGreaterThan(0);
    expect(body.processing_time_ms).toEqual(expect.any(Number));
  });

  it('keeps workspaces apart for the "Test workspace isolation" lines', async () => {
    using api = openTestApi();
    await api.call('POST', '/api/v1/documents', { content: 'test document of workspace one' }, { 'X-Workspace-ID': 'test1' });
    const one = (await (await api.app.request('/api/v1/assemble', { method: 'POST', headers: { ...form, 'X-Workspace-ID': 'test1' }, body: '{"query":"test"}' })).json()) as Assembled;
    const two = (await (await api.app.request('/api/v1/assemble', { method: 'POST', headers: { ...form, 'X-Workspace-ID': 'test2' }, body: '{"query":"test"}' })).json()) as Assembled;
    expect(one.documents).toHaveLength(1);
    expect(two.documents).toHaveLength(0);
    expect(two.context).toBe('');
  });

  it('accepts the "Direct API Usage" body with X-Resource-Tier, max_tokens, max_documents and workspace_path', async () => {
    using api = openTestApi();
    await api.call('POST', '/api/v1/documents', { content: 'AI safety enforcement patterns for agents' }, { 'X-Workspace-ID': 'mission-architect' });
    const res = await api.app.request('/api/v1/assemble', {
      method: 'POST',
      headers: { ...form, 'X-Workspace-ID': 'mission-architect', 'X-Resource-Tier': 'high' },
      body: JSON.stringify({ query: 'AI safety enforcement patterns', max_tokens: 8000, max_documents: 15, workspace_path: '/projects/mission-architect' }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Assembled).documents).toHaveLength(1);
    // Without the header, workspace_path's last segment names the workspace.
    const byPath = await api.app.request('/api/v1/assemble', {
      method: 'POST', headers: form, body: JSON.stringify({ query: 'AI safety', workspace_path: '/projects/mission-architect' }),
    });
    expect(((await byPath.json()) as Assembled).documents).toHaveLength(1);
  });

  it('serves the same under /workspace/mission-architect/api/v1/assemble and ?workspace=mission-architect', async () => {
    using api = openTestApi();
    await api.call('POST', '/api/v1/documents', { content: 'historical documentation of the archive' }, { 'X-Workspace-ID': 'mission-architect' });
    for (const path of ['/workspace/mission-architect/api/v1/assemble', '/api/v1/assemble?workspace=mission-architect', '/workspace/mission-architect/api/v1/context/assemble']) {
      const res = await api.app.request(path, { method: 'POST', headers: form, body: '{"query": "historical documentation", "max_tokens": 2000, "max_documents": 5}' });
      expect(((await res.json()) as Assembled).documents, path).toHaveLength(1);
    }
  });

  it('answers the monitoring lines: /health, .cluster, .workspaces and active_requests of a workspace', async () => {
    using api = openTestApi();
    await api.call('POST', '/api/v1/documents', { content: 'x' }, { 'X-Workspace-ID': 'mission-architect' });
    const health = (await (await api.app.request('/health')).json()) as {
      cluster: Record<string, unknown>;
      workspaces: { workspaces: Record<string, { active_requests: number }> };
    };
    expect(Object.keys(health.cluster).sort()).toEqual(['cluster_size', 'discovery_method', 'enabled', 'leader_node', 'load_balancing', 'load_factor', 'node_id']);
    expect(health.workspaces.workspaces['mission-architect']?.active_requests).toBe(0);
    const test = await api.app.request('/health', { headers: { 'X-Workspace-ID': 'test' } });
    expect(test.status).toBe(200);
  });
});
