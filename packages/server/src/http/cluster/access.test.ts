// The operator views (/metrics, /api/v1/cluster/*, /dashboard) with and without server.auth_token,
// on an in-memory one-node cluster (the real Replica and app, no socket).
import { afterEach, describe, expect, it } from 'vitest';
import { openOneNode } from '../../testing/one-node.ts';

const TOKEN = 'read-token';
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function oneNode(auth_token: string) {
  const node = openOneNode({ server: { auth_token } });
  cleanups.push(() => node.close());
  const { app } = node;
  const write = await app.request('/api/v1/documents', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-workspace-id': 'secret-project', ...(auth_token === '' ? {} : { authorization: `Bearer ${auth_token}` }) },
    body: JSON.stringify({ content: 'one' }),
  });
  expect(write.status).toBe(201);
  return app;
}

const routes = ['/metrics', '/api/v1/cluster/self', '/api/v1/cluster/overview', '/api/v1/cluster/nodes', '/api/v1/cluster/history', '/dashboard'];
const basic = (password: string): string => `Basic ${Buffer.from(`operator:${password}`).toString('base64')}`;

describe('operator views with server.auth_token set', () => {
  it.each(routes)('%s answers 401 JSON without the token or with a wrong one', async (path) => {
    const app = await oneNode(TOKEN);
    const attempts: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong' }, { authorization: basic('wrong') }, { 'x-cairn-secret': TOKEN }];
    for (const headers of attempts) {
      const res = await app.request(path, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('www-authenticate')).toMatch(path === '/dashboard' ? /^Basic / : /^Bearer /);
      const text = await res.text();
      expect(text).not.toContain('secret-project');
      expect(JSON.parse(text)).toMatchObject({ error: { code: 'unauthorized' } });
    }
  });

  it.each(routes)('%s answers 200 with the token as Bearer or as the Basic password', async (path) => {
    const app = await oneNode(TOKEN);
    for (const authorization of [`Bearer ${TOKEN}`, basic(TOKEN)]) {
      const res = await app.request(path, { headers: { authorization } });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
  });

  it('guards the live feeds too', async () => {
    const app = await oneNode(TOKEN);
    for (const path of ['/api/v1/cluster/events', '/dashboard/events']) {
      expect((await app.request(path)).status).toBe(401);
    }
  });

  it('lists workspace names and counts to a request with the token', async () => {
    const app = await oneNode(TOKEN);
    const metrics = await (await app.request('/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toMatch(/cairn_workspace_documents\{[^}]*workspace="secret-project"[^}]*\} 1/);
    const page = await (await app.request('/dashboard', { headers: { authorization: basic(TOKEN) } })).text();
    expect(page).toContain('secret-project');
  });
});

describe('operator views without server.auth_token (the default)', () => {
  it.each(routes)('%s stays open', async (path) => {
    const app = await oneNode('');
    const res = await app.request(path);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
  });
});
