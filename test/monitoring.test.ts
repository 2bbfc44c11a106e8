// deploy/monitoring: the Prometheus rules pass `promtool check rules` and their unit tests
// (alerts.test.yml: each alert fires on series shaped as a node exports them, and not on a healthy
// cluster), prometheus.yml passes `promtool check config`, every cairn_* metric the rules and the
// Grafana dashboard name is one a real node exports (with the label values they select), and the
// compose profile "monitoring" passes `docker-compose config` with the files it mounts in the repo.
// promtool is Debian's `prometheus` package (.ci/run installs it); without it those checks are
// skipped with the reason printed.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT, startNode } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';

const MONITORING = join(REPO_ROOT, 'deploy', 'monitoring');
const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
const havePromtool = promtool.error === undefined && promtool.status === 0;
if (!havePromtool) process.stdout.write('monitoring.test.ts: promtool not found (apt-get install -y prometheus): skipping the promtool checks\n');
const compose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
const haveCompose = compose.error === undefined && compose.status === 0;
if (!haveCompose) process.stdout.write('monitoring.test.ts: docker-compose not found (apt-get install -y docker-compose): skipping the compose check\n');

function run(cmd: string, args: string[], cwd = MONITORING): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface Rule {
  alert: string;
  expr: string;
}
const rules = (parse(readFileSync(join(MONITORING, 'alerts.yml'), 'utf8')) as { groups: Array<{ rules: Rule[] }> }).groups.flatMap((g) => g.rules);
interface Panel {
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: Array<{ expr: string; datasource?: { uid: string } }>;
}
const dashboard = JSON.parse(readFileSync(join(MONITORING, 'grafana', 'dashboards', 'cairn.json'), 'utf8')) as { uid: string; panels: Panel[] };

/** The cairn_* metric names an expression reads, without the histogram suffixes. */
function metricsOf(expr: string): string[] {
  return [...expr.matchAll(/\bcairn_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ''));
}

describe('alert rules', () => {
  it.skipIf(!havePromtool)('pass promtool check rules', () => {
    const r = run('promtool', ['check', 'rules', 'alerts.yml']);
    expect(r.out).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status, r.out).toBe(0);
  });

  it.skipIf(!havePromtool)('fire as their unit tests expect (promtool test rules)', () => {
    const r = run('promtool', ['test', 'rules', 'alerts.test.yml']);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('SUCCESS');
  });

  it.skipIf(!havePromtool)('prometheus.yml passes promtool check config, with the rules', () => {
    const r = run('promtool', ['check', 'config', 'prometheus.yml']);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('1 rule files found');
  });

  it('cover the alerts the operator guide names', () => {
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining(['CairnLeaderUnreachable', 'CairnFollowerLagging', 'CairnFollowerDesynced', 'CairnFsyncFailed', 'CairnDiskNearlyFull', 'CairnDiskFull', 'CairnWriteErrorRate']),
    );
  });
});

