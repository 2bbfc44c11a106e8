// The deployment files agree with each other: docker-compose.cluster.yml, nginx/nginx.conf,
// configs/cluster.docker.yaml, the Dockerfile and .env.example. No Docker engine runs here, so
// the compose file is checked with `docker-compose config` and by reading it.

import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../packages/server/src/config/load.ts';
import { addressHost, addressPort } from '../packages/server/src/config/nodes.ts';
import { renderNginxConf } from '../packages/server/src/deploy/nginx.ts';
import { requireNginx } from './helpers/nginx.ts';
import { nodeEnv, REPO_ROOT } from './helpers/cluster.ts';

const read = (name: string): string => readFileSync(join(REPO_ROOT, name), 'utf8');
const DOCKER_CONFIG = 'configs/cluster.docker.yaml';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  env_file?: string | string[];
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  restart?: string;
  depends_on?: string[];
  hostname?: string;
}

const compose = parse(read('docker-compose.cluster.yml'), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};
const config = loadConfig({ file: join(REPO_ROOT, DOCKER_CONFIG), env: {}, anyNode: true });
const shippedNginx = read('nginx/nginx.conf');

function upstreamServers(conf: string, upstream: string): string[] {
  const block = new RegExp(`upstream ${upstream} \\{([^}]*)\\}`).exec(conf)?.[1] ?? '';
  return [...block.matchAll(/^\s*server\s+(\S+)/gm)].map((m) => m[1] as string);
}

