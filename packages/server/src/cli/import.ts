// `cairn import -w W [FILE]`: writes the documents of a `cairn export` (JSON lines; stdin without
// FILE or with "-") into workspace W through the public bulk API, chunked to the cluster's limits
// by the client's bulk helper (bulk_documents_max, body_bytes_max; halved on 413). Each line is
// checked before it is sent: JSON, an object with a string content (and id, path, language,
// metadata of the right types), and, when it has one, content_hash equal to the content's sha256.
// Writes are puts by id, so an import that stopped may be run again. Exit 0 all written, 1 some
// line or document refused or the cluster unreachable, 2 bad flags.
import crypto from 'node:crypto';
import fs from 'node:fs';
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import { bulk_concurrency_max, CairnError } from '@cairn/client';
import type { DocumentInput } from '@cairn/client';
import { parseArgs, usageLine, UsageError } from './args.ts';
import { clientOf, WORKSPACE_FLAGS, workspaceOptions } from './export.ts';
import type { WorkspaceOptions } from './export.ts';

/** A line that cannot be imported: its number and why, on one line. */
export class ImportLineError extends Error {
  override readonly name = 'ImportLineError';
}

/** Item errors printed, at most (the count says how many there were). */
const errors_shown_max = 20;

/** The document of one exported line; throws ImportLineError naming the line. */
export function parseLine(text: string, n: number, source: string): DocumentInput {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (err) {
    throw new ImportLineError(`${source}:${n}: not JSON (${(err as Error).message})`);
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new ImportLineError(`${source}:${n}: expected a JSON object (a document), got ${Array.isArray(o) ? 'an array' : o === null ? 'null' : typeof o}`);
  const r = o as Record<string, unknown>;
  if (typeof r['content'] !== 'string') throw new ImportLineError(`${source}:${n}: content is missing or not a string`);
  for (const k of ['id', 'path', 'language'] as const) {
    if (r[k] !== undefined && r[k] !== null && typeof r[k] !== 'string') throw new ImportLineError(`${source}:${n}: ${k} must be a string or null`);
  }
  const meta = r['metadata'];
  if (meta !== undefined && meta !== null && (typeof meta !== 'object' || Array.isArray(meta))) throw new ImportLineError(`${source}:${n}: metadata must be an object or null`);
  const hash = r['content_hash'];
  if (hash !== undefined) {
    const actual = crypto.createHash('sha256').update(r['content'], 'utf8').digest('hex');
    if (hash !== actual) throw new ImportLineError(`${source}:${n}: content does not match its content_hash (damaged line?)`);
  }
  const doc: DocumentInput = { content: r['content'] };
  if (typeof r['id'] === 'string') doc.id = r['id'];
  if (r['path'] !== undefined) doc.path = r['path'] as string | null;
  if (r['language'] !== undefined) doc.language = r['language'] as string | null;
  if (meta !== undefined) doc.metadata = meta as Record<string, unknown> | null;
  return doc;
}

/** The documents of a JSON-lines stream, blank lines skipped; `lines[i]` is item i's line number. */
export async function* readLines(input: Readable, source: string, lines: number[]): AsyncGenerator<DocumentInput> {
  const rl = readline.createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const text of rl) {
    n++;
    if (text.trim() === '') continue;
    const doc = parseLine(text, n, source);
    lines.push(n);
    yield doc;
  }
}

const HELP = `Usage: cairn import --workspace W [FILE|-] [--url URL]... [--token T] [--concurrency N]

Writes the documents of FILE (JSON lines as \`cairn export\` writes them; stdin when FILE is absent
or "-") into workspace W through the bulk API, in chunks within the cluster's limits. A line needs
a string content; id, path, language and metadata are kept as given, and a content_hash must
match the content. The importing cluster embeds the documents (vectors are not imported).
Writes are puts by id: an import that stopped can be run again.
  --workspace W, -w W  the workspace to write into (required)
  --url URL            a node or nginx (default $CAIRN_URL, else http://127.0.0.1:8080); repeatable
  --token T            server.auth_token (also $CAIRN_AUTH_TOKEN)
  --concurrency N      bulk requests in flight (default 2, at most ${bulk_concurrency_max})
Exit 0 all written, 1 a line or document refused or the cluster unreachable, 2 bad flags.
`;

export async function run(args: string[]): Promise<number> {
  let o: WorkspaceOptions;
  let file: string;
  try {
    const { flags, lists, positional } = parseArgs(args, { booleans: ['help'], values: WORKSPACE_FLAGS.values, lists: WORKSPACE_FLAGS.lists, aliases: WORKSPACE_FLAGS.aliases });
    if (flags.has('help')) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positional.length > 1) throw new UsageError(`one FILE at most, got ${positional.length}`);
    file = positional[0] ?? '-';
    o = workspaceOptions(flags, lists, 2, bulk_concurrency_max);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(usageLine('import', err));
    return 2;
  }
  let input: Readable;
  const source = file === '-' ? 'stdin' : file;
  if (file === '-') {
    input = process.stdin;
  } else {
    try {
      const st = fs.statSync(file);
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      input = fs.createReadStream(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      process.stderr.write(`cairn import: ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a JSON-lines file' : `cannot be read (${code ?? (err as Error).message})`}\n`);
      return 1;
    }
  }
  const started = performance.now();
  const lines: number[] = [];
  try {
    const r = await clientOf(o).bulk(readLines(input, source, lines), { concurrency: o.concurrency });
    const s = ((performance.now() - started) / 1000).toFixed(1);
    for (const e of r.errors.slice(0, errors_shown_max)) process.stderr.write(`cairn import: ${source}:${lines[e.item] ?? '?'}: refused: ${e.error.code}: ${e.error.message}\n`);
    if (r.errors.length > errors_shown_max) process.stderr.write(`cairn import: and ${r.errors.length - errors_shown_max} more refused\n`);
    process.stdout.write(`import: ${o.workspace}: ${r.added} documents written${r.errors.length > 0 ? `, ${r.errors.length} refused` : ''} of ${r.total} in ${r.chunks} requests, ${s}s\n`);
    return r.errors.length > 0 ? 1 : 0;
  } catch (err) {
    if (err instanceof ImportLineError) {
      process.stderr.write(`cairn import: ${err.message}; the ${lines.length} documents before it may be written (puts by id: fix the line and run it again)\n`);
      return 1;
    }
    if (err instanceof CairnError) {
      process.stderr.write(`cairn import: ${err.message.split('\n')[0]}\n`);
      return 1;
    }
    throw err;
  }
}
