import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, envVariables, loadConfig, tryLoadConfig } from './load.ts';
import type { CairnConfig } from './types.ts';

const here = import.meta.dirname;
const testdata = (name: string): string => join(here, 'testdata', name);
const repoFile = (name: string): string => join(here, '../../../..', name);

function tempYaml(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-config-'));
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, text);
  return file;
}

function errorsOf(text: string, flags: Record<string, string> = { 'node-id': 'node-1' }, env: NodeJS.ProcessEnv = {}): string[] {
  return tryLoadConfig({ file: tempYaml(text), flags, env }).errors;
}

describe('the clustering guide as written', () => {
  it('loads its example cluster.yaml verbatim and names node-1 from "contextlite-node-1"', () => {
    const config = loadConfig({ file: testdata('guide-cluster.yaml'), env: {} });
    expect(config.node_id).toBe('node-1');
    expect(config.replication.nodes).toEqual([
      { id: 'node-1', address: 'localhost:8080' },
      { id: 'node-2', address: 'localhost:8081' },
      { id: 'node-3', address: 'localhost:8082' },
    ]);
    expect(config.replication.leader).toBe('node-1');
    expect(config.cluster.enabled).toBe(true);
    expect(config.cluster.discovery_method).toBe('static');
    expect(config.cluster.load_balancing).toEqual({
      strategy: 'workspace_hash',
      health_check_interval: 30,
      max_load_factor: 0.85,
      enable_circuit_breaker: true,
    });
    expect(config.cluster.affinity.default_tier).toBe('medium');
    expect(config.cluster.affinity.rules['mission-architect']).toEqual({
      preferred_nodes: ['node-1'],
      avoid_nodes: [],
      resource_tier: 'high',
      sticky_session: true,
      locality: '',
    });
    expect(config.cluster.affinity.rules['archive']?.avoid_nodes).toEqual(['node-1']);
    expect(config.resource_limits['mission-architect']).toMatchObject({ max_concurrent_requests: 10, max_tokens_per_minute: 50000, priority: 8 });
    expect(config.resource_limits['development']?.max_memory_mb).toBe(256);
    expect(config.resource_limits['default']).toBeDefined();
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 8080, data_dir: './data/node-1' });
  });

  it('runs the guide multi-instance lines: --port 8081 --node-id node-2', () => {
    const config = loadConfig({ file: testdata('guide-cluster.yaml'), flags: { port: '8081', 'node-id': 'node-2' }, env: {} });
    expect(config.node_id).toBe('node-2');
    expect(config.server.port).toBe(8081);
    expect(config.replication.leader).toBe('node-1');
  });

  it('takes the guide environment variables', () => {
    const config = loadConfig({
      file: testdata('guide-cluster.yaml'),
      env: {
        CONTEXTLITE_PORT: '8082',
        CONTEXTLITE_HOST: '0.0.0.0',
        CONTEXTLITE_DB_PATH: './data/contextlite.db',
        CONTEXTLITE_CLUSTER_ENABLED: 'true',
        CONTEXTLITE_NODE_ID: 'contextlite-node-3',
        CONTEXTLITE_DISCOVERY_METHOD: 'static',
        CONTEXTLITE_LOG_LEVEL: 'debug',
      },
    });
    expect(config.node_id).toBe('node-3');
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 8082, data_dir: './data', log_level: 'debug' });
  });

  it('loads the resource isolation and affinity fragments at the top level', () => {
    const limits = loadConfig({ file: testdata('guide-resource-isolation.yaml'), flags: { 'node-id': 'node-1' }, env: {} });
    expect(limits.resource_limits['mission-architect']).toEqual({
      max_concurrent_requests: 10,
      max_tokens_per_minute: 50000,
      max_documents_per_query: 20,
      max_memory_mb: 512,
      max_storage_mb: 2048,
      priority: 8,
    });
    const affinity = loadConfig({ file: testdata('guide-affinity.yaml'), flags: { 'node-id': 'node-2' }, env: {} });
    expect(affinity.cluster.affinity.rules['mission-architect']).toEqual({
      preferred_nodes: ['node-1', 'node-2'],
      avoid_nodes: ['node-3'],
      resource_tier: 'high',
      sticky_session: true,
      locality: 'same-rack',
    });
  });

  it('loads the development example with its default limits', () => {
    const config = loadConfig({ file: testdata('guide-development.yaml'), flags: { port: '8080' }, env: {} });
    expect(config.node_id).toBe('node-1');
    expect(config.resource_limits['default']).toMatchObject({ max_concurrent_requests: 3, max_tokens_per_minute: 10000, max_memory_mb: 128 });
  });

  it('asks for the node list when discovery is not static (the production example)', () => {
    const { errors } = tryLoadConfig({ file: testdata('guide-production.yaml'), flags: { 'node-id': 'node-1' }, env: {} });
    expect(errors).toEqual([expect.stringMatching(/^replication\.nodes: required when cluster\.discovery\.method is "consul"/)]);
  });
});

