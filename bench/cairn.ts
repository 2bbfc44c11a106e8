// A three-node Cairn cluster for benchmarks: `node bin/cairn.mjs serve` processes with the
// default replication settings (batch_size 100, flush_interval_ms 5, write_concern quorum), on
// loopback, data in a temporary directory. node-1 (the leader) can run under --cpu-prof.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { CAIRN_BIN, clusterYaml, nodeEnv, REPO_ROOT } from '../test/helpers/cluster.ts';
import { freePorts } from '../test/helpers/ports.ts';
import { ManagedProcess } from '../test/helpers/process.ts';
import { httpStatus, waitFor } from '../test/helpers/wait.ts';

export interface BenchNode {
  id: string;
  url: string;
  dataDir: string;
  process: ManagedProcess;
}

export interface BenchCluster {
  dir: string;
  configPath: string;
  nodes: BenchNode[];
  leader: BenchNode;
  node(id: string): BenchNode;
  waitReady(node: BenchNode, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface BenchClusterOptions {
  /** Directory for node-1's CPU profile (node --cpu-prof). */
  profileDir?: string;
  /** With profileDir: profile every node, each into profileDir/<node id>/. */
  profileAll?: boolean;
  overrides?: Record<string, unknown>;
  /** CPUs per node id (taskset -c's list, e.g. "0"): the node runs on those only. */
  cpus?: Record<string, string>;
}

export async function startBenchCluster(opts: BenchClusterOptions = {}): Promise<BenchCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-cairn-'));
  const ports = await freePorts(3);
  const configPath = join(dir, 'cluster.yaml');
  const yaml = clusterYaml(ports, dir, { server: { log_level: 'warn' }, ...opts.overrides });
  writeFileSync(configPath, stringify(yaml));
  const env = nodeEnv({ CAIRN_CLUSTER_SECRET: randomBytes(16).toString('hex') });
  const nodes: BenchNode[] = ports.map((port, i) => {
    const id = `node-${i + 1}`;
    const profDir = opts.profileDir === undefined ? undefined : opts.profileAll === true ? join(opts.profileDir, id) : i === 0 ? opts.profileDir : undefined;
    const prof = profDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profDir}`];
    if (profDir !== undefined) mkdirSync(profDir, { recursive: true });
    return {
      id,
      url: `http://127.0.0.1:${port}`,
      dataDir: join(dir, 'data', id),
      process: new ManagedProcess({
        name: id,
        command: opts.cpus?.[id] === undefined ? process.execPath : 'taskset',
        args: [...(opts.cpus?.[id] === undefined ? [] : ['-c', opts.cpus[id], process.execPath]), ...prof, CAIRN_BIN, 'serve', '--config', configPath, '--node-id', id],
        cwd: REPO_ROOT,
        env,
        logPath: join(dir, 'logs', `${id}.log`),
      }),
    };
  });
  const waitReady = async (node: BenchNode, timeoutMs = 60_000): Promise<void> => {
    await waitFor(
      async () => {
        if (!node.process.running) throw new Error(`${node.id} exited:\n${node.process.logTail()}`);
        return (await httpStatus(`${node.url}/_raft/health`)) === 200;
      },
      { what: `${node.id} in sync`, timeoutMs, intervalMs: 100 },
    );
  };
  for (const n of nodes) n.process.start();
  await Promise.all(nodes.map((n) => waitReady(n)));
  return {
    dir,
    configPath,
    nodes,
    leader: nodes[0] as BenchNode,
    node: (id) => nodes.find((n) => n.id === id) as BenchNode,
    waitReady,
    async stop(): Promise<void> {
      await Promise.all(nodes.map((n) => n.process.stop(30_000)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
