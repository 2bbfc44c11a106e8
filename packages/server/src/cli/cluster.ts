// `cairn cluster`: three nodes on 127.0.0.1:<base-port>.. plus nginx on <nginx-port>, in the
// foreground; Ctrl-C stops everything. See packages/server/src/deploy/local-cluster.ts.

import { runLocalCluster } from '../deploy/local-cluster.ts';
import { parseArgs } from './args.ts';

const HELP = `Usage: cairn cluster [--base-port 8080] [--nginx-port 8000] [--data-dir ./data] [--no-nginx]

Starts node-1, node-2, node-3 on 127.0.0.1:<base-port>..<base-port+2> (node-1 leads) and nginx
on 127.0.0.1:<nginx-port> hashing X-Workspace-ID over them. Writes the config it uses to
<data-dir>/cluster.yaml; each node keeps its data in <data-dir>/<node id>. Ctrl-C stops all.
  --base-port N    first node port (default 8080)
  --nginx-port N   nginx port (default 8000)
  --data-dir DIR   data and generated config (default ./data)
  --host H         address to bind and advertise (default 127.0.0.1)
  --no-nginx       run the nodes only
nginx is $CAIRN_NGINX_BIN, else nginx on PATH, else /usr/sbin/nginx; without one the nodes run
alone (install it with: apt-get install -y nginx).
`;

export async function run(args: string[]): Promise<number> {
  let flags: Map<string, string>;
  try {
    flags = parseArgs(args, ['help', 'no-nginx']).flags;
  } catch (error) {
    process.stderr.write(`cairn cluster: ${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (flags.has('help')) {
    process.stdout.write(HELP);
    return 0;
  }
  const basePort = port(flags, 'base-port', 8080);
  const nginxPort = port(flags, 'nginx-port', 8000);
  if (basePort === undefined || nginxPort === undefined || basePort + 2 > 65_535) return 2;
  return runLocalCluster({
    basePort,
    nginxPort,
    dataDir: flags.get('data-dir') ?? './data',
    host: flags.get('host') ?? '127.0.0.1',
    nginx: !flags.has('no-nginx'),
    log: (line) => write(process.stdout, line),
    error: (line) => write(process.stderr, line),
  });
}

function port(flags: Map<string, string>, name: string, fallback: number): number | undefined {
  const text = flags.get(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (Number.isInteger(value) && value >= 1 && value <= 65_535) return value;
  process.stderr.write(`cairn cluster: --${name}: expected a port from 1 to 65535, got "${text}"\n`);
  return undefined;
}

function write(stream: NodeJS.WriteStream, line: string): void {
  // A closed pipe (| head) must not crash the cluster.
  if (!stream.destroyed) stream.write(line + '\n');
}
