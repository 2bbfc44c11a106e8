// The dashboard in real headless Chromium (Debian's chromium driven by playwright-core) against
// a real three-node cluster: it shows the three nodes; a follower paused with SIGSTOP turns
// lagging, then (writes past replication.resync_threshold) desynced on the open page without a
// reload, and healthy again after SIGCONT and its snapshot resync. Screenshots go to
// test-artifacts/ (git-ignored).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, startCluster } from './helpers/cluster.ts';
import { startVerified } from '../packages/server/src/cluster/testing.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { waitFor } from './helpers/wait.ts';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
/** Writes made while the follower is paused: well past the resync threshold below. */
const RESYNC_THRESHOLD = 50;
const WRITES_WHILE_PAUSED = 80;

let cluster: TestCluster;
let browser: Browser;

beforeAll(async () => {
  [cluster, browser] = await Promise.all([
    startVerified(() =>
      startCluster({
        nodes: 3,
        configOverrides: {
          replication: { resync_threshold: RESYNC_THRESHOLD, silence_lagging_ms: 600, failures_lagging: 2, append_timeout_ms: 1000, heartbeat_ms: 100 },
        },
      }),
    ),
    chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
  ]);
  mkdirSync(ARTIFACTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await cluster?.stop();
});

async function writeDocs(base: string, n: number, prefix: string): Promise<void> {
  for (let i = 0; i < n; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, n - i) }, async (_, j) => {
        const res = await fetch(`${base}/api/v1/documents`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-workspace-id': 'ws-dash' },
          body: JSON.stringify({ id: `${prefix}-${i + j}`, content: `${prefix} document ${i + j} for the dashboard` }),
        });
        if (!res.ok) throw new Error(`write ${prefix}-${i + j}: ${res.status} ${await res.text()}`);
      }),
    );
  }
}

/** The state text of a node's row, as the page shows it now. */
function stateOf(page: Page, id: string): Promise<string | null> {
  return page.locator(`#nodes tr[data-node-id="${id}"] .state`).textContent({ timeout: 2000 });
}

/** Waits until the page (live, no reload) shows `state` for `id`. */
async function waitForState(page: Page, id: string, state: string, timeoutMs: number): Promise<void> {
  try {
    await waitFor(async () => (await stateOf(page, id)) === state, { what: `${id} shown ${state}`, timeoutMs, intervalMs: 100 });
  } catch (err) {
    throw new Error(`${id} never showed "${state}" (shows "${await stateOf(page, id)}"): ${(err as Error).message}\n${cluster.logs(15)}`);
  }
}

describe('dashboard in headless Chromium', () => {
  it('renders the cluster with JavaScript off', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const res = await page.goto(`${cluster.node('node-2').url}/dashboard`);
    expect(res?.status()).toBe(200);
    expect(await page.locator('#nodes tr[data-node-id]').count()).toBe(3);
    expect(await page.locator('#topology g.topo-node').count()).toBe(3);
    expect(await stateOf(page, 'node-1')).toBe('leader');
    expect(await page.locator('#live').textContent()).toMatch(/need JavaScript/);
    await context.close();
  });

  it('follows a paused follower from lagging to desynced to healthy without a reload', async () => {
    const page = await browser.newPage({ viewport: { width: 1200, height: 1000 } });
    const foreign: string[] = [];
    const origin = cluster.leader.url;
    page.on('request', (r) => {
      if (!r.url().startsWith(origin)) foreign.push(r.url());
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${origin}/dashboard`);
    // Page scripts are strings here: the test is compiled without DOM types.
    await page.evaluate('window.loadedOnce = true');
    expect(await page.locator('#nodes tr[data-node-id]').count()).toBe(3);
    const rows = page.locator('#nodes tr[data-node-id]');
    expect(await Promise.all([0, 1, 2].map((i) => rows.nth(i).getAttribute('data-node-id')))).toEqual(['node-1', 'node-2', 'node-3']);
    await waitFor(async () => (await page.locator('#live').textContent())?.startsWith('Live') === true, { what: 'the live stream to connect', timeoutMs: 10_000 });
    await writeDocs(origin, 5, 'before');
    await waitForState(page, 'node-3', 'healthy', 10_000);

    const follower = cluster.node('node-3');
    follower.pause();
    try {
      await waitForState(page, 'node-3', 'lagging', 10_000);
      expect(await page.locator('#nodes tr[data-node-id="node-3"] .state').getAttribute('data-state')).toBe('lagging');
      await writeDocs(origin, WRITES_WHILE_PAUSED, 'paused');
      await waitForState(page, 'node-3', 'desynced', 15_000);
      expect(await stateOf(page, 'node-2')).toBe('healthy');
      // The desynced red, beside the word (read in one go: the live table is re-rendered each second).
      const colour = await page.evaluate(`getComputedStyle(document.querySelector('#nodes tr[data-node-id="node-3"] .state')).backgroundColor`);
      expect(colour).toBe('rgb(185, 28, 28)');
      await page.screenshot({ path: join(ARTIFACTS, 'dashboard-desynced.png'), fullPage: true });
    } finally {
      follower.resume();
    }
    await waitForState(page, 'node-3', 'healthy', 30_000);
    const resyncs = page.locator('#nodes tr[data-node-id="node-3"] td:nth-child(10)');
    await waitFor(async () => Number(await resyncs.textContent({ timeout: 2000 })) >= 1, { what: 'node-3 resync count 1 on the page', timeoutMs: 10_000 });
    const events = (await page.locator('#events').textContent()) ?? '';
    expect(events).toContain('desynced');
    expect(events).toContain('resync_succeeded');
    expect(await page.locator('#workspaces').textContent()).toContain('ws-dash');
    expect(await page.evaluate('window.loadedOnce')).toBe(true); // never reloaded
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });

    // The force-resync button of a follower (no operator token configured: a confirm, no prompt).
    page.once('dialog', (d) => void d.accept());
    await page.locator('#nodes tr[data-node-id="node-2"] button').click();
    await waitFor(async () => /completed successfully/.test((await page.locator('#resync-result').textContent()) ?? ''), { what: 'the force-resync result on the page', timeoutMs: 15_000 });
    expect(foreign).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
