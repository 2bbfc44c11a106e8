// `cairn nginx-config --config FILE [--listen 8000] [--out FILE]`: render nginx.conf for a
// cluster config (the workspace hash, affinity rules, limits) and print it or write it.

import { writeFileSync } from 'node:fs';
import { tryLoadConfig } from '../config/load.ts';
import { renderNginxConf } from '../deploy/nginx.ts';
import { parseArgs, usageLine } from './args.ts';

const HELP = `Usage: cairn nginx-config --config FILE [--listen PORT] [--listen-host HOST] [--out FILE]

Renders the nginx configuration for the nodes of a cluster config: X-Workspace-ID hashed over
the nodes (weights 3/2/1), affinity rules as pinned upstreams, body limit and timeouts.
  --config FILE       cluster.yaml (default: the built-in three nodes on 127.0.0.1:8080-8082)
  --listen PORT       port nginx listens on (default 80)
  --listen-host HOST  address to bind (default: all)
  --out FILE          write there instead of printing
`;

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(args, { booleans: ['help'], values: ['config', 'listen', 'listen-host', 'out'] });
  } catch (error) {
    process.stderr.write(usageLine('nginx-config', error));
    return 2;
  }
  const flags = parsed.flags;
  if (flags.has('help')) {
    process.stdout.write(HELP);
    return 0;
  }
  const listen = flags.get('listen');
  const listenPort = listen === undefined ? undefined : Number(listen);
  if (listenPort !== undefined && !(Number.isInteger(listenPort) && listenPort >= 1 && listenPort <= 65_535)) {
    process.stderr.write(`cairn nginx-config: --listen: expected a port from 1 to 65535, got "${listen}"\n`);
    return 2;
  }
  // nginx needs every node, not one node's view: without a node id the leader's view is used.
  const file = flags.get('config');
  const result = tryLoadConfig({ file, env: process.env, anyNode: true });
  if (result.config === undefined) {
    process.stderr.write(`cairn nginx-config: invalid configuration${file === undefined ? '' : ` in ${file}`}:\n`);
    for (const error of result.errors) process.stderr.write(`  ${error}\n`);
    return 2;
  }
  const text = renderNginxConf(result.config, { listenPort, listenHost: flags.get('listen-host') });
  const out = flags.get('out');
  if (out === undefined) process.stdout.write(text);
  else {
    writeFileSync(out, text);
    process.stderr.write(`cairn nginx-config: wrote ${out}\n`);
  }
  return 0;
}
