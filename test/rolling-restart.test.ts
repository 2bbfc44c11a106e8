// Rolling restarts on real processes under steady quorum writes.
// - `cairn cluster` (its nodes restarted through its control endpoint): `cairn rolling-restart
//   --keep-leader` restarts all three (new pids), node-1 leads at the end, and every acknowledged
//   write is on every node; then the dashboard's button (real Chromium) does it again without
//   handing leadership back, so node-2 leads; a cross-site POST is refused and starts nothing.
// - Test nodes restarted by a command (--restart-command, the hook for other deployments): a
//   command that fails, and a node that does not come back (SIGSTOPped), each stop the restart
//   with one line naming the node and why, with nothing restarted after it; a command that does
//   restart the nodes ends with node-2 leading and nothing lost.
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAIRN_BIN, nodeEnv, REPO_ROOT, startCluster } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { freePortRange } from './helpers/ports.ts';
import { ManagedProcess } from './helpers/process.ts';
import { SteadyWriter } from './helpers/steady-writer.ts';
import { waitFor } from './helpers/wait.ts';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const RUN_TIMEOUT_MS = 240_000;

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cairn <args>` to its end (bounded). */
function cairn(args: string[], timeoutMs = RUN_TIMEOUT_MS): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CAIRN_BIN, ...args], { cwd: REPO_ROOT, env: nodeEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function raftHealth(url: string): Promise<{ role: string; leader_id: string } | null> {
  try {
    const res = await fetch(`${url}/_raft/health`, { signal: AbortSignal.timeout(2_000) });
    return (await res.json()) as { role: string; leader_id: string };
  } catch {
    return null;
  }
}

/** The node every node names as leader, once they agree and it leads. */
async function agreedLeader(urls: string[]): Promise<string> {
  return waitFor(
    async () => {
      const all = await Promise.all(urls.map(raftHealth));
      const leader = all[0]?.leader_id;
      if (leader === undefined || !all.every((h) => h?.leader_id === leader)) return undefined;
      return all.some((h) => h?.role === 'leader') ? leader : undefined;
    },
    { what: 'every node to name the same leader', timeoutMs: 30_000 },
  );
}

describe('cairn rolling-restart beside cairn cluster', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-rolling-'));
  const dataDir = join(dir, 'data');
  let cli: ManagedProcess;
  let browser: Browser;
  let basePort = 0;
  const urls = (): string[] => [0, 1, 2].map((i) => `http://127.0.0.1:${basePort + i}`);
  const log = (): string => (existsSync(cli.spec.logPath) ? readFileSync(cli.spec.logPath, 'utf8') : '');
  const control = (): { url: string; token: string } => JSON.parse(readFileSync(join(dataDir, 'control.json'), 'utf8')) as { url: string; token: string };
  const pids = async (): Promise<Record<string, number>> => {
    const c = control();
    const res = await fetch(`${c.url}/nodes`, { headers: { authorization: `Bearer ${c.token}` } });
    const body = (await res.json()) as { nodes: Array<{ id: string; pid: number; running: boolean }> };
    return Object.fromEntries(body.nodes.filter((n) => n.running).map((n) => [n.id, n.pid]));
  };

  beforeAll(async () => {
    basePort = await freePortRange(3);
    cli = ManagedProcess.start({
      name: 'cairn cluster',
      command: process.execPath,
      args: [CAIRN_BIN, 'cluster', '--no-nginx', '--base-port', String(basePort), '--data-dir', dataDir],
      cwd: REPO_ROOT,
      env: nodeEnv(),
      logPath: join(dir, 'cluster.log'),
    });
    [browser] = await Promise.all([
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
      waitFor(
        () => {
          if (!cli.running) throw new Error(`cairn cluster exited (${cli.exitCode}):\n${log()}`);
          return log().includes('[cluster] ready:');
        },
        { what: 'the ready line of cairn cluster', timeoutMs: 90_000 },
      ),
    ]);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await cli?.stop(15_000);
    rmSync(dir, { recursive: true, force: true });
  });

  it('restarts every node once under quorum writes, node-1 leads again with --keep-leader, and no acknowledged write is lost', async () => {
    const before = await pids();
    expect(Object.keys(before).sort(), `nodes running before the restart; cairn cluster's log:\n${log().slice(-6000)}`).toEqual(['node-1', 'node-2', 'node-3']);
    const writer = new SteadyWriter(urls, 'rolling-cli');
    await waitFor(() => writer.acked.length >= 20, { what: '20 acknowledged writes', timeoutMs: 30_000 });
    const ran = await cairn(['rolling-restart', '--data-dir', dataDir, '--keep-leader']);
    const countAtEnd = writer.acked.length;
    await waitFor(() => writer.acked.length >= countAtEnd + 10, { what: '10 more acknowledged writes', timeoutMs: 30_000 });
    await writer.stop();
    expect(ran.code, `${ran.stdout}\n${ran.stderr}\n${log().slice(-4000)}`).toBe(0);
    expect(ran.stdout).toContain('rolling restart done: node-2, node-3, node-1 restarted; node-1 leads');
    // Followers first, the old leader after the handover, the handover back last.
    const order = ['node-2: restarting', 'node-3: restarting', 'leadership: node-1 -> node-2', 'node-1: restarting', 'leadership: node-2 -> node-1'].map((s) => ran.stdout.indexOf(s));
    expect(order.every((at, i) => at >= 0 && (i === 0 || at > (order[i - 1] as number))), ran.stdout).toBe(true);
    const after = await pids();
    for (const id of ['node-1', 'node-2', 'node-3']) expect(after[id], id).not.toBe(before[id]);
    expect(await agreedLeader(urls())).toBe('node-1');
    expect(writer.acked.length).toBeGreaterThan(30);
    for (const url of urls()) expect(await writer.missingOn(url), url).toEqual([]);
    expect(log()).not.toContain('exited unexpectedly');
  }, RUN_TIMEOUT_MS + 60_000);

  it('refuses a cross-site POST to start one (403 cross_site) and starts nothing', async () => {
    const res = await fetch(`${urls()[1]}/_raft/rolling-restart`, { method: 'POST', headers: { origin: 'https://evil.example' } });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ error: { code: 'cross_site' } });
    const status = (await (await fetch(`${urls()[1]}/_raft/rolling-restart`)).json()) as { state: string };
    expect(status.state).toBe('idle');
  });

  it("runs from the dashboard's button: every node restarted, and without handing back node-2 leads", async () => {
    const before = await pids();
    const writer = new SteadyWriter(urls, 'rolling-dashboard');
    await waitFor(() => writer.acked.length >= 20, { what: '20 acknowledged writes', timeoutMs: 30_000 });
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.accept();
    });
    await page.goto(`${urls()[0]}/dashboard`);
    await page.locator('form.rolling input[name=keep_leader]').uncheck();
    await page.locator('form.rolling button').click();
    await waitFor(async () => ['done', 'failed', 'refused'].includes((await page.locator('#rolling-result').getAttribute('data-state')) ?? ''), {
      what: 'the rolling restart to end on the page',
      timeoutMs: RUN_TIMEOUT_MS,
      intervalMs: 500,
    });
    const shown = (await page.locator('#rolling-result').textContent()) ?? '';
    await page.close();
    const countAtEnd = writer.acked.length;
    await waitFor(() => writer.acked.length >= countAtEnd + 10, { what: '10 more acknowledged writes', timeoutMs: 30_000 });
    await writer.stop();
    expect(dialogs).toEqual(['Restart every node once, one at a time?']);
    expect(shown, log().slice(-4000)).toBe('Rolling restart done: done: node-2, node-3, node-1 restarted; node-2 leads');
    const after = await pids();
    for (const id of ['node-1', 'node-2', 'node-3']) expect(after[id], id).not.toBe(before[id]);
    expect(await agreedLeader(urls())).toBe('node-2');
    for (const url of urls()) expect(await writer.missingOn(url), url).toEqual([]);
  }, RUN_TIMEOUT_MS + 60_000);
});

