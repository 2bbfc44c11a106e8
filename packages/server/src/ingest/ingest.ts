// `cairn ingest`: files under roots become documents of one workspace, through @cairn/client.
//
// Each file becomes { id, path, content, metadata: { ingest_root } }: the path relative to its
// root (after --prefix), the id derived from it (ids.ts), the content its text, and the root's
// real path as metadata, which is what --sync scopes its deletions by. Before writing, the
// workspace's documents are listed once; a file whose document already has its content's sha256
// (content_hash), path, the language the store derives from that path and the same metadata has
// the same ETag (store/etag.ts) and is not written again, so a second run over unchanged files
// writes nothing. Writes are bulk puts by id: an interrupted run leaves whole documents, and the
// next run writes what is missing.

import { createHash } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import { CairnClient } from '@cairn/client';
import type { DocumentInput, DocumentSummary } from '@cairn/client';
import { languageFromPath } from '../store/validate.ts';
import { documentId, pathProblem } from './ids.ts';
import { Progress } from './progress.ts';
import type { ProgressSink } from './progress.ts';
import { Filter, isUnder, walk } from './walk.ts';

/** The metadata key naming the root a document was ingested from. */
export const root_key = 'ingest_root';
export const delete_concurrency = 4;

export interface IngestOptions {
  roots: string[];
  workspace: string;
  endpoints: string[];
  token: string;
  include: string[];
  exclude: string[];
  sync: boolean;
  dryRun: boolean;
  /** Prepended to every document path ("docs/"). */
  prefix: string;
  /** server.document_bytes_max: larger files are skipped. */
  maxBytes: number;
  /** Without a terminal: one progress line per this many documents. */
  every: number;
  concurrency: number;
  /** Results (what a dry run would do, the summary). */
  out: ProgressSink;
  /** Progress, skipped files, retries. */
  err: ProgressSink;
  /** Polled between files: true after Ctrl-C. */
  stopping: () => boolean;
}

export interface IngestReport {
  files: number;
  unchanged: number;
  written: number;
  skipped: number;
  /** Skipped files by reason: "not UTF-8", "too large", "empty", ... */
  skippedBy: Record<string, number>;
  failed: number;
  deleted: number;
  interrupted: boolean;
}

/** A problem with the command line or the roots: nothing was done. */
export class IngestError extends Error {
  override readonly name = 'IngestError';
}

interface Candidate {
  abs: string;
  root: string;
  docPath: string;
  id: string;
  size: number;
}

interface Root {
  given: string;
  real: string;
  isFile: boolean;
}

async function resolveRoots(paths: string[]): Promise<Root[]> {
  const roots: Root[] = [];
  for (const given of paths) {
    try {
      const real = await realpath(given);
      roots.push({ given, real, isFile: (await stat(real)).isFile() });
    } catch (err) {
      throw new IngestError(`${given}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`);
    }
  }
  return roots;
}

function sameMetadata(m: Record<string, unknown> | null, root: string): boolean {
  return m !== null && Object.keys(m).length === 1 && m[root_key] === root;
}

