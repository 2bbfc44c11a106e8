// validateConfig: the merged raw document (file + env + flags, see load.ts) -> CairnConfig, or
// the list of everything wrong with it. It never throws on bad input and never stops at the
// first problem: an operator fixes a config in one pass.

import { checkField, checkKnownKeys, isRecord, Problems, show } from './fields.ts';
import type { FieldSpec, FieldValue } from './fields.ts';
import { nodeList, readNodes, resolveIdentity, resolveNodeRef, addressPort } from './nodes.ts';
import {
  AFFINITY,
  AFFINITY_KEYS,
  CLUSTER_FRAGMENT_KEYS,
  CLUSTER_KEYS,
  DISCOVERY_KEYS,
  EMBEDDING,
  LIMITS,
  LOAD_BALANCING,
  REPLICATION,
  REPLICATION_KEYS,
  RULE_KEYS,
  SERVER,
  TOP_LEVEL_KEYS,
} from './schema.ts';
import type { Section } from './schema.ts';
import type { AffinityRule, CairnConfig, NodeSpec, WorkspaceLimits } from './types.ts';

export interface ValidateContext {
  /** The file the raw document came from ("" for none). */
  source?: string;
  /** Key path -> where an override came from ("env CAIRN_SERVER_PORT", "flag --port"). */
  origins?: ReadonlyMap<string, string>;
  /** Running in a container: the default listen host is 0.0.0.0 instead of 127.0.0.1. */
  container?: boolean;
  /** For tools that need the whole cluster, not one node (nginx-config): when nothing says
   * which node this is, take the leader instead of reporting node_id as missing. */
  anyNode?: boolean;
}

export interface ValidateResult {
  config?: CairnConfig;
  errors: string[];
}

/** Workspace names used as keys of resource_limits and affinity rules. */
const WORKSPACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function validateConfig(raw: unknown, context: ValidateContext = {}): ValidateResult {
  const problems = new Problems(context.origins);
  const root = raw === undefined || raw === null ? {} : raw;
  if (!isRecord(root)) {
    problems.add('(top level)', `expected a mapping of sections (cluster, replication, server, ...), got ${show(root)}`);
    return { errors: problems.errors };
  }
  checkKnownKeys(root, TOP_LEVEL_KEYS, '', problems);

  const cluster = { ...section(root, 'cluster', '', problems) };
  checkKnownKeys(cluster, CLUSTER_KEYS, 'cluster', problems);
  for (const key of CLUSTER_FRAGMENT_KEYS) {
    if (root[key] === undefined) continue;
    if (cluster[key] !== undefined) problems.add(key, `given both at the top level and under cluster:, keep one`);
    else cluster[key] = root[key];
  }
  const discovery = section(cluster, 'discovery', 'cluster', problems);
  checkKnownKeys(discovery, DISCOVERY_KEYS, 'cluster.discovery', problems);
  const affinityRaw = section(cluster, 'affinity', 'cluster', problems);
  checkKnownKeys(affinityRaw, AFFINITY_KEYS, 'cluster.affinity', problems);
  const replicationRaw = section(root, 'replication', '', problems);
  checkKnownKeys(replicationRaw, REPLICATION_KEYS, 'replication', problems);
  const serverRaw = section(root, 'server', '', problems);
  checkKnownKeys(serverRaw, Object.keys(SERVER.specs), 'server', problems);
  const embeddingRaw = section(root, 'embedding', '', problems);
  checkKnownKeys(embeddingRaw, Object.keys(EMBEDDING.specs), 'embedding', problems);
  const loadBalancingRaw = section(cluster, 'load_balancing', 'cluster', problems);
  checkKnownKeys(loadBalancingRaw, Object.keys(LOAD_BALANCING.specs), 'cluster.load_balancing', problems);

  const enabled = optional(cluster['enabled'], { kind: 'bool' }, 'cluster.enabled', problems, true);
  const method = optional(discovery['method'], { kind: 'string', non_empty: true }, 'cluster.discovery.method', problems, 'static');
  // A node list from the environment or a flag replaces the file's endpoints as well.
  const nodesOverridden = context.origins?.has('replication.nodes') === true;
  const endpoints =
    discovery['endpoints'] === undefined || nodesOverridden
      ? undefined
      : (checkField(discovery['endpoints'], { kind: 'strings' }, 'cluster.discovery.endpoints', problems) as string[] | undefined);

  const replication = fill(REPLICATION, replicationRaw, 'replication', problems);
  const server = fill(SERVER, serverRaw, 'server', problems);
  const embedding = fill(EMBEDDING, embeddingRaw, 'embedding', problems);
  const loadBalancing = fill(LOAD_BALANCING, loadBalancingRaw, 'cluster.load_balancing', problems);
  const affinityScalars = fill(AFFINITY, affinityRaw, 'cluster.affinity', problems);
  const limits = readLimits(cluster['resource_limits'], root['resource_limits'], problems);

  const allNodes = readNodes({ nodes: replicationRaw['nodes'], discoveryMethod: method, endpoints }, problems);
  if (allNodes === undefined) return { errors: problems.errors };
  if (replicationRaw['nodes'] !== undefined && method === 'static' && endpoints !== undefined) {
    const listed = allNodes.map((n) => n.address);
    if (listed.length !== endpoints.length || !endpoints.every((e) => listed.includes(e))) {
      problems.add(
        'cluster.discovery.endpoints',
        `expected the addresses of replication.nodes (${listed.join(', ')}), got ${endpoints.join(', ')}; list the same nodes or drop one of the two`,
      );
    }
  }

  const override = optionalText(root['node_id'], 'node_id', problems);
  const fromCluster = optionalText(cluster['node_id'], 'cluster.node_id', problems);
  const port = serverRaw['port'] === undefined ? undefined : server.port;
  const identity = { override, fromCluster, port };
  if (context.anyNode === true && override === undefined && fromCluster === undefined) identity.override = leaderRef(replicationRaw, allNodes);
  const nodeId = resolveIdentity(identity, allNodes, problems);

  let leader = allNodes[0]?.id ?? '';
  const leaderRaw = replicationRaw['leader'];
  if (leaderRaw !== undefined) {
    const ref = checkField(leaderRaw, { kind: 'string', non_empty: true }, 'replication.leader', problems);
    const id = typeof ref === 'string' ? resolveNodeRef(ref.trim(), allNodes) : undefined;
    if (typeof ref === 'string' && id === undefined) {
      problems.add('replication.leader', `expected one of the nodes (${nodeList(allNodes)}), got ${show(ref)}`);
    }
    leader = id ?? leader;
  }
  const rules = readRules(affinityRaw['rules'], allNodes, affinityScalars, problems);
  checkReplicationRelations(replication, problems);
  if (embedding.provider === 'openai' && embedding.url.trim() === '') {
    problems.add('embedding.url', 'required when embedding.provider is "openai" (the base URL of an OpenAI-compatible /v1/embeddings)');
  }
  if (nodeId === undefined || problems.errors.length > 0) return { errors: problems.errors };

  // A node with clustering disabled runs alone: it is its own leader and ships to nobody.
  const nodes: NodeSpec[] = enabled ? allNodes : allNodes.filter((n) => n.id === nodeId);
  if (!enabled) leader = nodeId;
  const self = nodes.find((n) => n.id === nodeId) as NodeSpec;
  if (serverRaw['host'] === undefined) server.host = context.container === true ? '0.0.0.0' : '127.0.0.1';
  if (serverRaw['port'] === undefined) server.port = addressPort(self.address);
  server.data_dir = server.data_dir.replaceAll('{node_id}', nodeId);

  const config: CairnConfig = {
    source: context.source ?? '',
    node_id: nodeId,
    cluster: {
      enabled,
      discovery_method: method,
      endpoints: endpoints ?? allNodes.map((n) => n.address),
      load_balancing: loadBalancing,
      affinity: { ...affinityScalars, rules },
    },
    resource_limits: limits,
    replication: { ...replication, nodes, leader },
    server,
    embedding,
  };
  return { config, errors: [] };
}

