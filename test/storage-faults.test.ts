// Storage faults on real node processes (three `cairn serve` nodes on loopback):
//
// - disk full: the leader's data directory on a 40 MB tmpfs. Writes are refused with 507
//   disk_full (never a crash, never a 500) while reads and health go on; freeing space lets
//   writes resume without a restart; a leader killed with -9 while the disk is full starts again,
//   serves reads and refuses writes (also after a clean stop and start); every acknowledged write
//   is on all three nodes at the end.
// - EIO on fsync: the leader runs with an LD_PRELOAD shim (helpers/fsync-fault.c) that fails
//   fsync/fdatasync with EIO while a trigger file exists. After a failed log sync the leader
//   says so: /_raft/health 503 naming it, /health unhealthy, cairn_node_condition{code="fsync_failed"} 1,
//   and writes answer log_sync_failed, telling to restart the node.
//
// Needs root for `mount -t tmpfs` and a C compiler for the shim; each part says why it skips.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePrometheusText, sampleValue } from '../packages/server/src/metrics/prom-text.ts';
import { fillDisk } from '../packages/server/src/replication/testing-disk.ts';
import { REPO_ROOT, startCluster } from './helpers/cluster.ts';
import type { TestCluster, TestNode } from './helpers/cluster.ts';
import { pidAlive, waitFor } from './helpers/wait.ts';

const WS = 'faults';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch (err) {
      console.error('cleanup:', err);
    }
  }
});

function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

interface Answer {
  status: number;
  body: { id?: string; index?: number; error?: { code?: string; message?: string } } & Record<string, unknown>;
  text: string;
}

async function request(url: string, init: RequestInit = {}, timeoutMs = 20_000): Promise<Answer> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let body: Answer['body'] = {};
  try {
    body = JSON.parse(text) as Answer['body'];
  } catch {
    /* not JSON: the assertions on body say so */
  }
  return { status: res.status, body, text };
}

/** A document of about 64 KiB, different for every id. */
function content(id: string): string {
  const words: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < 64 * 1024; i++) {
    const w = `${id}-w${i % 997}-${(i * 7919) % 104_729}`;
    words.push(w);
    bytes += w.length + 1;
  }
  return words.join(' ');
}

function write(node: TestNode, id: string): Promise<Answer> {
  return request(`${node.url}/api/v1/documents?write_concern=quorum`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-workspace-id': WS },
    body: JSON.stringify({ id, content: content(id) }),
  });
}

function read(node: TestNode, id: string, minIndex = 0): Promise<Answer> {
  return request(`${node.url}/api/v1/documents/${id}${minIndex > 0 ? `?min_index=${minIndex}` : ''}`, { headers: { 'x-workspace-id': WS } });
}

/** A refusal of a full disk as the API promises it: 507, JSON, code disk_full, a message. */
function expectDiskFull(a: Answer, what: string): void {
  expect(a.status, `${what}: ${a.status} ${a.text.slice(0, 300)}`).toBe(507);
  expect(a.body.error?.code, what).toBe('disk_full');
  expect(typeof a.body.error?.message, what).toBe('string');
}


async function raftHealth(node: TestNode): Promise<Answer> {
  return request(`${node.url}/_raft/health`, {}, 5_000);
}

