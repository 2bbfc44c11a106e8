// The dashboard's force-resync button on a cluster that has an operator token: the page asks for
// the token and sends it as a bearer token; a wrong one is refused with the server's message.
// One in-process leader whose followers are not running (nothing is listening on their ports).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../packages/server/src/http/public/testing.ts';
import { startNode } from '../packages/server/src/node.ts';
import type { RunningNode } from '../packages/server/src/node.ts';
import { freePorts } from './helpers/ports.ts';
import { waitFor } from './helpers/wait.ts';

const TOKEN = 'op-token-for-test';
let node: RunningNode;
let browser: Browser;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cairn-dash-token-'));
  const [down2, down3] = await freePorts(2); // handed out, never listened on
  const base = testConfig({ server: { data_dir: dir, port: 0 } });
  const config = {
    ...base,
    replication: {
      ...base.replication,
      operator_token: TOKEN,
      nodes: [
        { id: 'node-1', address: '127.0.0.1:1' },
        { id: 'node-2', address: `127.0.0.1:${down2}` },
        { id: 'node-3', address: `127.0.0.1:${down3}` },
      ],
    },
  };
  [node, browser] = await Promise.all([
    startNode({ config, logger: pino({ level: 'silent' }) }),
    chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    }),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await node?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('dashboard force-resync with an operator token', () => {
  it('prompts for the token and shows the answer', async () => {
    const page = await browser.newPage();
    await page.goto(`${node.url}/dashboard`);
    expect(await page.locator('#nodes tr[data-node-id]').count()).toBe(3);
    expect(await page.locator('#nodes tr[data-node-id="node-2"] .state').textContent()).toMatch(/^(unknown|lagging|desynced)$/);
    const sent: Array<string | undefined> = [];
    page.on('request', (r) => {
      if (r.url().includes('/_raft/force-resync')) sent.push(r.headers()['authorization']);
    });
    const result = page.locator('#resync-result');

    page.once('dialog', (d) => void d.accept('wrong-token'));
    await page.locator('#nodes tr[data-node-id="node-2"] button').click();
    await waitFor(async () => /operator token/.test((await result.textContent()) ?? ''), { what: 'the 401 message on the page', timeoutMs: 10_000 });

    page.once('dialog', (d) => void d.accept(TOKEN));
    await page.locator('#nodes tr[data-node-id="node-2"] button').click();
    // Past the token check the leader answers for node-2, which is down: a new leader whose
    // followers never answered is still recovering (503 recovering), and that comes back as text.
    await waitFor(async () => /failed|recovering/.test((await result.textContent()) ?? ''), { what: 'the resync failure on the page', timeoutMs: 20_000 });
    expect(sent).toEqual(['Bearer wrong-token', `Bearer ${TOKEN}`]);

    page.once('dialog', (d) => void d.dismiss());
    await page.locator('#nodes tr[data-node-id="node-3"] button').click();
    expect(sent).toHaveLength(2); // cancelled: nothing sent
    await page.close();
  });
});
