// nginx.conf for a Cairn cluster: one upstream that hashes X-Workspace-ID consistently over the
// nodes (the clustering guide's weights 3/2/1 by default), one small upstream per affinity rule,
// and a `map` choosing between them. nginx/nginx.conf is exactly what this renders for
// configs/cluster.docker.yaml (test/deploy.test.ts keeps them equal).
//
// Retries. `proxy_next_upstream error timeout http_502 http_503` moves a request to another node
// when its node is down or refuses, at most `proxy_next_upstream_tries` (one per node) within
// `proxy_next_upstream_timeout`. nginx never replays a POST that it has already sent unless
// `non_idempotent` is given, and we do not give it: Cairn's writes replace by document id (a
// client retry is harmless), but a blind replay by the proxy is not the same thing. A stalled node
// (SIGSTOP, GC pause) that already received the write may still forward it to the leader after
// the replay and after a newer write to the same id, and replace the newer document with the
// older one. Connection failures (refused, connect timeout) are still retried for every method,
// because then nothing was sent; that covers a stopped or crashed node. GET, HEAD, DELETE and the
// read-only routes sent with GET are retried on timeouts and 502/503 as well.

import { basename } from 'node:path';
import { join } from 'node:path';
import type { CairnConfig, NodeSpec } from '../config/types.ts';

export interface NginxRenderOptions {
  /** Port nginx listens on (default 80, the compose deployment). */
  listenPort?: number;
  /** Address to bind, e.g. "127.0.0.1" for a local cluster; default all interfaces. */
  listenHost?: string;
  /** Node id -> host:port nginx uses for that node, instead of the node's address. */
  upstreamAddresses?: Record<string, string>;
  /** Weights in node order; default n, n-1, ..., 1 (3/2/1 for three nodes, as the guide). */
  weights?: number[];
  /**
   * Run unprivileged: pid file, temp directories, error and access logs all under this
   * directory (start with `nginx -p <prefix> -c <conf> -e <prefix>/error.log`). Without it the
   * config is for the nginx image: logs to stdout/stderr, the image's pid and temp paths.
   */
  prefix?: string;
  workerProcesses?: number | 'auto';
}

export const NGINX_UPSTREAM = 'cairn_cluster';
export const NGINX_LEADER_UPSTREAM = 'cairn_leader';
const UPSTREAM_KEEPALIVE = 32;
const CONNECT_TIMEOUT_S = 2;
const SEND_TIMEOUT_S = 30;
const RETRY_WINDOW_S = 10;
const MAX_FAILS = 3;

