// The event stream on a real socket: subscribers are bounded, and a client that goes away frees
// its place (the stream ends with the connection).
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '../../node.ts';
import type { RunningNode } from '../../node.ts';
import { testConfig } from '../public/testing.ts';
import { sse_subscribers_max } from '../../cluster/event-hub.ts';

let node: RunningNode;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-sse-'));
  node = await startNode({ config: testConfig({ server: { data_dir: dir, port: 0 } }), logger: pino({ level: 'silent' }) });
});
afterAll(async () => {
  await node.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens the stream; resolves with the status and, for 200, once the first snapshot arrived. */
function open(): Promise<{ status: number; req: http.ClientRequest; first: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${node.url}/api/v1/cluster/events`, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        resolve({ status: res.statusCode ?? 0, req, first: '' });
        return;
      }
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (text.includes('\n\n')) resolve({ status: 200, req, first: text });
      });
    });
    req.on('error', reject);
  });
}

async function waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('GET /api/v1/cluster/events', () => {
  it('sends a snapshot at once, refuses subscribers beyond the limit, and frees a place when a client leaves', async () => {
    const streams = await Promise.all(Array.from({ length: sse_subscribers_max }, () => open()));
    expect(streams.every((s) => s.status === 200)).toBe(true);
    const first = streams[0]?.first ?? '';
    expect(first).toMatch(/^event: snapshot\n/);
    expect(first).toMatch(/\ndata: \{"at":/);
    expect(first).toMatch(/\nid: 1\n/);
    const over = await open();
    expect(over.status).toBe(503);
    for (const s of streams) s.req.destroy();
    await waitUntil(async () => {
      const again = await open();
      again.req.destroy();
      return again.status === 200;
    }, 'a place to free up after the clients left');
  });
});