describe('cairn rolling-restart --restart-command', () => {
  let cluster: TestCluster;
  let dir: string;
  let restarter: Server;
  let restarterUrl = '';
  const urls = (): string[] => cluster.nodes.map((n) => n.url);

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3, startTimeoutMs: 120_000 });
    dir = mkdtempSync(join(tmpdir(), 'cairn-rolling-hook-'));
    // What a deployment's tooling does: restart the node it is asked to (here the test's own
    // processes, as `docker compose restart` would a container).
    restarter = createServer((req, res) => {
      const id = /^\/restart\/([\w-]+)$/.exec(req.url ?? '')?.[1] ?? '';
      req.resume();
      cluster
        .node(id)
        .process.restart()
        .then(
          () => res.writeHead(200).end('restarted\n'),
          (err: unknown) => res.writeHead(500).end(`${(err as Error).message}\n`),
        );
    });
    await new Promise<void>((resolve) => restarter.listen(0, '127.0.0.1', () => resolve()));
    restarterUrl = `http://127.0.0.1:${(restarter.address() as AddressInfo).port}`;
  }, 180_000);
  afterAll(async () => {
    await new Promise((resolve) => restarter?.close(resolve));
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops when the restart command fails, with one line naming the node and the command\'s reason', async () => {
    const ran = await cairn(['rolling-restart', '--url', cluster.leader.url, '--restart-command', 'echo "cannot reach host {node}" >&2; exit 3', '--timeout-ms', '5000']);
    expect(ran.code, ran.stdout + ran.stderr).toBe(1);
    const lines = ran.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^cairn rolling-restart: node-2: the restart command exited with code 3: cannot reach host node-2 .*\(stopped: no node restarted; node-1 leads\)$/);
  });

  it('stops at a node that does not come back within --timeout-ms, says why, and restarts nothing after it', async () => {
    const pidsBefore = cluster.nodes.map((n) => n.pid);
    for (const n of cluster.nodes) writeFileSync(join(dir, `${n.id}.pid`), String(n.pid));
    const touched = join(dir, 'touched');
    appendFileSync(touched, '');
    // "Restarts" the node by stopping it (SIGSTOP): it never answers again.
    const ran = await cairn(['rolling-restart', '--url', cluster.leader.url, '--restart-command', `echo {node} >> ${touched}; kill -STOP $(cat ${dir}/{node}.pid)`, '--timeout-ms', '4000']);
    cluster.node('node-2').resume();
    expect(ran.code, ran.stdout + ran.stderr).toBe(1);
    const lines = ran.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^cairn rolling-restart: node-2 did not come back within 4000 ms: unreachable \(no answer in time\) \(stopped: no node restarted; node-1 leads\)$/);
    expect(readFileSync(touched, 'utf8')).toBe('node-2\n');
    expect(cluster.nodes.map((n) => n.pid)).toEqual(pidsBefore);
    expect(await agreedLeader(urls())).toBe('node-1');
    await cluster.node('node-2').waitReady('in-sync');
  });

  it('restarts every node through the command under quorum writes; without --keep-leader node-2 leads at the end', async () => {
    const before = cluster.nodes.map((n) => n.pid);
    const writer = new SteadyWriter(urls, 'rolling-hook');
    await waitFor(() => writer.acked.length >= 20, { what: '20 acknowledged writes', timeoutMs: 30_000 });
    const ran = await cairn(['rolling-restart', '--url', cluster.leader.url, '--restart-command', `curl -fsS -X POST ${restarterUrl}/restart/{node}`]);
    const countAtEnd = writer.acked.length;
    await waitFor(() => writer.acked.length >= countAtEnd + 10, { what: '10 more acknowledged writes', timeoutMs: 30_000 });
    await writer.stop();
    expect(ran.code, `${ran.stdout}\n${ran.stderr}\n${cluster.logs()}`).toBe(0);
    expect(ran.stdout).toContain('rolling restart done: node-2, node-3, node-1 restarted; node-2 leads');
    const after = cluster.nodes.map((n) => n.pid);
    after.forEach((pid, i) => expect(pid, cluster.nodes[i]?.id).not.toBe(before[i]));
    expect(await agreedLeader(urls())).toBe('node-2');
    for (const url of urls()) expect(await writer.missingOn(url), url).toEqual([]);
  }, RUN_TIMEOUT_MS + 60_000);
});

