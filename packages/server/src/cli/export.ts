// `cairn export -w W > docs.jsonl`: every document of a workspace as JSON lines, through the
// public API (list in id order, then each document), for `cairn import` into another workspace or
// cluster. A line holds what a write takes (id, path, language, metadata, content) and, to check
// it on import, the content's sha256 (content_hash); vectors are not exported: the importing
// cluster embeds with its own provider. Each document is read whole, but the export is not one
// point in time: a document written meanwhile may be in it or not (`cairn backup` is a point in
// time). Exit 0 written, 1 the cluster refused or could not be reached, 2 bad flags.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { CairnClient, CairnError, workspace_id_pattern } from '@cairn/client';
import type { Document } from '@cairn/client';
import { parseArgs, usageLine, UsageError } from './args.ts';
import type { FlagSpec } from './args.ts';

/** One exported document: a line of docs.jsonl. */
export interface ExportLine {
  id: string;
  path: string | null;
  language: string | null;
  metadata: Record<string, unknown> | null;
  content: string;
  /** sha256 of content (UTF-8), hex, as the source stored it. */
  content_hash: string;
}

/** GETs in flight while exporting (at most). */
export const export_concurrency_max = 16;

/** The flags every workspace command takes (export, import, reembed). */
export const WORKSPACE_FLAGS = {
  values: ['workspace', 'url', 'token', 'concurrency'],
  lists: ['url'],
  aliases: { w: 'workspace' },
} as const satisfies FlagSpec;

export interface WorkspaceOptions {
  workspace: string;
  endpoints: string[];
  token: string;
  concurrency: number;
}

/** --workspace, --url, --token and --concurrency of a command; throws UsageError. */
export function workspaceOptions(flags: Map<string, string>, lists: Map<string, string[]>, concurrencyDefault: number, concurrencyMax: number): WorkspaceOptions {
  const workspace = flags.get('workspace');
  if (workspace === undefined) throw new UsageError('--workspace (-w) is required');
  if (!workspace_id_pattern.test(workspace)) throw new UsageError(`--workspace: "${workspace}" is not a workspace id (a letter or digit, then up to 63 letters, digits, ".", "_" or "-")`);
  const text = flags.get('concurrency');
  const concurrency = text === undefined ? concurrencyDefault : Number(text);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > concurrencyMax) throw new UsageError(`--concurrency: expected an integer from 1 to ${concurrencyMax}, got "${text}"`);
  return {
    workspace,
    endpoints: lists.get('url') ?? [process.env['CAIRN_URL'] ?? 'http://127.0.0.1:8080'],
    token: flags.get('token') ?? process.env['CAIRN_AUTH_TOKEN'] ?? '',
    concurrency,
  };
}

export function clientOf(o: WorkspaceOptions, workspace = o.workspace): CairnClient {
  return new CairnClient({ endpoints: o.endpoints, workspace, token: o.token });
}

/**
 * Every document of the client's workspace, whole, in id order: the listing's ids, each read with
 * up to `concurrency` reads in flight. A document deleted between the listing and its read is left
 * out (counted in `gone`).
 */
export async function* readDocuments(client: CairnClient, concurrency: number, gone: { count: number } = { count: 0 }): AsyncGenerator<Document> {
  const ids = client.list({ pageSize: 1000 });
  const inFlight: Array<Promise<Document | null>> = [];
  let listed = false;
  for (;;) {
    while (!listed && inFlight.length < concurrency) {
      const next = await ids.next();
      if (next.done === true) {
        listed = true;
        break;
      }
      const read = client.get(next.value.id);
      // Awaited below; a read still in flight when the consumer stops early must not reject unhandled.
      read.catch(() => {});
      inFlight.push(read);
    }
    const first = inFlight.shift();
    if (first === undefined) return;
    const doc = await first;
    if (doc === null) gone.count++;
    else yield doc;
  }
}

export function exportLine(d: Document): ExportLine {
  const hash = crypto.createHash('sha256').update(d.content, 'utf8').digest('hex');
  if (hash !== d.content_hash) throw new CairnError('invalid_answer', `document ${JSON.stringify(d.id)}: its content's sha256 is ${hash}, the server says ${d.content_hash}`);
  return { id: d.id, path: d.path, language: d.language, metadata: d.metadata, content: d.content, content_hash: d.content_hash };
}

async function writeLine(out: Writable, line: string): Promise<void> {
  if (!out.write(line)) await once(out, 'drain');
}

const HELP = `Usage: cairn export --workspace W [--url URL]... [--token T] [--out FILE] [--concurrency N]

Writes every document of workspace W as one JSON line each, in id order, to stdout (or FILE):
  {"id", "path", "language", "metadata", "content", "content_hash"}
for \`cairn import\`. Vectors are not exported: the importing cluster embeds the documents with its
own provider. Each document is read whole; documents written during the export may or may not be
in it (\`cairn backup\` takes one point in time).
  --workspace W, -w W  the workspace (required)
  --url URL            a node or nginx (default $CAIRN_URL, else http://127.0.0.1:8080); repeatable
  --token T            server.auth_token (also $CAIRN_AUTH_TOKEN)
  --out FILE           write to FILE (written aside and renamed when complete) instead of stdout
  --concurrency N      documents read at once (default 8, at most ${export_concurrency_max})
Exit 0 written, 1 refused or unreachable (one line says why), 2 bad flags.
`;

export async function run(args: string[]): Promise<number> {
  let o: WorkspaceOptions;
  let outFile: string | undefined;
  try {
    const { flags, lists, positional } = parseArgs(args, { booleans: ['help'], values: [...WORKSPACE_FLAGS.values, 'out'], lists: WORKSPACE_FLAGS.lists, aliases: WORKSPACE_FLAGS.aliases });
    if (flags.has('help')) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}" (the output is stdout, or --out FILE)`);
    o = workspaceOptions(flags, lists, 8, export_concurrency_max);
    outFile = flags.get('out');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(usageLine('export', err));
    return 2;
  }
  const started = performance.now();
  const partial = outFile === undefined ? undefined : `${outFile}.${process.pid}.partial`;
  let out: Writable = process.stdout;
  // A reader that stops early (| head) ends the export quietly.
  let closed = false;
  process.stdout.on('error', () => (closed = true));
  try {
    if (partial !== undefined) {
      out = fs.createWriteStream(partial, { flags: 'wx' });
      await once(out, 'open');
    }
    const gone = { count: 0 };
    let count = 0;
    let bytes = 0;
    for await (const d of readDocuments(clientOf(o), o.concurrency, gone)) {
      if (closed) return 0;
      const line = `${JSON.stringify(exportLine(d))}\n`;
      await writeLine(out, line);
      count++;
      bytes += Buffer.byteLength(line);
    }
    if (partial !== undefined && outFile !== undefined) {
      const ws = out as fs.WriteStream;
      await new Promise<void>((resolve, reject) => ws.end((err?: Error | null) => (err ? reject(err) : resolve())));
      fs.renameSync(partial, outFile);
    }
    const s = ((performance.now() - started) / 1000).toFixed(1);
    process.stderr.write(`export: ${o.workspace}: ${count} documents, ${bytes} bytes${gone.count > 0 ? ` (${gone.count} deleted while exporting, left out)` : ''} in ${s}s\n`);
    return 0;
  } catch (err) {
    if (partial !== undefined) fs.rmSync(partial, { force: true });
    if (err instanceof CairnError || (err as NodeJS.ErrnoException).code !== undefined) {
      process.stderr.write(`cairn export: ${(err as Error).message.split('\n')[0]}\n`);
      return 1;
    }
    throw err;
  }
}
