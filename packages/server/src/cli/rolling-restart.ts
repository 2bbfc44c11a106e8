// `cairn rolling-restart`: restarts every node once, one at a time (deploy/rolling-restart.ts).
// Beside `cairn cluster` it restarts that command's own nodes through its control endpoint
// (<data-dir>/control.json); elsewhere it runs --restart-command once per node. Exit 0 done,
// 1 stopped (one line saying why), 2 bad flags.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ControlFile, ControlledNode } from '../deploy/cluster-control.ts';
import { hookRestarter, rollingRestart, RollingRestartError } from '../deploy/rolling-restart.ts';
import type { NodeRef, Restarter } from '../deploy/rolling-restart.ts';
import { parseArgs, usageLine, UsageError } from './args.ts';
import { normaliseUrl } from './status.ts';

const HELP = `Usage: cairn rolling-restart [--data-dir ./data] [--keep-leader] [--to ID] [--timeout-ms 60000]
       cairn rolling-restart --restart-command CMD [--url URL] [--node ID=URL]... [--token T]

Restarts every node once, one at a time: the followers first, each only after the one before is
back (its /_raft/health 200 and the leader sees it healthy), then hands leadership to a healthy
follower (POST /_raft/transfer-leadership), restarts the old leader and, with --keep-leader, hands
leadership back to it. Stops at the first node that does not come back within --timeout-ms, with
one line saying why (exit 1); nothing after that step is done.

How a node is restarted:
  beside cairn cluster   its own nodes, through its control endpoint: --data-dir is the
                         cluster's (default ./data, where it writes control.json)
  --restart-command CMD  anything else: CMD runs with sh -c once per node, {node}, {url} and
                         {address} replaced by the node's (also CAIRN_NODE_ID, CAIRN_NODE_URL in
                         its environment); exit 0 means restarted, e.g.
                         'docker compose -f docker-compose.cluster.yml restart {node}' or
                         'ssh {node} sudo systemctl restart cairn'
  --url URL              with --restart-command: the leader, or nginx (its /_raft/ goes to the
                         leader), default http://127.0.0.1:8080 or $CAIRN_URL; the nodes are
                         the ones it lists
  --node ID=URL          how this machine reaches a node when that is not its configured
                         address (Docker's published ports: --node node-2=http://127.0.0.1:8081)
Options:
  --keep-leader          hand leadership back to the node that led at the start
  --to ID                the follower to hand leadership to (default: the first follower)
  --timeout-ms MS        how long each node may take to come back (default 60000); the restart
                         command gets as long
  --token TOKEN          the operator token (replication.operator_token), also
                         $CAIRN_OPERATOR_TOKEN; needed for the handover when one is configured
  --auth-token TOKEN     server.auth_token (also $CAIRN_AUTH_TOKEN), to check each node's
                         started_at changed; without it where one is needed, that check is skipped
  --json                 print the result as JSON
`;

