// `cairn cluster`: three nodes on 127.0.0.1:<base-port>.. plus nginx on <nginx-port>, in the
// foreground; Ctrl-C stops everything. See packages/server/src/deploy/local-cluster.ts.

import { runLocalCluster } from '../deploy/local-cluster.ts';
import { isLogLevel, log_levels, logView } from '../deploy/log-view.ts';
import type { LogFormat } from '../deploy/log-view.ts';
import { parseArgs, usageLine, UsageError } from './args.ts';
import { startupErrorLine } from './startup-errors.ts';

const HELP = `Usage: cairn cluster [--base-port 8080] [--nginx-port 8000] [--data-dir ./data] [--no-nginx]
                     [--log-level info] [--log-format pretty|json]

Starts node-1, node-2, node-3 on 127.0.0.1:<base-port>..<base-port+2> (node-1 leads) and nginx
on 127.0.0.1:<nginx-port> hashing X-Workspace-ID over them. Writes the config it uses to
<data-dir>/cluster.yaml; each node keeps its data in <data-dir>/<node id>. Ctrl-C stops all.
Restarts its nodes one at a time on request: \`cairn rolling-restart --data-dir <data-dir>\`
(or the dashboard's Rolling restart) finds it through <data-dir>/control.json.
  --base-port N    first node port (default 8080)
  --nginx-port N   nginx port (default 8000)
  --data-dir DIR   data and generated config (default ./data)
  --host H         address to bind and advertise (default 127.0.0.1)
  --no-nginx       run the nodes only
  --log-level L    show the nodes' lines at L and above: trace, debug, info (default), warn,
                   error; each request a node serves is a debug line (failed ones are warnings)
  --log-format F   pretty (default: one readable line each, pino-pretty) or json (as logged)
Prints the dashboard's URL (/dashboard through nginx) once the nodes answer.
nginx is $CAIRN_NGINX_BIN, else nginx on PATH, else /usr/sbin/nginx; without one the nodes run
alone (install it with: apt-get install -y nginx).
`;

export async function run(args: string[]): Promise<number> {
  let flags: Map<string, string>;
  try {
    flags = parseArgs(args, { booleans: ['help', 'no-nginx'], values: ['base-port', 'nginx-port', 'data-dir', 'host', 'log-level', 'log-format'] }).flags;
    const level = flags.get('log-level');
    if (level !== undefined && !isLogLevel(level)) throw new UsageError(`--log-level: expected one of ${Object.keys(log_levels).join(', ')}, got "${level}"`);
    const format = flags.get('log-format');
    if (format !== undefined && format !== 'pretty' && format !== 'json') throw new UsageError(`--log-format: expected pretty or json, got "${format}"`);
  } catch (error) {
    process.stderr.write(usageLine('cluster', error));
    return 2;
  }
  if (flags.has('help')) {
    process.stdout.write(HELP);
    return 0;
  }
  const basePort = port(flags, 'base-port', 8080);
  const nginxPort = port(flags, 'nginx-port', 8000);
  if (basePort === undefined || nginxPort === undefined || basePort + 2 > 65_535) return 2;
  keepGoingWhenOutputCloses(process.stdout);
  keepGoingWhenOutputCloses(process.stderr);
  const level = flags.get('log-level') ?? 'info';
  const view = isLogLevel(level) ? logView({ level, format: (flags.get('log-format') ?? 'pretty') as LogFormat, color: process.stdout.isTTY === true }) : undefined;
  try {
    return await runLocalCluster({
      basePort,
      nginxPort,
      dataDir: flags.get('data-dir') ?? './data',
      host: flags.get('host') ?? '127.0.0.1',
      nginx: !flags.has('no-nginx'),
      ...(view === undefined ? {} : { view }),
      // Debug and trace lines must be logged before they can be shown.
      ...(level === 'debug' || level === 'trace' ? { nodeLogLevel: level } : {}),
      log: (line) => write(process.stdout, line),
      error: (line) => write(process.stderr, line),
    });
  } catch (err) {
    // The data directory cannot be made or written: one line naming it.
    const line = startupErrorLine(err);
    if (line === null) throw err;
    process.stderr.write(`cairn cluster: ${line}\n`);
    return 1;
  }
}

function port(flags: Map<string, string>, name: string, fallback: number): number | undefined {
  const text = flags.get(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (Number.isInteger(value) && value >= 1 && value <= 65_535) return value;
  process.stderr.write(`cairn cluster: --${name}: expected a port from 1 to 65535, got "${text}"\n`);
  return undefined;
}

/** Streams whose reader went away: written no more. */
const closed = new WeakSet<NodeJS.WriteStream>();

/**
 * A closed pipe (`| head`, or `| tee log` when Ctrl-C ends tee first) must not end the cluster
 * before it has stopped its nodes and nginx: the write error is an 'error' event, which without
 * a listener would throw, and the exit would leave nginx's workers running.
 */
function keepGoingWhenOutputCloses(stream: NodeJS.WriteStream): void {
  stream.on('error', () => closed.add(stream));
}

function write(stream: NodeJS.WriteStream, line: string): void {
  if (stream.destroyed || closed.has(stream)) return;
  stream.write(line + '\n');
}
