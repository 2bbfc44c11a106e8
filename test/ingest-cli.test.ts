// `cairn ingest` (the real command, as a child process) against a real three-node cluster: files
// become documents with path ids, unreadable files are skipped with a reason, a second run writes
// nothing, edits replace, --sync deletes the documents of removed files and only those, and a run
// interrupted with SIGINT is finished by the next one.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnClient } from '@cairn/client';
import type { DocumentSummary } from '@cairn/client';
import { documentId } from '../packages/server/src/ingest/ids.ts';
import { CAIRN_BIN, REPO_ROOT, startCluster } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { waitFor } from './helpers/wait.ts';

let cluster: TestCluster;
const dir = mkdtempSync(join(tmpdir(), 'cairn-ingest-'));

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3 });
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function ingest(args: string[]): Run {
  const r = spawnSync(process.execPath, [CAIRN_BIN, 'ingest', ...args, '--url', cluster.node('node-2').url], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function write(root: string, rel: string, content: string | Buffer): void {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), content);
}

async function documents(workspace: string): Promise<Map<string, DocumentSummary>> {
  const c = new CairnClient({ endpoints: cluster.leader.url, workspace, discover: false });
  const out = new Map<string, DocumentSummary>();
  for await (const d of c.list()) out.set(d.id, d);
  return out;
}

/** The leader's applied index, from the X-Cairn-Index of a read. */
async function appliedIndex(): Promise<number> {
  const res = await fetch(`${cluster.leader.url}/api/v1/documents?limit=1`, { headers: { 'x-workspace-id': 'probe' } });
  await res.arrayBuffer();
  return Number(res.headers.get('x-cairn-index'));
}

