// `cairn export`, `cairn import` and `cairn reembed` (the real commands, as child processes) on a
// real three-node cluster whose bulk limit is 25 documents: a workspace exported and imported into
// another gives the same documents (ids with "/", paths, languages, metadata, contents, ETags); bad
// lines and files are one line and exit 1. Then the cluster is restarted with another embedding
// provider (an OpenAI-compatible stand-in served by this test) and reembed rewrites a workspace in
// place: ids, paths, metadata, ETags and created_at stay, and vector search now finds each
// document by the stand-in's vector of its content. A workspace of another dimension is refused
// in place and re-embedded into a new workspace with --to.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { CairnClient } from '@cairn/client';
import type { Document } from '@cairn/client';
import { CAIRN_BIN, REPO_ROOT, startCluster } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { waitFor } from './helpers/wait.ts';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cairn(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CAIRN_BIN, ...args], { cwd: REPO_ROOT, env: { PATH: process.env['PATH'] ?? '' }, timeout: 240_000 });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

function expectOneLine(r: Run, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr + r.stdout).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

const DIM = 384;

/** The stand-in provider's vector of a text: pseudo-random from its sha256, so two texts are nearly orthogonal. */
function standInVector(text: string): number[] {
  const out: number[] = [];
  for (let block = 0; out.length < DIM; block++) {
    const h = createHash('sha256').update(`${block}:${text}`).digest();
    for (let i = 0; i + 1 < h.length && out.length < DIM; i += 2) out.push((h.readUInt16BE(i) - 32768) / 32768);
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'cairn-export-'));
let cluster: TestCluster;
let provider: http.Server;
let embedded = 0;

async function all(ws: string, url = cluster.leader.url): Promise<Map<string, Document>> {
  const c = new CairnClient({ endpoints: url, workspace: ws, discover: false });
  const out = new Map<string, Document>();
  for await (const s of c.list()) {
    const d = await c.get(s.id);
    if (d !== null) out.set(d.id, d);
  }
  return out;
}

/** What an import must keep of a document. */
function kept(d: Document): Record<string, unknown> {
  return { id: d.id, path: d.path, language: d.language, metadata: d.metadata, content: d.content, content_hash: d.content_hash, etag: d.etag };
}

const sourceDocs = Array.from({ length: 80 }, (_, i) => ({
  id: `src/dir-${i % 4}/file ${i}.md`,
  path: `src/dir-${i % 4}/file ${i}.md`,
  content: `Document ${i} — ünïcödé and "quotes"\nline two of ${i}\n${'context '.repeat(i)}`,
  metadata: i % 5 === 0 ? null : { n: i, nested: { tags: [`t${i % 3}`], ok: i % 2 === 0 } },
  ...(i % 7 === 0 ? { language: 'markdown' } : {}),
}));

beforeAll(async () => {
  provider = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const input = (JSON.parse(body) as { input: string[] }).input;
      embedded += input.length;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ data: input.map((t, index) => ({ index, embedding: standInVector(t) })) }));
    });
  });
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  cluster = await startCluster({ nodes: 3, startTimeoutMs: 90_000, configOverrides: { server: { bulk_documents_max: 25 } } });
  const c = new CairnClient({ endpoints: cluster.leader.url, workspace: 'source', discover: false, writeConcern: 'all' });
  const r = await c.bulk(sourceDocs, { documentsMax: 25 });
  expect(r.errors).toEqual([]);
  const small = new CairnClient({ endpoints: cluster.leader.url, workspace: 'small', discover: false, writeConcern: 'all' });
  for (let i = 0; i < 5; i++) await small.put({ id: `s-${i}`, content: `small document ${i}`, vector: [1, i, 0, 0, 0, 0, 0, 1] });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  await new Promise<void>((resolve) => (provider ? provider.close(() => resolve()) : resolve()));
  rmSync(dir, { recursive: true, force: true });
});

