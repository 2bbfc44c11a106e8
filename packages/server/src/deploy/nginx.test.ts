import { describe, expect, it } from 'vitest';
import { validateConfig } from '../config/validate.ts';
import type { CairnConfig } from '../config/types.ts';
import { renderNginxConf } from './nginx.ts';

function config(raw: Record<string, unknown> = {}): CairnConfig {
  const result = validateConfig(raw, { anyNode: true });
  if (result.config === undefined) throw new Error(result.errors.join('\n'));
  return result.config;
}

function block(conf: string, name: string): string {
  return new RegExp(`upstream ${name} \\{([^}]*)\\}`).exec(conf)?.[1] ?? '';
}

const rules = (r: Record<string, unknown>): Record<string, unknown> => ({ cluster: { affinity: { rules: r } } });

describe('renderNginxConf', () => {
  it('hashes the workspace over every node with weights 3/2/1, keepalive and passive health', () => {
    const conf = renderNginxConf(config());
    for (const name of ['cairn_cluster', 'cairn_cluster_read']) {
      const upstream = block(conf, name);
      expect(upstream).toContain('hash $http_x_workspace_id consistent;');
      expect(upstream).toContain('server 127.0.0.1:8080 weight=3 max_fails=1 fail_timeout=0s;');
      expect(upstream).toContain('server 127.0.0.1:8081 weight=2 max_fails=1 fail_timeout=0s;');
      expect(upstream).toContain('server 127.0.0.1:8082 weight=1 max_fails=1 fail_timeout=0s;');
      expect(upstream).toMatch(/keepalive \d+;/);
      // Below the nodes' keepAliveTimeout of 65 s: nginx closes an idle connection first.
      expect(upstream).toContain('keepalive_timeout 60s;');
    }
    expect(conf).toContain('proxy_set_header Connection "";');
    expect(conf).toContain('proxy_http_version 1.1;');
  });

  it('takes a node back within a second whatever health_check_interval says', () => {
    for (const interval of [1, 30, 3_600]) {
      const conf = renderNginxConf(config({ cluster: { load_balancing: { health_check_interval: interval } } }));
      expect(conf.match(/fail_timeout=\d+s/g)?.every((t) => t === 'fail_timeout=0s')).toBe(true);
    }
  });

  it('passes reads on after errors, timeouts, 502, 503 and 504, bounded, and never a sent write', () => {
    const conf = renderNginxConf(config());
    const server = conf.slice(conf.indexOf('    server {'));
    expect(server).toMatch(/^        proxy_next_upstream error timeout http_502 http_503 http_504;$/m);
    expect(conf).toContain('proxy_next_upstream_tries 3;');
    expect(conf).toMatch(/proxy_next_upstream_timeout \d+s;/);
    // non_idempotent only where every POST is a read.
    const readPosts = /location ~ \^\(\/workspace\/\[\^\/\]\+\)\?\/api\/v1\/\(search\|assemble\|context\/assemble\)\$ \{([^}]*)\}/.exec(conf)?.[1] ?? '';
    expect(readPosts).toContain('proxy_next_upstream error timeout http_502 http_503 http_504 non_idempotent;');
    expect(readPosts).toContain('proxy_pass http://$cairn_pinned_read;');
    expect(conf.match(/proxy_next_upstream [^;]*non_idempotent/g)).toHaveLength(1);
    // Methods nginx would replay once sent (DELETE, PUT, ...) are never passed on.
    expect(conf).toMatch(/map \$request_method \$cairn_send_once \{\s+GET 0;\s+HEAD 0;\s+POST 0;\s+default 1;\s+\}/);
    expect(conf).toMatch(/if \(\$cairn_send_once\) \{\s+rewrite \^ \/_cairn\/send-once last;\s+\}/);
    expect(conf).toMatch(/location = \/_cairn\/send-once \{\s+internal;\s+proxy_next_upstream off;\s+proxy_pass http:\/\/\$cairn_pinned\$request_uri;/);
    // Reads and writes of a workspace: the same ring, their own failure marks.
    expect(conf).toMatch(/map \$request_method \$cairn_upstream \{\s+GET \$cairn_pinned_read;\s+HEAD \$cairn_pinned_read;\s+default \$cairn_pinned;/);
    expect(block(conf, 'cairn_cluster').replace(/\s+/g, ' ')).toBe(block(conf, 'cairn_cluster_read').replace(/\s+/g, ' '));
  });

  it("passes a status route on only when its node does not answer (its 503 is the answer)", () => {
    const conf = renderNginxConf(config());
    expect(conf).toMatch(/location = \/health \{\s+proxy_next_upstream error timeout;\s+proxy_pass http:\/\/\$cairn_pinned_read;/);
    expect(conf).toMatch(/location \/_raft\/ \{\s+proxy_next_upstream error timeout;\s+proxy_pass http:\/\/cairn_leader;/);
  });

  it('sizes the body limit and read timeout from the config', () => {
    const conf = renderNginxConf(config({ server: { body_bytes_max: 1_048_576, read_wait_ms_max: 2_000 }, replication: { commit_timeout_ms: 3_000 } }));
    expect(conf).toContain('client_max_body_size 1048576;');
    // 3 s commit + 2 s read wait + 10 s embedding timeout + 10 s slack.
    expect(conf).toContain('proxy_read_timeout 25s;');
  });

  it('pins a workspace to its first preferred node with the other allowed nodes as backups', () => {
    const conf = renderNginxConf(config(rules({ 'mission-architect': { preferred_nodes: ['node-2', 'node-1'], avoid_nodes: ['node-3'] } })));
    for (const name of ['cairn_pin_1_mission_architect', 'cairn_pin_1_mission_architect_read']) {
      const upstream = block(conf, name);
      expect(upstream).not.toContain('hash');
      expect(upstream).toMatch(/server 127\.0\.0\.1:8081 weight=2 max_fails=1 fail_timeout=0s;\s+# node-2\n\s+server 127\.0\.0\.1:8080 [^;]* backup;/);
      expect(upstream).not.toContain('127.0.0.1:8082');
    }
    expect(conf).toContain('"~^mission-architect$" cairn_pin_1_mission_architect;');
    expect(conf).toContain('"~^mission-architect$" cairn_pin_1_mission_architect_read;');
  });

  it('hashes a workspace that only avoids nodes over the remaining ones', () => {
    const conf = renderNginxConf(config(rules({ archive: { avoid_nodes: ['contextlite-node-1'] } })));
    const upstream = block(conf, 'cairn_pin_1_archive');
    expect(upstream).toContain('hash $http_x_workspace_id consistent;');
    expect(upstream).not.toContain('127.0.0.1:8080');
    expect(upstream).toContain('127.0.0.1:8081');
    expect(upstream).toContain('127.0.0.1:8082');
  });

  it('renders no pinned upstream for rules without nodes, or when workspace_routing is off', () => {
    expect(renderNginxConf(config(rules({ ws: { resource_tier: 'high' } })))).not.toContain('cairn_pin_');
    const off = config({ cluster: { affinity: { workspace_routing: false, rules: { ws: { preferred_nodes: ['node-1'] } } } } });
    expect(renderNginxConf(off)).not.toContain('cairn_pin_');
  });

  it('escapes dots in workspace names and matches case-sensitively', () => {
    const conf = renderNginxConf(config(rules({ 'team.docs': { preferred_nodes: ['node-3'] } })));
    expect(conf).toContain('"~^team\\.docs$" cairn_pin_1_team_docs;');
  });

  it('uses least_conn for the other strategies and max_fails=0 without the circuit breaker', () => {
    const conf = renderNginxConf(config({ cluster: { load_balancing: { strategy: 'least_connections', enable_circuit_breaker: false } } }));
    expect(block(conf, 'cairn_cluster')).toContain('least_conn;');
    expect(conf).not.toContain('hash $http_x_workspace_id');
    expect(conf).toContain('weight=3 max_fails=0;');
  });

  it('sends /_raft/* to the leader with followers as backups', () => {
    const conf = renderNginxConf(config({ replication: { leader: 'node-2' } }));
    expect(block(conf, 'cairn_leader')).toMatch(/server 127\.0\.0\.1:8081 [^;]*;\s+# node-2 \(leader\)/);
    expect(block(conf, 'cairn_leader').match(/backup;/g)).toHaveLength(2);
  });

  it('keeps every path under the prefix when running unprivileged', () => {
    const conf = renderNginxConf(config(), { prefix: '/tmp/x', listenPort: 8123, listenHost: '127.0.0.1' });
    expect(conf).toContain('pid /tmp/x/nginx.pid;');
    expect(conf).toContain('error_log /tmp/x/error.log warn;');
    expect(conf).toContain('proxy_temp_path /tmp/x/temp/proxy;');
    expect(conf).toContain('access_log /tmp/x/access.log cairn;');
    expect(conf).toContain('listen 127.0.0.1:8123;');
    expect(conf).not.toContain('/dev/std');
  });

  it('takes other upstream addresses and weights, and refuses bad weights', () => {
    const conf = renderNginxConf(config(), { upstreamAddresses: { 'node-2': '10.0.0.2:9000' }, weights: [1, 1, 1] });
    expect(block(conf, 'cairn_cluster')).toContain('server 10.0.0.2:9000 weight=1');
    expect(() => renderNginxConf(config(), { weights: [1, 0, 1] })).toThrow(/weights/);
  });
});

describe("nginx's own errors", () => {
  it('answers 413, 502, 503 and 504 itself in the JSON error shape', () => {
    const conf = renderNginxConf(config({ server: { body_bytes_max: 1_048_576 } }));
    for (const status of [413, 502, 503, 504]) expect(conf).toContain(`error_page ${status} @cairn_${status};`);
    const at413 = conf.slice(conf.indexOf('location @cairn_413 {'));
    expect(at413).toMatch(/^location @cairn_413 \{\s+default_type application\/json;\s+return 413 '\{"error":\{"code":"body_too_large","message":"[^']*1048576 bytes\)","field":"body"\}\}\\n';/);
    expect(conf).toContain('"code":"no_upstream"');
    expect(conf).toContain('"code":"upstream_timeout"');
    expect(conf).not.toContain('proxy_intercept_errors on');
  });
});