/** Waits until the leader takes writes (/_raft/health 200: in sync, no condition such as recovering). */
async function writable(cluster: TestCluster): Promise<void> {
  await waitFor(async () => (await raftHealth(cluster.leader)).status === 200, { what: `${cluster.leader.id} in sync (/_raft/health 200)`, timeoutMs: 30_000, intervalMs: 100 }).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${cluster.logs()}`);
  });
}

/** Stops the nodes first (so nothing holds files on a mount), then the rest of the cleanup runs. */
function stopFirst(cluster: TestCluster): void {
  cleanups.push(() => cluster.stop());
  cleanups.push(async () => {
    await Promise.all(cluster.nodes.map((n) => n.stop()));
  });
}

describe('disk full on the leader', () => {
  it('refuses writes with 507 disk_full, keeps serving reads, resumes once space is freed, and starts again on a full disk', async (ctx) => {
    // The leader's data directory: a 40 MB tmpfs with a 12 MB filler on it, linked into the cluster's
    // directory. Removing the filler frees more than the 8 MiB the leader keeps for applying what it
    // logged (disk_reserve_bytes_default), so writes can resume.
    const mount = tempDir('cairn-tmpfs-');
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', mount], { stdio: 'pipe' });
    } catch (err) {
      console.log(`skipped: cannot mount a tmpfs (${(err as Error).message.split('\n')[0]}); this test needs root`);
      ctx.skip();
      return;
    }
    // Registered after the node cleanups (below), so it runs once the nodes are stopped.
    cleanups.push(() => void execFileSync('umount', ['-l', mount]));
    const data = path.join(mount, 'data');
    fs.mkdirSync(data);
    const filler = path.join(mount, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(12 * 1024 * 1024, 1));

    const cluster = await startCluster({
      nodes: 3,
      beforeStart: (dir) => {
        fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
        fs.symlinkSync(data, path.join(dir, 'data', 'node-1'));
      },
    });
    stopFirst(cluster);
    expect(cluster.config.replication.leader).toBe('node-1');
    await writable(cluster);
    const leader = cluster.leader;
    const acked = new Map<string, number>();
    const refusals: Answer[] = [];

    // Fill the disk through the API.
    let n = 0;
    for (; n < 400 && refusals.length < 3; n++) {
      const id = `doc-${n}`;
      const a = await write(leader, id);
      if (a.status === 201) acked.set(id, a.body.index ?? 0);
      else refusals.push(a);
      expect(leader.process.running, `the leader died after ${n + 1} writes:\n${leader.logTail(40)}`).toBe(true);
    }
    expect(refusals.length, `no write was refused in ${n} writes of 64 KiB on a 40 MB disk`).toBeGreaterThan(0);
    expect(acked.size).toBeGreaterThan(0);
    refusals.forEach((a, i) => expectDiskFull(a, `refusal ${i}`));

    // Reads and health go on.
    expect(pidAlive(leader.pid)).toBe(true);
    const [someId] = acked.keys();
    const got = await read(leader, someId as string);
    expect(got.status).toBe(200);
    expect(got.body.id).toBe(someId);
    const health = await request(`${leader.url}/health`);
    expect([200, 503]).toContain(health.status);
    expect(health.body['node_id']).toBe('node-1');
    if (health.status === 503) expect(health.body['status']).toBe('unhealthy');
    const rh = await raftHealth(leader);
    expect(rh.status).toBe(503);
    expect(rh.body['in_sync']).toBe(false);
    expect(String(rh.body['status'])).toContain('disk_full');
    expect((rh.body['conditions'] as Array<{ code: string }>).map((c) => c.code)).toContain('disk_full');
    // A follower still serves reads of what was acknowledged.
    const fromFollower = await read(cluster.node('node-2'), someId as string, Math.max(...acked.values()));
    expect(fromFollower.status).toBe(200);

    // Free space: writes resume by themselves, without a restart.
    const pid = leader.pid;
    fs.rmSync(filler);
    const resumed = await waitFor(
      async () => {
        const id = `after-free-${n++}`;
        const a = await write(leader, id);
        if (a.status === 201) {
          acked.set(id, a.body.index ?? 0);
          return id;
        }
        expectDiskFull(a, 'a write while space is being freed');
        return undefined;
      },
      { what: 'a write to succeed after the filler was removed', timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(resumed).toMatch(/^after-free-/);
    expect(leader.pid).toBe(pid);
    await waitFor(async () => (await raftHealth(leader)).status === 200, { what: '/_raft/health 200 again', timeoutMs: 15_000 });

    // Full again, then kill -9: the leader starts on the full disk, serves reads, refuses writes.
    fillDisk(mount, 'filler-2');
    const refusedAgain = await waitFor(
      async () => {
        const id = `full-again-${n++}`;
        const a = await write(leader, id);
        if (a.status === 201) {
          acked.set(id, a.body.index ?? 0);
          return undefined;
        }
        return a;
      },
      { what: 'a write refused once the disk is full again', timeoutMs: 30_000, intervalMs: 10 },
    );
    expectDiskFull(refusedAgain, 'a write on the refilled disk');
    await leader.kill9();
    await leader.restart('answering');
    expect(leader.process.running, leader.logTail(40)).toBe(true);
    const readAfter = await read(leader, someId as string);
    expect(readAfter.status, readAfter.text.slice(0, 300)).toBe(200);
    expectDiskFull(await write(leader, `after-restart-${n++}`), 'a write to the restarted leader on a full disk');
    expect(leader.process.running, leader.logTail(40)).toBe(true);
    const rhAfter = await raftHealth(leader);
    expect(rhAfter.status).toBe(503);
    expect(String(rhAfter.body['status'])).toContain('disk_full');
    // A clean stop and start on a full disk too: the clean close removes -wal and -shm (freeing
    // the WAL's space, taken again here), and -shm cannot be made again.
    await leader.stop();
    fillDisk(mount, 'filler-3');
    leader.start();
    await leader.waitReady('answering');
    expect(leader.process.running, leader.logTail(40)).toBe(true);
    expect((await read(leader, someId as string)).status).toBe(200);
    expectDiskFull(await write(leader, `after-clean-restart-${n++}`), 'a write to the cleanly restarted leader on a full disk');

    // Space again: writes resume, and every acknowledged write is on all three nodes.
    fs.rmSync(path.join(mount, 'filler-2'));
    fs.rmSync(path.join(mount, 'filler-3'));
    await waitFor(
      async () => {
        const id = `final-${n++}`;
        const a = await write(leader, id);
        if (a.status === 201) acked.set(id, a.body.index ?? 0);
        else expectDiskFull(a, 'a write while space is being freed (after the restart)');
        return a.status === 201;
      },
      { what: 'a write to succeed after the restart and freeing space', timeoutMs: 30_000, intervalMs: 250 },
    );
    const top = Math.max(...acked.values());
    for (const node of cluster.nodes) {
      for (const id of acked.keys()) {
        const a = await read(node, id, top);
        expect(a.status, `${id} on ${node.id}: ${a.status} ${a.text.slice(0, 200)}`).toBe(200);
        expect(a.body.id).toBe(id);
      }
    }
  }, 240_000);
});

describe('fsync failure on the leader', () => {
  /** The shim, compiled into a temp dir; null (with the reason printed) when there is no compiler. */
  function buildShim(): string | null {
    const out = path.join(tempDir('cairn-shim-'), 'fsync-fault.so');
    const cc = spawnSync('cc', ['-shared', '-fPIC', '-o', out, path.join(REPO_ROOT, 'test', 'helpers', 'fsync-fault.c'), '-ldl'], { encoding: 'utf8' });
    if (cc.error !== undefined || cc.status !== 0) {
      console.log(`skipped: cannot compile test/helpers/fsync-fault.c (${cc.error?.message ?? cc.stderr.trim()})`);
      return null;
    }
    return out;
  }

  it('the shim fails fdatasync and fsync with EIO while the trigger file exists, and only then', (ctx) => {
    const shim = buildShim();
    if (shim === null) return ctx.skip();
    const dir = tempDir('cairn-shim-run-');
    const trigger = path.join(dir, 'fail-fsync');
    const script = `
const fs = require('node:fs');
const fd = fs.openSync(${JSON.stringify(path.join(dir, 'data'))}, 'w');
fs.writeSync(fd, 'x');
const out = [];
const attempt = (f) => { try { f(fd); out.push('ok'); } catch (e) { out.push(e.code); } };
attempt(fs.fdatasyncSync);
fs.writeFileSync(${JSON.stringify(trigger)}, '');
attempt(fs.fdatasyncSync);
attempt(fs.fsyncSync);
fs.fdatasync(fd, (e) => {
  out.push(e ? e.code : 'ok');
  fs.rmSync(${JSON.stringify(trigger)});
  attempt(fs.fdatasyncSync);
  console.log(out.join(' '));
});`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: shim, CAIRN_FSYNC_FAULT_FILE: trigger } });
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('ok EIO EIO EIO ok');
  });

  it('after a failed log sync: /_raft/health 503 naming it, /health unhealthy, the metric set, and writes say to restart', async (ctx) => {
    const shim = buildShim();
    if (shim === null) return ctx.skip();
    const trigger = path.join(tempDir('cairn-trigger-'), 'fail-fsync');
    const cluster = await startCluster({ nodes: 3, nodeEnv: { 'node-1': { LD_PRELOAD: shim, CAIRN_FSYNC_FAULT_FILE: trigger } } });
    stopFirst(cluster);
    const leader = cluster.leader;
    expect(leader.id).toBe('node-1');
    await writable(cluster);
    const first = await write(leader, 'before-fault');
    expect(first.status, first.text.slice(0, 300)).toBe(201);

    fs.writeFileSync(trigger, '');
    const failed = await write(leader, 'during-fault');
    expect(failed.status, failed.text.slice(0, 300)).not.toBe(201);
    // The node stays up, and stays refusing after the disk "recovers": its log can no longer be trusted.
    fs.rmSync(trigger);
    expect(leader.process.running, leader.logTail(40)).toBe(true);

    // Written against the contract of the drivers (condition fsync_failed, error log_sync_failed).
    const rh = await raftHealth(leader);
    expect.soft(rh.status, `/_raft/health: ${rh.text.slice(0, 300)}`).toBe(503);
    expect.soft(String(rh.body['status'])).toMatch(/fsync/);
    expect.soft(((rh.body['conditions'] as Array<{ code: string }> | undefined) ?? []).map((c) => c.code)).toContain('fsync_failed');

    const health = await request(`${leader.url}/health`);
    expect.soft(health.status, `/health: ${health.text.slice(0, 300)}`).toBe(503);
    expect.soft(health.body['status']).toBe('unhealthy');
    expect.soft(((health.body['conditions'] as Array<{ code: string }> | undefined) ?? []).map((c) => c.code)).toContain('fsync_failed');

    const metrics = parsePrometheusText((await request(`${leader.url}/metrics`)).text);
    expect.soft(sampleValue(metrics, 'cairn_node_condition', { code: 'fsync_failed' })).toBe(1);
    expect.soft(sampleValue(metrics, 'cairn_node_condition', { code: 'disk_full' })).toBe(0);

    const later = await write(leader, 'after-fault');
    expect.soft(later.status, later.text.slice(0, 300)).toBe(503);
    expect.soft(later.body.error?.code).toBe('log_sync_failed');
    expect.soft(later.body.error?.message ?? '').toMatch(/could not be synced/);
    expect.soft(later.body.error?.message ?? '').toMatch(/restart/);
    expect(leader.process.running, leader.logTail(40)).toBe(true);
    // What was acknowledged before the fault is still served.
    expect((await read(leader, 'before-fault')).status).toBe(200);
  }, 120_000);
});
