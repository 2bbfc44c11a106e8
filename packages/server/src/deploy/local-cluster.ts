// A three-node cluster plus nginx on this machine, as child processes of one command
// (`cairn cluster`, `npm run cluster`). The config it writes and uses is the shipped
// configs/cluster.yaml with the nodes moved to 127.0.0.1:<base>..<base+2> and the data under
// <data-dir>; no operator token, so the guide's curl lines work as written.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { readConfigFile, tryLoadConfig } from '../config/load.ts';
import type { CairnConfig } from '../config/types.ts';
import { startClusterControl, SUPERVISOR_TOKEN_ENV, SUPERVISOR_URL_ENV } from './cluster-control.ts';
import type { ClusterControl } from './cluster-control.ts';
import type { LogView } from './log-view.ts';
import { findNginx, killGroup, NGINX_INSTALL_ADVICE, startNginx } from './nginx-run.ts';
import type { NginxHandle } from './nginx-run.ts';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..', '..');
const CAIRN_BIN = join(REPO_ROOT, 'bin', 'cairn.mjs');
const NODE_COUNT = 3;
const READY_DEADLINE_MS = 60_000;
const STOP_DEADLINE_MS = 10_000;
const POLL_MS = 100;
/**
 * A second SIGINT this soon after the first is the same Ctrl-C arriving twice: the terminal sends
 * it to the whole foreground process group, and `npm run` passes on the one it gets to its child.
 */
export const SIGNAL_REPEAT_MS = 1_000;

export interface LocalClusterOptions {
  basePort: number;
  nginxPort: number;
  dataDir: string;
  nginx: boolean;
  host: string;
  log: (line: string) => void;
  error: (line: string) => void;
  /** What to show of each line a node prints (default: every line as it is). */
  view?: LogView;
  /** server.log_level of the nodes (default: the shipped config's). */
  nodeLogLevel?: string;
}

/** The cluster.yaml the local cluster runs with. */
export function localClusterYaml(opts: Pick<LocalClusterOptions, 'basePort' | 'dataDir' | 'host' | 'nodeLogLevel'>): Record<string, unknown> {
  const shipped = join(REPO_ROOT, 'configs', 'cluster.yaml');
  const base = existsSync(shipped) ? readConfigFile(shipped).raw : {};
  const cluster = { ...asRecord(base['cluster']) };
  delete cluster['node_id'];
  const nodes = Array.from({ length: NODE_COUNT }, (_, i) => ({ id: `node-${i + 1}`, address: `${opts.host}:${opts.basePort + i}` }));
  cluster['enabled'] = true;
  cluster['discovery'] = { method: 'static', endpoints: nodes.map((n) => n.address) };
  return {
    ...base,
    cluster,
    replication: {
      ...asRecord(base['replication']),
      cluster_id: 'cairn-local',
      nodes,
      leader: 'node-1',
      secret: '',
      operator_token: '',
    },
    server: {
      ...asRecord(base['server']),
      host: opts.host,
      data_dir: join(opts.dataDir, '{node_id}'),
      ...(opts.nodeLogLevel === undefined ? {} : { log_level: opts.nodeLogLevel }),
    },
  };
}

interface Child {
  id: string;
  url: string;
  process: ChildProcess;
  exited: Promise<void>;
}

