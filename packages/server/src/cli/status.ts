// `cairn status --url http://127.0.0.1:8080 [--token T] [--json] [--timeout-ms 3000]`: the cluster's nodes as a
// table (like `etcdctl endpoint status -w table`: term, index, db size), from /api/v1/cluster/nodes
// of any node; a node without that route is read from its /_raft/health instead. Exit 0 when the
// leader is reachable and every follower healthy, 1 when not (the table is printed all the same,
// then a line saying why), or when the url is unreachable or answers nonsense; 2 on bad flags.
import type { NodeRow } from '../cluster/types.ts';
import { parseArgs, usageLine } from './args.ts';

const HELP = `Usage: cairn status [--url URL] [--token TOKEN] [--json] [--timeout-ms MS]

Prints one row per cluster node: id, address, role, state (healthy, lagging, desynced, unknown,
unreachable; the leader's view of each follower), reachable, applied index, lag (entries behind
the leader), raft term, raft index (commit index), db size (log.db + state.db with their WALs),
append latency, version, uptime and the error that made it unreachable. Works against any node.
Exits 1 when the leader is unreachable or a follower is not healthy (0 when all is well).
  --url URL         a node (default http://127.0.0.1:8080, or $CAIRN_URL)
  --token TOKEN     server.auth_token when one is configured (also $CAIRN_AUTH_TOKEN); without
                    it such a node is read from /_raft/health (no peers)
  --json            print the rows as JSON
  --timeout-ms MS   how long to wait for the node (default 3000)
`;

export type StatusRow = Pick<NodeRow, 'id' | 'address' | 'role' | 'state' | 'reachable' | 'applied_index' | 'lag' | 'last_latency_ms' | 'version' | 'uptime_s'> &
  Partial<Pick<NodeRow, 'term' | 'commit_index' | 'db_size_bytes' | 'error'>>;

/** 1.5 KiB, 12.0 MiB: binary units, one decimal. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

const dash = (v: number | null | undefined, f: (n: number) => string = String): string => (v === null || v === undefined ? '-' : f(v));

export const columns: Array<[string, (r: StatusRow) => string]> = [
  ['ID', (r) => r.id],
  ['ADDRESS', (r) => r.address],
  ['ROLE', (r) => r.role],
  ['STATE', (r) => r.state],
  ['REACHABLE', (r) => (r.reachable ? 'yes' : 'no')],
  ['APPLIED INDEX', (r) => dash(r.applied_index)],
  ['LAG', (r) => dash(r.lag)],
  ['RAFT TERM', (r) => dash(r.term)],
  ['RAFT INDEX', (r) => dash(r.commit_index)],
  ['DB SIZE', (r) => dash(r.db_size_bytes, formatBytes)],
  ['LATENCY', (r) => dash(r.last_latency_ms, (n) => `${n}ms`)],
  ['VERSION', (r) => r.version ?? '-'],
  ['UPTIME', (r) => dash(r.uptime_s, (n) => `${n}s`)],
  ['ERRORS', (r) => r.error ?? ''],
];

/**
 * Why the cluster is not well, one phrase per problem; empty when the leader is reachable and
 * every follower healthy. Rows without the leader (a follower's /_raft/health) cannot show it.
 */
export function problems(rows: StatusRow[]): string[] {
  const out: string[] = [];
  const leader = rows.find((r) => r.role === 'leader');
  if (leader === undefined) out.push('the leader was not seen (pass --token, or ask the leader)');
  else if (!leader.reachable) out.push(`leader ${leader.id} unreachable${leader.error ? ` (${leader.error})` : ''}`);
  for (const r of rows) if (r.role === 'follower' && r.state !== 'healthy') out.push(`follower ${r.id} ${r.state}`);
  return out;
}

/** A boxed table in the style of etcdctl's `-w table`. */
export function formatTable(rows: StatusRow[]): string {
  const cells = rows.map((r) => columns.map(([, f]) => f(r)));
  const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const line = (vals: string[], center: boolean): string =>
    `|${vals
      .map((v, i) => {
        const w = widths[i] ?? 0;
        if (!center) return ` ${v.padEnd(w)} `;
        const left = Math.floor((w - v.length) / 2);
        return ` ${' '.repeat(left)}${v}${' '.repeat(w - v.length - left)} `;
      })
      .join('|')}|`;
  return [rule, line(columns.map(([h]) => h), true), rule, ...cells.map((c) => line(c, false)), rule].join('\n');
}

function str(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v : fallback;
}

/** Rows from one node's /_raft/health: the node itself and, on the leader, its followers. */
export function rowsFromRaftHealth(h: Record<string, unknown>): StatusRow[] {
  const role = str(h['role'], str(h['state'], '')).toLowerCase() === 'leader' ? 'leader' : 'follower';
  const rows: StatusRow[] = [
    {
      id: str(h['node_id'], '?'),
      address: str(h['address'], '?'),
      role,
      state: role === 'leader' ? 'leader' : h['in_sync'] === true ? 'healthy' : 'lagging',
      reachable: true,
      applied_index: typeof h['last_applied'] === 'number' ? h['last_applied'] : null,
      lag: role === 'leader' ? 0 : null,
      term: typeof h['term'] === 'number' ? h['term'] : null,
      commit_index: typeof h['commit_index'] === 'number' ? h['commit_index'] : null,
      last_latency_ms: null,
      version: null,
      uptime_s: null,
    },
  ];
  const details = Array.isArray(h['follower_details']) ? (h['follower_details'] as Array<Record<string, unknown>>) : [];
  for (const f of details) {
    rows.push({
      id: str(f['node_id'], '?'),
      address: str(f['address'], '?'),
      role: 'follower',
      state: str(f['health'], 'unknown') as StatusRow['state'],
      reachable: f['consecutive_failures'] === 0,
      applied_index: typeof f['last_replicated_index'] === 'number' ? f['last_replicated_index'] : null,
      lag: typeof f['lag'] === 'number' ? f['lag'] : null,
      last_latency_ms: typeof f['last_latency_ms'] === 'number' ? f['last_latency_ms'] : null,
      version: null,
      uptime_s: null,
    });
  }
  return rows;
}

