// The node list and this node's identity.
//
// Nodes come from `replication.nodes` ([{id, address}]); without it, from the clustering guide's
// `cluster.discovery.endpoints` (static discovery) in order, named node-1..node-N; without either,
// the single-machine layout node-1..node-3 on 127.0.0.1:8080-8082. The first node leads unless
// `replication.leader` says otherwise.
//
// Node references elsewhere (cluster.node_id, leader, preferred_nodes, avoid_nodes) may use the
// guide's names: "contextlite-node-1" is not a node id but ends with "node-1", so it means node-1.

import { checkField, checkKnownKeys, isRecord, show } from './fields.ts';
import type { Problems } from './fields.ts';
import { ADDRESS_SPEC, DEFAULT_BASE_PORT, DEFAULT_NODE_COUNT, NODE_ID_SPEC, NODE_KEYS } from './schema.ts';
import type { NodeSpec } from './types.ts';

export function addressPort(address: string): number {
  const colon = address.lastIndexOf(':');
  return Number(address.slice(colon + 1));
}

export function addressHost(address: string): string {
  const colon = address.lastIndexOf(':');
  return address.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
}

export function defaultNodes(basePort = DEFAULT_BASE_PORT, count = DEFAULT_NODE_COUNT, host = '127.0.0.1'): NodeSpec[] {
  return Array.from({ length: count }, (_, i) => ({ id: `node-${i + 1}`, address: `${host}:${basePort + i}` }));
}

/** Maps a reference to a node id, or undefined when it names no node. */
export function resolveNodeRef(ref: string, nodes: readonly NodeSpec[]): string | undefined {
  if (nodes.some((n) => n.id === ref)) return ref;
  const id = /(node-\d+)$/.exec(ref)?.[1];
  if (id !== undefined && nodes.some((n) => n.id === id)) return id;
  return undefined;
}

export function nodeList(nodes: readonly NodeSpec[]): string {
  return nodes.map((n) => n.id).join(', ');
}

interface NodesInput {
  nodes: unknown;
  discoveryMethod: string;
  endpoints: string[] | undefined;
}

/** Reads the node list; returns undefined (with problems recorded) when it is unusable. */
export function readNodes(input: NodesInput, problems: Problems): NodeSpec[] | undefined {
  const before = problems.errors.length;
  let nodes: NodeSpec[];
  if (input.nodes !== undefined) {
    nodes = readNodeEntries(input.nodes, problems);
  } else if (input.endpoints !== undefined && input.endpoints.length > 0) {
    if (input.discoveryMethod !== 'static') {
      problems.add(
        'replication.nodes',
        `required when cluster.discovery.method is ${show(input.discoveryMethod)}: only "static" discovery lists the nodes themselves`,
      );
      return undefined;
    }
    nodes = input.endpoints.map((address, i) => ({ id: `node-${i + 1}`, address }));
    for (const [i, node] of nodes.entries()) checkField(node.address, ADDRESS_SPEC, `cluster.discovery.endpoints[${i}]`, problems);
  } else {
    nodes = defaultNodes();
  }
  if (problems.errors.length > before) return undefined;
  if (nodes.length === 0) problems.add('replication.nodes', 'expected at least one node, got an empty list');
  checkUnique(nodes, problems);
  return problems.errors.length === before ? nodes : undefined;
}