/** Runs until SIGINT/SIGTERM; returns the exit code. */
export async function runLocalCluster(opts: LocalClusterOptions): Promise<number> {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const configPath = join(dataDir, 'cluster.yaml');
  const raw = localClusterYaml({ ...opts, dataDir });
  writeFileSync(configPath, `# Written by \`cairn cluster\`; rewritten on every start.\n${stringify(raw)}`);
  const loaded = tryLoadConfig({ file: configPath, env: {}, anyNode: true });
  if (loaded.config === undefined) {
    opts.error(`cairn cluster: the generated ${configPath} is invalid:`);
    for (const e of loaded.errors) opts.error(`  ${e}`);
    return 2;
  }
  const config = loaded.config;
  const ports = [...config.replication.nodes.map((n) => Number(n.address.split(':').pop())), ...(opts.nginx ? [opts.nginxPort] : [])];
  for (const port of ports) {
    if (!(await portFree(port, opts.host))) {
      opts.error(`cairn cluster: port ${port} on ${opts.host} is in use (another cluster running?); choose others with --base-port / --nginx-port`);
      return 1;
    }
  }

  let stopping = false;
  let forced = false;
  let firstSignalAt = 0;
  let stopRequested: () => void = () => undefined;
  const stopSignal = new Promise<void>((resolveStop) => {
    stopRequested = resolveStop;
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping && Date.now() - firstSignalAt < SIGNAL_REPEAT_MS) return;
    if (stopping) {
      forced = true;
      opts.log(`[cluster] ${signal} again: killing everything now`);
      for (const child of children) killGroup(child.process, 'SIGKILL');
      if (nginx !== undefined) killGroup(nginx.process, 'SIGKILL');
      return;
    }
    stopping = true;
    firstSignalAt = Date.now();
    opts.log(`[cluster] ${signal}: stopping nginx and the nodes`);
    stopRequested();
  };
  // The children run in their own process groups, so a Ctrl-C reaches only this process and
  // the shutdown happens in order; if this process ends any other way, take them along. Each is
  // killed as a group: a SIGKILL to nginx's master alone leaves its workers running, holding the
  // port (the master cannot pass on a SIGKILL).
  const killAll = (): void => {
    for (const child of children) killGroup(child.process, 'SIGKILL');
    if (nginx !== undefined) killGroup(nginx.process, 'SIGKILL');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  process.on('exit', killAll);

  // The control endpoint (cluster-control.ts): restarts a node on request, one at a time, and
  // runs the dashboard's rolling restart; the nodes are told where it is.
  const planned = new Set<string>();
  const children: Child[] = [];
  const control: ClusterControl = await startClusterControl(
    {
      nodes: () => children.map((c) => ({ id: c.id, url: c.url, pid: c.process.pid, running: c.process.exitCode === null && c.process.signalCode === null })),
      restart: (id) => restartChild(id),
      timeoutMs: READY_DEADLINE_MS,
      log: opts.log,
    },
    join(dataDir, 'control.json'),
  );
  const supervisorEnv = { [SUPERVISOR_URL_ENV]: control.url, [SUPERVISOR_TOKEN_ENV]: control.token };
  const spawnOne = (id: string, url: string): Child => spawnNode(id, url, configPath, opts, () => stopping || planned.has(id), supervisorEnv);
  const restartChild = async (id: string): Promise<{ old_pid: number | undefined; pid: number | undefined }> => {
    const i = children.findIndex((c) => c.id === id);
    const old = children[i];
    if (old === undefined) throw new Error(`no node ${id}`);
    if (stopping) throw new Error('the cluster is stopping');
    planned.add(id);
    try {
      if (old.process.exitCode === null && old.process.signalCode === null) old.process.kill('SIGTERM');
      const timer = setTimeout(() => killGroup(old.process, 'SIGKILL'), STOP_DEADLINE_MS);
      await old.exited;
      clearTimeout(timer);
    } finally {
      planned.delete(id);
    }
    if (stopping) throw new Error('the cluster is stopping');
    opts.log(`[cluster] ${id} stopped (pid ${old.process.pid}) for a restart`);
    const next = spawnOne(id, old.url);
    children[i] = next;
    return { old_pid: old.process.pid, pid: next.process.pid };
  };
  for (const node of config.replication.nodes) children.push(spawnOne(node.id, `http://${node.address}`));
  let nginx: NginxHandle | undefined;
  let code = 0;
  try {
    const ready = await Promise.race([waitAllAnswer(children, opts).then(() => true), stopSignal.then(() => false)]);
    if (ready && opts.nginx && !stopping) nginx = await startLocalNginx(config, dataDir, opts);
    nginx?.process.once('exit', (exitCode, signal) => {
      if (!stopping) opts.error(`[cluster] nginx exited unexpectedly (${signal ?? `code ${exitCode}`}); see ${join(dataDir, 'nginx', 'error.log')}`);
    });
    if (ready && !stopping) printReady(config, children, nginx, configPath, opts);
    await stopSignal;
  } catch (error) {
    opts.error(`[cluster] ${(error as Error).message}`);
    stopping = true;
    code = 1;
  }
  await control.close();
  await nginx?.stop();
  await stopChildren(children, () => forced);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onSignal);
  process.off('exit', killAll);
  opts.log('[cluster] stopped');
  return code;
}