async function getJson(url: string, timeoutMs: number, token = ''): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = token === '' ? { accept: 'application/json' } : { accept: 'application/json', authorization: `Bearer ${token}` };
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: res.status, body: null };
  }
}

/** Why a request got no answer, in a few words (ECONNREFUSED, no answer within N ms, ...). */
export function reason(err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
  return e.cause?.code ?? e.cause?.message ?? e.message;
}

/** The rows, from /api/v1/cluster/nodes or else /_raft/health. Throws with a readable message. */
export async function fetchStatus(base: string, timeoutMs: number, token = ''): Promise<{ rows: StatusRow[]; source: string; observed_by: string | null }> {
  const nodesUrl = `${base}/api/v1/cluster/nodes`;
  let first: { status: number; body: unknown };
  try {
    first = await getJson(nodesUrl, timeoutMs, token);
  } catch (err) {
    throw new Error(`cannot reach ${base}: ${reason(err, timeoutMs)}`);
  }
  const body = first.body as { nodes?: unknown; observed_by?: unknown } | null;
  if (first.status === 200 && body !== null && Array.isArray(body.nodes)) {
    return { rows: body.nodes as StatusRow[], source: nodesUrl, observed_by: typeof body.observed_by === 'string' ? body.observed_by : null };
  }
  const healthUrl = `${base}/_raft/health`;
  let health: { status: number; body: unknown };
  try {
    health = await getJson(healthUrl, timeoutMs);
  } catch (err) {
    throw new Error(`cannot reach ${base}: ${reason(err, timeoutMs)}`);
  }
  // 503 from /_raft/health still carries the body (the node is out of sync, not down).
  if (health.body === null || typeof health.body !== 'object' || !('node_id' in health.body)) {
    throw new Error(`${base} does not look like a Cairn node: ${nodesUrl} answered ${first.status}, ${healthUrl} answered ${health.status}`);
  }
  const h = health.body as Record<string, unknown>;
  return { rows: rowsFromRaftHealth(h), source: healthUrl, observed_by: typeof h['node_id'] === 'string' ? h['node_id'] : null };
}

export function normaliseUrl(raw: string): string {
  const withScheme = /^https?:\/\//.test(raw) ? raw : `http://${raw}`;
  const u = new URL(withScheme);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

export async function run(args: string[]): Promise<number> {
  let flags: Map<string, string>;
  try {
    flags = parseArgs(args, { booleans: ['json', 'help'], values: ['url', 'token', 'timeout-ms'] }).flags;
  } catch (error) {
    process.stderr.write(usageLine('status', error));
    return 2;
  }
  if (flags.has('help')) {
    process.stdout.write(HELP);
    return 0;
  }
  const timeoutMs = Number(flags.get('timeout-ms') ?? '3000');
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 600_000) {
    process.stderr.write(`cairn status: --timeout-ms: expected milliseconds from 1 to 600000, got "${flags.get('timeout-ms')}"\n`);
    return 2;
  }
  let base: string;
  try {
    base = normaliseUrl(flags.get('url') ?? process.env['CAIRN_URL'] ?? 'http://127.0.0.1:8080');
  } catch {
    process.stderr.write(`cairn status: --url: not a URL: "${flags.get('url')}"\n`);
    return 2;
  }
  let result: Awaited<ReturnType<typeof fetchStatus>>;
  try {
    result = await fetchStatus(base, timeoutMs, flags.get('token') ?? process.env['CAIRN_AUTH_TOKEN'] ?? '');
  } catch (error) {
    process.stderr.write(`cairn status: ${(error as Error).message}\n`);
    return 1;
  }
  const wrong = problems(result.rows);
  if (flags.has('json')) {
    process.stdout.write(`${JSON.stringify({ observed_by: result.observed_by, source: result.source, healthy: wrong.length === 0, problems: wrong, nodes: result.rows }, null, 2)}\n`);
    return wrong.length === 0 ? 0 : 1;
  }
  const reachable = result.rows.filter((r) => r.reachable).length;
  const leader = result.rows.find((r) => r.role === 'leader');
  process.stdout.write(`${formatTable(result.rows)}\n`);
  process.stdout.write(`${reachable}/${result.rows.length} nodes reachable, leader ${leader?.id ?? 'unknown'}${leader !== undefined && !leader.reachable ? ' (unreachable)' : ''}; seen from ${result.observed_by ?? base}${result.source.endsWith('/_raft/health') ? ' (via /_raft/health: peers not asked)' : ''}\n`);
  if (wrong.length === 0) return 0;
  process.stderr.write(`cairn status: not healthy: ${wrong.join('; ')}\n`);
  return 1;
}
