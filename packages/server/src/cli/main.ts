// `cairn` command dispatch. Each subcommand lives in its own file and exports
// `run(args): Promise<number>` returning the process exit code.

interface Subcommand {
  summary: string;
  load: () => Promise<{ run: (args: string[]) => Promise<number> }>;
}

const subcommands: Record<string, Subcommand> = {
  serve: { summary: 'run one node: --config FILE --node-id ID [--port N] [--data-dir DIR] [--validate]', load: () => import('./serve.ts') },
  cluster: { summary: 'run a local three-node cluster (+ nginx): [--base-port 8080] [--nginx-port 8000] [--data-dir ./data]', load: () => import('./cluster.ts') },
  'nginx-config': { summary: 'render nginx.conf for a cluster config: --config FILE', load: () => import('./nginx-config.ts') },
  status: { summary: 'print a table of the cluster nodes: --url http://127.0.0.1:8080', load: () => import('./status.ts') },
  ingest: { summary: 'write files as documents: PATH... --workspace W [--sync] [--include GLOB] [--exclude GLOB]', load: () => import('./ingest.ts') },
  'force-resync': { summary: 'send a snapshot to a follower now: --url URL --target ID|HOST:PORT', load: () => import('./force-resync.ts') },
  'transfer-leadership': { summary: 'hand leadership to a healthy follower: --to ID|HOST:PORT [--url URL]', load: () => import('./transfer-leadership.ts') },
  'rolling-restart': { summary: 'restart every node once, leader last: [--data-dir DIR] | --restart-command CMD [--keep-leader]', load: () => import('./rolling-restart.ts') },
  backup: { summary: 'copy the state through the leader, checksummed: --out FILE [--url URL]', load: () => import('./backup.ts') },
  restore: { summary: 'seed a new cluster from a backup: FILE --config CLUSTER.yaml | --data-dir DIR', load: () => import('./restore.ts') },
  export: { summary: 'write a workspace\'s documents as JSON lines: --workspace W [--out FILE]', load: () => import('./export.ts') },
  import: { summary: 'write JSON lines of documents into a workspace: --workspace W [FILE]', load: () => import('./import.ts') },
  reembed: { summary: 're-embed a workspace with the current provider: --workspace W [--to W2]', load: () => import('./reembed.ts') },
};

export function usage(): string {
  const lines = ['Usage: cairn <command> [options]', '', 'Commands:'];
  for (const [name, sub] of Object.entries(subcommands)) lines.push(`  ${name.padEnd(14)} ${sub.summary}`);
  lines.push('', 'Run `cairn <command> --help` for the options of one command.');
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 1 : 0;
  }
  if (name === '--version') {
    process.stdout.write('cairn 0.1.0\n');
    return 0;
  }
  const sub = subcommands[name];
  if (sub === undefined) {
    process.stderr.write(`cairn: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  const mod = await sub.load();
  return mod.run(rest);
}
