// A rolling restart: every node restarted once, one at a time, with a quorum up throughout.
// Followers first, each only after the one before is back (its /_raft/health 200, the leader
// sees it healthy, and, where /api/v1/cluster/self answers, a new started_at); then leadership
// is handed to a healthy follower (POST /_raft/transfer-leadership), the old leader restarted, and
// with keepLeader leadership handed back. The first node that does not come back within
// timeoutMs stops it, with the reason; nothing after that step is done.
//
// What restarts a node is a Restarter: `cairn cluster`'s supervisor (cluster-control.ts), or a
// command per node (hookRestarter: `docker compose restart {node}`, `systemctl restart ...`).

import { spawn } from 'node:child_process';

export interface NodeRef {
  id: string;
  /** http://host:port as this machine reaches the node. */
  url: string;
}

export interface Restarter {
  /** Restarts the node (or has it restarted); rejects with a one-line reason. */
  restart(node: NodeRef): Promise<void>;
}

export interface RollingRestartOptions {
  nodes: NodeRef[];
  restarter: Restarter;
  /** replication.operator_token ('' when none is configured). */
  operatorToken: string;
  /** server.auth_token, to read each node's started_at ('' when none is configured). */
  authToken: string;
  /** How long a node may take to come back (and the cluster to be healthy before the start). */
  timeoutMs: number;
  /** Hand leadership back to the node that led at the start. */
  keepLeader: boolean;
  /** The follower to hand leadership to (default: the first follower in node order). */
  to?: string;
  progress: (line: string) => void;
  pollMs?: number;
  /** Stops the restart between steps (and its waits). */
  signal?: AbortSignal;
}

export interface RollingRestartResult {
  /** In the order they were restarted. */
  restarted: string[];
  /** Who led at the start and who leads at the end. */
  from: string;
  leader: string;
}

/** A rolling restart that stopped: `message` is the one line to show, `restarted` what was done. */
export class RollingRestartError extends Error {
  override readonly name = 'RollingRestartError';
  constructor(
    message: string,
    readonly restarted: string[],
    readonly leader: string | null,
  ) {
    super(message);
  }
}

/** Per HTTP call. */
const request_timeout_ms = 2_000;
/** The handover answers within transfer_timeout_ms (10 s) and a forward; this bounds our wait. */
const transfer_request_timeout_ms = 40_000;
const poll_ms_default = 200;

interface RaftHealth {
  node_id: string;
  role: string;
  leader_id: string;
  status: string;
  follower_details: Array<{ node_id: string; address: string; health: string; lag: number | null }>;
}

interface Answer<T> {
  status: number;
  body: T | null;
  /** Set when nothing answered. */
  error?: string;
}

async function call<T>(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<Answer<T>> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? request_timeout_ms) });
    const text = await res.text();
    let body: T | null = null;
    try {
      body = JSON.parse(text) as T;
    } catch {
      body = null;
    }
    return { status: res.status, body };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { status: 0, body: null, error: cause ?? ((err as Error).name === 'TimeoutError' ? 'no answer in time' : (err as Error).message) };
  }
}

function health(node: NodeRef): Promise<Answer<RaftHealth>> {
  return call<RaftHealth>(`${node.url}/_raft/health`);
}

function describe(a: Answer<{ status?: string; error?: { message?: string } }>): string {
  if (a.status === 0) return `unreachable (${a.error ?? 'no answer'})`;
  return `/_raft/health ${a.status}${typeof a.body?.status === 'string' ? ` (${a.body.status})` : ''}`;
}

