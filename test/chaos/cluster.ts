// A three-node test cluster whose links go through proxies the chaos run controls.
//
// Each node gets its own config file: its own entry in replication.nodes is its real address
// (so it listens there), every other node's entry is the address of a LinkProxy for that
// direction (node-i -> node-j). Cutting the link between the leader and one follower cuts both
// proxies of that pair: appends and snapshots from the leader, writes the follower forwards.
// Clients and nginx use the real addresses (cluster.yaml), so only node-to-node traffic is faulted.
//
// Storage: each node's data directory is <dir>/mnt/<node>/data, on a tmpfs of its own mounted at
// <dir>/mnt/<node> (so one node's disk can be filled without touching the others, and the data
// directory itself can be removed). When mounting is not possible (not root, no tmpfs), the data
// directories are plain directories and `storage.reason` says why; the disk-full fault is then
// skipped. The mounts are removed when the cluster stops.
//
// Clocks: when Debian's libfaketime is installed, every node runs with it preloaded and a file of
// its own, <dir>/faketime/<node>.faketime, holding its wall-clock offset ("+0": the real clock).
// FAKETIME_NO_CACHE makes the library read the file at every wall-clock read, so a new offset
// written there is a step of that node's wall clock from then on, as an NTP step would be; a
// relative offset counts from the real time now, not from the start of the process.
// FAKETIME_DONT_FAKE_MONOTONIC leaves the monotonic clock alone (node's timers and
// performance.now() keep their pace). The cost: a wall-clock read (Date.now()) takes about 8 us
// instead of well under 1 us, as it opens the file. Without the library (or with faketime: false)
// the nodes run with the real clock, `clock.reason` says why, and the clock-jump fault is skipped.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { clusterYaml, nodeEnv, TestCluster, TestNode } from '../helpers/cluster.ts';
import { freePorts } from '../helpers/ports.ts';
import { pidAlive } from '../helpers/wait.ts';
import { LeaderWatch } from './leaders.ts';
import { LinkProxy } from './proxy.ts';

export interface ChaosClusterOptions {
  /** Deep-merged into every node's config. */
  configOverrides?: Record<string, unknown>;
  keepDir?: boolean;
  startTimeoutMs?: number;
  /** Size of each node's tmpfs, MB (default 256); 0: no tmpfs. */
  tmpfsMb?: number;
  /** Run every node under libfaketime so its wall clock can be stepped (default: when installed). */
  faketime?: boolean;
  /** Extra environment for one node, by id (e.g. a planted defect). */
  nodeEnv?: Record<string, Record<string, string>>;
}

/** Where Debian's libfaketime package puts the preload library (amd64, arm64). */
const LIBFAKETIME_PATHS = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1'];

/** The libfaketime preload library, or undefined when it is not installed. */
export function findLibfaketime(): string | undefined {
  return LIBFAKETIME_PATHS.find((p) => existsSync(p));
}

/** A wall-clock offset as libfaketime reads it: + or -, whole seconds or with m, h, d or y. */
const CLOCK_OFFSET_PATTERN = /^[+-]\d{1,9}[mhdy]?$/;

export interface ChaosClock {
  /** Every node runs under libfaketime and `setClockOffset` steps its wall clock. */
  faketime: boolean;
  library?: string;
  /** Why the nodes run with the real clock only, when they do. */
  reason?: string;
}

export interface ChaosStorage {
  /** Every node's data directory is on its own tmpfs. */
  tmpfs: boolean;
  size_mb: number;
  /** Why there is no tmpfs, when there is none. */
  reason?: string;
}

/** Mounts a tmpfs of `mb` MB on `dir`; throws with the mount command's message. */
function mountTmpfs(dir: string, mb: number): void {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m,mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    const e = error as Error & { stderr?: Buffer };
    throw new Error((e.stderr?.toString().trim() || e.message).split('\n')[0]);
  }
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    // Something still holds a file there (a node that did not exit): detach it now, freed once released.
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
}

