// Three real nodes with server.auth_token, replication.operator_token and replication.secret set:
// what each credential opens. Workspace names and counts are not readable without the read token
// (/health keeps its open part), the operator views answer 401 JSON without it, force-resync
// through a follower takes the operator token (not the cluster secret), and a cross-site browser
// request to force-resync is refused with 403 JSON.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVerified } from '../packages/server/src/cluster/testing.ts';
import type { NodeRow } from '../packages/server/src/cluster/types.ts';
import { startCluster } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';

/** Header sets to try in turn. */
function headerSets(...sets: Array<Record<string, string>>): Array<Record<string, string>> {
  return sets;
}

const AUTH = 'read-token-for-test';
const OPERATOR = 'operator-token-for-test';
const SECRET = 'cluster-secret-for-test';
const WORKSPACE = 'secret-project';
const read = { authorization: `Bearer ${AUTH}` };

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startVerified(
    () => startCluster({ nodes: 3, configOverrides: { server: { auth_token: AUTH }, replication: { operator_token: OPERATOR, secret: SECRET } } }),
    3,
    AUTH,
  );
  for (let i = 0; i < 3; i++) {
    const res = await fetch(`${cluster.leader.url}/api/v1/documents?write_concern=all`, {
      method: 'POST',
      headers: { ...read, 'content-type': 'application/json', 'x-workspace-id': WORKSPACE },
      body: JSON.stringify({ id: `doc-${i}`, content: `document ${i}` }),
    });
    expect(res.status, await res.text()).toBe(201);
  }
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
}

function resync(url: string, target: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${url}/_raft/force-resync?target=${target}`, { method: 'POST', headers, signal: AbortSignal.timeout(60_000) });
}

describe('GET /health', () => {
  it('answers status, node and cluster without the token, and no workspace names', async () => {
    for (const node of cluster.nodes) {
      const res = await get(`${node.url}/health`);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).not.toContain(WORKSPACE);
      const body = JSON.parse(text) as Record<string, unknown>;
      expect(body).toMatchObject({ status: 'healthy', node_id: node.id, cluster: { cluster_size: 3, leader_node: 'node-1' } });
      expect(body).not.toHaveProperty('workspaces');
    }
  });

  it('lists the workspace with the token', async () => {
    const body = (await (await get(`${cluster.leader.url}/health`, read)).json()) as { workspaces: { workspaces: Record<string, { document_count: number }> } };
    expect(body.workspaces.workspaces[WORKSPACE]?.document_count).toBe(3);
  });
});

describe('operator views', () => {
  const paths = ['/metrics', '/api/v1/cluster/self', '/api/v1/cluster/overview', '/api/v1/cluster/nodes', '/api/v1/cluster/history', '/dashboard'];

  it.each(paths)('%s answers 401 JSON without the token, also with the operator token or the cluster secret', async (path) => {
    for (const headers of headerSets({}, { authorization: `Bearer ${OPERATOR}` }, { authorization: `Bearer ${SECRET}` }, { 'x-cairn-secret': SECRET })) {
      const res = await get(`${cluster.followers[0]!.url}${path}`, headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const text = await res.text();
      expect(text).not.toContain(WORKSPACE);
      expect(JSON.parse(text)).toMatchObject({ error: { code: 'unauthorized' } });
    }
  });

  it.each(paths)('%s answers 200 with the token', async (path) => {
    const res = await get(`${cluster.followers[0]!.url}${path}`, read);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  });

  it('a follower\'s node list has its peers\' own answers (the nodes send each other the token)', async () => {
    const body = (await (await get(`${cluster.followers[0]!.url}/api/v1/cluster/nodes`, read)).json()) as { nodes: NodeRow[] };
    expect(body.nodes.map((n) => [n.id, n.reachable])).toEqual([['node-1', true], ['node-2', true], ['node-3', true]]);
    expect(body.nodes.every((n) => n.version !== null)).toBe(true);
  });
});

describe('POST /_raft/force-resync through a follower', () => {
  it('is refused without the operator token, with the cluster secret, and with the read token', async () => {
    const follower = cluster.node('node-2');
    for (const headers of headerSets({}, { 'x-cairn-secret': SECRET }, { authorization: `Bearer ${SECRET}` }, read)) {
      const res = await resync(follower.url, 'node-3', headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } });
    }
  });

  it('works with the operator token: the leader sends the snapshot', async () => {
    const res = await resync(cluster.node('node-2').url, 'node-3', { authorization: `Bearer ${OPERATOR}` });
    const body = (await res.json()) as { target: string; success: boolean; message: string };
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toMatchObject({ target: 'node-3', success: true });
    expect(res.headers.get('x-served-by')).toBe('node-2');
  });

  it('refuses a cross-site browser request with 403 JSON, even with the operator token', async () => {
    for (const node of [cluster.node('node-2'), cluster.leader]) {
      for (const headers of headerSets({ origin: 'http://evil.example' }, { origin: 'http://evil.example', authorization: `Bearer ${OPERATOR}` }, { 'sec-fetch-site': 'cross-site', authorization: `Bearer ${OPERATOR}` })) {
        const res = await resync(node.url, 'node-3', headers);
        expect(res.status).toBe(403);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(await res.json()).toMatchObject({ error: { code: 'cross_site' } });
      }
    }
  });
});