function leaderRef(replication: Record<string, unknown>, nodes: readonly NodeSpec[]): string | undefined {
  const leader = replication['leader'];
  return typeof leader === 'string' ? leader : nodes[0]?.id;
}

function section(parent: Record<string, unknown>, key: string, parentPath: string, problems: Problems): Record<string, unknown> {
  const value = parent[key];
  if (value === undefined || value === null) return {};
  const path = parentPath === '' ? key : `${parentPath}.${key}`;
  if (!isRecord(value)) {
    problems.add(path, `expected a mapping, got ${show(value)}`);
    return {};
  }
  return value;
}

function optional<T extends FieldValue>(
  value: unknown,
  spec: FieldSpec,
  path: string,
  problems: Problems,
  fallback: T,
): T {
  if (value === undefined || value === null) return fallback;
  const checked = checkField(value, spec, path, problems);
  return checked === undefined ? fallback : (checked as T);
}

function optionalText(value: unknown, path: string, problems: Problems): string | undefined {
  if (value === undefined || value === null) return undefined;
  const checked = checkField(value, { kind: 'string' }, path, problems);
  return typeof checked === 'string' ? checked : undefined;
}

/** Defaults overlaid with the checked values present in `raw`. */
function fill<T extends object>(spec: Section<T>, raw: Record<string, unknown>, path: string, problems: Problems): T {
  const out = { ...spec.defaults } as Record<string, unknown>;
  for (const [key, fieldSpec] of Object.entries<FieldSpec>(spec.specs)) {
    const value = raw[key];
    if (value === undefined || value === null) continue;
    const checked = checkField(value, fieldSpec, `${path}.${key}`, problems);
    if (checked !== undefined) out[key] = checked;
  }
  return out as T;
}

/**
 * resource_limits from `cluster.resource_limits` and the top level (the guide shows both; the
 * top level wins per key). Every workspace's missing keys come from the `default` entry, whose
 * missing keys come from the built-in defaults; `default` is always present in the result.
 */