function readNodeEntries(value: unknown, problems: Problems): NodeSpec[] {
  if (!Array.isArray(value)) {
    problems.add('replication.nodes', `expected a list of {id, address}, got ${show(value)}`);
    return [];
  }
  const nodes: NodeSpec[] = [];
  for (const [i, item] of value.entries()) {
    const path = `replication.nodes[${i}]`;
    if (typeof item === 'string') {
      // "id=host:port" (the env/flag form) or a bare "host:port".
      const eq = item.indexOf('=');
      const id = eq > 0 ? item.slice(0, eq).trim() : `node-${i + 1}`;
      const address = eq > 0 ? item.slice(eq + 1).trim() : item.trim();
      const okId = checkField(id, NODE_ID_SPEC, `${path}.id`, problems);
      const okAddress = checkField(address, ADDRESS_SPEC, `${path}.address`, problems);
      if (typeof okId === 'string' && typeof okAddress === 'string') nodes.push({ id: okId, address: okAddress });
      continue;
    }
    if (!isRecord(item)) {
      problems.add(path, `expected {id, address}, got ${show(item)}`);
      continue;
    }
    checkKnownKeys(item, NODE_KEYS, path, problems);
    const id = checkField(item['id'], NODE_ID_SPEC, `${path}.id`, problems);
    const address = checkField(item['address'], ADDRESS_SPEC, `${path}.address`, problems);
    if (typeof id === 'string' && typeof address === 'string') nodes.push({ id, address });
  }
  return nodes;
}

function checkUnique(nodes: readonly NodeSpec[], problems: Problems): void {
  const ids = new Set<string>();
  const addresses = new Set<string>();
  for (const [i, node] of nodes.entries()) {
    if (ids.has(node.id)) problems.add(`replication.nodes[${i}].id`, `expected a unique node id, got ${show(node.id)} twice`);
    if (addresses.has(node.address)) {
      problems.add(`replication.nodes[${i}].address`, `expected a unique address, got ${show(node.address)} twice`);
    }
    const port = addressPort(node.address);
    if (!(port >= 1 && port <= 65_535)) {
      problems.add(`replication.nodes[${i}].address`, `expected a port from 1 to 65535, got ${show(node.address)}`);
    }
    ids.add(node.id);
    addresses.add(node.address);
  }
}

export interface IdentityInput {
  /** Highest precedence: --node-id, CAIRN_NODE_ID, CONTEXTLITE_NODE_ID, or a top-level node_id. */
  override: string | undefined;
  /** cluster.node_id from the file. */
  fromCluster: string | undefined;
  /** server.port when set explicitly (any source). */
  port: number | undefined;
}

/** Which node this process is. */
export function resolveIdentity(input: IdentityInput, nodes: readonly NodeSpec[], problems: Problems): string | undefined {
  const candidates: [string, string | undefined][] = [
    ['node_id', input.override],
    ['cluster.node_id', input.fromCluster],
  ];
  for (const [path, ref] of candidates) {
    if (ref === undefined || ref.trim() === '') continue;
    const id = resolveNodeRef(ref.trim(), nodes);
    if (id === undefined) {
      problems.add(path, `expected one of the nodes (${nodeList(nodes)}) or a name ending in one, got ${show(ref)}`);
      return undefined;
    }
    if (path === 'cluster.node_id' && input.port !== undefined) checkPortAgrees(id, input.port, nodes, problems);
    return id;
  }
  if (nodes.length === 1) return nodes[0]?.id;
  if (input.port !== undefined) {
    const matching = nodes.filter((n) => addressPort(n.address) === input.port);
    if (matching.length === 1) return matching[0]?.id;
  }
  problems.add(
    'node_id',
    `not set: pass --node-id, set CAIRN_NODE_ID, set cluster.node_id, or pass a --port that is exactly one node's port (nodes: ${nodeList(nodes)})`,
  );
  return undefined;
}

/**
 * cluster.node_id names node-1 but --port is node-2's port on the same host: two processes
 * would both believe they are node-1 (two leaders). Refuse instead of guessing.
 */
function checkPortAgrees(id: string, port: number, nodes: readonly NodeSpec[], problems: Problems): void {
  const self = nodes.find((n) => n.id === id);
  const other = nodes.filter((n) => addressPort(n.address) === port);
  const owner = other.length === 1 ? other[0] : undefined;
  if (self === undefined || owner === undefined || owner.id === id) return;
  if (addressHost(owner.address) !== addressHost(self.address)) return;
  problems.add(
    'cluster.node_id',
    `names ${id}, but port ${port} is the port of ${owner.id} (${owner.address}); pass --node-id to say which node this is`,
  );
}