describe('the dashboard', () => {
  it('is Grafana JSON whose panels query the provisioned Prometheus', () => {
    const ds = parse(readFileSync(join(MONITORING, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8')) as { datasources: Array<{ uid: string; url: string }> };
    const uid = ds.datasources[0]?.uid;
    expect(dashboard.uid).toBe('cairn-cluster');
    const queried = dashboard.panels.filter((p) => p.type !== 'row');
    expect(queried.length).toBeGreaterThan(10);
    for (const p of queried) {
      expect(p.datasource?.uid, p.title).toBe(uid);
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.expr, p.title).not.toBe('');
    }
    const provider = parse(readFileSync(join(MONITORING, 'grafana', 'provisioning', 'dashboards', 'cairn.yml'), 'utf8')) as { providers: Array<{ options: { path: string } }> };
    expect(provider.providers[0]?.options.path).toBe('/var/lib/grafana/dashboards');
  });
});

describe('metric names', () => {
  let node: TestCluster;
  let exposition = '';
  beforeAll(async () => {
    node = await startNode({ startTimeoutMs: 90_000 });
    // One write and one refused write, so the HTTP series exist.
    await fetch(`${node.leader.url}/api/v1/documents`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-workspace-id': 'probe' }, body: JSON.stringify({ id: 'a', content: 'a document' }) });
    await fetch(`${node.leader.url}/api/v1/documents`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-workspace-id': 'probe' }, body: '{' });
    exposition = await (await fetch(`${node.leader.url}/metrics`)).text();
  }, 120_000);
  afterAll(async () => {
    await node?.stop();
  });

  it('every cairn_* metric the rules and the dashboard read is exported by a node', () => {
    const exported = new Set([...exposition.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string));
    const named = new Set([...rules.map((r) => r.expr), ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr))].flatMap(metricsOf));
    expect(named.size).toBeGreaterThan(15);
    const missing = [...named].filter((m) => !exported.has(m));
    expect(missing).toEqual([]);
  });

  it('with the labels and label values the rules select', () => {
    for (const code of ['fsync_failed', 'disk_full']) expect(exposition).toMatch(new RegExp(`^cairn_node_condition\\{code="${code}",node="node-1"\\} 0$`, 'm'));
    expect(exposition).toMatch(/^cairn_raft_is_leader\{node="node-1"\} 1$/m);
    expect(exposition).toMatch(/^cairn_http_requests_total\{method="POST",route="\/api\/v1\/documents",status="201",node="node-1"\} 1$/m);
    // The write route the error-rate rule selects by matches the routes a node reports.
    const writeRoute = /route=~"([^"]+)"/.exec(rules.find((r) => r.alert === 'CairnWriteErrorRate')?.expr ?? '')?.[1] ?? '';
    for (const route of ['/api/v1/documents', '/api/v1/documents/bulk', '/api/v1/documents/:id', '/workspace/:id/api/v1/documents']) expect(route).toMatch(new RegExp(`^(?:${writeRoute})$`));
    expect('/api/v1/search').not.toMatch(new RegExp(`^(?:${writeRoute})$`));
    // Follower states the rules select are the ones the gauge takes.
    const states = readFileSync(join(REPO_ROOT, 'packages/server/src/metrics/replication-metrics.ts'), 'utf8');
    for (const state of ['lagging', 'desynced']) expect(states).toContain(`'${state}'`);
  });
});

describe('the compose profile "monitoring"', () => {
  it.skipIf(!haveCompose)('passes docker-compose config and mounts files that are in the repo', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cairn-compose-monitoring-'));
    try {
      for (const name of ['docker-compose.cluster.yml', 'Dockerfile']) copyFileSync(join(REPO_ROOT, name), join(dir, name));
      copyFileSync(join(REPO_ROOT, '.env.example'), join(dir, '.env'));
      mkdirSync(join(dir, 'nginx'));
      copyFileSync(join(REPO_ROOT, 'nginx/nginx.conf'), join(dir, 'nginx/nginx.conf'));
      cpSync(join(REPO_ROOT, 'deploy'), join(dir, 'deploy'), { recursive: true });
      const r = run('docker-compose', ['-f', 'docker-compose.cluster.yml', '--profile', 'monitoring', 'config'], dir);
      expect(r.status, r.out).toBe(0);
      const services = (parse(r.out) as { services: Record<string, { profiles?: string[]; volumes?: Array<string | { source: string }> }> }).services;
      for (const name of ['prometheus', 'grafana', 'node-exporter']) expect(services[name]?.profiles, name).toEqual(['monitoring']);
      for (const name of ['node-1', 'node-2', 'node-3', 'nginx']) expect(services[name]?.profiles, name).toBeUndefined();
      for (const name of ['prometheus', 'grafana']) {
        for (const v of services[name]?.volumes ?? []) {
          const source = typeof v === 'string' ? v.split(':')[0] as string : v.source;
          expect(existsSync(source), `${name} mounts ${source}`).toBe(true);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
