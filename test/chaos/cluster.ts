// A three-node test cluster whose links go through proxies the chaos run controls.
//
// Each node gets its own config file: its own entry in replication.nodes is its real address
// (so it listens there), every other node's entry is the address of a LinkProxy for that
// direction (node-i -> node-j). Cutting the link between the leader and one follower cuts both
// proxies of that pair: appends and snapshots from the leader, writes the follower forwards.
// Clients and nginx use the real addresses (cluster.yaml), so only node-to-node traffic is faulted.

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { clusterYaml, nodeEnv, TestCluster, TestNode } from '../helpers/cluster.ts';
import { freePorts } from '../helpers/ports.ts';
import { LinkProxy } from './proxy.ts';

export interface ChaosClusterOptions {
  /** Deep-merged into every node's config. */
  configOverrides?: Record<string, unknown>;
  keepDir?: boolean;
  startTimeoutMs?: number;
}

export class ChaosCluster implements AsyncDisposable {
  private stopped = false;
  constructor(
    readonly cluster: TestCluster,
    /** Proxies by "from->to" node id. */
    readonly proxies: Map<string, LinkProxy>,
    readonly secret: string,
  ) {}

  get nodes(): TestNode[] {
    return this.cluster.nodes;
  }

  node(id: string): TestNode {
    return this.cluster.node(id);
  }

  get leader(): TestNode {
    return this.cluster.node('node-1');
  }

  get followers(): TestNode[] {
    return this.nodes.filter((n) => n.id !== 'node-1');
  }

  proxy(from: string, to: string): LinkProxy {
    const p = this.proxies.get(`${from}->${to}`);
    if (p === undefined) throw new Error(`no proxy ${from}->${to}`);
    return p;
  }

  /** Both directions between two nodes. */
  link(a: string, b: string): LinkProxy[] {
    return [this.proxy(a, b), this.proxy(b, a)];
  }

  healAllLinks(): void {
    for (const p of this.proxies.values()) {
      p.setDelay(0);
      p.heal();
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.cluster.stop();
    await Promise.all([...this.proxies.values()].map((p) => p.stop()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

export async function startChaosCluster(opts: ChaosClusterOptions = {}): Promise<ChaosCluster> {
  const count = 3;
  const dir = mkdtempSync(join(tmpdir(), 'cairn-chaos-'));
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const ports = await freePorts(count + count * (count - 1));
  const nodePorts = ports.slice(0, count);
  const ids = nodePorts.map((_, i) => `node-${i + 1}`);
  const secret = randomBytes(24).toString('hex');
  writeFileSync(join(dir, 'cluster.secret'), `${secret}\n`, { mode: 0o600 });

  const proxies = new Map<string, LinkProxy>();
  let next = count;
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < count; j++) {
      if (i === j) continue;
      const key = `${ids[i]}->${ids[j]}`;
      proxies.set(key, new LinkProxy(key, ports[next++] as number, nodePorts[j] as number));
    }
  }
  await Promise.all([...proxies.values()].map((p) => p.start()));

  const overrides = { ...opts.configOverrides };
  // The public config: real addresses (for clients, nginx and the checkers).
  const publicConfig = clusterYaml(nodePorts, dir, overrides);
  const clusterId = (publicConfig['replication'] as { cluster_id: string }).cluster_id;
  const configPath = join(dir, 'cluster.yaml');
  writeFileSync(configPath, stringify(publicConfig));

  const env = nodeEnv({ CAIRN_CLUSTER_SECRET: secret });
  const nodes: TestNode[] = [];
  for (let i = 0; i < count; i++) {
    const self = ids[i] as string;
    const base = clusterYaml(nodePorts, dir, overrides);
    const replication = base['replication'] as Record<string, unknown>;
    replication['cluster_id'] = clusterId;
    const entries = ids.map((id, j) => ({
      id,
      address: id === self ? `127.0.0.1:${nodePorts[j]}` : (proxies.get(`${self}->${id}`) as LinkProxy).address,
    }));
    replication['nodes'] = entries;
    // The guide's discovery list must name the same addresses as replication.nodes.
    const discovery = (base['cluster'] as { discovery: { endpoints: string[] } }).discovery;
    discovery.endpoints = entries.map((n) => n.address);
    const perNode = join(dir, `${self}.yaml`);
    writeFileSync(perNode, stringify(base));
    nodes.push(new TestNode(self, nodePorts[i] as number, perNode, join(dir, 'logs', `${self}.log`), env));
  }
  const keepDir = opts.keepDir === true || process.env['CAIRN_KEEP_TEST_DIRS'] === '1';
  const cluster = new TestCluster(dir, configPath, nodes, keepDir);
  const chaos = new ChaosCluster(cluster, proxies, secret);
  try {
    for (const node of nodes) node.start();
    await Promise.all(nodes.map((n) => n.waitReady('in-sync', opts.startTimeoutMs ?? 60_000)));
  } catch (error) {
    await chaos.stop();
    throw error;
  }
  return chaos;
}