describe('the shipped configs', () => {
  it('configs/cluster.yaml loads for each node', () => {
    for (const [id, port] of [['node-1', 8080], ['node-2', 8081], ['node-3', 8082]] as const) {
      const config = loadConfig({ file: repoFile('configs/cluster.yaml'), flags: { 'node-id': id }, env: {} });
      expect(config.node_id).toBe(id);
      expect(config.server.port).toBe(port);
      expect(config.server.data_dir).toBe(`./data/${id}`);
    }
  });

  it('configs/cluster.docker.yaml loads with the compose environment', () => {
    const config = loadConfig({
      file: repoFile('configs/cluster.docker.yaml'),
      env: { CAIRN_NODE_ID: 'node-2', CAIRN_CLUSTER_SECRET: 's3cret', CAIRN_OPERATOR_TOKEN: 'op', CAIRN_CONTAINER: '1' },
    });
    expect(config.node_id).toBe('node-2');
    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 8080, data_dir: '/app/data/node-2' });
    expect(config.replication.secret).toBe('s3cret');
    expect(config.replication.operator_token).toBe('op');
    expect(config.replication.nodes.map((n) => n.address)).toEqual(['node-1:8080', 'node-2:8080', 'node-3:8080']);
  });
});

describe('defaults', () => {
  it('without a file gives three nodes on 127.0.0.1:8080-8082 led by node-1', () => {
    const config = loadConfig({ flags: { 'node-id': 'node-3' }, env: {} });
    expect(config.source).toBe('');
    expect(config.replication.nodes.map((n) => n.address)).toEqual(['127.0.0.1:8080', '127.0.0.1:8081', '127.0.0.1:8082']);
    expect(config.replication).toMatchObject({
      leader: 'node-1',
      batch_size: 100,
      flush_interval_ms: 5,
      resync_threshold: 1000,
      snapshot_timeout_s: 60,
      write_concern: 'quorum',
      log_retain_entries: 10000,
      heartbeat_ms: 100,
      append_timeout_ms: 2000,
      commit_timeout_ms: 5000,
      secret: '',
      operator_token: '',
    });
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 8082, data_dir: './data/node-3', auth_token: '' });
    expect(config.embedding).toMatchObject({ provider: 'hashing', dim: 384 });
  });

  it('picks the node whose port --port names when no id is given', () => {
    expect(loadConfig({ flags: { port: '8081' }, env: {} }).node_id).toBe('node-2');
  });

  it('listens on 0.0.0.0 by default in a container', () => {
    expect(loadConfig({ flags: { 'node-id': 'node-1' }, env: { CAIRN_CONTAINER: '1' } }).server.host).toBe('0.0.0.0');
  });

  it('runs a node alone when cluster.enabled is false', () => {
    const config = loadConfig({ flags: { 'node-id': 'node-2' }, env: { CAIRN_CLUSTER_ENABLED: 'false' } });
    expect(config.replication.nodes).toEqual([{ id: 'node-2', address: '127.0.0.1:8081' }]);
    expect(config.replication.leader).toBe('node-2');
  });
});

