// `cairn cluster` as a user runs it (`npm run cluster`): three real nodes and the machine's nginx
// on free ports; everything answers through nginx; a node that dies is reported while the others
// stay up; SIGINT stops everything and leaves no process behind, also when the output is piped.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CAIRN_BIN, nodeEnv, REPO_ROOT } from './helpers/cluster.ts';
import { requireNginx } from './helpers/nginx.ts';
import { freePort, freePortRange, isFree } from './helpers/ports.ts';
import { ManagedProcess } from './helpers/process.ts';
import { descendants } from './helpers/procs.ts';
import { httpStatus, pidAlive, waitFor } from './helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'cairn-cluster-cli-'));
let cli: ManagedProcess;
let basePort = 0;
let nginxPort = 0;
const pids = new Set<number>();

function log(): string {
  return existsSync(cli.spec.logPath) ? readFileSync(cli.spec.logPath, 'utf8') : '';
}

function startedPid(name: string): number {
  const match = new RegExp(`\\[cluster\\] ${name} started \\(pid (\\d+)\\)`).exec(log());
  if (match === null) throw new Error(`no pid for ${name} in the output:\n${log()}`);
  return Number(match[1]);
}

beforeAll(async () => {
  requireNginx();
  basePort = await freePortRange(3);
  nginxPort = await freePort();
  cli = ManagedProcess.start({
    name: 'cairn cluster',
    command: process.execPath,
    args: [CAIRN_BIN, 'cluster', '--base-port', String(basePort), '--nginx-port', String(nginxPort), '--data-dir', join(dir, 'data')],
    cwd: REPO_ROOT,
    env: nodeEnv(),
    logPath: join(dir, 'cluster.log'),
  });
  await waitFor(
    () => {
      if (!cli.running) throw new Error(`cairn cluster exited (${cli.exitCode}):\n${log()}`);
      return log().includes('[cluster] ready:');
    },
    { what: 'the ready line of cairn cluster', timeoutMs: 60_000 },
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\n${log()}`);
  });
});

afterAll(async () => {
  await cli.stop(15_000);
  for (const pid of pids) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('cairn cluster', () => {
  it('prints a ready line naming nginx and the three nodes', () => {
    const ready = log().split('\n').find((line) => line.startsWith('[cluster] ready:')) ?? '';
    expect(ready).toContain(`nginx http://127.0.0.1:${nginxPort}`);
    for (let i = 0; i < 3; i++) expect(ready).toContain(`node-${i + 1}${i === 0 ? ' (leader)' : ''} http://127.0.0.1:${basePort + i}`);
    expect(log()).toMatch(/^\[node-1\] /m);
  });

  it('writes the config it runs with: nodes on the base ports, node-1 leads, no operator token', () => {
    const written = parse(readFileSync(join(dir, 'data', 'cluster.yaml'), 'utf8')) as {
      replication: { nodes: { id: string; address: string }[]; leader: string; operator_token: string };
    };
    expect(written.replication.nodes).toEqual([0, 1, 2].map((i) => ({ id: `node-${i + 1}`, address: `127.0.0.1:${basePort + i}` })));
    expect(written.replication.leader).toBe('node-1');
    expect(written.replication.operator_token).toBe('');
  });

  it('answers /health on every node and through nginx for any workspace', async () => {
    for (let i = 0; i < 3; i++) expect(await httpStatus(`http://127.0.0.1:${basePort + i}/health`), `node-${i + 1}`).toBe(200);
    const served = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`http://127.0.0.1:${nginxPort}/health`, { headers: { 'X-Workspace-ID': `cli-ws-${i}` } });
      await response.arrayBuffer();
      expect(response.status).toBe(200);
      served.add(response.headers.get('x-served-by') ?? '');
    }
    expect(served.size).toBeGreaterThan(1);
  });

  it('reports a node that dies and keeps the others up', async () => {
    const victim = startedPid('node-3');
    process.kill(victim, 'SIGKILL');
    await waitFor(() => log().includes('[cluster] node-3 exited unexpectedly'), { what: 'the report of node-3 dying' });
    expect(cli.running).toBe(true);
    // The leader stays up and healthy (a follower down is not a condition of its own).
    expect(await httpStatus(`http://127.0.0.1:${basePort}/health`)).toBe(200);
    const response = await fetch(`http://127.0.0.1:${nginxPort}/health`, { headers: { 'X-Workspace-ID': 'after-death' } });
    await response.arrayBuffer();
    expect(response.status).toBe(200);
  });

  it('stops everything on SIGINT, exit 0, no process left and the ports free', async () => {
    const tree = descendants(cli.pid);
    for (const name of ['node-1', 'node-2', 'nginx']) expect(tree).toContain(startedPid(name));
    for (const pid of tree) pids.add(pid);
    // nginx workers are children of the nginx master.
    for (const pid of descendants(startedPid('nginx'))) pids.add(pid);
    expect(pids.size).toBeGreaterThanOrEqual(4);

    cli.signal('SIGINT');
    await cli.waitExit(30_000);
    expect(cli.exitCode).toBe(0);
    expect(log()).toContain('[cluster] stopped');
    await waitFor(() => [...pids].every((pid) => !pidAlive(pid)), { what: 'every process of the cluster to be gone', timeoutMs: 5_000 }).catch(() => {
      throw new Error(`still alive: ${[...pids].filter(pidAlive).join(', ')}\n${log()}`);
    });
    for (const port of [basePort, basePort + 1, basePort + 2, nginxPort]) expect(await isFree(port)).toBe(true);
  });
});

