// loadConfig: cluster.yaml + environment + CLI flags -> CairnConfig.
//
// Precedence, highest first: CLI flags, environment variables, the file, built-in defaults.
// Overrides are written into the parsed document at their key path before validation, so a bad
// override is reported exactly like a bad file value, with where it came from appended.

import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseDocument } from 'yaml';
import { isRecord } from './fields.ts';
import { EMBEDDING, LOAD_BALANCING, REPLICATION, SERVER } from './schema.ts';
import { validateConfig } from './validate.ts';
import type { ValidateResult } from './validate.ts';
import type { CairnConfig } from './types.ts';

export interface LoadOptions {
  /** cluster.yaml (or JSON); absent = defaults only (three nodes on 127.0.0.1:8080-8082). */
  file?: string;
  /** Parsed CLI flags by name without dashes: node-id, port, host, data-dir, log-level, leader,
   * auth-token, or any key path such as `replication.batch_size`. Unknown names are ignored
   * (they belong to the command); undefined values are unset. */
  flags?: Record<string, string | undefined>;
  env?: NodeJS.ProcessEnv;
  /** Whole-cluster tools: without a node id, resolve as the leader instead of failing. */
  anyNode?: boolean;
}

export class ConfigError extends Error {
  constructor(readonly errors: string[]) {
    super(`invalid configuration:\n  ${errors.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Loads and validates; throws ConfigError listing every problem. */
export function loadConfig(opts: LoadOptions = {}): CairnConfig {
  const result = tryLoadConfig(opts);
  if (result.config === undefined) throw new ConfigError(result.errors);
  return result.config;
}

/** Like loadConfig but returns the problems instead of throwing (for `serve --validate`). */
export function tryLoadConfig(opts: LoadOptions = {}): ValidateResult {
  const env = opts.env ?? process.env;
  let raw: Record<string, unknown> = {};
  if (opts.file !== undefined) {
    const read = readConfigFile(opts.file);
    if (read.errors.length > 0) return { errors: read.errors };
    raw = read.raw;
  }
  const origins = new Map<string, string>();
  for (const [path, value, origin] of envOverrides(env)) setPath(raw, path, value, origins, origin);
  for (const [path, value, origin] of flagOverrides(opts.flags ?? {})) setPath(raw, path, value, origins, origin);
  return validateConfig(raw, { source: opts.file ?? '', origins, container: isTrue(env['CAIRN_CONTAINER']), anyNode: opts.anyNode });
}

export function readConfigFile(file: string): { raw: Record<string, unknown>; errors: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { raw: {}, errors: [`${file}: cannot read the config file (${code ?? String(error)})`] };
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { raw: {}, errors: doc.errors.map((e) => `${file}: not valid YAML: ${e.message.split('\n')[0] ?? e.message}`) };
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return { raw: {}, errors: [] };
  if (!isRecord(value)) return { raw: {}, errors: [`${file}: expected a mapping of sections (cluster, replication, server, ...) at the top`] };
  return { raw: value, errors: [] };
}

type Override = [path: string, value: string, origin: string];

const KEY_ALIASES: Record<string, string> = {
  // Cairn's names.
  CAIRN_NODE_ID: 'node_id',
  CAIRN_CLUSTER_SECRET: 'replication.secret',
  CAIRN_OPERATOR_TOKEN: 'replication.operator_token',
  CAIRN_AUTH_TOKEN: 'server.auth_token',
  CAIRN_CLUSTER_ENABLED: 'cluster.enabled',
  CAIRN_DISCOVERY_METHOD: 'cluster.discovery.method',
  CAIRN_DISCOVERY_ENDPOINTS: 'cluster.discovery.endpoints',
  CAIRN_REPLICATION_NODES: 'replication.nodes',
  CAIRN_REPLICATION_LEADER: 'replication.leader',
};

/** The clustering guide's variables; Cairn's own win when both are set. */
const GUIDE_ALIASES: Record<string, string> = {
  CONTEXTLITE_PORT: 'server.port',
  CONTEXTLITE_HOST: 'server.host',
  CONTEXTLITE_DB_PATH: 'server.data_dir',
  CONTEXTLITE_CLUSTER_ENABLED: 'cluster.enabled',
  CONTEXTLITE_NODE_ID: 'node_id',
  CONTEXTLITE_DISCOVERY_METHOD: 'cluster.discovery.method',
  CONTEXTLITE_LOG_LEVEL: 'server.log_level',
};

/** CAIRN_<SECTION>_<KEY> for every scalar key of these sections. */
const GENERIC_SECTIONS: [prefix: string, path: string, keys: string[]][] = [
  ['CAIRN_SERVER_', 'server', Object.keys(SERVER.specs)],
  ['CAIRN_REPLICATION_', 'replication', Object.keys(REPLICATION.specs)],
  ['CAIRN_EMBEDDING_', 'embedding', Object.keys(EMBEDDING.specs)],
  ['CAIRN_LOAD_BALANCING_', 'cluster.load_balancing', Object.keys(LOAD_BALANCING.specs)],
];

/** Every environment variable loadConfig reads, with the key path it sets (for docs and tests). */
export function envVariables(): Record<string, string> {
  const out: Record<string, string> = { ...GUIDE_ALIASES };
  for (const [prefix, path, keys] of GENERIC_SECTIONS) for (const key of keys) out[prefix + key.toUpperCase()] = `${path}.${key}`;
  return { ...out, ...KEY_ALIASES };
}

export function envOverrides(env: NodeJS.ProcessEnv): Override[] {
  const out: Override[] = [];
  const take = (name: string, path: string): void => {
    const value = env[name];
    if (value === undefined || value === '') return;
    // The guide's CONTEXTLITE_DB_PATH names a database file; Cairn keeps a directory per node.
    const text = name === 'CONTEXTLITE_DB_PATH' ? dirname(value) : value;
    out.push([path, text, `env ${name}`]);
  };
  for (const [name, path] of Object.entries(GUIDE_ALIASES)) take(name, path);
  for (const [prefix, path, keys] of GENERIC_SECTIONS) for (const key of keys) take(prefix + key.toUpperCase(), `${path}.${key}`);
  for (const [name, path] of Object.entries(KEY_ALIASES)) take(name, path);
  return out;
}

/** The flags `cairn serve` maps to config keys (beside any `--<section>.<key>`). */
export const FLAG_PATHS: Record<string, string> = {
  'node-id': 'node_id',
  port: 'server.port',
  host: 'server.host',
  'data-dir': 'server.data_dir',
  'log-level': 'server.log_level',
  'auth-token': 'server.auth_token',
  leader: 'replication.leader',
  'write-concern': 'replication.write_concern',
};

export function flagOverrides(flags: Record<string, string | undefined>): Override[] {
  const out: Override[] = [];
  for (const [name, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const dashed = name.replaceAll('_', '-');
    const path = FLAG_PATHS[dashed] ?? (name.includes('.') ? name : undefined);
    if (path !== undefined) out.push([path, value, `flag --${name}`]);
  }
  return out;
}

function setPath(raw: Record<string, unknown>, path: string, value: string, origins: Map<string, string>, origin: string): void {
  const keys = path.split('.');
  let node = raw;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (isRecord(next)) {
      node = next;
      continue;
    }
    const created: Record<string, unknown> = {};
    node[key] = created;
    node = created;
  }
  const last = keys[keys.length - 1] as string;
  // A list of nodes in one variable: "node-1=host:port,node-2=host:port" (or bare addresses).
  node[last] = path === 'replication.nodes' ? value.split(',').map((s) => s.trim()).filter((s) => s !== '') : value;
  origins.set(path, origin);
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.trim().toLowerCase());
}