describe('nginx/nginx.conf', () => {
  it('is exactly what `cairn nginx-config` renders for configs/cluster.docker.yaml', () => {
    expect(shippedNginx).toBe(renderNginxConf(config));
  });

  it('is what the command prints: `cairn nginx-config --config configs/cluster.docker.yaml`', () => {
    const result = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/cairn.mjs'), 'nginx-config', '--config', DOCKER_CONFIG], {
      cwd: REPO_ROOT,
      env: nodeEnv(),
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(shippedNginx);
  });

  it('hashes X-Workspace-ID consistently over the three nodes with weights 3/2/1', () => {
    expect(shippedNginx).toContain('hash $http_x_workspace_id consistent;');
    expect(upstreamServers(shippedNginx, 'cairn_cluster')).toEqual(config.replication.nodes.map((n) => n.address));
    expect([...shippedNginx.matchAll(/server node-\d:8080 weight=(\d)/g)].slice(0, 3).map((m) => m[1])).toEqual(['3', '2', '1']);
  });

  it('sends /_raft/* to the leader, with the followers as backups', () => {
    expect(upstreamServers(shippedNginx, 'cairn_leader')).toEqual(['node-1:8080', 'node-2:8080', 'node-3:8080']);
    expect(shippedNginx).toMatch(/server node-2:8080 [^;]*backup;\s+# node-2\n[^\n]*server node-3:8080 [^;]*backup;/);
    expect(shippedNginx).toMatch(/location \/_raft\/ \{\s+proxy_next_upstream error timeout;\s+proxy_pass http:\/\/cairn_leader;/);
  });

  it('is accepted by nginx -t (service names mapped to loopback)', () => {
    const nginx = requireNginx();
    const dir = mkdtempSync(join(tmpdir(), 'cairn-nginx-t-'));
    try {
      let conf = shippedNginx.replaceAll('/dev/stderr', join(dir, 'error.log')).replaceAll('/dev/stdout', join(dir, 'access.log'));
      for (const [i, node] of config.replication.nodes.entries()) conf = conf.replaceAll(node.address, `127.0.0.1:${18080 + i}`);
      writeFileSync(join(dir, 'nginx.conf'), conf);
      const result = spawnSync(nginx, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { encoding: 'utf8' });
      expect(result.stderr).toContain('test is successful');
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docker-compose.cluster.yml', () => {
  const nodeServices = Object.keys(compose.services).filter((name) => name !== 'nginx' && !('profiles' in (compose.services[name] ?? {})));

  it('has one service per configured node, named and reachable as the config addresses them', () => {
    expect(nodeServices).toEqual(config.replication.nodes.map((n) => n.id));
    for (const node of config.replication.nodes) {
      const service = compose.services[node.id] as ComposeService;
      expect(addressHost(node.address)).toBe(node.id);
      expect(service.hostname).toBe(node.id);
      expect(service.environment?.['CAIRN_NODE_ID']).toBe(node.id);
      expect(service.command).toEqual(['--config', DOCKER_CONFIG, '--port', String(addressPort(node.address))]);
    }
  });

  it('publishes the guide ports 8080-8082, each node listening on its address port inside', () => {
    for (const [i, node] of config.replication.nodes.entries()) {
      const service = compose.services[node.id] as ComposeService;
      expect(service.ports).toEqual([`${8080 + i}:${addressPort(node.address)}`]);
      expect(config.server.port).toBe(addressPort(node.address));
    }
  });

  it('gives every node its own named volume at the data directory', () => {
    const mounts = nodeServices.map((name) => (compose.services[name]?.volumes ?? []).find((v) => v.endsWith(':/app/data')));
    expect(mounts).toEqual(nodeServices.map((name) => `${name}-data:/app/data`));
    expect(Object.keys(compose.volumes).sort()).toEqual(nodeServices.map((name) => `${name}-data`).sort());
    expect(config.server.data_dir.startsWith('/app/data/')).toBe(true);
  });

  it('reads secrets from the env file, checks /_raft/health, restarts, builds the image', () => {
    const example = read('.env.example');
    expect(example).toMatch(/^CAIRN_CLUSTER_SECRET=/m);
    expect(example).toMatch(/^CAIRN_OPERATOR_TOKEN=/m);
    for (const name of nodeServices) {
      const service = compose.services[name] as ComposeService;
      expect(service.env_file).toBe('.env');
      expect(service.healthcheck?.test.join(' ')).toContain('/_raft/health');
      expect(service.restart).toBe('unless-stopped');
      expect(service.build).toMatchObject({ context: '.', dockerfile: 'Dockerfile' });
    }
  });

  it('puts nginx on 8000 with nginx/nginx.conf, after the nodes, listening where the file says', () => {
    const nginx = compose.services['nginx'] as ComposeService;
    expect(nginx.ports).toEqual(['8000:80']);
    expect(nginx.volumes).toContain('./nginx/nginx.conf:/etc/nginx/nginx.conf:ro');
    expect(nginx.depends_on).toEqual(nodeServices);
    expect(nginx.restart).toBe('unless-stopped');
    expect(shippedNginx).toMatch(/^\s*listen 80;$/m);
  });

  it('passes `docker-compose config`', () => {
    const binary = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
    if (binary.error !== undefined) throw new Error('docker-compose is not installed: apt-get install -y docker-compose (.ci/run installs it)');
    // A copy of the project with .env made from .env.example, as a user does.
    const dir = mkdtempSync(join(tmpdir(), 'cairn-compose-'));
    try {
      for (const name of ['docker-compose.cluster.yml', 'Dockerfile']) copyFileSync(join(REPO_ROOT, name), join(dir, name));
      copyFileSync(join(REPO_ROOT, '.env.example'), join(dir, '.env'));
      mkdirSync(join(dir, 'nginx'));
      copyFileSync(join(REPO_ROOT, 'nginx/nginx.conf'), join(dir, 'nginx/nginx.conf'));
      const result = spawnSync('docker-compose', ['-f', join(dir, 'docker-compose.cluster.yml'), 'config'], { encoding: 'utf8' });
      expect(result.stderr).not.toMatch(/error/i);
      expect(result.status).toBe(0);
      expect(result.stdout).toContain('CAIRN_CLUSTER_SECRET');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  it('builds in two stages, compiling better-sqlite3 with python3/make/g++ in the first', () => {
    expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/apt-get install[^\n]*python3 make g\+\+/);
    expect(dockerfile).toContain('npm_config_build_from_source=true');
    expect(dockerfile).toMatch(/COPY --from=build/);
  });

  it('runs as the non-root user cairn on 8080 with a /_raft/health check', () => {
    expect(dockerfile).toMatch(/^USER cairn$/m);
    expect(dockerfile).toMatch(/^EXPOSE 8080$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK [\s\S]*\/_raft\/health/m);
    expect(dockerfile).toContain('ENTRYPOINT ["node", "bin/cairn.mjs", "serve"]');
    expect(dockerfile).toContain('CAIRN_CONTAINER=1');
  });

  it('keeps the sources it runs and not the local state', () => {
    const ignore = read('.dockerignore').split('\n');
    for (const entry of ['**/node_modules', 'data', '.git', '.env']) expect(ignore).toContain(entry);
    for (const path of ['bin', 'packages', 'configs']) expect(dockerfile).toContain(`COPY ${path} ./${path}`);
  });
});
