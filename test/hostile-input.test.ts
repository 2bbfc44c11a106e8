// A hostile client against three real nodes (and nginx in front of them): every bad input gets a
// 4xx JSON answer naming the problem, the node stays up, and nothing is stored altered.

import http from 'node:http';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from './helpers/cluster.ts';
import type { TestCluster, TestNode } from './helpers/cluster.ts';
import { requireNginx, startNginx } from './helpers/nginx.ts';
import type { TestNginx } from './helpers/nginx.ts';
import { freePort } from './helpers/ports.ts';

let cluster: TestCluster;
let lb: TestNginx;
const ws = 'hostile';

interface Answer {
  status: number;
  type: string | null;
  body: { error?: { code: string; message: string; field?: string } } & Record<string, unknown>;
}

async function call(base: string, path: string, init: { method?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: { 'X-Workspace-ID': ws, ...(init.body === undefined ? {} : { 'Content-Type': 'application/json' }), ...init.headers },
    body: init.body,
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let body: Answer['body'] = {};
  try {
    body = JSON.parse(text) as Answer['body'];
  } catch {
    body = { text };
  }
  return { status: res.status, type: res.headers.get('content-type'), body };
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m?.[1] === undefined) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

async function alive(node: TestNode): Promise<void> {
  const res = await fetch(`${node.url}/_raft/health`, { signal: AbortSignal.timeout(10_000) });
  expect([200, 503]).toContain(res.status);
  await res.body?.cancel();
}

async function content(id: string): Promise<string | null> {
  const a = await call(cluster.leader.url, `/api/v1/documents/${encodeURIComponent(id)}`);
  return a.status === 200 ? (a.body['content'] as string) : null;
}

function expectJsonError(a: Answer, status: number, code: string): void {
  expect(a.type).toMatch(/application\/json/);
  expect(a.status, JSON.stringify(a.body)).toBe(status);
  expect(a.body.error?.code).toBe(code);
  expect(a.body.error?.message).toEqual(expect.any(String));
}

/** POSTs `total` bytes in chunked encoding, made as they are sent; resolves with the answer. */
function chunkedPost(url: string, total: number): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    let answered = false;
    const req = http.request(
      { hostname, port, method: 'POST', path: '/api/v1/documents', headers: { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'X-Workspace-ID': ws } },
      (res) => {
        answered = true;
        const parts: Buffer[] = [];
        res.on('data', (b: Buffer) => parts.push(b));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    const pump = (): void => {
      while (!answered && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3 });
  const a = await call(cluster.leader.url, '/api/v1/documents', { method: 'POST', body: JSON.stringify({ id: 'target', content: 'original content' }) });
  expect(a.status).toBe(201);
}, 120_000);

afterAll(async () => {
  await lb?.stop();
  await cluster?.stop();
});

describe('a hostile client against real nodes', () => {
  it('answers metadata nested 5,000 deep with 400 metadata_too_deep on leader and follower', async () => {
    const body = `{"id":"deep","content":"x","metadata":${'{"a":'.repeat(4_999)}{}${'}'.repeat(4_999)}}`;
    for (const node of [cluster.leader, ...cluster.followers]) {
      expectJsonError(await call(node.url, '/api/v1/documents', { method: 'POST', body }), 400, 'metadata_too_deep');
      await alive(node);
    }
    expect(await content('deep')).toBeNull();
  });

  it('answers a 400 MB chunked body to a follower with JSON 413, its RSS at most 64 MB up', async () => {
    const follower = cluster.followers[0] as TestNode;
    const before = rssBytes(follower.pid);
    const started = Date.now();
    const answer = await chunkedPost(follower.url, 400 * 1024 * 1024);
    const after = rssBytes(follower.pid);
    console.log(`follower ${follower.pid} VmRSS before ${(before / 2 ** 20).toFixed(1)} MB, after ${(after / 2 ** 20).toFixed(1)} MB, answered in ${Date.now() - started} ms`);
    expect(answer.status).toBe(413);
    expect((JSON.parse(answer.body) as Answer['body']).error?.code).toBe('body_too_large');
    expect(after - before).toBeLessThan(64 * 1024 * 1024);
    await alive(follower);
  }, 120_000);

  it('refuses the ids "." and ".." (no URL could read or delete them)', async () => {
    for (const id of ['.', '..']) {
      const a = await call(cluster.followers[0]!.url, '/api/v1/documents', { method: 'POST', body: JSON.stringify({ id, content: 'x' }) });
      expectJsonError(a, 400, 'invalid_value');
      expect(a.body.error?.field).toBe('id');
    }
    const list = await call(cluster.leader.url, '/api/v1/documents?limit=100');
    expect(JSON.stringify(list.body)).not.toMatch(/"id":"\.\.?"/);
  });

  it('refuses a lone surrogate in an id or content instead of storing U+FFFD', async () => {
    for (const body of ['{"id":"sur\\ud800","content":"x"}', '{"id":"sur","content":"a\\ud800b"}']) {
      const a = await call(cluster.leader.url, '/api/v1/documents', { method: 'POST', body });
      expectJsonError(a, 400, 'invalid_text');
      expect(a.body.error?.message).toMatch(/offset \d+/);
    }
    expect(await content('sur')).toBeNull();
    expect(await content('sur\ufffd')).toBeNull();
  });

  it('refuses a cross-site text/plain write on every node and keeps the old content', async () => {
    for (const node of [cluster.leader, ...cluster.followers]) {
      const a = await call(node.url, '/api/v1/documents', {
        method: 'POST',
        body: JSON.stringify({ id: 'target', content: 'overwritten' }),
        headers: { 'Content-Type': 'text/plain', Origin: 'http://evil.example' },
      });
      expectJsonError(a, 403, 'cross_site');
      expectJsonError(await call(node.url, '/api/v1/documents', { method: 'POST', body: JSON.stringify({ id: 'target', content: 'overwritten' }), headers: { 'Content-Type': 'text/plain' } }), 415, 'unsupported_media_type');
    }
    expect(await content('target')).toBe('original content');
  });

  it('answers unknown routes with JSON 404 and wrong methods with JSON 405 and Allow', async () => {
    for (const node of [cluster.leader, ...cluster.followers]) {
      expectJsonError(await call(node.url, '/nothing/here'), 404, 'not_found');
      const res = await fetch(`${node.url}/api/v1/search`, { method: 'GET' });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toContain('POST');
      expect(((await res.json()) as Answer['body']).error?.code).toBe('method_not_allowed');
    }
  });

  describe('through nginx', () => {
    beforeAll(async () => {
      requireNginx();
      lb = await startNginx(cluster.config, await freePort());
    }, 60_000);

    it('refuses the cross-site write and keeps the old content', async () => {
      const a = await call(lb.url, '/api/v1/documents', {
        method: 'POST',
        body: JSON.stringify({ id: 'target', content: 'overwritten' }),
        headers: { 'Content-Type': 'text/plain', Origin: 'http://evil.example' },
      });
      expectJsonError(a, 403, 'cross_site');
      expect(await content('target')).toBe('original content');
    });

    it('answers unknown routes and bodies over its limit in JSON', async () => {
      expectJsonError(await call(lb.url, '/nothing/here'), 404, 'not_found');
      const big = JSON.stringify({ content: 'x'.repeat(cluster.config.server.body_bytes_max + 10) });
      expectJsonError(await call(lb.url, '/api/v1/documents', { method: 'POST', body: big }), 413, 'body_too_large');
    });

    it('answers in JSON when no node is alive behind it (runs last: it stops the cluster)', async () => {
      await cluster.stop();
      const a = await call(lb.url, '/api/v1/documents?limit=1');
      expect(a.type).toMatch(/application\/json/);
      expect([502, 503, 504]).toContain(a.status);
      expect(['no_upstream', 'upstream_timeout']).toContain(a.body.error?.code);
    }, 60_000);
  });
});