describe('cairn export and cairn import', () => {
  const jsonl = join(dir, 'docs.jsonl');

  it('moves a workspace into another with the same documents, in chunks within the bulk limit', async () => {
    const exported = await cairn(['export', '-w', 'source', '--url', cluster.node('node-2').url, '--out', jsonl]);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(/^export: source: 80 documents, \d+ bytes in [\d.]+s\n$/);
    const lines = readFileSync(jsonl, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(80);
    expect(Object.keys(JSON.parse(lines[0] as string) as object).sort()).toEqual(['content', 'content_hash', 'id', 'language', 'metadata', 'path']);

    const imported = await cairn(['import', '-w', 'copy', jsonl, '--url', cluster.node('node-3').url]);
    expect(imported.code, imported.stderr).toBe(0);
    const requests = Number(/in (\d+) requests/.exec(imported.stdout)?.[1]);
    expect(imported.stdout).toMatch(/^import: copy: 80 documents written of 80 in \d+ requests/);
    expect(requests).toBeGreaterThanOrEqual(4);

    const [source, copy] = [await all('source'), await all('copy', cluster.node('node-3').url)];
    expect(copy.size).toBe(80);
    for (const [id, d] of source) expect(kept(copy.get(id) as Document), id).toEqual(kept(d));
  }, 300_000);

  it('exports to stdout and imports from stdin', async () => {
    const out = await cairn(['export', '--workspace', 'source', '--url', cluster.leader.url]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toBe(readFileSync(jsonl, 'utf8'));
    const r = await cairn(['import', '--workspace', 'piped', '--url', cluster.leader.url], out.stdout);
    expect(r.code, r.stderr).toBe(0);
    expect((await all('piped')).size).toBe(80);
  }, 300_000);

  it('refuses bad lines, bad files and bad flags in one line', async () => {
    const notJson = join(dir, 'not-json.jsonl');
    writeFileSync(notJson, '{"id":"a","content":"fine"}\n{"id": "b", "content": \n');
    const damaged = join(dir, 'damaged.jsonl');
    writeFileSync(damaged, `${JSON.stringify({ id: 'x', content: 'changed', content_hash: createHash('sha256').update('original').digest('hex') })}\n`);
    const noContent = join(dir, 'no-content.jsonl');
    writeFileSync(noContent, '{"id": "x", "path": "p"}\n');
    const cases: Array<[Promise<Run>, number, RegExp]> = [
      [cairn(['import', '-w', 'bad', join(dir, 'absent.jsonl'), '--url', cluster.leader.url]), 1, /^cairn import: .*absent\.jsonl: no such file$/],
      [cairn(['import', '-w', 'bad', dir, '--url', cluster.leader.url]), 1, /^cairn import: .*: is a directory, not a JSON-lines file$/],
      [cairn(['import', '-w', 'bad', notJson, '--url', cluster.leader.url]), 1, /^cairn import: .*not-json\.jsonl:2: not JSON \(.*\); the 1 documents before it may be written/],
      [cairn(['import', '-w', 'bad', damaged, '--url', cluster.leader.url]), 1, /^cairn import: .*damaged\.jsonl:1: content does not match its content_hash/],
      [cairn(['import', '-w', 'bad', noContent, '--url', cluster.leader.url]), 1, /^cairn import: .*no-content\.jsonl:1: content is missing or not a string/],
      [cairn(['import', '-w', 'bad ws', noContent]), 2, /^cairn import: --workspace: "bad ws" is not a workspace id/],
      [cairn(['import', noContent]), 2, /^cairn import: --workspace \(-w\) is required/],
      [cairn(['export', '-w', 'source', '--url', cluster.leader.url, '--colour']), 2, /^cairn export: unknown flag --colour/],
      [cairn(['export', '-w', 'source', '--url', 'http://127.0.0.1:9']), 1, /^cairn export: .*127\.0\.0\.1:9/],
    ];
    for (const [run, code, pattern] of cases) expectOneLine(await run, code, pattern);
    // The line before the bad one may be written (puts by id); nothing after it is.
    expect([...(await all('bad')).keys()].every((id) => id === 'a')).toBe(true);
  }, 300_000);
});

describe('cairn reembed', () => {
  /** How many of the first ten documents a vector search with the stand-in's vector of their content finds first. */
  async function foundByStandIn(ws: string): Promise<number> {
    const c = new CairnClient({ endpoints: cluster.leader.url, workspace: ws, discover: false });
    let found = 0;
    for (const d of sourceDocs.slice(0, 10)) {
      const r = await c.search('probe', { mode: 'vector', vector: standInVector(d.content), k: 1 });
      if (r.results[0]?.id === d.id) found++;
    }
    return found;
  }

  it('rewrites a workspace with the new provider, keeping ids, paths, metadata, ETags and created_at', async () => {
    const before = await all('source');
    expect(await foundByStandIn('source')).toBeLessThan(10);
    // Every node now embeds with the stand-in (an OpenAI-compatible /v1/embeddings).
    const yaml = parse(readFileSync(cluster.configPath, 'utf8')) as Record<string, unknown>;
    yaml['embedding'] = { provider: 'openai', url: `http://127.0.0.1:${(provider.address() as AddressInfo).port}`, model: 'stand-in', dim: DIM };
    writeFileSync(cluster.configPath, stringify(yaml));
    for (const n of cluster.nodes) await n.restart();
    await waitFor(async () => (await fetch(`${cluster.leader.url}/_raft/health`)).status === 200, { what: 'the leader in sync after the restart', timeoutMs: 90_000 });

    embedded = 0;
    const r = await cairn(['reembed', '-w', 'source', '--url', cluster.node('node-2').url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^reembed: source: 80 documents rewritten, 0 changed or deleted meanwhile/);
    expect(embedded).toBeGreaterThanOrEqual(80);
    const after = await all('source');
    expect(after.size).toBe(80);
    for (const [id, d] of before) {
      const a = after.get(id) as Document;
      expect(kept(a), id).toEqual(kept(d));
      expect(a.created_at, id).toBe(d.created_at);
    }
    expect(await foundByStandIn('source')).toBe(10);
  }, 300_000);

  it('refuses a workspace of another dimension in place and re-embeds it into a new one with --to', async () => {
    expectOneLine(
      await cairn(['reembed', '-w', 'small', '--url', cluster.leader.url]),
      1,
      /^cairn reembed: .*workspace small holds 8-dimensional vectors and the embedder openai:stand-in gives 384.*; a workspace keeps its dimension: re-embed into a new one with --to small-v2$/,
    );
    const r = await cairn(['reembed', '-w', 'small', '--to', 'small-v2', '--url', cluster.leader.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^reembed: small -> small-v2: 5 documents written/);
    const c = new CairnClient({ endpoints: cluster.leader.url, workspace: 'small-v2', discover: false });
    const hit = await c.search('probe', { mode: 'vector', vector: standInVector('small document 3'), k: 1 });
    expect(hit.results[0]?.id).toBe('s-3');
    expectOneLine(await cairn(['reembed', '-w', 'small', '--to', 'small']), 2, /^cairn reembed: --to names the workspace itself/);
  }, 300_000);
});
