// A node as an operator runs it: `cairn serve --validate` on the shipped configs and the guide's
// example, bad values named with their key and source, JSON logs, and SIGTERM answering the
// request in flight before the process exits 0.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CAIRN_BIN, nodeEnv, REPO_ROOT, startNode } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { pidAlive, waitFor } from './helpers/wait.ts';

const GUIDE_EXAMPLE = join(REPO_ROOT, 'packages/server/src/config/testdata/guide-cluster.yaml');

function serve(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [CAIRN_BIN, 'serve', ...args], { cwd: REPO_ROOT, env: nodeEnv(env), encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('cairn serve --validate', () => {
  it('accepts the clustering guide example as written, with its command line', () => {
    const result = serve(['--config', GUIDE_EXAMPLE, '--port', '8080', '--validate']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('valid; node node-1 of 3, leader node-1');
  });

  it('accepts the shipped configs (every node is covered by the unit tests)', () => {
    expect(serve(['--config', 'configs/cluster.yaml', '--port', '8081', '--node-id', 'node-2', '--validate']).status).toBe(0);
    // As the compose file starts a node.
    const docker = serve(['--config', 'configs/cluster.docker.yaml', '--port', '8080', '--validate'], { CAIRN_NODE_ID: 'node-3', CAIRN_CONTAINER: '1' });
    expect(docker.stdout).toContain('node node-3 of 3');
    expect(docker.status).toBe(0);
  });

  it('exits 2 naming the key, what was expected, and where the value came from', () => {
    const result = serve(['--config', 'configs/cluster.yaml', '--node-id', 'node-2', '--validate', '--server.body_bytes_max', 'lots'], {
      CAIRN_REPLICATION_BATCH_SIZE: 'abc',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('replication.batch_size: expected an integer from 1 to 10000, got "abc" (from env CAIRN_REPLICATION_BATCH_SIZE)');
    expect(result.stderr).toContain('server.body_bytes_max: expected an integer from 1024 to 1073741824, got "lots" (from flag --server.body_bytes_max)');
  });

  it('exits 2 for a missing file', () => {
    const result = serve(['--config', 'configs/does-not-exist.yaml', '--validate']);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('configs/does-not-exist.yaml: cannot read the config file (ENOENT)');
  });
});

describe('a running node', () => {
  let cluster: TestCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });

  it('logs JSON lines and, on SIGTERM, answers the request in flight and exits 0', async () => {
    cluster = await startNode({ configOverrides: { server: { read_wait_ms_max: 1_500 } } });
    const node = cluster.nodes[0];
    if (node === undefined) throw new Error('no node');
    // A read waiting for an index that will not come is in flight while the node stops.
    const inFlight = fetch(`${node.url}/api/v1/documents/x?min_index=1000000`, { headers: { 'X-Workspace-ID': 'lifecycle' } }).then(
      async (response) => ({ status: response.status, body: await response.text() }),
      (error: unknown) => ({ status: 0, body: String(error) }),
    );
    await waitFor(
      async () => {
        const response = await fetch(`${node.url}/health`, { headers: { 'X-Workspace-ID': 'lifecycle' } });
        const health = (await response.json()) as { workspaces?: { workspaces?: Record<string, { active_requests?: number }> } };
        return (health.workspaces?.workspaces?.['lifecycle']?.active_requests ?? 0) >= 1;
      },
      { what: 'the waiting read to be in flight' },
    );
    node.process.signal('SIGTERM');
    const answer = await inFlight;
    expect(answer.status, answer.body).toBeGreaterThan(0);
    await node.process.waitExit(15_000);
    expect(node.process.exitCode).toBe(0);
    expect(pidAlive(node.pid)).toBe(false);

    const logPath = node.process.spec.logPath;
    expect(existsSync(logPath)).toBe(true);
    const json = readFileSync(logPath, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { level: number; time: number; msg: string });
    expect(json.length).toBeGreaterThan(0);
    for (const entry of json) {
      expect(typeof entry.level).toBe('number');
      expect(typeof entry.time).toBe('number');
    }
  });
});