function decodeText(bytes: Buffer): string | null {
  try {
    // ignoreBOM keeps a byte order mark in the text, so the text's UTF-8 is the file's bytes.
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

export async function ingest(opts: IngestOptions): Promise<IngestReport> {
  if (opts.roots.length === 0) throw new IngestError('name at least one file or directory to ingest');
  const filter = new Filter({ include: opts.include, exclude: opts.exclude });
  const roots = await resolveRoots(opts.roots);
  const report: IngestReport = { files: 0, unchanged: 0, written: 0, skipped: 0, skippedBy: {}, failed: 0, deleted: 0, interrupted: false };
  // The bar exists once the files are counted; lines said before it go out plainly.
  const ui: { progress: Progress | null } = { progress: null };
  const say = (line: string): void => {
    if (ui.progress === null) opts.err.write(`${line}\n`);
    else ui.progress.say(line);
  };
  const skipped = (kind: string, line: string): void => {
    say(`ingest: skipped ${line}`);
    report.skipped++;
    report.skippedBy[kind] = (report.skippedBy[kind] ?? 0) + 1;
  };

  const client = new CairnClient({
    endpoints: opts.endpoints,
    workspace: opts.workspace,
    token: opts.token,
    onRetry: (e) => say(`ingest: ${e.method} ${e.path} on ${e.endpoint}: ${e.reason}; trying again${e.delayMs > 0 ? ` in ${e.delayMs} ms` : ''}`),
  });

  const existing = new Map<string, DocumentSummary>();
  for await (const d of client.list({ pageSize: 1000 })) existing.set(d.id, d);

  // What to look at, with the checks that need no reading.
  const candidates: Candidate[] = [];
  const taken = new Map<string, string>();
  const walks: Array<{ root: Root; present: Set<string>; unseen: string[] }> = [];
  for (const root of roots) {
    const w = await walk(root.real, filter);
    for (const p of w.problems) say(`ingest: ${p}`);
    if (w.linkedDirectories > 0) say(`ingest: ${root.given}: ${w.linkedDirectories} links to directories not followed`);
    walks.push({ root, present: w.present, unseen: w.unseen });
    for (const f of w.files) {
      const docPath = `${opts.prefix}${f.rel}`;
      const problem = pathProblem(docPath);
      if (problem !== null) {
        skipped('path not taken', `${f.abs}: ${problem}`);
        continue;
      }
      const id = documentId(docPath);
      const other = taken.get(id);
      if (other !== undefined) {
        skipped('id taken', `${f.abs}: its document id ${JSON.stringify(id)} is also that of ${other} (ingest the roots with different --prefix)`);
        continue;
      }
      const before = existing.get(id);
      const ownerRoot = before?.metadata?.[root_key];
      if (before !== undefined && before.path !== docPath) {
        skipped('id taken', `${f.abs}: the id ${JSON.stringify(id)} is taken by a document with path ${JSON.stringify(before.path)}`);
        continue;
      }
      if (typeof ownerRoot === 'string' && ownerRoot !== root.real) {
        skipped('id taken', `${f.abs}: ${JSON.stringify(id)} was ingested from ${ownerRoot} (ingest this root with another --prefix)`);
        continue;
      }
      taken.set(id, f.abs);
      candidates.push({ abs: f.abs, root: root.real, docPath, id, size: f.size });
    }
  }
  report.files = candidates.length + report.skipped;
  const progress = new Progress(opts.err, report.files, opts.every);
  ui.progress = progress;
  let local = report.skipped;
  let acknowledged = 0;
  const counts = (): { done: number; written: number } => ({ done: local + acknowledged, written: report.written });

  const skip = (c: Candidate, kind: string, why: string): void => {
    skipped(kind, `${c.abs}: ${why}`);
    local++;
  };

  // Files in order; changed ones become documents for bulk(), the rest are counted here.
  const sent: Candidate[] = [];
  async function* documents(): AsyncGenerator<DocumentInput> {
    for (const c of candidates) {
      if (opts.stopping()) {
        report.interrupted = true;
        return;
      }
      if (c.size > opts.maxBytes) {
        skip(c, 'too large', `${c.size} bytes, over the document limit of ${opts.maxBytes} (server.document_bytes_max; --max-bytes)`);
        continue;
      }
      let bytes: Buffer;
      try {
        bytes = await readFile(c.abs);
      } catch (err) {
        skip(c, 'unreadable', `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
        continue;
      }
      if (bytes.length > opts.maxBytes) {
        skip(c, 'too large', `${bytes.length} bytes, over the document limit of ${opts.maxBytes} (server.document_bytes_max; --max-bytes)`);
        continue;
      }
      const content = decodeText(bytes);
      if (content === null) {
        skip(c, 'not UTF-8', 'not valid UTF-8 (a binary or otherwise encoded file)');
        continue;
      }
      if (/[\uFFFE\uFFFF]/.test(content)) {
        skip(c, 'not valid text', 'it holds the noncharacter U+FFFE or U+FFFF, which the store refuses');
        continue;
      }
      if (content.trim() === '') {
        skip(c, 'empty', 'empty (no text to index)');
        continue;
      }
      const hash = createHash('sha256').update(bytes).digest('hex');
      const before = existing.get(c.id);
      if (before !== undefined && before.content_hash === hash && before.path === c.docPath && before.language === languageFromPath(c.docPath) && sameMetadata(before.metadata, c.root)) {
        report.unchanged++;
        local++;
        progress.update(counts());
        continue;
      }
      if (opts.dryRun) {
        opts.out.write(`would write ${c.id}${before === undefined ? '' : ' (changed)'}\n`);
        report.written++;
        local++;
        continue;
      }
      sent.push(c);
      yield { id: c.id, path: c.docPath, content, metadata: { [root_key]: c.root } };
    }
  }

  if (opts.dryRun) {
    for await (const _ of documents()) throw new Error('invariant: a dry run yields no document');
  } else {
    const result = await client.bulk(documents(), {
      concurrency: opts.concurrency,
      onProgress: (p) => {
        acknowledged = p.done;
        report.written = p.added;
        progress.update(counts());
      },
    });
    report.written = result.added;
    for (const e of result.errors) {
      const c = sent[e.item];
      say(`ingest: not written ${c?.abs ?? `item ${e.item}`}: ${e.error.code}: ${e.error.message}`);
      report.failed++;
    }
  }
  progress.finish(counts());

  if (opts.sync && !report.interrupted) await syncDeletes(client, walks, existing, taken, opts, report, say);
  return report;
}

/**
 * --sync: the documents of these roots whose files are gone. A document belongs to a root by its
 * metadata; its file is gone when its path is not that of a file present now (under --prefix),
 * unless it lies in a directory the walk could not see into.
 */
async function syncDeletes(
  client: CairnClient,
  walks: Array<{ root: Root; present: Set<string>; unseen: string[] }>,
  existing: Map<string, DocumentSummary>,
  taken: Map<string, string>,
  opts: IngestOptions,
  report: IngestReport,
  say: (line: string) => void,
): Promise<void> {
  const gone: string[] = [];
  for (const d of existing.values()) {
    const w = walks.find((x) => d.metadata?.[root_key] === x.root.real);
    if (w === undefined || taken.has(d.id)) continue;
    const rel = d.path !== null && d.path.startsWith(opts.prefix) ? d.path.slice(opts.prefix.length) : null;
    if (rel !== null && (w.present.has(rel) || w.unseen.some((dir) => isUnder(rel, dir)))) continue;
    gone.push(d.id);
  }
  if (opts.dryRun) {
    for (const id of gone) opts.out.write(`would delete ${id}\n`);
    report.deleted = gone.length;
    return;
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < gone.length && !opts.stopping()) {
      const id = gone[next++] as string;
      await client.delete(id);
      report.deleted++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(delete_concurrency, gone.length) }, () => worker()));
  if (opts.stopping() && report.deleted < gone.length) report.interrupted = true;
  if (gone.length > 0) say(`ingest: deleted ${report.deleted} of ${gone.length} documents whose files are gone`);
}