describe('cairn rolling-restart flags', () => {
  it('refuses an unknown flag, a bad --timeout-ms and a bad --node with exit 2 and one line', async () => {
    for (const [args, line] of [
      [['--no-such-flag'], /^cairn rolling-restart: unknown flag --no-such-flag; see `cairn rolling-restart --help`$/],
      [['--timeout-ms', '0'], /^cairn rolling-restart: --timeout-ms: expected a positive integer, got "0"$/],
      [['--restart-command', 'true', '--node', 'node-2'], /^cairn rolling-restart: --node: expected ID=URL, got "node-2"$/],
    ] as Array<[string[], RegExp]>) {
      const ran = await cairn(['rolling-restart', ...args], 30_000);
      expect(ran.code, ran.stderr).toBe(2);
      expect(ran.stderr.trim().split('\n')).toHaveLength(1);
      expect(ran.stderr.trim()).toMatch(line);
    }
  });

  it('says how to name a deployment when there is neither a cairn cluster in --data-dir nor --restart-command', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'cairn-rolling-none-'));
    try {
      const ran = await cairn(['rolling-restart', '--data-dir', empty], 30_000);
      expect(ran.code).toBe(2);
      expect(ran.stderr.trim()).toBe(`cairn rolling-restart: no cairn cluster is running with its data in ${empty} (no control.json there): pass that cluster's --data-dir, or --restart-command CMD for another deployment`);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
