// A node's lifecycle: what starting a node starts, closing it stops. Interval timers are faked
// (nothing else is), so the test counts every interval the node still holds.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { testConfig } from './http/public/testing.ts';
import { startNode } from './node.ts';
import { openOneNode } from './testing/one-node.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('closing a node', () => {
  it('leaves no interval timer running, the rate sampler included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-node-close-'));
    try {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      const node = await startNode({ config: testConfig({ server: { data_dir: dir, port: 0 } }), logger: pino({ level: 'silent' }) });
      const write = await fetch(`${node.url}/api/v1/documents`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"content":"one"}' });
      expect(write.status).toBe(201);
      // The rate sampler, the leader's tick and the retrain check at least.
      expect(vi.getTimerCount()).toBeGreaterThanOrEqual(3);
      await node.close();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leaves no interval timer running when built in process (buildApp) and closed', () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const node = openOneNode();
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    node.close();
    expect(vi.getTimerCount()).toBe(0);
  });
});