describe('precedence: flags, then env, then file, then defaults', () => {
  const file = (): string => tempYaml('replication:\n  batch_size: 50\nserver:\n  log_level: warn\n');

  it('file beats defaults', () => {
    expect(loadConfig({ file: file(), flags: { 'node-id': 'node-1' }, env: {} }).replication.batch_size).toBe(50);
  });

  it('env beats file', () => {
    const config = loadConfig({ file: file(), flags: { 'node-id': 'node-1' }, env: { CAIRN_REPLICATION_BATCH_SIZE: '70', CAIRN_SERVER_LOG_LEVEL: 'error' } });
    expect(config.replication.batch_size).toBe(70);
    expect(config.server.log_level).toBe('error');
  });

  it('flags beat env', () => {
    const config = loadConfig({
      file: file(),
      flags: { 'node-id': 'node-2', 'replication.batch_size': '90', port: '9000', 'log-level': 'debug' },
      env: { CAIRN_REPLICATION_BATCH_SIZE: '70', CAIRN_NODE_ID: 'node-3', CAIRN_SERVER_PORT: '9100' },
    });
    expect(config.node_id).toBe('node-2');
    expect(config.replication.batch_size).toBe(90);
    expect(config.server.port).toBe(9000);
    expect(config.server.log_level).toBe('debug');
  });

  it("Cairn's variables beat the guide's", () => {
    const config = loadConfig({ env: { CONTEXTLITE_NODE_ID: 'node-1', CAIRN_NODE_ID: 'node-3', CONTEXTLITE_PORT: '1', CAIRN_SERVER_PORT: '9001' } });
    expect(config.node_id).toBe('node-3');
    expect(config.server.port).toBe(9001);
  });

  it('env and flag ids beat cluster.node_id', () => {
    expect(loadConfig({ file: testdata('guide-cluster.yaml'), env: { CAIRN_NODE_ID: 'node-2' } }).node_id).toBe('node-2');
  });

  it('takes the node list from one variable', () => {
    const config = loadConfig({ flags: { 'node-id': 'a' }, env: { CAIRN_REPLICATION_NODES: 'a=10.0.0.1:7000,b=10.0.0.2:7000' } });
    expect(config.replication.nodes).toEqual([{ id: 'a', address: '10.0.0.1:7000' }, { id: 'b', address: '10.0.0.2:7000' }]);
    expect(config.server.port).toBe(7000);
  });

  it('lets a node list from the environment replace the file endpoints', () => {
    const file = tempYaml('cluster:\n  discovery:\n    endpoints: ["localhost:8080", "localhost:8081"]\n');
    const config = loadConfig({ file, flags: { 'node-id': 'b' }, env: { CAIRN_REPLICATION_NODES: 'a=10.0.0.1:7000,b=10.0.0.2:7000' } });
    expect(config.replication.nodes.map((n) => n.id)).toEqual(['a', 'b']);
    expect(config.cluster.endpoints).toEqual(['10.0.0.1:7000', '10.0.0.2:7000']);
  });

  it('documents a variable for every generic key', () => {
    const vars = envVariables();
    expect(vars['CAIRN_REPLICATION_BATCH_SIZE']).toBe('replication.batch_size');
    expect(vars['CAIRN_SERVER_PORT']).toBe('server.port');
    expect(vars['CAIRN_CLUSTER_SECRET']).toBe('replication.secret');
    expect(vars['CAIRN_OPERATOR_TOKEN']).toBe('replication.operator_token');
    expect(vars['CONTEXTLITE_DB_PATH']).toBe('server.data_dir');
  });
});