function readLimits(inCluster: unknown, topLevel: unknown, problems: Problems): Record<string, WorkspaceLimits> {
  const merged = new Map<string, { raw: Record<string, unknown>; path: string }[]>();
  for (const [value, base] of [[inCluster, 'cluster.resource_limits'], [topLevel, 'resource_limits']] as const) {
    if (value === undefined || value === null) continue;
    if (!isRecord(value)) {
      problems.add(base, `expected a mapping of workspace -> limits, got ${show(value)}`);
      continue;
    }
    for (const [workspace, limits] of Object.entries(value)) {
      const path = `${base}.${workspace}`;
      if (!WORKSPACE_PATTERN.test(workspace)) {
        problems.add(path, 'expected a workspace name of letters, digits, ".", "_" or "-" (at most 128)');
        continue;
      }
      if (!isRecord(limits)) {
        problems.add(path, `expected a mapping of limits, got ${show(limits)}`);
        continue;
      }
      checkKnownKeys(limits, Object.keys(LIMITS.specs), path, problems);
      merged.set(workspace, [...(merged.get(workspace) ?? []), { raw: limits, path }]);
    }
  }
  const layer = (base: WorkspaceLimits, parts: { raw: Record<string, unknown>; path: string }[]): WorkspaceLimits => {
    let out = base;
    for (const part of parts) out = fill({ specs: LIMITS.specs, defaults: out }, part.raw, part.path, problems);
    return out;
  };
  const fallback = layer(LIMITS.defaults, merged.get('default') ?? []);
  const result: Record<string, WorkspaceLimits> = { default: fallback };
  for (const [workspace, parts] of merged) if (workspace !== 'default') result[workspace] = layer(fallback, parts);
  return result;
}

function readRules(
  value: unknown,
  nodes: readonly NodeSpec[],
  affinity: { sticky_sessions: boolean; default_tier: string },
  problems: Problems,
): Record<string, AffinityRule> {
  const rules: Record<string, AffinityRule> = {};
  if (value === undefined || value === null) return rules;
  if (!isRecord(value)) {
    problems.add('cluster.affinity.rules', `expected a mapping of workspace -> rule, got ${show(value)}`);
    return rules;
  }
  for (const [workspace, rule] of Object.entries(value)) {
    const path = `cluster.affinity.rules.${workspace}`;
    if (!WORKSPACE_PATTERN.test(workspace)) {
      problems.add(path, 'expected a workspace name of letters, digits, ".", "_" or "-" (at most 128)');
      continue;
    }
    if (!isRecord(rule)) {
      problems.add(path, `expected a mapping (preferred_nodes, avoid_nodes, resource_tier, sticky_session, locality), got ${show(rule)}`);
      continue;
    }
    checkKnownKeys(rule, RULE_KEYS, path, problems);
    const preferred = nodeRefs(rule['preferred_nodes'], `${path}.preferred_nodes`, nodes, problems);
    const avoid = nodeRefs(rule['avoid_nodes'], `${path}.avoid_nodes`, nodes, problems);
    for (const id of preferred) {
      if (avoid.includes(id)) problems.add(`${path}.avoid_nodes`, `lists ${id}, which preferred_nodes also lists`);
    }
    if (avoid.length > 0 && nodes.every((n) => avoid.includes(n.id))) {
      problems.add(`${path}.avoid_nodes`, 'avoids every node: at least one node must remain to serve the workspace');
    }
    rules[workspace] = {
      preferred_nodes: preferred,
      avoid_nodes: avoid,
      resource_tier: optional(rule['resource_tier'], { kind: 'string', non_empty: true }, `${path}.resource_tier`, problems, affinity.default_tier),
      sticky_session: optional(rule['sticky_session'], { kind: 'bool' }, `${path}.sticky_session`, problems, affinity.sticky_sessions),
      locality: optional(rule['locality'], { kind: 'string' }, `${path}.locality`, problems, ''),
    };
  }
  return rules;
}

function nodeRefs(value: unknown, path: string, nodes: readonly NodeSpec[], problems: Problems): string[] {
  if (value === undefined || value === null) return [];
  const refs = checkField(value, { kind: 'strings' }, path, problems);
  if (!Array.isArray(refs)) return [];
  const ids: string[] = [];
  for (const [i, ref] of refs.entries()) {
    const id = resolveNodeRef(ref, nodes);
    if (id === undefined) problems.add(`${path}[${i}]`, `expected one of the nodes (${nodeList(nodes)}), got ${show(ref)}`);
    else if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

function checkReplicationRelations(r: typeof REPLICATION.defaults, problems: Problems): void {
  if (r.log_retain_entries < r.resync_threshold) {
    problems.add(
      'replication.log_retain_entries',
      `expected at least resync_threshold (${r.resync_threshold}) so a follower within the threshold can catch up from the log, got ${r.log_retain_entries}`,
    );
  }
  if (r.silence_lagging_ms <= r.heartbeat_ms) {
    problems.add('replication.silence_lagging_ms', `expected more than heartbeat_ms (${r.heartbeat_ms}), got ${r.silence_lagging_ms}`);
  }
}
