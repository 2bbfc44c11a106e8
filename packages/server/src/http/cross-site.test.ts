import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { crossSiteGuard } from './cross-site.ts';

function app(allowed: readonly string[] = []): Hono {
  const a = new Hono();
  a.use('*', crossSiteGuard(() => allowed));
  a.post('/w', (c) => c.json({ ok: true }, 201));
  return a;
}

describe('crossSiteGuard', () => {
  it('passes a request without Origin or Sec-Fetch-Site (curl, servers)', async () => {
    const res = await app().request('http://node:8080/w', { method: 'POST' });
    expect(res.status).toBe(201);
  });

  it('refuses a foreign Origin with 403 cross_site naming the Origin field', async () => {
    const res = await app().request('http://node:8080/w', { method: 'POST', headers: { Origin: 'http://evil.example', 'Content-Type': 'text/plain' } });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await res.json()) as { error: { code: string; field: string; message: string } };
    expect(body.error.code).toBe('cross_site');
    expect(body.error.field).toBe('Origin');
    expect(body.error.message).toContain('http://evil.example');
  });

  it('refuses Origin: null (sandboxed frames, file: pages)', async () => {
    const res = await app().request('http://node:8080/w', { method: 'POST', headers: { Origin: 'null' } });
    expect(res.status).toBe(403);
  });

  it('passes the request\'s own origin, by Host and by X-Forwarded-Proto', async () => {
    expect((await app().request('http://node:8080/w', { method: 'POST', headers: { Origin: 'http://node:8080', 'Sec-Fetch-Site': 'same-origin' } })).status).toBe(201);
    const proxied = await app().request('http://10.0.0.2:8080/w', {
      method: 'POST',
      headers: { Origin: 'https://cairn.example', Host: 'cairn.example', 'X-Forwarded-Proto': 'https' },
    });
    expect(proxied.status).toBe(201);
  });

  it('passes an allowed origin even though the browser calls it cross-site', async () => {
    const res = await app(['https://App.example']).request('http://node:8080/w', {
      method: 'POST',
      headers: { Origin: 'https://app.example', 'Sec-Fetch-Site': 'cross-site' },
    });
    expect(res.status).toBe(201);
  });

  it('refuses Sec-Fetch-Site: cross-site without an allowed Origin', async () => {
    const res = await app().request('http://node:8080/w', { method: 'POST', headers: { 'Sec-Fetch-Site': 'cross-site' } });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('cross_site');
  });

  it('passes Sec-Fetch-Site same-site and none', async () => {
    for (const site of ['same-site', 'none', 'same-origin']) {
      expect((await app().request('http://node:8080/w', { method: 'POST', headers: { 'Sec-Fetch-Site': site } })).status).toBe(201);
    }
  });

  it('reads the allowed list on every request', async () => {
    const list: string[] = [];
    const a = new Hono();
    a.use('*', crossSiteGuard(() => list));
    a.post('/w', (c) => c.text('ok'));
    const init = { method: 'POST', headers: { Origin: 'https://app.example' } };
    expect((await a.request('http://node/w', init)).status).toBe(403);
    list.push('https://app.example');
    expect((await a.request('http://node/w', init)).status).toBe(200);
  });
});