describe('bad values name their key and what was expected', () => {
  it('reports a bad env value with its variable', () => {
    const { errors } = tryLoadConfig({ flags: { 'node-id': 'node-1' }, env: { CAIRN_REPLICATION_BATCH_SIZE: 'abc' } });
    expect(errors).toEqual(['replication.batch_size: expected an integer from 1 to 10000, got "abc" (from env CAIRN_REPLICATION_BATCH_SIZE)']);
  });

  it('reports a bad flag with its flag', () => {
    const { errors } = tryLoadConfig({ flags: { 'node-id': 'node-1', port: '70000' }, env: {} });
    expect(errors).toEqual(['server.port: expected an integer from 1 to 65535, got "70000" (from flag --port)']);
  });

  it.each([
    ['replication:\n  batch_size: 0\n', 'replication.batch_size: expected an integer from 1 to 10000, got 0'],
    ['replication:\n  batch_size: 2.5\n', 'replication.batch_size: expected an integer from 1 to 10000, got 2.5'],
    ['replication:\n  write_concern: most\n', 'replication.write_concern: expected one of "leader", "quorum", "all", got "most"'],
    ['replication:\n  flush_interval_ms: -1\n', 'replication.flush_interval_ms: expected an integer from 0 to 1000, got -1'],
    ['replication:\n  snapshot_timeout_s: soon\n', 'replication.snapshot_timeout_s: expected an integer from 1 to 86400, got "soon"'],
    ['replication:\n  batchsize: 10\n', 'replication.batchsize: unknown key (did you mean "batch_size"?)'],
    ['replication:\n  leader: node-9\n', 'replication.leader: expected one of the nodes (node-1, node-2, node-3), got "node-9"'],
    ['replication:\n  nodes: [{id: a, address: "nope"}]\n', 'replication.nodes[0].address: expected an address "host:port", got "nope"'],
    ['replication:\n  nodes: [{id: a, address: "h:1"}, {id: a, address: "h:2"}]\n', 'replication.nodes[1].id: expected a unique node id, got "a" twice'],
    ['replication:\n  resync_threshold: 5000\n  log_retain_entries: 4000\n', 'replication.log_retain_entries: expected at least resync_threshold (5000)'],
    ['server:\n  log_level: loud\n', 'server.log_level: expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got "loud"'],
    ['server:\n  body_bytes_max: 10\n', 'server.body_bytes_max: expected an integer from 1024 to 1073741824, got 10'],
    ['embedding:\n  provider: openai\n', 'embedding.url: required when embedding.provider is "openai"'],
    ['embedding:\n  dim: big\n', 'embedding.dim: expected an integer from 8 to 8192, got "big"'],
    ['cluster:\n  enabled: maybe\n', 'cluster.enabled: expected true or false, got "maybe"'],
    ['cluster:\n  load_balancing:\n    strategy: random\n', 'cluster.load_balancing.strategy: expected one of "workspace_hash", "resource_based", "least_connections", got "random"'],
    ['cluster:\n  load_balancing:\n    max_load_factor: 0\n', 'cluster.load_balancing.max_load_factor: expected a number above 0 and at most 1, got 0'],
    ['cluster:\n  discovery:\n    endpoints: ["localhost"]\n', 'cluster.discovery.endpoints[0]: expected an address "host:port", got "localhost"'],
    ['cluster:\n  affinity:\n    rules:\n      ws:\n        preferred_nodes: [node-7]\n', 'cluster.affinity.rules.ws.preferred_nodes[0]: expected one of the nodes (node-1, node-2, node-3), got "node-7"'],
    ['cluster:\n  affinity:\n    rules:\n      ws:\n        avoid_nodes: [node-1, node-2, node-3]\n', 'cluster.affinity.rules.ws.avoid_nodes: avoids every node'],
    ['cluster:\n  affinity:\n    rules:\n      ws:\n        preferred_nodes: [node-1]\n        avoid_nodes: [node-1]\n', 'cluster.affinity.rules.ws.avoid_nodes: lists node-1, which preferred_nodes also lists'],
    ['cluster:\n  resource_limits:\n    ws:\n      priority: 11\n', 'cluster.resource_limits.ws.priority: expected an integer from 1 to 10, got 11'],
    ['resource_limits:\n  ws:\n    max_tokens_per_minute: lots\n', 'resource_limits.ws.max_tokens_per_minute: expected an integer from 1 to 1000000000, got "lots"'],
    [
      'cluster:\n  discovery:\n    endpoints: ["h:1", "h:2"]\nreplication:\n  nodes: [{id: node-1, address: "h:1"}, {id: node-2, address: "h:3"}]\n',
      'cluster.discovery.endpoints: expected the addresses of replication.nodes (h:1, h:3), got h:1, h:2',
    ],
    ['servers:\n  port: 1\n', 'servers: unknown key (did you mean "server"?)'],
    ['replication: 5\n', 'replication: expected a mapping, got 5'],
  ])('%j', (yaml, expected) => {
    const errors = errorsOf(yaml);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(expected);
  });

  it('reports every problem at once', () => {
    const errors = errorsOf('replication:\n  batch_size: abc\n  heartbeat_ms: 0\nserver:\n  port: x\n');
    expect(errors).toHaveLength(3);
  });

  it('refuses an unknown node id', () => {
    expect(tryLoadConfig({ flags: { 'node-id': 'node-4' }, env: {} }).errors).toEqual([
      'node_id: expected one of the nodes (node-1, node-2, node-3) or a name ending in one, got "node-4" (from flag --node-id)',
    ]);
  });

  it('asks for a node id when nothing says which node this is', () => {
    expect(tryLoadConfig({ env: {} }).errors[0]).toMatch(/^node_id: not set: pass --node-id/);
  });

  it('refuses a file node_id that contradicts --port on the same host', () => {
    const errors = tryLoadConfig({ file: testdata('guide-cluster.yaml'), flags: { port: '8082' }, env: {} }).errors;
    expect(errors).toEqual([expect.stringMatching(/^cluster\.node_id: names node-1, but port 8082 is the port of node-3/)]);
  });

  it('reports a missing file and bad YAML with the file name', () => {
    expect(tryLoadConfig({ file: '/nonexistent/cluster.yaml', env: {} }).errors).toEqual([
      '/nonexistent/cluster.yaml: cannot read the config file (ENOENT)',
    ]);
    const bad = tempYaml('cluster:\n  enabled: [\n');
    expect(tryLoadConfig({ file: bad, env: {} }).errors[0]).toMatch(/cluster\.yaml: not valid YAML/);
  });

  it('loadConfig throws a ConfigError listing the problems', () => {
    expect(() => loadConfig({ flags: { 'node-id': 'node-1' }, env: { CAIRN_SERVER_PORT: 'x' } })).toThrow(ConfigError);
    try {
      loadConfig({ flags: { 'node-id': 'node-1' }, env: { CAIRN_SERVER_PORT: 'x' } });
    } catch (error) {
      expect((error as ConfigError).errors).toEqual(['server.port: expected an integer from 1 to 65535, got "x" (from env CAIRN_SERVER_PORT)']);
    }
  });
});