function spawnNode(id: string, url: string, configPath: string, opts: LocalClusterOptions, stopping: () => boolean, extraEnv: Record<string, string>): Child {
  const env = { ...process.env };
  // The config file places each node; variables meant for a single node would move them all.
  for (const key of Object.keys(env)) {
    if (/^(CAIRN_(NODE_ID|SERVER_(PORT|HOST|DATA_DIR)|REPLICATION_NODES)|CONTEXTLITE_(PORT|HOST|DB_PATH|NODE_ID))$/.test(key)) delete env[key];
  }
  Object.assign(env, extraEnv);
  const child = spawn(process.execPath, [CAIRN_BIN, 'serve', '--config', configPath, '--node-id', id], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  prefixLines(child.stdout, `[${id}] `, opts.log, opts.view);
  prefixLines(child.stderr, `[${id}] `, opts.error, opts.view);
  opts.log(`[cluster] ${id} started (pid ${child.pid}) on ${url}`);
  const exited = new Promise<void>((resolveExit) => {
    child.once('exit', (code, signal) => {
      if (!stopping()) {
        opts.error(`[cluster] ${id} exited unexpectedly (${signal ?? `code ${code}`}); the other nodes keep running. Ctrl-C stops the rest.`);
      }
      resolveExit();
    });
  });
  return { id, url, process: child, exited };
}

function prefixLines(stream: NodeJS.ReadableStream | null, prefix: string, write: (line: string) => void, view: LogView = (line) => line): void {
  if (stream === null) return;
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
    const shown = view(line);
    if (shown !== null) write(prefix + shown);
  });
}

async function waitAllAnswer(children: Child[], opts: LocalClusterOptions): Promise<void> {
  const deadline = Date.now() + READY_DEADLINE_MS;
  const pending = new Set(children);
  while (pending.size > 0) {
    for (const child of [...pending]) {
      if (child.process.exitCode !== null || child.process.signalCode !== null) {
        pending.delete(child);
        continue;
      }
      // Answering 200: a new cluster's leader answers 503 (recovering) until every follower said
      // what it holds; "ready" means writes are taken.
      if ((await status(`${child.url}/health`)) === 200) pending.delete(child);
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      opts.error(`[cluster] still waiting for ${[...pending].map((c) => c.id).join(', ')} after ${READY_DEADLINE_MS} ms; see their output above`);
      return;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  if (children.every((c) => c.process.exitCode !== null || c.process.signalCode !== null)) throw new Error('every node exited; see their output above');
}

async function startLocalNginx(config: CairnConfig, dataDir: string, opts: LocalClusterOptions): Promise<NginxHandle | undefined> {
  const binary = findNginx();
  if (binary === undefined) {
    opts.error(`[cluster] ${NGINX_INSTALL_ADVICE}. Running the nodes without it.`);
    return undefined;
  }
  const dir = join(dataDir, 'nginx');
  const handle = await startNginx(config, { dir, binary, listenPort: opts.nginxPort, listenHost: opts.host, detached: true });
  opts.log(`[cluster] nginx started (pid ${handle.pid}) on ${handle.url}, config ${handle.confPath}, logs in ${dir}`);
  return handle;
}

function printReady(config: CairnConfig, children: Child[], nginx: NginxHandle | undefined, configPath: string, opts: LocalClusterOptions): void {
  const nodes = children.map((c) => `${c.id}${c.id === config.replication.leader ? ' (leader)' : ''} ${c.url}`).join(', ');
  const front = nginx === undefined ? 'no nginx' : `nginx ${nginx.url}`;
  opts.log(`[cluster] ready: ${front}; ${nodes}; config ${configPath}. Ctrl-C stops everything.`);
  opts.log(`[cluster] dashboard: ${nginx?.url ?? children[0]?.url ?? ''}/dashboard`);
  if (nginx !== undefined) {
    opts.log(`[cluster] try: curl -H "X-Workspace-ID: mission-architect" -X POST ${nginx.url}/api/v1/assemble -d '{"query": "AI enforcement patterns"}'`);
  }
}

async function stopChildren(children: Child[], forced: () => boolean): Promise<void> {
  for (const child of children) {
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill(forced() ? 'SIGKILL' : 'SIGTERM');
  }
  const timer = setTimeout(() => {
    for (const child of children) killGroup(child.process, 'SIGKILL');
  }, STOP_DEADLINE_MS);
  await Promise.all(children.map((c) => c.exited));
  clearTimeout(timer);
}

async function status(url: string): Promise<number | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return undefined;
  }
}

function portFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.once('error', () => resolveFree(false));
    server.listen(port, host, () => server.close(() => resolveFree(true)));
  });
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