describe('cairn cluster without nginx', () => {
  it('says how to install nginx, runs the nodes alone, and stops cleanly', async () => {
    const base = await freePortRange(3);
    const out = join(dir, 'no-nginx');
    await using run = ManagedProcess.start({
      name: 'cairn cluster (no nginx)',
      command: process.execPath,
      args: [CAIRN_BIN, 'cluster', '--base-port', String(base), '--nginx-port', String(await freePort()), '--data-dir', out],
      cwd: REPO_ROOT,
      env: nodeEnv({ CAIRN_NGINX_BIN: join(dir, 'no-such-nginx') }),
      logPath: join(dir, 'no-nginx.log'),
    });
    const text = (): string => readFileSync(run.spec.logPath, 'utf8');
    await waitFor(() => text().includes('[cluster] ready:'), { what: 'the ready line', timeoutMs: 60_000 }).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${existsSync(run.spec.logPath) ? text() : ''}`);
    });
    expect(text()).toContain('apt-get install -y nginx');
    expect(text()).toMatch(/ready: no nginx; node-1 \(leader\) http:\/\/127\.0\.0\.1:\d+/);
    for (let i = 0; i < 3; i++) expect(await httpStatus(`http://127.0.0.1:${base + i}/health`)).toBe(200);
    const tree = descendants(run.pid);
    expect(tree.length).toBeGreaterThanOrEqual(3);
    run.signal('SIGINT');
    await run.waitExit(30_000);
    expect(run.exitCode).toBe(0);
    await waitFor(() => tree.every((pid) => !pidAlive(pid)), { what: 'the nodes to be gone', timeoutMs: 5_000 });
  });
});

describe('cairn cluster with its output piped', () => {
  it('leaves no node and no nginx worker behind after Ctrl-C to `npm run cluster | tee log`', async () => {
    requireNginx();
    const base = await freePortRange(3);
    const front = await freePort();
    const out = join(dir, 'piped');
    const logFile = join(dir, 'piped.log');
    // A shell pipeline in its own process group, as a terminal runs it; Ctrl-C is SIGINT to the
    // whole group: npm (which passes it on to its child as well), the cluster, and tee.
    const pipeline = spawn('bash', ['-c', `npm run cluster -- --base-port ${base} --nginx-port ${front} --data-dir '${out}' 2>&1 | tee '${logFile}' > /dev/null`], {
      cwd: REPO_ROOT,
      env: nodeEnv(),
      detached: true,
      stdio: 'ignore',
    });
    const done = new Promise<void>((resolve) => pipeline.once('exit', () => resolve()));
    const text = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
    const group: number[] = [];
    try {
      await waitFor(() => text().includes('[cluster] dashboard:'), { what: 'the ready and dashboard lines', timeoutMs: 60_000 });
      expect(text()).toContain(`[cluster] dashboard: http://127.0.0.1:${front}/dashboard`);
      // Readable node lines (pino-pretty), without the request lines of the default level.
      expect(text()).toMatch(/\[node-1\] \[\d\d:\d\d:\d\d\.\d{3}\] INFO: node started/);
      expect(text()).not.toMatch(/^\[node-\d\] \{"level"/m);
      const nginxPid = Number(/\[cluster\] nginx started \(pid (\d+)\)/.exec(text())?.[1]);
      const nodePids = [...text().matchAll(/\[cluster\] node-\d started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
      group.push(nginxPid, ...descendants(nginxPid), ...nodePids);
      expect(group.length).toBeGreaterThanOrEqual(5);
      process.kill(-(pipeline.pid ?? 0), 'SIGINT');
      await done;
      await waitFor(() => group.every((pid) => !pidAlive(pid)), { what: 'the nodes, nginx and its workers to be gone', timeoutMs: 15_000 }).catch(() => {
        throw new Error(`still alive: ${group.filter(pidAlive).join(', ')}\n${text()}`);
      });
      for (const port of [base, base + 1, base + 2, front]) expect(await isFree(port)).toBe(true);
    } finally {
      for (const pid of group) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
      if (pipeline.exitCode === null && pipeline.signalCode === null) process.kill(-(pipeline.pid ?? 0), 'SIGKILL');
    }
  }, 120_000);

  it('refuses an unknown flag with exit 2 and one line naming it', async () => {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CAIRN_BIN, 'cluster', '--nodes', '5'], { cwd: REPO_ROOT, env: nodeEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('exit', (code) => resolve({ code, stderr }));
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('cairn cluster: unknown flag --nodes; see `cairn cluster --help`\n');
  });
});