export async function run(args: string[]): Promise<number> {
  let flags: Map<string, string>;
  let nodeFlags: string[];
  try {
    const parsed = parseArgs(args, {
      booleans: ['help', 'keep-leader', 'json'],
      values: ['data-dir', 'restart-command', 'url', 'to', 'timeout-ms', 'token', 'auth-token'],
      lists: ['node'],
    });
    if (parsed.positional.length > 0) throw new UsageError(`unexpected argument "${parsed.positional[0]}"`);
    flags = parsed.flags;
    nodeFlags = parsed.lists.get('node') ?? [];
  } catch (error) {
    process.stderr.write(usageLine('rolling-restart', error));
    return 2;
  }
  if (flags.has('help')) {
    process.stdout.write(HELP);
    return 0;
  }
  const fail = (line: string, code = 2): number => {
    process.stderr.write(`cairn rolling-restart: ${line}\n`);
    return code;
  };
  const timeoutMs = Number(flags.get('timeout-ms') ?? '60000');
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) return fail(`--timeout-ms: expected a positive integer, got "${flags.get('timeout-ms')}"`);
  const to = flags.get('to');
  if (to === '') return fail('--to: expected a node id');
  const overrides = new Map<string, string>();
  for (const item of nodeFlags) {
    const eq = item.indexOf('=');
    if (eq < 1) return fail(`--node: expected ID=URL, got "${item}"`);
    try {
      overrides.set(item.slice(0, eq), normaliseUrl(item.slice(eq + 1)));
    } catch {
      return fail(`--node: not a URL: "${item.slice(eq + 1)}"`);
    }
  }
  const operatorToken = flags.get('token') ?? process.env['CAIRN_OPERATOR_TOKEN'] ?? '';
  const authToken = flags.get('auth-token') ?? process.env['CAIRN_AUTH_TOKEN'] ?? '';
  const command = flags.get('restart-command');
  const json = flags.has('json');
  const say = (line: string): void => {
    if (!json) process.stdout.write(`${line}\n`);
  };

  let nodes: NodeRef[];
  let restarter: Restarter;
  if (command !== undefined) {
    if (command.trim() === '') return fail('--restart-command: expected a command');
    let base: string;
    try {
      base = normaliseUrl(flags.get('url') ?? process.env['CAIRN_URL'] ?? 'http://127.0.0.1:8080');
    } catch {
      return fail(`--url: not a URL: "${flags.get('url')}"`);
    }
    const found = await discover(base);
    if (typeof found === 'string') return fail(found, 1);
    nodes = found.map((n) => ({ id: n.id, url: overrides.get(n.id) ?? n.url }));
    const unknown = [...overrides.keys()].filter((id) => !found.some((n) => n.id === id));
    if (unknown.length > 0) return fail(`--node: ${unknown.join(', ')} is not a node of this cluster (nodes: ${found.map((n) => n.id).join(', ')})`);
    restarter = hookRestarter({ command, timeoutMs, output: say });
  } else {
    const dataDir = resolve(flags.get('data-dir') ?? './data');
    const file = join(dataDir, 'control.json');
    if (!existsSync(file)) {
      return fail(`no cairn cluster is running with its data in ${dataDir} (no control.json there): pass that cluster's --data-dir, or --restart-command CMD for another deployment`);
    }
    let control: ControlFile;
    try {
      control = JSON.parse(readFileSync(file, 'utf8')) as ControlFile;
      if (typeof control.url !== 'string' || typeof control.token !== 'string') throw new Error('expected {url, token, pid}');
    } catch (err) {
      return fail(`${file}: ${(err as Error).message}`, 1);
    }
    const listed = await controlCall<{ nodes: ControlledNode[] }>(control, 'GET', '/nodes');
    if (typeof listed === 'string') return fail(`the cairn cluster of ${dataDir} does not answer at ${control.url} (${listed}); is it still running?`, 1);
    nodes = listed.nodes.map((n) => ({ id: n.id, url: overrides.get(n.id) ?? n.url }));
    restarter = {
      async restart(node: NodeRef): Promise<void> {
        const out = await controlCall<{ old_pid?: number; pid?: number }>(control, 'POST', `/nodes/${encodeURIComponent(node.id)}/restart`, timeoutMs);
        if (typeof out === 'string') throw new Error(`cairn cluster could not restart it: ${out}`);
        say(`${node.id}: pid ${out.old_pid ?? '?'} stopped, pid ${out.pid ?? '?'} started`);
      },
    };
  }

  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const result = await rollingRestart({
      nodes,
      restarter,
      operatorToken,
      authToken,
      timeoutMs,
      keepLeader: flags.has('keep-leader'),
      ...(to === undefined ? {} : { to }),
      progress: say,
      signal: abort.signal,
    });
    if (json) process.stdout.write(`${JSON.stringify({ ok: true, ...result }, null, 2)}\n`);
    else say(`rolling restart done: ${result.restarted.join(', ')} restarted; ${result.leader} leads`);
    return 0;
  } catch (err) {
    if (!(err instanceof RollingRestartError)) throw err;
    if (json) process.stdout.write(`${JSON.stringify({ ok: false, message: err.message, restarted: err.restarted, leader: err.leader }, null, 2)}\n`);
    const done = err.restarted.length === 0 ? 'no node restarted' : `${err.restarted.join(', ')} restarted`;
    return fail(`${err.message} (stopped: ${done}${err.leader === null ? '' : `; ${err.leader} leads`})`, 1);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The nodes as the leader at `base` lists them: itself and its followers. */
async function discover(base: string): Promise<NodeRef[] | string> {
  let body: { node_id?: string; address?: string; role?: string; leader_id?: string; follower_details?: Array<{ node_id: string; address: string }> };
  try {
    const res = await fetch(`${base}/_raft/health`, { signal: AbortSignal.timeout(5_000) });
    body = (await res.json()) as typeof body;
  } catch (err) {
    return `cannot reach ${base}/_raft/health: ${(err as Error).message}`;
  }
  if (body.role !== 'leader' || typeof body.node_id !== 'string' || typeof body.address !== 'string') {
    return `${base} is ${body.node_id ?? 'a node'} (${body.role ?? 'no role'}), not the leader (${body.leader_id ?? 'unknown'}): pass the leader's URL or nginx's with --url`;
  }
  return [{ id: body.node_id, url: `http://${body.address}` }, ...(body.follower_details ?? []).map((f) => ({ id: f.node_id, url: `http://${f.address}` }))].sort((a, b) =>
    a.id.localeCompare(b.id, 'en', { numeric: true }),
  );
}

async function controlCall<T>(control: ControlFile, method: string, path: string, timeoutMs = 5_000): Promise<T | string> {
  try {
    const res = await fetch(`${control.url}${path}`, { method, headers: { authorization: `Bearer ${control.token}` }, signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json()) as T & { error?: { message?: string } };
    if (!res.ok) return body.error?.message ?? `HTTP ${res.status}`;
    return body;
  } catch (err) {
    return (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
  }
}
