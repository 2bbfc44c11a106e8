// `cairn transfer-leadership --to ID|HOST:PORT [--url URL] [--token T] [--json]`: asks the leader
// (through any node: a follower passes it on) to hand leadership to a healthy follower, and waits
// until it has. Exit 0 once handed over, 1 when refused or failed, 2 on bad flags.
import { parseArgs } from './args.ts';
import { normaliseUrl, reason } from './status.ts';

const HELP = `Usage: cairn transfer-leadership --to ID|HOST:PORT [--url URL] [--token TOKEN] [--json]

Hands leadership to a follower (POST /_raft/transfer-leadership): the leader stops taking writes,
waits until the follower holds everything it acknowledged, records the follower as the leader
(durably: it never leads again unless leadership is handed back) and tells it to take over; the
follower leads from a new term. Writes meanwhile get 503 with Retry-After (well under a second).
Refused when the follower is not healthy.
  --to T            the follower: a node id (node-2) or host:port as /_raft/sync-status lists it
  --url URL         any node (default http://127.0.0.1:8080, or $CAIRN_URL)
  --token TOKEN     the operator token (replication.operator_token) when one is configured;
                    also $CAIRN_OPERATOR_TOKEN. The cluster secret is not accepted.
  --json            print the leader's JSON answer
  --timeout-ms MS   how long to wait for the answer (default 30000)
`;

export async function run(args: string[]): Promise<number> {
  let flags: Map<string, string>;
  try {
    flags = parseArgs(args, ['json', 'help']).flags;
  } catch (error) {
    process.stderr.write(`cairn transfer-leadership: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (flags.has('help')) {
    process.stdout.write(HELP);
    return 0;
  }
  for (const name of flags.keys()) {
    if (!['to', 'url', 'token', 'json', 'timeout-ms', 'help'].includes(name)) {
      process.stderr.write(`cairn transfer-leadership: unknown flag --${name}\n\n${HELP}`);
      return 2;
    }
  }
  const target = flags.get('to');
  if (target === undefined || target === '') {
    process.stderr.write(`cairn transfer-leadership: --to is required (a follower's node id or host:port)\n\n${HELP}`);
    return 2;
  }
  const timeoutMs = Number(flags.get('timeout-ms') ?? '30000');
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    process.stderr.write(`cairn transfer-leadership: --timeout-ms: expected a positive integer, got "${flags.get('timeout-ms')}"\n`);
    return 2;
  }
  let base: string;
  try {
    base = normaliseUrl(flags.get('url') ?? process.env['CAIRN_URL'] ?? 'http://127.0.0.1:8080');
  } catch {
    process.stderr.write(`cairn transfer-leadership: --url: not a URL: "${flags.get('url')}"\n`);
    return 2;
  }
  const token = flags.get('token') ?? process.env['CAIRN_OPERATOR_TOKEN'] ?? '';
  const headers: Record<string, string> = token === '' ? {} : { authorization: `Bearer ${token}` };
  let status: number;
  let body: Record<string, unknown> | null;
  try {
    const res = await fetch(`${base}/_raft/transfer-leadership?target=${encodeURIComponent(target)}`, { method: 'POST', headers, signal: AbortSignal.timeout(timeoutMs) });
    status = res.status;
    const text = await res.text();
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = null;
    }
  } catch (err) {
    process.stderr.write(`cairn transfer-leadership: cannot reach ${base}: ${reason(err, timeoutMs)}\n`);
    return 1;
  }
  if (flags.has('json')) process.stdout.write(`${JSON.stringify(body ?? { status }, null, 2)}\n`);
  const ok = status === 200 && typeof body?.['leader'] === 'string';
  const error = body?.['error'] as { message?: string } | undefined;
  const message = ok
    ? `leadership handed to ${String(body?.['leader'])} after index ${String(body?.['last_index'])} (term ${String(body?.['term'])}): ${String(body?.['message'])}`
    : (error?.message ?? `HTTP ${status}`);
  if (!flags.has('json')) (ok ? process.stdout : process.stderr).write(`${ok ? '' : 'cairn transfer-leadership: '}${message}\n`);
  if (status === 401 && token === '') process.stderr.write('cairn transfer-leadership: this cluster needs an operator token: pass --token\n');
  return ok ? 0 : 1;
}
