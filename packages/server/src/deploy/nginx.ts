// nginx.conf for a Cairn cluster: one upstream that hashes X-Workspace-ID consistently over the
// nodes (the clustering guide's weights 3/2/1 by default), one small upstream per affinity rule,
// and a `map` choosing between them. nginx/nginx.conf is exactly what this renders for
// configs/cluster.docker.yaml (test/deploy.test.ts keeps them equal).
//
// Taking a node back. Open-source nginx has passive health checks only: a node is marked failed
// when a request to it fails, skipped while marked, and tried again by the next request after
// that. nginx keeps that time in whole seconds, and `max_fails=1 fail_timeout=0` skips a failed
// node for the rest of the second in which it failed: a restarted node gets requests again
// within a second of answering. The cost is one failed attempt per second and nginx worker on a
// node that is down, passed on to the next node: microseconds for a refused connection, up to
// proxy_connect_timeout (1 s) for a host that does not answer at all. The guide's
// `health_check_interval` (30 s) would keep a node that is back out of rotation for 30 s, so it no
// longer sets fail_timeout.
//
// Passing requests on. A request that fails on its node (refused, connect timeout, reset, or an
// answer 502/503/504) goes to the next node, at most `proxy_next_upstream_tries` (one per node)
// within `proxy_next_upstream_timeout`. With `hash ... consistent` the next node is the next one
// clockwise on the hash ring that has not been tried and is not marked failed, the same one for
// every request of the workspace, so a workspace moves as a whole and comes back as a whole.
//
// Never a write twice. A write that a node may have received is not sent to another: that node
// may still pass it to the leader after the copy, and after a newer write to the same id, and
// replace the newer document with the older one (a stalled node: SIGSTOP, a GC pause, a
// partition). nginx marks a request sent once it starts writing it to a connection, and never
// passes a sent POST on unless `non_idempotent` is given, which it is not for writes: document
// writes are POSTs, passed on only when they were not sent (connection refused, connect timeout),
// when no node has them. nginx would pass a sent DELETE (or PUT) on after a reset or a read
// timeout, and `proxy_request_buffering off` does not stop that for a request without a body,
// so those methods go to a location that never passes anything on ($cairn_send_once): a DELETE
// that reaches a node that is down answers 502 no_upstream and marks the node failed like any
// failed request, and the client's retry (harmless: a delete is by id) goes to the next node.
// A node's own 502/503/504 to a write passes through to the client untouched and does not mark
// the node failed.
//
// Reads are GET and HEAD, and the POSTs that only read: /api/v1/search, /api/v1/assemble,
// /api/v1/context/assemble (also under /workspace/<id>/). Those are passed on like GETs
// (`non_idempotent` in their location only); a copy of a read changes nothing (an assemble
// counts its tokens against the rate limit of each node it reaches, nothing else). Status
// routes (/health, /_raft/*) are passed on only when their node does not answer: a node's 503
// there is its answer.
//
// Reads and writes use separate upstreams (`<name>_read`) with the same servers, so the same ring
// and the same node for a workspace, but their own failure marks: a read failing on its node
// (the embedding service down answers searches 502, a min_index that no node reaches answers
// 504) marks that node failed for reads only and never turns writes away from it.

import { basename } from 'node:path';
import { join } from 'node:path';
import { proxyReadTimeoutS } from '../config/budgets.ts';
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
/** Suffix of the twin upstream that reads go to (same servers, its own failure marks). */
export const NGINX_READ_SUFFIX = '_read';
/** The internal location that requests nginx must send at most once are rewritten to. */
export const NGINX_SEND_ONCE_LOCATION = '/_cairn/send-once';
/** The POST routes that only read (with an optional /workspace/<id> prefix). */
export const NGINX_READ_POST_ROUTES = ['search', 'assemble', 'context/assemble'];
const UPSTREAM_KEEPALIVE = 32;
/** Below the nodes' keepAliveTimeout (65 s, node.ts): nginx, not the node, closes an idle connection. */
const UPSTREAM_KEEPALIVE_TIMEOUT_S = 60;
const CONNECT_TIMEOUT_S = 1;
const SEND_TIMEOUT_S = 30;
const RETRY_WINDOW_S = 10;
/** One failure marks a node failed ... */
const MAX_FAILS = 1;
/** ... for the rest of that second (nginx counts fail_timeout in whole seconds). */
const FAIL_TIMEOUT_S = 0;