export class ChaosCluster implements AsyncDisposable {
  private stopped = false;
  /** Who leads, as the nodes' /_raft/health says (polled while the cluster runs; see leaders.ts). */
  readonly leaders: LeaderWatch;
  constructor(
    readonly cluster: TestCluster,
    /** Proxies by "from->to" node id. */
    readonly proxies: Map<string, LinkProxy>,
    readonly secret: string,
    readonly storage: ChaosStorage,
    /** Each node's tmpfs mount point, when mounted. */
    readonly mounts: Map<string, string>,
    readonly clock: ChaosClock,
    /** Each node's libfaketime offset file, when the nodes run under it. */
    private readonly clockFiles: Map<string, string>,
    /** When the cluster was started (Date.now()). */
    readonly startedMs: number,
  ) {
    this.leaders = new LeaderWatch(new Map(cluster.nodes.map((n) => [n.id, n.url])), cluster.config.replication.leader);
  }

  /**
   * Steps a node's wall clock: `spec` is an offset from the real time ("+3600", "-10m", "+0" for
   * the real clock). The file is replaced whole (a node reading a half-written or unparsable
   * spec would exit: libfaketime ends the process on a spec it cannot parse).
   */
  setClockOffset(id: string, spec: string): void {
    const file = this.clockFiles.get(id);
    if (file === undefined) throw new Error(`setClockOffset: ${id} does not run under libfaketime (${this.clock.reason ?? 'no such node'})`);
    if (!CLOCK_OFFSET_PATTERN.test(spec)) throw new Error(`setClockOffset: expected an offset like +3600, -10m or +0, got ${JSON.stringify(spec)}`);
    writeFileSync(`${file}.next`, `${spec}\n`);
    renameSync(`${file}.next`, file);
  }

  /** A node's data directory (server.data_dir in its config). */
  dataDir(id: string): string {
    const mount = this.mounts.get(id);
    return mount === undefined ? join(this.cluster.dir, 'data', id) : join(mount, 'data');
  }

  /** The root of a node's own tmpfs (holds its data directory), or undefined without tmpfs. */
  mountDir(id: string): string | undefined {
    return this.mounts.get(id);
  }

  get nodes(): TestNode[] {
    return this.cluster.nodes;
  }

  node(id: string): TestNode {
    return this.cluster.node(id);
  }

  /** The node that leads as far as the last /_raft/health round told (`leaders.current()` asks again). */
  get leader(): TestNode {
    return this.cluster.node(this.leaders.leaderId);
  }