export async function rollingRestart(o: RollingRestartOptions): Promise<RollingRestartResult> {
  if (o.nodes.length < 2) throw new RollingRestartError('a rolling restart needs at least two nodes: leadership must move while the leader restarts', [], null);
  const byId = new Map(o.nodes.map((n) => [n.id, n]));
  const restarted: string[] = [];
  let leaderId: string | null = null;
  const pollMs = o.pollMs ?? poll_ms_default;
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        o.signal?.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      o.signal?.addEventListener('abort', done, { once: true });
    });
  const stop = (message: string): never => {
    throw new RollingRestartError(message, [...restarted], leaderId);
  };
  const checkAborted = (): void => {
    if (o.signal?.aborted === true) stop(`interrupted${restarted.length > 0 ? ` after restarting ${restarted.join(', ')}` : ' before any restart'}`);
  };
  const node = (id: string): NodeRef => byId.get(id) ?? stop(`the leader names ${id}, which is not among the nodes (${[...byId.keys()].join(', ')})`);

  /** Why the node is not back yet, or null once it is. */
  const notBack = async (n: NodeRef, leader: NodeRef, startedBefore: string | null): Promise<string | null> => {
    const own = await health(n);
    if (own.status !== 200 || own.body === null) return describe(own);
    if (own.body.node_id !== n.id) return `${n.url} answers as ${own.body.node_id}`;
    if (n.id === leader.id) {
      if (own.body.role !== 'leader') return `not leading (role ${own.body.role}, leader ${own.body.leader_id})`;
    } else {
      if (own.body.leader_id !== leader.id) return `follows ${own.body.leader_id}, not ${leader.id}`;
      const seen = await health(leader);
      if (seen.status === 0 || seen.body === null) return `its leader ${leader.id} is ${describe(seen)}`;
      const row = seen.body.follower_details.find((f) => f.node_id === n.id);
      if (row?.health !== 'healthy') return `${leader.id} sees it ${row?.health ?? 'nowhere'}${row?.lag === null || row?.lag === undefined ? '' : ` (lag ${row.lag})`}`;
    }
    if (startedBefore !== null) {
      const started = await startedAt(n);
      if (started === startedBefore) return 'still the process from before the restart (same started_at)';
    }
    return null;
  };
  const waitBack = async (n: NodeRef, leader: NodeRef, startedBefore: string | null, what: string): Promise<void> => {
    const deadline = Date.now() + o.timeoutMs;
    for (;;) {
      checkAborted();
      const reason = await notBack(n, leader, startedBefore);
      if (reason === null) return;
      if (Date.now() >= deadline) stop(`${n.id} ${what} within ${o.timeoutMs} ms: ${reason}`);
      await sleep(pollMs);
    }
  };
  const startedAt = async (n: NodeRef): Promise<string | null> => {
    const headers: Record<string, string> = o.authToken === '' ? {} : { authorization: `Bearer ${o.authToken}` };
    const self = await call<{ started_at?: string }>(`${n.url}/api/v1/cluster/self`, { headers });
    return self.status === 200 && typeof self.body?.started_at === 'string' ? self.body.started_at : null;
  };
  const restart = async (n: NodeRef, leader: NodeRef): Promise<void> => {
    checkAborted();
    const before = await startedAt(n);
    o.progress(`${n.id}: restarting`);
    const at = Date.now();
    try {
      await o.restarter.restart(n);
    } catch (err) {
      stop(`${n.id}: ${(err as Error).message}`);
    }
    await waitBack(n, leader, before, 'did not come back');
    restarted.push(n.id);
    o.progress(`${n.id}: back and healthy after ${((Date.now() - at) / 1000).toFixed(1)} s`);
  };
  const handTo = async (from: NodeRef, to: NodeRef): Promise<void> => {
    checkAborted();
    o.progress(`leadership: ${from.id} -> ${to.id}`);
    const headers: Record<string, string> = o.operatorToken === '' ? {} : { authorization: `Bearer ${o.operatorToken}` };
    const a = await call<{ leader?: string; error?: { message?: string } }>(`${from.url}/_raft/transfer-leadership?target=${encodeURIComponent(to.id)}`, {
      method: 'POST',
      headers,
      timeoutMs: transfer_request_timeout_ms,
    });
    if (a.status !== 200 || a.body?.leader !== to.id) {
      stop(`handing leadership from ${from.id} to ${to.id} failed: ${a.status === 0 ? `no answer (${a.error ?? ''})` : `${a.status} ${a.body?.error?.message ?? ''}`.trim()}`);
    }
    leaderId = to.id;
    await waitBack(to, to, null, 'did not take over leadership');
  };

  // Who leads, and is everyone healthy before anything is restarted.
  const first = await Promise.all(o.nodes.map(async (n) => ({ n, a: await health(n) })));
  const leaders = first.filter((x) => x.a.body?.role === 'leader' && x.a.body.node_id === x.n.id);
  if (leaders.length !== 1) {
    const named = first.map((x) => `${x.n.id}: ${x.a.body === null ? describe(x.a) : `${x.a.body.role}, leader ${x.a.body.leader_id}`}`).join('; ');
    stop(`cannot tell which node leads (${named}); a rolling restart starts only from a healthy cluster`);
  }
  const oldLeader = (leaders[0] as { n: NodeRef }).n;
  leaderId = oldLeader.id;
  const followers = o.nodes.filter((n) => n.id !== oldLeader.id);
  for (const n of o.nodes) await waitBack(n, oldLeader, null, 'is not healthy before the restart: it did not become healthy');
  const target = o.to === undefined ? (followers[0] as NodeRef) : node(o.to);
  if (target.id === oldLeader.id) stop(`--to ${target.id}: that node leads already; name a follower`);
  o.progress(`${oldLeader.id} leads; restarting ${followers.map((f) => f.id).join(', ')}, then ${oldLeader.id} once ${target.id} leads`);

  for (const f of followers) await restart(f, oldLeader);
  await handTo(oldLeader, target);
  await restart(oldLeader, target);
  if (o.keepLeader) await handTo(target, oldLeader);
  return { restarted, from: oldLeader.id, leader: leaderId };
}