export function renderNginxConf(config: CairnConfig, opts: NginxRenderOptions = {}): string {
  const nodes = config.replication.nodes;
  const addresses = nodes.map((n) => opts.upstreamAddresses?.[n.id] ?? n.address);
  const weights = opts.weights ?? nodes.map((_, i) => nodes.length - i);
  if (weights.length !== nodes.length || weights.some((w) => !Number.isInteger(w) || w < 1)) {
    throw new Error(`nginx weights: expected ${nodes.length} positive integers, got ${JSON.stringify(weights)}`);
  }
  const lb = config.cluster.load_balancing;
  const health = lb.enable_circuit_breaker ? `max_fails=${MAX_FAILS} fail_timeout=${lb.health_check_interval}s` : 'max_fails=0';
  const server = (i: number, extra = ''): string => {
    const node = nodes[i] as NodeSpec;
    const role = node.id === config.replication.leader ? ' (leader)' : '';
    return `        server ${addresses[i]} weight=${weights[i]} ${health}${extra};  # ${node.id}${role}`;
  };
  const balance = lb.strategy === 'workspace_hash' ? 'hash $http_x_workspace_id consistent;' : 'least_conn;';
  // The slowest legitimate answer: a forwarded write waits for its commit and then for the local
  // apply; an assemble may call the embedding service. Then some slack.
  const readTimeoutS =
    Math.ceil((config.replication.commit_timeout_ms + config.server.read_wait_ms_max + config.embedding.timeout_ms) / 1000) + 10;

  const lines: string[] = [];
  const out = (text = ''): void => {
    lines.push(text);
  };
  out(`# nginx in front of the Cairn cluster "${config.replication.cluster_id}", rendered from`);
  out(`# ${config.source === '' ? 'the built-in defaults' : basename(config.source)} by \`cairn nginx-config\`. Regenerate instead of editing:`);
  out(`#   node bin/cairn.mjs nginx-config --config <cluster.yaml> --out <nginx.conf>`);
  out('#');
  out('# Requests carry the workspace in X-Workspace-ID; hashing it keeps a workspace on one node');
  out('# (cache locality, reads of its own writes). Any node can serve any request: followers');
  out('# forward writes to the leader. Affinity rules pin a workspace to its preferred nodes.');
  out();
  out(`worker_processes ${opts.workerProcesses ?? (opts.prefix === undefined ? 'auto' : 1)};`);
  if (opts.prefix !== undefined) {
    out(`pid ${join(opts.prefix, 'nginx.pid')};`);
    out(`error_log ${join(opts.prefix, 'error.log')} warn;`);
  } else {
    out('error_log /dev/stderr warn;');
  }
  out();
  out('events {');
  out('    worker_connections 1024;');
  out('}');
  out();
  out('http {');
  if (opts.prefix !== undefined) {
    for (const kind of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) {
      out(`    ${kind}_temp_path ${join(opts.prefix, 'temp', kind)};`);
    }
  }
  out("    log_format cairn '$remote_addr [$time_local] \"$request\" $status $body_bytes_sent '");
  out("                     'ws=\"$http_x_workspace_id\" upstream=$upstream_addr rt=$request_time '");
  out("                     'urt=$upstream_response_time rid=$request_id';");
  out(`    access_log ${opts.prefix !== undefined ? join(opts.prefix, 'access.log') : '/dev/stdout'} cairn;`);
  out('    server_tokens off;');
  out('    tcp_nodelay on;');
  out('    keepalive_timeout 65s;');
  out();
  out(`    # server.body_bytes_max: nginx refuses larger bodies with 413 before they reach a node.`);
  out(`    client_max_body_size ${config.server.body_bytes_max};`);
  out('    client_body_buffer_size 1m;');
  out();
  out(`    # Default: ${balance === 'least_conn;' ? `least connections (load_balancing.strategy ${lb.strategy})` : 'consistent hash of the workspace id'}.`);
  out(`    upstream ${NGINX_UPSTREAM} {`);
  out(`        ${balance}`);
  for (let i = 0; i < nodes.length; i++) out(server(i));
  out(`        keepalive ${UPSTREAM_KEEPALIVE};`);
  out('    }');

  out();
  out('    # Replication and operator routes (sync-status, resync_stats, force-resync) are the');
  out("    # leader's: send them there, to a follower only while the leader is down.");
  out(`    upstream ${NGINX_LEADER_UPSTREAM} {`);
  const leaderIndex = nodes.findIndex((n) => n.id === config.replication.leader);
  out(server(leaderIndex));
  for (let i = 0; i < nodes.length; i++) if (i !== leaderIndex) out(server(i, ' backup'));
  out(`        keepalive ${Math.max(4, Math.floor(UPSTREAM_KEEPALIVE / 4))};`);
  out('    }');

  const pinned = renderAffinity(config, server, balance);
  for (const line of pinned.upstreams) out(line);
  out();
  out('    # The upstream for each request: a pinned workspace goes to its own upstream.');
  out('    # Keys are case-sensitive regexes (plain map strings would ignore case).');
  out('    map $http_x_workspace_id $cairn_pinned {');
  out(`        default ${NGINX_UPSTREAM};`);
  for (const line of pinned.map) out(line);
  out('    }');
  out();
  out('    server {');
  out(`        listen ${opts.listenHost === undefined ? '' : `${opts.listenHost}:`}${opts.listenPort ?? 80};`);
  out('        server_name _;');
  out();
  out('        proxy_http_version 1.1;');
  out('        proxy_set_header Connection "";');
  out('        proxy_set_header Host $host;');
  out('        proxy_set_header X-Real-IP $remote_addr;');
  out('        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;');
  out('        proxy_set_header X-Forwarded-Proto $scheme;');
  out('        proxy_set_header X-Workspace-ID $http_x_workspace_id;');
  out('        proxy_set_header X-Request-ID $request_id;');
  out(`        proxy_connect_timeout ${CONNECT_TIMEOUT_S}s;`);
  out(`        proxy_send_timeout ${SEND_TIMEOUT_S}s;`);
  out(`        proxy_read_timeout ${readTimeoutS}s;`);
  out('        proxy_request_buffering on;');
  out('        proxy_buffering on;');
  out('        # Retry on another node only when that is safe: see the comment in');
  out('        # packages/server/src/deploy/nginx.ts. No non_idempotent: a sent POST is not replayed.');
  out('        proxy_next_upstream error timeout http_502 http_503;');
  out(`        proxy_next_upstream_tries ${nodes.length};`);
  out(`        proxy_next_upstream_timeout ${RETRY_WINDOW_S}s;`);
  out('        add_header X-Cairn-Upstream $upstream_addr always;');
  out();
  out("        # nginx's own errors in the API's JSON shape. A node's own 5xx passes through untouched");
  out('        # (proxy_intercept_errors stays off); these answer what nginx decides itself.');
  for (const e of nginxErrors(config)) out(`        error_page ${e.status} @cairn_${e.status};`);
  for (const e of nginxErrors(config)) {
    out(`        location @cairn_${e.status} {`);
    out('            default_type application/json;');
    out(`            return ${e.status} '${JSON.stringify({ error: { code: e.code, message: e.message, ...(e.field === undefined ? {} : { field: e.field }) } })}\\n';`);
    out('        }');
  }
  out();
  out('        # nginx itself, for the load balancer health check.');
  out('        location = /_lb/health {');
  out('            access_log off;');
  out('            default_type text/plain;');
  out('            return 200 "ok\\n";');
  out('        }');
  out();
  out('        # Node health (with X-Workspace-ID: the node serving that workspace).');
  out('        location = /health {');
  out('            proxy_pass http://$cairn_pinned;');
  out('        }');
  out();
  out('        # Replication status and operations for dashboards and operators: the leader.');
  out('        location /_raft/ {');
  out(`            proxy_pass http://${NGINX_LEADER_UPSTREAM};`);
  out('        }');
  out();
  out('        location / {');
  out('            proxy_pass http://$cairn_pinned;');
  out('        }');
  out('    }');
  out('}');
  return lines.join('\n') + '\n';
}

