// `cairn status` and `cairn force-resync` against a real three-node cluster, run the way an
// operator runs them (`node bin/cairn.mjs ...` as a child process).
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../packages/server/src/cli/main.ts';
import { CAIRN_BIN, REPO_ROOT, nodeEnv, startCluster } from './helpers/cluster.ts';
import { startVerified } from '../packages/server/src/cluster/testing.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { freePort } from './helpers/ports.ts';
import { waitFor } from './helpers/wait.ts';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startVerified(() => startCluster({ nodes: 3, configOverrides: { replication: { silence_lagging_ms: 600, append_timeout_ms: 1000 } } }));
});
afterAll(async () => {
  await cluster.stop();
});

/** `cairn ...` as a child process: what an operator runs. */
function cairnProcess(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CAIRN_BIN, ...args], { cwd: REPO_ROOT, env: nodeEnv(), timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The same commands in this process (fast): the subcommand's run() with its output captured. */
async function cairn(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await main(args);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** The table's data rows as arrays of cells. */
function tableRows(out: string): string[][] {
  return out
    .split('\n')
    .filter((l) => /^\| node-/.test(l))
    .map((l) => l.split('|').slice(1, -1).map((c) => c.trim()));
}

describe('cairn status', () => {
  it('prints every node with role, state, applied index and lag, from any node', async () => {
    await fetch(`${cluster.leader.url}/api/v1/documents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-workspace-id': 'ws-cli' },
      body: JSON.stringify({ id: 'a', content: 'status tables for operators' }),
    });
    const r = await cairnProcess('status', '--url', cluster.node('node-2').url);
    process.stdout.write(r.stdout);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const header = r.stdout.split('\n')[1] ?? '';
    for (const h of ['ID', 'ADDRESS', 'ROLE', 'STATE', 'REACHABLE', 'APPLIED INDEX', 'LAG', 'RAFT TERM', 'RAFT INDEX', 'DB SIZE', 'ERRORS']) expect(header).toContain(h);
    expect(r.stdout.split('\n')[0]).toMatch(/^\+-+\+/);
    const rows = tableRows(r.stdout);
    expect(rows.map((c) => c[0])).toEqual(['node-1', 'node-2', 'node-3']);
    expect(rows[0]?.slice(1, 5)).toEqual([cluster.node('node-1').address, 'leader', 'leader', 'yes']);
    for (const row of rows.slice(1)) expect(row.slice(2, 5)).toEqual(['follower', 'healthy', 'yes']);
    const applied = rows.map((c) => Number(c[5]));
    expect(applied.every((a) => a >= 2)).toBe(true);
    // etcdctl's endpoint status columns: raft term, raft index (commit), db size.
    for (const row of rows) {
      expect(Number(row[7])).toBeGreaterThanOrEqual(1);
      expect(Number(row[8])).toBeGreaterThanOrEqual(2);
      expect(row[9]).toMatch(/^[\d.]+ (KiB|MiB)$/);
    }
    expect(r.stdout).toMatch(/3\/3 nodes reachable, leader node-1; seen from node-2/);
  });

  it('prints JSON with --json', async () => {
    const r = await cairn('status', '--url', cluster.leader.url, '--json');
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as { observed_by: string; nodes: Array<{ id: string; reachable: boolean }> };
    expect(body.observed_by).toBe('node-1');
    expect(body.nodes.map((n) => n.id)).toEqual(['node-1', 'node-2', 'node-3']);
  });

  it('exits 1 with a clear message when the url is unreachable', async () => {
    const port = await freePort();
    const r = await cairn('status', '--url', `127.0.0.1:${port}`, '--timeout-ms', '2000');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`cairn status: cannot reach http://127.0.0.1:${port}: ECONNREFUSED\n`);
  });
});

describe('cairn force-resync', () => {
  it('sends a snapshot to a follower through any node and exits 0', async () => {
    const r = await cairn('force-resync', '--url', cluster.node('node-3').url, '--target', 'node-2');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Snapshot resync to 127\.0\.0\.1:\d+ completed successfully/);
    const stats = (await (await fetch(`${cluster.leader.url}/_raft/resync_stats`)).json()) as { resync_stats: { snapshot_send_successes: number } };
    expect(stats.resync_stats.snapshot_send_successes).toBeGreaterThanOrEqual(1);
  });

  it('exits 1 naming the followers when the target is unknown', async () => {
    const r = await cairn('force-resync', '--url', cluster.leader.url, '--target', 'node-9');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no follower "node-9"; followers: node-2 .*node-3/);
  });

  it('shows a dead follower as unreachable in cairn status', async () => {
    await cluster.node('node-3').kill9();
    const rows = await waitFor(
      async () => {
        const r = await cairn('status', '--url', cluster.leader.url);
        const parsed = tableRows(r.stdout);
        return r.code === 1 && parsed[2]?.[4] === 'no' && /^(lagging|desynced)$/.test(parsed[2]?.[3] ?? '') ? { parsed, r } : false;
      },
      { what: 'node-3 unreachable in cairn status', timeoutMs: 15_000, intervalMs: 200 },
    );
    expect(rows.parsed[2]?.[3]).toMatch(/^(lagging|desynced)$/);
    expect(rows.parsed[1]?.[4]).toBe('yes');
    // Not healthy: exit 1, and a line saying why.
    expect(rows.r.stderr).toMatch(/^cairn status: not healthy: follower node-3 (lagging|desynced)\n$/);
  });

  it('exits 1 naming the leader when the leader is unreachable', async () => {
    await cluster.node('node-1').kill9();
    const r = await waitFor(
      async () => {
        const got = await cairnProcess('status', '--url', cluster.node('node-2').url);
        return got.code === 1 && /leader node-1 unreachable/.test(got.stderr) ? got : false;
      },
      { what: 'cairn status to report the leader unreachable', timeoutMs: 15_000, intervalMs: 300 },
    );
    const leaderRow = tableRows(r.stdout)[0];
    expect(leaderRow?.slice(0, 5)).toEqual(['node-1', cluster.node('node-1').address, 'leader', 'unreachable', 'no']);
    expect(leaderRow?.[leaderRow.length - 1]).not.toBe('');
  });

  it('refuses an unknown flag with exit 2 and one line naming it', async () => {
    const r = await cairnProcess('status', '--url', cluster.node('node-2').url, '--verbose');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('cairn status: unknown flag --verbose; see `cairn status --help`\n');
  });
});