describe('unknown keys', () => {
  // Every section of the file refuses a key it does not know, with the key's full path: a typo
  // anywhere is reported instead of silently running on the default.
  it.each([
    ['(top level)', 'flavour: 1\n', 'flavour'],
    ['cluster', 'cluster:\n  flavour: 1\n', 'cluster.flavour'],
    ['cluster.discovery', 'cluster:\n  discovery:\n    flavour: 1\n', 'cluster.discovery.flavour'],
    ['discovery (top-level fragment)', 'discovery:\n  flavour: 1\n', 'cluster.discovery.flavour'],
    ['cluster.affinity', 'cluster:\n  affinity:\n    flavour: 1\n', 'cluster.affinity.flavour'],
    ['affinity (top-level fragment)', 'affinity:\n  flavour: 1\n', 'cluster.affinity.flavour'],
    ['cluster.affinity.rules.<workspace>', 'cluster:\n  affinity:\n    rules:\n      ws:\n        flavour: 1\n', 'cluster.affinity.rules.ws.flavour'],
    ['cluster.load_balancing', 'cluster:\n  load_balancing:\n    flavour: 1\n', 'cluster.load_balancing.flavour'],
    ['load_balancing (top-level fragment)', 'load_balancing:\n  flavour: 1\n', 'cluster.load_balancing.flavour'],
    ['cluster.resource_limits.<workspace>', 'cluster:\n  resource_limits:\n    ws:\n      flavour: 1\n', 'cluster.resource_limits.ws.flavour'],
    ['resource_limits.<workspace>', 'resource_limits:\n  default:\n    flavour: 1\n', 'resource_limits.default.flavour'],
    ['replication', 'replication:\n  flavour: 1\n', 'replication.flavour'],
    ['replication.nodes[i]', 'replication:\n  nodes: [{id: node-1, address: "h:1"}, {id: node-2, address: "h:2", flavour: 1}]\n', 'replication.nodes[1].flavour'],
    ['server', 'server:\n  flavour: 1\n', 'server.flavour'],
    ['embedding', 'embedding:\n  flavour: 1\n', 'embedding.flavour'],
  ])('are refused in %s', (_section, yaml, path) => {
    const errors = errorsOf(yaml);
    expect(errors, yaml).toHaveLength(1);
    expect(errors[0]).toMatch(new RegExp(`^${path.replaceAll('.', '\\.').replaceAll('[', '\\[').replaceAll(']', '\\]')}: unknown key`));
  });

  it('are refused next to known keys of the same section, and name the key they resemble', () => {
    expect(errorsOf('server:\n  port: 8080\n  prot: 8081\n')).toEqual([expect.stringMatching(/^server\.prot: unknown key \(did you mean "port"\?\)/)]);
    expect(errorsOf('embedding:\n  dim: 64\n  dims: 64\n')).toEqual([expect.stringMatching(/^embedding\.dims: unknown key \(did you mean "dim"\?\)/)]);
  });
});