/** The errors nginx answers itself, in the JSON shape `{error: {code, message, field?}}`. */
export function nginxErrors(config: CairnConfig): Array<{ status: number; code: string; message: string; field?: string }> {
  return [
    { status: 413, code: 'body_too_large', message: `request body is larger than body_bytes_max (${config.server.body_bytes_max} bytes)`, field: 'body' },
    { status: 502, code: 'no_upstream', message: 'the load balancer reached no live Cairn node; retry shortly' },
    { status: 503, code: 'no_upstream', message: 'no Cairn node is available behind the load balancer; retry shortly' },
    { status: 504, code: 'upstream_timeout', message: 'the Cairn node did not answer the load balancer in time' },
  ];
}

/**
 * An upstream per affinity rule with preferred or avoided nodes. With preferred nodes, the first
 * one is the only primary and the rest (the other preferred nodes, then the others not avoided)
 * are `backup`: nginx forbids `backup` together with `hash`, and round robin over several
 * primaries would move the workspace between nodes on every request. With only avoided nodes,
 * the workspace is hashed over the nodes that remain. Avoided nodes are never listed.
 */
function renderAffinity(
  config: CairnConfig,
  server: (i: number, extra?: string) => string,
  balance: string,
): { upstreams: string[]; map: string[] } {
  const nodes = config.replication.nodes;
  const index = (id: string): number => nodes.findIndex((n) => n.id === id);
  const upstreams: string[] = [];
  const map: string[] = [];
  let count = 0;
  for (const [workspace, rule] of Object.entries(config.cluster.affinity.rules)) {
    if (!config.cluster.affinity.workspace_routing) break;
    const allowed = nodes.filter((n) => !rule.avoid_nodes.includes(n.id));
    const preferred = rule.preferred_nodes.filter((id) => index(id) >= 0 && !rule.avoid_nodes.includes(id));
    if (preferred.length === 0 && allowed.length === nodes.length) continue;
    count++;
    const name = `cairn_pin_${count}_${workspace.replace(/[^A-Za-z0-9]/g, '_')}`;
    upstreams.push('');
    const why = [
      preferred.length > 0 ? `prefers ${preferred.join(', ')}` : '',
      rule.avoid_nodes.length > 0 ? `avoids ${rule.avoid_nodes.join(', ')}` : '',
    ].filter((s) => s !== '');
    upstreams.push(`    # Workspace "${workspace}" ${why.join('; ')}.`);
    upstreams.push(`    upstream ${name} {`);
    if (preferred.length > 0) {
      const primary = preferred[0] as string;
      upstreams.push(server(index(primary)));
      const rest = [...preferred.slice(1), ...allowed.map((n) => n.id).filter((id) => !preferred.includes(id))];
      for (const id of rest) upstreams.push(server(index(id), ' backup'));
    } else {
      upstreams.push(`        ${balance}`);
      for (const node of allowed) upstreams.push(server(index(node.id)));
    }
    upstreams.push(`        keepalive ${Math.max(4, Math.floor(UPSTREAM_KEEPALIVE / 4))};`);
    upstreams.push('    }');
    map.push(`        "~^${workspace.replace(/[.]/g, '\\.')}$" ${name};`);
  }
  return { upstreams, map };
}