export interface HookOptions {
  /** A shell command; {node}, {url} and {address} are replaced by the node's. */
  command: string;
  /** How long the command may run. */
  timeoutMs: number;
  /** Where the command's output goes (one line at a time). */
  output?: (line: string) => void;
}

/** Values put into a shell command as they are: nothing a shell would read as syntax. */
const safe_value = /^[A-Za-z0-9._:/@%+=-]+$/;

/** The command for one node, with {node}, {url}, {address} filled in. */
export function hookCommand(template: string, node: NodeRef): string {
  const address = node.url.replace(/^https?:\/\//, '').replace(/\/$/, '');
  const values: Record<string, string> = { node: node.id, url: node.url, address };
  for (const [key, value] of Object.entries(values)) {
    if (!safe_value.test(value)) throw new Error(`the node's ${key} ${JSON.stringify(value)} cannot go into a shell command as it is`);
  }
  return template.replace(/\{(node|url|address)\}/g, (_, key: string) => values[key] as string);
}

/**
 * Runs `sh -c <command>` per node, with CAIRN_NODE_ID and CAIRN_NODE_URL in its environment: the
 * node counts as restarted when the command exits 0. Its stderr's last line is the reason when it
 * does not.
 */
export function hookRestarter(h: HookOptions): Restarter {
  return {
    restart(node: NodeRef): Promise<void> {
      const command = hookCommand(h.command, node);
      return new Promise((resolve, reject) => {
        const child = spawn('/bin/sh', ['-c', command], {
          env: { ...process.env, CAIRN_NODE_ID: node.id, CAIRN_NODE_URL: node.url },
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        let last = '';
        const take = (chunk: Buffer): void => {
          for (const line of chunk.toString('utf8').split('\n')) {
            if (line.trim() === '') continue;
            last = line.trim();
            h.output?.(`${node.id}: ${line}`);
          }
        };
        child.stdout.on('data', take);
        child.stderr.on('data', take);
        const timer = setTimeout(() => {
          try {
            process.kill(-(child.pid as number), 'SIGKILL');
          } catch {
            // Already gone.
          }
          reject(new Error(`the restart command did not finish within ${h.timeoutMs} ms: ${command}`));
        }, h.timeoutMs);
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(new Error(`the restart command could not run: ${err.message}`));
        });
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          if (code === 0) resolve();
          else reject(new Error(`the restart command exited with ${signal ?? `code ${code}`}${last === '' ? '' : `: ${last}`} (${command})`));
        });
      });
    },
  };
}
