// The dashboard's force-resync button on a cluster that has an operator token: the page asks for
// the token and sends it as a bearer token; a wrong one is refused with the server's message.
// With server.auth_token set, the page and its live feed ask for that token: the browser's login
// prompt (Basic, any user name, the token as password). One in-process leader whose followers are
// not running (nothing is listening on their ports).
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
const READ_TOKEN = 'read-token-for-test';
let node: RunningNode;
let guarded: RunningNode;
let guardedDir: string;
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
  guardedDir = mkdtempSync(join(tmpdir(), 'cairn-dash-auth-'));
  const guardedConfig = { ...config, server: { ...config.server, data_dir: guardedDir, auth_token: READ_TOKEN } };
  [node, guarded, browser] = await Promise.all([
    startNode({ config, logger: pino({ level: 'silent' }) }),
    startNode({ config: guardedConfig, logger: pino({ level: 'silent' }) }),
    chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    }),
  ]);
});
afterAll(async () => {
  await browser?.close();
  await node?.close();
  await guarded?.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(guardedDir, { recursive: true, force: true });
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
    // followers never answered still asks which node leads (503 recovering, its message saying
    // so), and that comes back as text.
    await waitFor(async () => /failed|recovering|which node leads/.test((await result.textContent()) ?? ''), { what: 'the resync failure on the page', timeoutMs: 20_000 });
    expect(sent).toEqual(['Bearer wrong-token', `Bearer ${TOKEN}`]);

    page.once('dialog', (d) => void d.dismiss());
    await page.locator('#nodes tr[data-node-id="node-3"] button').click();
    expect(sent).toHaveLength(2); // cancelled: nothing sent
    await page.close();
  });
});

describe('dashboard with server.auth_token set', () => {
  it('is refused without the token, with a Basic challenge (the browser\'s login prompt)', async () => {
    const page = await browser.newPage();
    // Headless Chromium has no prompt to show and fails the navigation; the answer itself:
    const res = await page.request.get(`${guarded.url}/dashboard`);
    expect(res.status()).toBe(401);
    expect(res.headers()['www-authenticate']).toMatch(/^Basic realm="cairn"/);
    expect(await res.text()).not.toContain('node-2');
    await expect(page.goto(`${guarded.url}/dashboard`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
    await page.close();
  });

  it('opens after the browser\'s login prompt, and its live feed runs', async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'operator', password: READ_TOKEN } });
    const page = await context.newPage();
    const res = await page.goto(`${guarded.url}/dashboard`);
    expect(res?.status()).toBe(200);
    expect(await page.locator('#nodes tr[data-node-id]').count()).toBe(3);
    await waitFor(async () => /^Live · updated/.test((await page.locator('#live').textContent()) ?? ''), { what: 'a live update over /dashboard/events', timeoutMs: 10_000 });
    await context.close();
  });
});