describe('values at the edges', () => {
  function configOf(text: string): CairnConfig {
    const result = tryLoadConfig({ file: tempYaml(text), flags: { 'node-id': 'node-1' }, env: {} });
    expect(result.errors, text).toEqual([]);
    return result.config as CairnConfig;
  }

  it.each([
    ['replication:\n  heartbeat_ms: 500\n  silence_lagging_ms: 500\n', 'replication.silence_lagging_ms: expected more than heartbeat_ms (500), got 500'],
    ['replication:\n  nodes: [{id: node-1, address: "h:1"}, {id: node-2, address: "h:1"}]\n', 'replication.nodes[1].address: expected a unique address, got "h:1" twice'],
    ['replication:\n  nodes: [{id: node-1, address: "h:0"}]\n', 'replication.nodes[0].address: expected a port from 1 to 65535, got "h:0"'],
    ['replication:\n  nodes: [{id: node-1, address: "h:65536"}]\n', 'replication.nodes[0].address: expected a port from 1 to 65535, got "h:65536"'],
    ['replication:\n  nodes: []\n', 'replication.nodes: expected at least one node, got an empty list'],
    ['replication:\n  nodes: 7\n', 'replication.nodes: expected a list of {id, address}, got 7'],
    ['replication:\n  nodes: [5]\n', 'replication.nodes[0]: expected {id, address}, got 5'],
    ['resource_limits: [1]\n', 'resource_limits: expected a mapping of workspace -> limits, got a list'],
    ['resource_limits:\n  "bad name!":\n    priority: 1\n', 'resource_limits.bad name!: expected a workspace name of letters, digits, ".", "_" or "-" (at most 128)'],
    ['cluster:\n  affinity:\n    rules: [1]\n', 'cluster.affinity.rules: expected a mapping of workspace -> rule, got a list'],
    ['cluster:\n  affinity:\n    rules:\n      "bad name!":\n        preferred_nodes: [node-1]\n', 'cluster.affinity.rules.bad name!: expected a workspace name of letters, digits, ".", "_" or "-" (at most 128)'],
    ['cluster:\n  affinity:\n    rules:\n      ws: 3\n', 'cluster.affinity.rules.ws: expected a mapping (preferred_nodes, avoid_nodes, resource_tier, sticky_session, locality), got 3'],
    ['server:\n  port: [1]\n', 'server.port: expected an integer from 1 to 65535, got a list'],
    ['server:\n  port: {a: 1}\n', 'server.port: expected an integer from 1 to 65535, got a mapping'],
    ['server:\n  port: true\n', 'server.port: expected an integer from 1 to 65535, got true'],
    ['replication:\n  cluster_id: "  "\n', 'replication.cluster_id: expected a non-empty string, got "  "'],
    ['replication:\n  batch_size: ".5"\n', 'replication.batch_size: expected an integer from 1 to 10000, got ".5"'],
  ])('%j is refused with its reason', (yaml, expected) => {
    expect(errorsOf(yaml)).toEqual([expected]);
  });

  it('takes the edges that are valid: equal retention and threshold, port 65535, an empty avoid list', () => {
    expect(configOf('replication:\n  resync_threshold: 4000\n  log_retain_entries: 4000\n').replication.log_retain_entries).toBe(4000);
    expect(configOf('replication:\n  nodes: [{id: node-1, address: "h:65535"}]\n').server.port).toBe(65535);
    expect(configOf('cluster:\n  affinity:\n    rules:\n      ws:\n        avoid_nodes: []\n').cluster.affinity.rules['ws']).toMatchObject({ avoid_nodes: [], preferred_nodes: [] });
  });

  it('reads text values as an environment variable would give them: trimmed, numbers and words', () => {
    expect(configOf('server:\n  port: " 8085 "\n').server.port).toBe(8085);
    expect(configOf('server:\n  log_level: " debug "\n').server.log_level).toBe('debug');
    expect(configOf('cluster:\n  enabled: " no "\n').cluster.enabled).toBe(false);
    expect(configOf('replication:\n  batch_size: "2e1"\n').replication.batch_size).toBe(20);
    expect(configOf('replication:\n  batch_size: "+5"\n').replication.batch_size).toBe(5);
    // A null value is the default, as an absent one.
    expect(configOf('server:\n  port: null\n').server.port).toBe(8080);
  });

  it('names nodes from "id=address" items and numbers the bare addresses by position', () => {
    expect(configOf('replication:\n  nodes: ["h:1", "alpha = h:2"]\n').replication.nodes).toEqual([
      { id: 'node-1', address: 'h:1' },
      { id: 'alpha', address: 'h:2' },
    ]);
  });
});