describe('cairn ingest', () => {
  const root = join(dir, 'tree');
  const longDir = Array.from({ length: 6 }, (_, i) => `directory-with-a-long-name-${i}-${'x'.repeat(30)}`).join('/');

  it('writes files as documents with path ids and skips what it cannot take, saying why', async () => {
    write(root, 'README.md', '# Project\nEnforcement patterns for reviews\n');
    write(root, 'docs/guide.md', 'How to run the migration\n');
    write(root, 'docs/deep/notes.txt', 'Café notes, naïve résumé\n');
    write(root, `${longDir}/file.md`, 'deep file\n');
    write(root, 'scratch.tmp', 'temporary\n');
    write(root, 'big.txt', 'y'.repeat(300 * 1024));
    write(root, 'image.bin', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0xff, 0xfe, 0x00, 0xc3]));
    write(root, 'empty.txt', '');

    const r = ingest([root, '--workspace', 'tree', '--progress-every', '2']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/skipped .*big\.txt: 307200 bytes, over the document limit of 262144/);
    expect(r.stderr).toMatch(/skipped .*image\.bin: not valid UTF-8/);
    expect(r.stderr).toMatch(/skipped .*empty\.txt: empty/);
    expect(r.stderr).toMatch(/^ingest: \d+%, \d+\/8 docs, \d+ written, [\d.]+ docs\/s, ETA /m);
    expect(r.stdout).toMatch(/ingest: 8 files: 0 unchanged, 5 written, 3 skipped in /);

    const docs = await documents('tree');
    const longPath = `${longDir}/file.md`;
    expect(longPath.length).toBeGreaterThan(256);
    const longId = documentId(longPath);
    expect(longId).toMatch(/^directory-with-a-long-name-0-x+\/.*~[0-9a-f]{32}$/);
    expect([...docs.keys()].sort()).toEqual(['README.md', 'docs/deep/notes.txt', 'docs/guide.md', longId, 'scratch.tmp'].sort());
    expect(docs.get(longId)?.path).toBe(longPath);
    expect(docs.get('docs/deep/notes.txt')?.metadata).toEqual({ ingest_root: root });
    const c = new CairnClient({ endpoints: cluster.node('node-3').url, workspace: 'tree', discover: false });
    expect((await c.get('docs/deep/notes.txt'))?.content).toBe('Café notes, naïve résumé\n');
  });

  it('writes nothing on a second run over unchanged files', async () => {
    const before = await appliedIndex();
    const r = ingest([root, '--workspace', 'tree']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/8 files: 5 unchanged, 0 written, 3 skipped in [\d.]+s: nothing to do/);
    expect(await appliedIndex()).toBe(before);
  });

  it('replaces an edited file and, with --sync, deletes the documents of removed files only', async () => {
    write(root, 'docs/guide.md', 'How to run the migration, revised\n');
    unlinkSync(join(root, 'docs/deep/notes.txt'));
    // Excluded from now on, but still there: --sync leaves its document.
    const r = ingest([root, '--workspace', 'tree', '--sync', '--exclude', '*.tmp']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/6 files: 2 unchanged, 1 written, 3 skipped, 1 deleted/);
    const docs = await documents('tree');
    expect(docs.has('docs/deep/notes.txt')).toBe(false);
    expect(docs.has('scratch.tmp')).toBe(true);
    const c = new CairnClient({ endpoints: cluster.node('node-3').url, workspace: 'tree', discover: false });
    expect((await c.get('docs/guide.md'))?.content).toBe('How to run the migration, revised\n');
  });

  it('keeps roots apart: --sync of one root leaves the documents of another', async () => {
    const other = join(dir, 'other');
    write(other, 'only-here.md', 'another root\n');
    const r = ingest([other, '--workspace', 'tree', '--sync', '--prefix', 'other/']);
    expect(r.code, r.stderr).toBe(0);
    const docs = await documents('tree');
    expect(docs.has('other/only-here.md')).toBe(true);
    expect(docs.has('README.md')).toBe(true);
  });

  it('takes only --include matches', async () => {
    const r = ingest([root, '--workspace', 'tree-md', '--include', '**/*.md']);
    expect(r.code, r.stderr).toBe(0);
    const ids = [...(await documents('tree-md')).keys()].sort();
    expect(ids).toEqual(['README.md', 'docs/guide.md', documentId(`${longDir}/file.md`)].sort());
  });

  it('refuses an unknown flag and a missing workspace with exit code 2', () => {
    const bad = ingest([root, '--workspace', 'w', '--recursive']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('cairn ingest: unknown flag --recursive; see `cairn ingest --help`\n');
    const none = ingest([root]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--workspace is required/);
  });

  it('draws a progress bar on a terminal', () => {
    const script = spawnSync('script', ['--version'], { encoding: 'utf8' });
    if (script.status !== 0) return;
    const cmd = [process.execPath, CAIRN_BIN, 'ingest', root, '--workspace', 'tree-tty', '--url', cluster.node('node-2').url].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/\r\x1b\[K\[#{20}\] 100% {2}7\/7 docs {2}4 written {2}[\d.]+ docs\/s {2}ETA 0s/);
  });
});

describe('cairn ingest, interrupted', () => {
  it('stops on SIGINT with exit 130, and the next run finishes the work', async () => {
    const root = join(dir, 'many');
    for (let i = 0; i < 3000; i++) write(root, `part-${Math.floor(i / 100)}/file-${i}.txt`, `file ${i}: ${'some words to index '.repeat(100)}\n`);
    const child = spawn(process.execPath, [CAIRN_BIN, 'ingest', root, '--workspace', 'many', '--progress-every', '100', '--concurrency', '1', '--url', cluster.node('node-3').url], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const writtenSoFar = (): number => Math.max(0, ...[...stderr.matchAll(/, (\d+) written,/g)].map((m) => Number(m[1])));
    await waitFor(() => writtenSoFar() > 0, { what: 'some documents written', timeoutMs: 60_000 });
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/interrupted: finishing the requests in flight/);
    const partial = (await documents('many')).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(3000);
    expect(stdout).toMatch(/3000 files: 0 unchanged, \d+ written/);

    const again = spawnSync(process.execPath, [CAIRN_BIN, 'ingest', root, '--workspace', 'many', '--url', cluster.node('node-3').url], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(again.status, again.stderr).toBe(0);
    const m = /3000 files: (\d+) unchanged, (\d+) written, 0 skipped/.exec(again.stdout);
    expect(m, again.stdout).not.toBeNull();
    expect(Number(m?.[1])).toBe(partial);
    expect(Number(m?.[1]) + Number(m?.[2])).toBe(3000);
    expect((await documents('many')).size).toBe(3000);
  }, 180_000);
});