  /** The other nodes. */
  get followers(): TestNode[] {
    const id = this.leaders.leaderId;
    return this.nodes.filter((n) => n.id !== id);
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
    await this.leaders.stop();
    // The nodes first, so nothing holds files on the mounts; then the mounts (their data copied
    // out first when the directory is kept), then the directory.
    await Promise.all(this.nodes.map((n) => n.stop()));
    for (const [id, mount] of this.mounts) {
      try {
        if (this.cluster.keepDir && existsSync(join(mount, 'data'))) cpSync(join(mount, 'data'), join(this.cluster.dir, 'data', id), { recursive: true });
      } finally {
        unmount(mount);
      }
    }
    this.mounts.clear();
    if (this.clock.faketime) removeStaleFaketimeShm(this.startedMs);
    await this.cluster.stop();
    await Promise.all([...this.proxies.values()].map((p) => p.stop()));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/**
 * libfaketime keeps a semaphore and a shared memory object per process in /dev/shm, named by its
 * pid and removed when the process exits normally; kill -9 leaves them, and a later process under
 * libfaketime that gets the same pid cannot start. Removes those of processes gone since `sinceMs`.
 */
function removeStaleFaketimeShm(sinceMs: number): void {
  let names: string[];
  try {
    names = readdirSync('/dev/shm');
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^(?:faketime_shm_|sem\.faketime_sem_)(\d+)$/.exec(name);
    if (m === null || pidAlive(Number(m[1]))) continue;
    const file = join('/dev/shm', name);
    try {
      if (statSync(file).mtimeMs >= sinceMs - 1_000) rmSync(file, { force: true });
    } catch {
      // Removed meanwhile.
    }
  }
}

/** Throws unless the process `pid` has libfaketime mapped (the node really runs under it). */
function assertFaketimeLoaded(id: string, pid: number): void {
  const maps = readFileSync(`/proc/${pid}/maps`, 'utf8');
  if (!maps.includes('libfaketime')) throw new Error(`${id} (pid ${pid}) runs without libfaketime although LD_PRELOAD names it`);
}

export async function startChaosCluster(opts: ChaosClusterOptions = {}): Promise<ChaosCluster> {
  const count = 3;
  const startedMs = Date.now();
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

  // One tmpfs per node, mounted before any node starts; none at all when one cannot be mounted.
  const mounts = new Map<string, string>();
  const sizeMb = opts.tmpfsMb ?? 256;
  const storage: ChaosStorage = { tmpfs: false, size_mb: sizeMb };
  if (sizeMb <= 0) storage.reason = 'tmpfs disabled (tmpfsMb 0)';
  else {
    try {
      for (const id of ids) {
        const mount = join(dir, 'mnt', id);
        mkdirSync(mount, { recursive: true });
        mountTmpfs(mount, sizeMb);
        mounts.set(id, mount);
      }
      storage.tmpfs = true;
    } catch (error) {
      for (const mount of mounts.values()) unmount(mount);
      mounts.clear();
      storage.reason = `cannot mount a tmpfs: ${(error as Error).message}`;
    }
  }

  const overrides = { ...opts.configOverrides };
  // The public config: real addresses (for clients, nginx and the checkers).
  const publicConfig = clusterYaml(nodePorts, dir, overrides);
  const clusterId = (publicConfig['replication'] as { cluster_id: string }).cluster_id;
  const configPath = join(dir, 'cluster.yaml');
  writeFileSync(configPath, stringify(publicConfig));

  // Every node under libfaketime with its own offset file, at +0 (the real clock) until a fault.
  const library = findLibfaketime();
  const clock: ChaosClock = { faketime: false };
  if (opts.faketime === false) clock.reason = 'faketime disabled (faketime: false)';
  else if (library === undefined) clock.reason = `libfaketime not installed (none of ${LIBFAKETIME_PATHS.join(', ')})`;
  else {
    clock.faketime = true;
    clock.library = library;
    mkdirSync(join(dir, 'faketime'));
  }
  const clockFiles = new Map<string, string>();
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
    const mount = mounts.get(self);
    if (mount !== undefined) (base['server'] as Record<string, unknown>)['data_dir'] = join(mount, 'data');
    // The guide's discovery list must name the same addresses as replication.nodes.
    const discovery = (base['cluster'] as { discovery: { endpoints: string[] } }).discovery;
    discovery.endpoints = entries.map((n) => n.address);
    const perNode = join(dir, `${self}.yaml`);
    writeFileSync(perNode, stringify(base));
    const extra: Record<string, string> = { CAIRN_CLUSTER_SECRET: secret };
    if (clock.library !== undefined) {
      const file = join(dir, 'faketime', `${self}.faketime`);
      writeFileSync(file, '+0\n');
      clockFiles.set(self, file);
      const preload = process.env['LD_PRELOAD'];
      extra['LD_PRELOAD'] = preload === undefined || preload === '' ? clock.library : `${clock.library}:${preload}`;
      extra['FAKETIME_TIMESTAMP_FILE'] = file;
      extra['FAKETIME_NO_CACHE'] = '1';
      extra['FAKETIME_DONT_FAKE_MONOTONIC'] = '1';
    }
    nodes.push(new TestNode(self, nodePorts[i] as number, perNode, join(dir, 'logs', `${self}.log`), nodeEnv({ ...extra, ...opts.nodeEnv?.[self] })));
  }
  const keepDir = opts.keepDir === true || process.env['CAIRN_KEEP_TEST_DIRS'] === '1';
  const cluster = new TestCluster(dir, configPath, nodes, keepDir);
  const chaos = new ChaosCluster(cluster, proxies, secret, storage, mounts, clock, clockFiles, startedMs);
  try {
    for (const node of nodes) node.start();
    await Promise.all(nodes.map((n) => n.waitReady('in-sync', opts.startTimeoutMs ?? 60_000)));
    if (clock.faketime) for (const node of nodes) assertFaketimeLoaded(node.id, node.pid);
    chaos.leaders.start();
  } catch (error) {
    await chaos.stop();
    throw error;
  }
  return chaos;
}
