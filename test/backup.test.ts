// `cairn backup` and `cairn restore` (the real commands, as child processes) on real clusters:
// a backup taken through a follower's URL while writes go on is of the leader, and one taken at
// rest carries the live state checksum; restored into the fresh data directory of a new cluster's
// leader, it gives the same state checksum on all three nodes once the followers are resynced;
// and every bad input is one line and exit 1 (or 2 for flags), leaving the data directory as it was.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnClient } from '@cairn/client';
import { stateDigestOf } from '../packages/server/src/store/state-digest.ts';
import { CAIRN_BIN, REPO_ROOT, startCluster } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { freePorts } from './helpers/ports.ts';
import { waitFor } from './helpers/wait.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cairn ...args` without blocking this process (the test writes meanwhile). */
function cairn(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CAIRN_BIN, ...args], { cwd: REPO_ROOT, env: { PATH: process.env['PATH'] ?? '' }, timeout: 240_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Checksum {
  node_id: string;
  applied_index: number;
  state_checksum: string;
}

async function checksum(url: string): Promise<Checksum> {
  const res = await fetch(`${url}/_raft/checksum`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as Checksum;
}

/** Waits until every node has applied the same index and reports the same state checksum. */
async function settled(c: TestCluster): Promise<Checksum> {
  return waitFor(
    async () => {
      const all = await Promise.all(c.nodes.map((n) => checksum(n.url)));
      const first = all[0] as Checksum;
      return all.every((x) => x.applied_index === first.applied_index && x.state_checksum === first.state_checksum) ? first : undefined;
    },
    { what: 'every node at the same index with the same state checksum', timeoutMs: 60_000, intervalMs: 200 },
  );
}

function manifestOf(file: string): Record<string, unknown> {
  const text = readFileSync(file);
  const line = text.subarray(0, text.indexOf(0x0a)).toString('utf8');
  return JSON.parse(line.replace(/^cairn-backup 1 /, '')) as Record<string, unknown>;
}

/** Exit 1 and exactly one line on stderr that matches `pattern`. */
function expectOneLine(r: Run, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr + r.stdout).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const dir = mkdtempSync(join(tmpdir(), 'cairn-backup-'));
let source: TestCluster;
let target: TestCluster | undefined;
const atRest = join(dir, 'at-rest.backup');
const underLoad = join(dir, 'under-load.backup');
let sourceChecksum: Checksum;

beforeAll(async () => {
  source = await startCluster({ nodes: 3, startTimeoutMs: 90_000 });
  for (const ws of ['alpha', 'beta']) {
    const client = new CairnClient({ endpoints: source.leader.url, workspace: ws, discover: false });
    const docs = Array.from({ length: 120 }, (_, i) => ({
      id: `notes/${ws}-${i}.md`,
      path: `notes/${ws}-${i}.md`,
      content: `${ws} document ${i}: replicated context about topic ${i % 7} and ${'word '.repeat(i % 13)}`,
      metadata: { n: i, tags: [ws, `t${i % 3}`] },
    }));
    const r = await client.bulk(docs, { writeConcern: 'all' });
    expect(r.errors).toEqual([]);
    await client.delete(`notes/${ws}-7.md`, { writeConcern: 'all' });
  }
}, 120_000);

afterAll(async () => {
  await target?.stop();
  await source?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('cairn backup', () => {
  it('takes a backup through a follower while writes are acknowledged, from the leader', async () => {
    const client = new CairnClient({ endpoints: source.leader.url, workspace: 'gamma', discover: false });
    let stop = false;
    let acknowledged = 0;
    const writer = (async () => {
      for (let i = 0; !stop && i < 2000; i++) {
        await client.put({ id: `w-${i}`, content: `written during the backup ${i}` });
        acknowledged++;
      }
    })();
    const r = await cairn(['backup', '--out', underLoad, '--url', source.node('node-2').url]);
    stop = true;
    await writer;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^backup: .*under-load\.backup: cluster test-\S+ at index \d+ \(term \d+\) from node-1, \d+ bytes, sha256 [0-9a-f]{64}, state checksum [0-9a-f]{64}/);
    expect(acknowledged).toBeGreaterThan(0);
    const m = manifestOf(underLoad);
    expect(m).toMatchObject({ format: 'cairn-backup', version: 1, node_id: 'node-1', cluster_id: source.config.replication.cluster_id });
    // No temporary file is left beside it.
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  }, 120_000);

  it('carries the state checksum the nodes report, at their applied index', async () => {
    sourceChecksum = await settled(source);
    const r = await cairn(['backup', '--out', atRest, '--url', source.leader.url]);
    expect(r.code, r.stderr).toBe(0);
    const m = manifestOf(atRest);
    expect(m['index']).toBe(sourceChecksum.applied_index);
    expect(m['state_checksum']).toBe(sourceChecksum.state_checksum);
  }, 120_000);

  it('refuses to overwrite a file, an unreachable URL and unknown flags, each in one line', async () => {
    expectOneLine(await cairn(['backup', '--out', atRest, '--url', source.leader.url]), 1, /^cairn backup: .*at-rest\.backup exists: pass --force to replace it$/);
    const [closed] = await freePorts(1);
    expectOneLine(await cairn(['backup', '--out', join(dir, 'x.backup'), '--url', `127.0.0.1:${closed}`]), 1, new RegExp(`^cairn backup: cannot reach http://127\\.0\\.0\\.1:${closed}: ECONNREFUSED$`));
    expectOneLine(await cairn(['backup', '--out', join(dir, 'no', 'such', 'dir', 'x.backup')]), 1, /^cairn backup: .*no[/]such[/]dir: no such directory for --out$/);
    expectOneLine(await cairn(['backup', '--out', join(dir, 'x.backup'), '--bogus']), 2, /^cairn backup: unknown flag --bogus; see `cairn backup --help`$/);
    expectOneLine(await cairn(['backup']), 2, /^cairn backup: --out FILE is required/);
    expect(existsSync(join(dir, 'x.backup'))).toBe(false);
  }, 300_000);
});

describe('cairn restore', () => {
  const bad = join(dir, 'bad');
  const fresh = join(dir, 'fresh-node');
  mkdirSync(bad, { recursive: true });

  it('refuses a missing, foreign, truncated or damaged file with one line, writing nothing', async () => {
    const full = readFileSync(atRest);
    const truncated = join(bad, 'truncated.backup');
    writeFileSync(truncated, full);
    truncateSync(truncated, full.length - 4096);
    const flipped = join(bad, 'flipped.backup');
    const copy = Buffer.from(full);
    const at = copy.length - 5000;
    copy[at] = (copy[at] ?? 0) ^ 0xff;
    writeFileSync(flipped, copy);
    const foreign = join(bad, 'foreign.backup');
    writeFileSync(foreign, 'SQLite format 3\0 not a backup\n');
    const headless = join(bad, 'headless.backup');
    writeFileSync(headless, full.subarray(0, 40));

    const cases: Array<[Promise<Run>, number, RegExp]> = [
      [cairn(['restore', join(bad, 'absent.backup'), '--data-dir', fresh]), 1, /^cairn restore: .*absent\.backup: no such file$/],
      [cairn(['restore', bad, '--data-dir', fresh]), 1, /^cairn restore: .*bad: is a directory, not a backup file$/],
      [cairn(['restore', foreign, '--data-dir', fresh]), 1, /^cairn restore: .*foreign\.backup: not a Cairn backup/],
      [cairn(['restore', headless, '--data-dir', fresh]), 1, /^cairn restore: .*headless\.backup: truncated or damaged: its manifest line has no end/],
      [cairn(['restore', truncated, '--data-dir', fresh]), 1, /^cairn restore: .*truncated\.backup: truncated: it holds \d+ of the \d+ bytes of state its manifest announces$/],
      [cairn(['restore', flipped, '--data-dir', fresh]), 1, /^cairn restore: .*flipped\.backup: damaged: the state's sha256 is [0-9a-f]{64}, the manifest says [0-9a-f]{64}$/],
      [cairn(['restore', '--data-dir', fresh]), 2, /^cairn restore: name the backup FILE to restore/],
      [cairn(['restore', atRest]), 2, /^cairn restore: --config CLUSTER\.yaml or --data-dir DIR is required/],
      [cairn(['restore', atRest, '--data-dir', fresh, '--nope']), 2, /^cairn restore: unknown flag --nope/],
    ];
    for (const [run, code, pattern] of cases) expectOneLine(await run, code, pattern);
    // Nothing was written by any refusal (the directory may exist, empty).
    expect(existsSync(fresh) ? readdirSync(fresh) : []).toEqual([]);
  }, 300_000);

  it('with --data-dir alone writes the verified state.db and nothing else', async () => {
    const plain = join(dir, 'plain-node');
    const r = await cairn(['restore', atRest, '--data-dir', plain]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\nrestore: start the leader on .*plain-node and the followers on empty data directories/);
    expect(readdirSync(plain)).toEqual(['state.db']);
    const digest = await stateDigestOf(join(plain, 'state.db'));
    expect(digest).toMatchObject({ index: sourceChecksum.applied_index, checksum: sourceChecksum.state_checksum });
  }, 120_000);

  it('refuses a data directory that holds a node\'s data', async () => {
    expectOneLine(
      await cairn(['restore', atRest, '--data-dir', source.dataDir('node-3')]),
      1,
      /^cairn restore: .*node-3 already holds a node's data of node node-3 of cluster test-\S+ \(state\.db, .*identity\.json\): restore seeds a new cluster/,
    );
  }, 120_000);

  it('seeds a new cluster whose three nodes then hold the same state checksum', async () => {
    let refusals: Run[] = [];
    target = await startCluster({
      nodes: 3,
      startTimeoutMs: 90_000,
      beforeStart: async (clusterDir) => {
        const config = join(clusterDir, 'cluster.yaml');
        // Another cluster id than the backup's: refused without --other-cluster, naming both.
        refusals = [await cairn(['restore', atRest, '--config', config]), await cairn(['restore', atRest, '--config', config, '--node-id', 'node-2', '--other-cluster'])];
        const r = await cairn(['restore', atRest, '--config', config, '--other-cluster']);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/state checksum [0-9a-f]{64}, verified\nrestore: start node-1 \(the leader of cluster test-\S+\) on .*node-1 and the followers on empty data directories/);
        expect(readdirSync(join(clusterDir, 'data', 'node-1')).sort()).toEqual(['identity.json', 'state.db']);
      },
    });
    expectOneLine(refusals[0] as Run, 1, /^cairn restore: .*at-rest\.backup is a backup of cluster "test-\S+", .*cluster\.yaml is cluster "test-\S+" \(replication\.cluster_id\): pass --other-cluster/);
    expectOneLine(refusals[1] as Run, 1, /^cairn restore: node-2 is a follower in .*cluster\.yaml: restore seeds the leader \(node-1\)/);

    const restored = await settled(target);
    expect(restored.state_checksum).toBe(sourceChecksum.state_checksum);
    // A follower that was resynced serves the documents, metadata included, and the deleted one stays deleted.
    const reader = new CairnClient({ endpoints: target.node('node-3').url, workspace: 'alpha', discover: false });
    expect(await reader.get('notes/alpha-5.md')).toMatchObject({ path: 'notes/alpha-5.md', metadata: { n: 5, tags: ['alpha', 't2'] } });
    expect(await reader.get('notes/alpha-7.md')).toBeNull();
    // And the restored cluster takes writes.
    const writer = new CairnClient({ endpoints: target.leader.url, workspace: 'alpha', discover: false });
    const put = await writer.put({ id: 'after-restore', content: 'written to the restored cluster' }, { writeConcern: 'all' });
    expect(put.index).toBeGreaterThan(restored.applied_index);
  }, 300_000);
});
