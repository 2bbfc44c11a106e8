// `cairn force-resync --url URL --target ID|HOST:PORT [--token T] [--json]`: asks the leader
// (through any node: a follower passes it on) to send a fresh snapshot to a follower now, and
// waits until it is installed or failed. Exit 0 on success, 1 on failure, 2 on bad flags.
import { parseArgs, usageLine } from './args.ts';
import { normaliseUrl, reason } from './status.ts';

const HELP = `Usage: cairn force-resync --url URL --target ID|HOST:PORT [--token TOKEN] [--json] [--timeout-ms MS]

Makes the leader create a fresh snapshot and send it to the follower now (POST
/_raft/force-resync); waits for the follower to install it.
  --url URL         any node (default http://127.0.0.1:8080, or $CAIRN_URL)
  --target T        the follower: a node id (node-3) or host:port as /_raft/sync-status lists it
  --token TOKEN     the operator token (replication.operator_token) when one is configured;
                    also $CAIRN_OPERATOR_TOKEN. The cluster secret is not accepted.
  --json            print the leader's JSON answer
  --timeout-ms MS   how long to wait (default 120000: snapshot_timeout_s is 60 by default)
`;

export async function run(args: string[]): Promise<number> {
  let flags: Map<string, string>;
  try {
    flags = parseArgs(args, { booleans: ['json', 'help'], values: ['url', 'target', 'token', 'timeout-ms'] }).flags;
  } catch (error) {
    process.stderr.write(usageLine('force-resync', error));
    return 2;
  }
  if (flags.has('help')) {
    process.stdout.write(HELP);
    return 0;
  }
  const target = flags.get('target');
  if (target === undefined || target === '') {
    process.stderr.write(`cairn force-resync: --target is required (a node id or host:port)\n\n${HELP}`);
    return 2;
  }
  const timeoutMs = Number(flags.get('timeout-ms') ?? '120000');
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) {
    process.stderr.write(`cairn force-resync: --timeout-ms: expected a positive integer, got "${flags.get('timeout-ms')}"\n`);
    return 2;
  }
  let base: string;
  try {
    base = normaliseUrl(flags.get('url') ?? process.env['CAIRN_URL'] ?? 'http://127.0.0.1:8080');
  } catch {
    process.stderr.write(`cairn force-resync: --url: not a URL: "${flags.get('url')}"\n`);
    return 2;
  }
  const token = flags.get('token') ?? process.env['CAIRN_OPERATOR_TOKEN'] ?? '';
  const headers: Record<string, string> = token === '' ? {} : { authorization: `Bearer ${token}` };
  let status: number;
  let body: Record<string, unknown> | null;
  try {
    const res = await fetch(`${base}/_raft/force-resync?target=${encodeURIComponent(target)}`, { method: 'POST', headers, signal: AbortSignal.timeout(timeoutMs) });
    status = res.status;
    const text = await res.text();
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = null;
    }
  } catch (err) {
    process.stderr.write(`cairn force-resync: cannot reach ${base}: ${reason(err, timeoutMs)}\n`);
    return 1;
  }
  if (flags.has('json')) process.stdout.write(`${JSON.stringify(body ?? { status }, null, 2)}\n`);
  const ok = status === 200 && body?.['success'] === true;
  const error = body?.['error'] as { message?: string } | undefined;
  const message = typeof body?.['message'] === 'string' ? body['message'] : (error?.message ?? `HTTP ${status}`);
  if (!flags.has('json')) (ok ? process.stdout : process.stderr).write(`${ok ? '' : 'cairn force-resync: '}${message}\n`);
  if (status === 401 && token === '') process.stderr.write('cairn force-resync: this cluster needs an operator token: pass --token\n');
  if (status === 403) process.stderr.write('cairn force-resync: refused as a cross-site browser request (Origin / Sec-Fetch-Site)\n');
  return ok ? 0 : 1;
}
