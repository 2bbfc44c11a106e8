// `cairn serve`: run one node until SIGINT/SIGTERM.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tryLoadConfig } from '../config/index.ts';
import { FLAG_PATHS } from '../config/load.ts';
import type { CairnConfig } from '../config/types.ts';
import { invariant_exit_code, isBrokenInvariant } from '../fatal.ts';
import { startNode } from '../node.ts';
import { plantedDefects } from '../testing/planted-defects.ts';
import { parseArgs, usageLine } from './args.ts';
import { startupErrorLine } from './startup-errors.ts';

const HELP = `Usage: cairn serve --config FILE [--node-id ID] [--port N] [--host H] [--data-dir DIR] [--validate]

Runs one node of the cluster described by FILE (configs/cluster.yaml). The node is chosen by
--node-id, CAIRN_NODE_ID, the file's cluster.node_id, or the node whose address has --port.
--validate checks the configuration, prints the problems and exits (0 valid, 2 invalid).
Any key can be overridden with --<section>.<key> VALUE or CAIRN_<SECTION>_<KEY>.`;

/**
 * The cluster secret: from config/env, else a secret file beside the config that the first node
 * to start creates (0600) and the others read, so a local cluster is never left open.
 */
export function resolveSecret(config: CairnConfig): string {
  if (config.replication.secret !== '' || config.replication.nodes.length < 2) return config.replication.secret;
  const dir = config.source !== '' ? path.dirname(config.source) : path.dirname(path.resolve(config.server.data_dir));
  const file = path.join(dir, 'cluster.secret');
  // Written aside, then linked into place: the file appears whole or not at all, and when
  // several nodes start at once exactly one link wins.
  const aside = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(aside, crypto.randomBytes(24).toString('hex') + '\n', { mode: 0o600 });
  try {
    fs.linkSync(aside, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(aside, { force: true });
  }
  const text = fs.readFileSync(file, 'utf8').trim();
  if (text.length === 0) throw new Error(`${file} is empty: set replication.secret or CAIRN_CLUSTER_SECRET, or delete the file`);
  return text;
}

export async function run(args: string[]): Promise<number> {
  let parsed;
  try {
    // Besides its own flags, serve takes the config's (--port, --data-dir, ...) and any
    // --<section>.<key>, which the config's validation checks.
    parsed = parseArgs(args, { booleans: ['validate', 'help'], values: ['config', ...Object.keys(FLAG_PATHS)], accepts: (name) => name.includes('.') });
  } catch (err) {
    process.stderr.write(usageLine('serve', err));
    return 2;
  }
  if (parsed.positional.length > 0) {
    process.stderr.write(usageLine('serve', new Error(`unexpected argument "${parsed.positional[0]}"`)));
    return 2;
  }
  if (parsed.flags.has('help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const flags = Object.fromEntries(parsed.flags);
  const result = tryLoadConfig({ file: flags.config, flags, env: process.env });
  if (result.config === undefined) {
    process.stderr.write(`cairn serve: invalid configuration${flags.config ? ` (${flags.config})` : ''}:\n  ${result.errors.join('\n  ')}\n`);
    return 2;
  }
  const config = result.config;
  if (parsed.flags.has('validate')) {
    process.stdout.write(`${flags.config ?? '(defaults)'}: valid; node ${config.node_id} of ${config.replication.nodes.length}, leader ${config.replication.leader}\n`);
    return 0;
  }
  let defects;
  try {
    defects = plantedDefects();
  } catch (err) {
    process.stderr.write(`cairn serve: ${(err as Error).message}\n`);
    return 2;
  }
  try {
    config.replication.secret = resolveSecret(config);
  } catch (err) {
    const line = startupErrorLine(err);
    if (line === null) throw err;
    process.stderr.write(`cairn serve: ${config.node_id}: ${line}\n`);
    return 1;
  }
  // An error nothing caught (a broken invariant in a driver's callback, say) ends the process
  // with one clear line and a non-zero code, so that the supervisor restarts it. While the node
  // starts, the system's refusals (a port in use, a data directory that cannot be made) are one
  // line naming the port or path: the listen error arrives this way, as an 'error' event.
  let starting = true;
  const startupFailure = (err: unknown): boolean => {
    const line = starting ? startupErrorLine(err) : null;
    if (line === null) return false;
    process.stderr.write(`cairn serve: ${config.node_id}: ${line}\n`);
    return true;
  };
  const fatal = (kind: string) => (err: unknown): void => {
    if (startupFailure(err)) process.exit(1);
    const e = err instanceof Error ? err : new Error(String(err));
    process.stderr.write(`cairn ${config.node_id}: ${isBrokenInvariant(e) ? 'broken invariant' : kind}: ${e.message}\n${e.stack ?? ''}\n`);
    process.exit(isBrokenInvariant(e) ? invariant_exit_code : 1);
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled rejection'));
  let node: Awaited<ReturnType<typeof startNode>>;
  try {
    node = await startNode({ config });
  } catch (err) {
    // Exit now: whatever the node had opened before it failed must not keep the process up.
    if (startupFailure(err)) process.exit(1);
    throw err;
  }
  starting = false;
  if (defects.size > 0) process.stderr.write(`cairn ${config.node_id}: RUNNING WITH PLANTED DEFECTS (test only): ${[...defects].join(', ')}\n`);
  process.stdout.write(`cairn ${config.node_id} (${node.replica.role().toLowerCase()}) listening on ${node.url}\n`);
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      process.stdout.write(`cairn ${config.node_id}: ${signal}, stopping\n`);
      node.close().then(
        () => resolve(0),
        (err: unknown) => {
          process.stderr.write(`cairn ${config.node_id}: error while stopping: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
}
