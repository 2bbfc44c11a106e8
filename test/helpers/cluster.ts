// Real Cairn nodes for integration tests: `node bin/cairn.mjs serve` child processes on free
// loopback ports with a generated cluster.yaml in a temporary directory, started the way users
// start them. Clean up with `await using cluster = await startCluster(...)` or `cluster.stop()`
// in afterAll (both are safe to repeat).
//
// Each cluster lives in its own temporary directory (cluster.yaml, data/<node>, logs/<node>.log),
// removed on stop unless CAIRN_KEEP_TEST_DIRS=1 or keepDir; `cluster.logs()` gives every node's
// log tail for a failure message.
//
//   await using cluster = await startCluster({ nodes: 3 });
//   await fetch(`${cluster.node('node-2').url}/health`);
//   await cluster.node('node-3').kill9();  await cluster.node('node-3').restart();

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../packages/server/src/config/load.ts';
import type { CairnConfig } from '../../packages/server/src/config/types.ts';
import { freePorts } from './ports.ts';
import { ManagedProcess } from './process.ts';
import { httpStatus, waitFor } from './wait.ts';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const CAIRN_BIN = join(REPO_ROOT, 'bin', 'cairn.mjs');

export type Readiness = 'in-sync' | 'answering' | 'none';

export interface ClusterOptions {
  nodes?: number;
  /** Parent directory for the cluster's directory (default: the OS temp dir). */
  dataDir?: string;
  /** Deep-merged into the generated cluster.yaml, e.g. { replication: { batch_size: 10 } }. */
  configOverrides?: Record<string, unknown>;
  /** Extra environment for every node. */
  env?: Record<string, string>;
  /** Extra environment for one node, by id (over `env`), e.g. { 'node-1': { LD_PRELOAD: ... } }. */
  nodeEnv?: Record<string, Record<string, string>>;
  /**
   * Runs once the cluster's directory and cluster.yaml exist, before any node starts: e.g. to put
   * a node's data directory (`join(dir, 'data', id)`) on a file system of its own.
   */
  beforeStart?: (dir: string) => void | Promise<void>;
  /** 'in-sync' (default): /_raft/health or /health is 200; 'answering': any HTTP answer. */
  ready?: Readiness;
  /**
   * How long each node may take to be ready (default 90 s): a bound for a broken start, not a
   * speed check. A fresh cluster took over 30 s to be in-sync beside other suites at load 30.
   */
  startTimeoutMs?: number;
  /** Keep the directory (logs, data) after stop; also with CAIRN_KEEP_TEST_DIRS=1. */
  keepDir?: boolean;
}