export function renderNginxConf(config: CairnConfig, opts: NginxRenderOptions = {}): string {
  const nodes = config.replication.nodes;
  const addresses = nodes.map((n) => opts.upstreamAddresses?.[n.id] ?? n.address);
  const weights = opts.weights ?? nodes.map((_, i) => nodes.length - i);
  if (weights.length !== nodes.length || weights.some((w) => !Number.isInteger(w) || w < 1)) {
    throw new Error(`nginx weights: expected ${nodes.length} positive integers, got ${JSON.stringify(weights)}`);
  }
  const lb = config.cluster.load_balancing;
  const health = lb.enable_circuit_breaker ? `max_fails=${MAX_FAILS} fail_timeout=${FAIL_TIMEOUT_S}s` : 'max_fails=0';
  const server = (i: number, extra = ''): string => {
    const node = nodes[i] as NodeSpec;
    const role = node.id === config.replication.leader ? ' (leader)' : '';
    return `        server ${addresses[i]} weight=${weights[i]} ${health}${extra};  # ${node.id}${role}`;
  };
  const balance = lb.strategy === 'workspace_hash' ? 'hash $http_x_workspace_id consistent;' : 'least_conn;';
  const readTimeoutS = proxyReadTimeoutS(config);
  const keepalive = (connections: number): string[] => [
    `        keepalive ${connections};`,
    `        keepalive_timeout ${UPSTREAM_KEEPALIVE_TIMEOUT_S}s;`,
  ];

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
  out('# Why the health and retry settings are what they are: packages/server/src/deploy/nginx.ts.');
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
  out(`    # ${lb.enable_circuit_breaker ? `A node that fails is skipped for the rest of that second (max_fails=${MAX_FAILS} fail_timeout=${FAIL_TIMEOUT_S}s).` : 'enable_circuit_breaker is off: a node is never skipped (max_fails=0).'}`);
  out('    # Writes go to the first upstream, reads to its twin _read: same ring, own failure marks.');
  for (const suffix of ['', NGINX_READ_SUFFIX]) {
    out(`    upstream ${NGINX_UPSTREAM}${suffix} {`);
    out(`        ${balance}`);
    for (let i = 0; i < nodes.length; i++) out(server(i));
    for (const line of keepalive(UPSTREAM_KEEPALIVE)) out(line);
    out('    }');
  }

  out();
  out('    # Replication and operator routes (sync-status, resync_stats, force-resync) are the');
  out("    # leader's: send them there, to a follower only while the leader is down.");
  out(`    upstream ${NGINX_LEADER_UPSTREAM} {`);
  const leaderIndex = nodes.findIndex((n) => n.id === config.replication.leader);
  out(server(leaderIndex));
  for (let i = 0; i < nodes.length; i++) if (i !== leaderIndex) out(server(i, ' backup'));
  for (const line of keepalive(Math.max(4, Math.floor(UPSTREAM_KEEPALIVE / 4)))) out(line);
  out('    }');

  const pinned = renderAffinity(config, server, balance, keepalive(Math.max(4, Math.floor(UPSTREAM_KEEPALIVE / 4))));
  for (const line of pinned.upstreams) out(line);
  out();
  out('    # The upstream for each request: a pinned workspace goes to its own upstream.');
  out('    # Keys are case-sensitive regexes (plain map strings would ignore case).');
  for (const suffix of ['', NGINX_READ_SUFFIX]) {
    out(`    map $http_x_workspace_id $cairn_pinned${suffix} {`);
    out(`        default ${NGINX_UPSTREAM}${suffix};`);
    for (const [key, name] of pinned.map) out(`        ${key} ${name}${suffix};`);
    out('    }');
  }
  out();
  out('    # GET and HEAD read; the read-only POSTs have their own location below.');
  out('    map $request_method $cairn_upstream {');
  out('        GET $cairn_pinned_read;');
  out('        HEAD $cairn_pinned_read;');
  out('        default $cairn_pinned;');
  out('    }');
  out();
  out('    # Methods that nginx would pass on to another node after sending them (it never does so');
  out(`    # for a POST): sent from ${NGINX_SEND_ONCE_LOCATION}, which never passes a request on.`);
  out('    map $request_method $cairn_send_once {');
  out('        GET 0;');
  out('        HEAD 0;');
  out('        POST 0;');
  out('        default 1;');
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
  out('        # To the next node on failure; a sent POST never (no non_idempotent here): see');
  out('        # packages/server/src/deploy/nginx.ts.');
  out('        proxy_next_upstream error timeout http_502 http_503 http_504;');
  out(`        proxy_next_upstream_tries ${nodes.length};`);
  out(`        proxy_next_upstream_timeout ${RETRY_WINDOW_S}s;`);
  out('        add_header X-Cairn-Upstream $upstream_addr always;');
  out();
  out(`        if ($cairn_send_once) {`);
  out(`            rewrite ^ ${NGINX_SEND_ONCE_LOCATION} last;`);
  out('        }');
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
  out('        # Node health (with X-Workspace-ID: the node serving that workspace). Its 503 is its');
  out('        # answer: passed on only when the node does not answer.');
  out('        location = /health {');
  out('            proxy_next_upstream error timeout;');
  out('            proxy_pass http://$cairn_pinned_read;');
  out('        }');
  out();
  out('        # Replication status and operations for dashboards and operators: the leader, a');
  out('        # follower only when the leader does not answer.');
  out('        location /_raft/ {');
  out('            proxy_next_upstream error timeout;');
  out(`            proxy_pass http://${NGINX_LEADER_UPSTREAM};`);
  out('        }');
  out();
  out('        # POSTs that only read: passed on like a GET.');
  out(`        location ~ ^(/workspace/[^/]+)?/api/v1/(${NGINX_READ_POST_ROUTES.join('|')})$ {`);
  out('            proxy_next_upstream error timeout http_502 http_503 http_504 non_idempotent;');
  out('            proxy_pass http://$cairn_pinned_read;');
  out('        }');
  out();
  out('        # DELETE and the other methods in $cairn_send_once: to one node only, even when it was');
  out('        # not sent (nginx cannot tell for these). $request_uri: as the client sent it.');
  out(`        location = ${NGINX_SEND_ONCE_LOCATION} {`);
  out('            internal;');
  out('            proxy_next_upstream off;');
  out('            proxy_pass http://$cairn_pinned$request_uri;');
  out('        }');
  out();
  out('        # Reads (GET, HEAD) and writes (POST).');
  out('        location / {');
  out('            proxy_pass http://$cairn_upstream;');
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
 * An upstream per affinity rule with preferred or avoided nodes (and its twin for reads). With
 * preferred nodes, the first one is the only primary and the rest (the other preferred nodes,
 * then the others not avoided) are `backup`: nginx forbids `backup` together with `hash`, and
 * round robin over several primaries would move the workspace between nodes on every request.
 * With only avoided nodes, the workspace is hashed over the nodes that remain. Avoided nodes are
 * never listed. `map` holds [map key, upstream name without the read suffix].
 */
function renderAffinity(
  config: CairnConfig,
  server: (i: number, extra?: string) => string,
  balance: string,
  keepalive: string[],
): { upstreams: string[]; map: Array<[string, string]> } {
  const nodes = config.replication.nodes;
  const index = (id: string): number => nodes.findIndex((n) => n.id === id);
  const upstreams: string[] = [];
  const map: Array<[string, string]> = [];
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
    for (const suffix of ['', NGINX_READ_SUFFIX]) {
      upstreams.push(`    upstream ${name}${suffix} {`);
      if (preferred.length > 0) {
        const primary = preferred[0] as string;
        upstreams.push(server(index(primary)));
        const rest = [...preferred.slice(1), ...allowed.map((n) => n.id).filter((id) => !preferred.includes(id))];
        for (const id of rest) upstreams.push(server(index(id), ' backup'));
      } else {
        upstreams.push(`        ${balance}`);
        for (const node of allowed) upstreams.push(server(index(node.id)));
      }
      upstreams.push(...keepalive);
      upstreams.push('    }');
    }
    map.push([`"~^${workspace.replace(/[.]/g, '\\.')}$"`, name]);
  }
  return { upstreams, map };
}