export class TestNode implements AsyncDisposable {
  readonly process: ManagedProcess;
  constructor(
    readonly id: string,
    readonly port: number,
    readonly configPath: string,
    logPath: string,
    env: NodeJS.ProcessEnv,
  ) {
    this.process = new ManagedProcess({
      name: id,
      command: process.execPath,
      args: [CAIRN_BIN, 'serve', '--config', configPath, '--node-id', id],
      cwd: REPO_ROOT,
      env,
      logPath,
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.process.pid;
  }

  start(): void {
    this.process.start();
  }

  /** Waits until the node answers (see Readiness); throws with its log tail when it dies. */
  async waitReady(ready: Readiness = 'in-sync', timeoutMs = 30_000): Promise<void> {
    if (ready === 'none') return;
    await waitFor(
      async () => {
        if (!this.process.running) throw new Error(`${this.id} exited (${this.process.exitCode}):\n${this.process.logTail()}`);
        const raft = await httpStatus(`${this.url}/_raft/health`);
        if (raft === 200 || (ready === 'answering' && raft !== undefined)) return true;
        const health = await httpStatus(`${this.url}/health`);
        return health === 200 || (ready === 'answering' && health !== undefined);
      },
      { what: `${this.id} on ${this.url} to be ${ready}`, timeoutMs },
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n--- ${this.id} log ---\n${this.process.logTail()}`);
    });
  }

  kill9(): Promise<void> {
    return this.process.kill9();
  }
  pause(): void {
    this.process.pause();
  }
  resume(): void {
    this.process.resume();
  }
  stop(): Promise<void> {
    return this.process.stop();
  }
  async restart(ready: Readiness = 'answering'): Promise<void> {
    await this.process.restart();
    await this.waitReady(ready);
  }
  logTail(lines?: number): string {
    return this.process.logTail(lines);
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

export class TestCluster implements AsyncDisposable {
  private stopped = false;
  constructor(
    readonly dir: string,
    readonly configPath: string,
    readonly nodes: TestNode[],
    readonly keepDir: boolean,
  ) {}

  node(id: string): TestNode {
    const node = this.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id} (nodes: ${this.nodes.map((n) => n.id).join(', ')})`);
    return node;
  }

  /** The loaded config as the leader sees it (all nodes, addresses, affinity, limits). */
  get config(): CairnConfig {
    return loadConfig({ file: this.configPath, env: {}, anyNode: true });
  }

  get leader(): TestNode {
    return this.node(this.config.replication.leader);
  }

  get followers(): TestNode[] {
    const leader = this.config.replication.leader;
    return this.nodes.filter((n) => n.id !== leader);
  }

  /** A node's data directory (with the default server.data_dir of clusterYaml). */
  dataDir(id: string): string {
    return join(this.dir, 'data', id);
  }

  /** Every node's log tail, for a failing test's message. */
  logs(lines = 30): string {
    return this.nodes.map((n) => `--- ${n.id} ---\n${n.logTail(lines)}`).join('\n');
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.nodes.map((n) => n.stop()));
    if (!this.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** The cluster.yaml a test cluster runs with: nodes on the given loopback ports, node-1 leads. */
export function clusterYaml(ports: number[], dir: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const nodes = ports.map((port, i) => ({ id: `node-${i + 1}`, address: `127.0.0.1:${port}` }));
  const base: Record<string, unknown> = {
    cluster: { enabled: true, discovery: { method: 'static', endpoints: nodes.map((n) => n.address) } },
    replication: { cluster_id: `test-${process.pid}-${ports[0]}`, nodes, leader: 'node-1' },
    server: { host: '127.0.0.1', data_dir: join(dir, 'data', '{node_id}'), log_level: 'info' },
  };
  return deepMerge(base, overrides);
}

/**
 * Starts the nodes on free ports. A port found free can be taken before the node binds it (by
 * an outgoing connection's local port, or another suite on the machine): a node that exits with
 * EADDRINUSE is retried on new ports, twice at most.
 */
export async function startCluster(opts: ClusterOptions = {}): Promise<TestCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce(opts);
    } catch (error) {
      if (attempt >= 3 || !/EADDRINUSE/.test((error as Error).message)) throw error;
    }
  }
}

async function startClusterOnce(opts: ClusterOptions): Promise<TestCluster> {
  const count = opts.nodes ?? 3;
  const parent = opts.dataDir ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, 'cairn-cluster-'));
  const ports = await freePorts(count);
  const configPath = join(dir, 'cluster.yaml');
  writeFileSync(configPath, stringify(clusterYaml(ports, dir, opts.configOverrides)));
  const nodes = ports.map((port, i) => {
    const id = `node-${i + 1}`;
    return new TestNode(id, port, configPath, join(dir, 'logs', `${id}.log`), nodeEnv({ ...opts.env, ...opts.nodeEnv?.[id] }));
  });
  const keepDir = opts.keepDir === true || process.env['CAIRN_KEEP_TEST_DIRS'] === '1';
  const cluster = new TestCluster(dir, configPath, nodes, keepDir);
  try {
    await opts.beforeStart?.(dir);
    for (const node of nodes) node.start();
    await Promise.all(nodes.map((n) => n.waitReady(opts.ready ?? 'in-sync', opts.startTimeoutMs ?? 90_000)));
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

/** One node alone (a one-node cluster: its own leader). */
export async function startNode(opts: Omit<ClusterOptions, 'nodes'> = {}): Promise<TestCluster> {
  return startCluster({ ...opts, nodes: 1 });
}

/** The environment of a node: the test's, without variables that would override the config. */
export function nodeEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('CAIRN_') || key.startsWith('CONTEXTLITE_')) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlain(current) && isPlain(value) ? deepMerge(current, value) : value;
  }
  return out;
}

function isPlain(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
