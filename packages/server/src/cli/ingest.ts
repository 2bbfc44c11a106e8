// `cairn ingest PATH... --workspace W`: files become documents (see ../ingest/ingest.ts). Exit 0
// when every file was ingested or skipped with a reason, 1 when the cluster refused or could not
// take some, 2 on bad flags, 130 when interrupted (run it again: it goes on where it stopped).

import { GlobError } from '../store/glob.ts';
import { ingest, IngestError } from '../ingest/ingest.ts';
import { parseArgs, usageLine, UsageError } from './args.ts';
import { CairnError, workspace_id_pattern } from '@cairn/client';

const HELP = `Usage: cairn ingest PATH... --workspace W [--url URL]... [--token T] [--include GLOB]...
                    [--exclude GLOB]... [--sync] [--prefix P] [--dry-run] [--max-bytes N]

Writes every file under each PATH (a directory, or a file) as a document of workspace W. A
document's path is the file's path relative to its PATH ("/"-separated, after --prefix); its id
is that path (ids may hold "/"), or for a path that is not a valid id (over 256 characters) the
path's head, "~" and 32 hex digits of the path's sha256. An edited file replaces its document; a
file whose document has the same content (sha256), path and root is not written again, so a
second run over unchanged files writes nothing. Safe to interrupt (Ctrl-C) and run again.
Files over --max-bytes, not valid UTF-8, or empty are skipped with a line saying why.
  --workspace W, -w W  the workspace (required)
  --url URL            a node or nginx (default $CAIRN_URL, else http://127.0.0.1:8080); more than
                       one may be given; the other nodes are discovered
  --token T            server.auth_token (also $CAIRN_AUTH_TOKEN)
  --include GLOB       only files whose relative path matches (repeatable; ** * ? [..] {a,b})
  --exclude GLOB       not files (or directories) that match (repeatable; wins over --include)
  --sync               delete this root's documents whose files are gone (not those of files that
                       --include/--exclude leave out, nor under directories it cannot read)
  --prefix P           prepended to every document path and id (e.g. docs/), to keep roots apart
  --dry-run            print what would be written and deleted; write nothing
  --max-bytes N        skip files larger than this (default 262144: server.document_bytes_max)
  --progress-every N   without a terminal, a progress line per N documents (default 1000)
  --concurrency N      bulk requests in flight (default 2, at most 8)
Progress goes to stderr: a bar with documents/s and an ETA on a terminal, plain lines otherwise.
`;

const SPEC = {
  booleans: ['help', 'sync', 'dry-run'],
  values: ['workspace', 'url', 'token', 'prefix', 'max-bytes', 'progress-every', 'concurrency'],
  lists: ['url', 'include', 'exclude'],
  aliases: { w: 'workspace' },
} as const;

function intFlag(flags: Map<string, string>, name: string, fallback: number, min: number, max: number): number {
  const text = flags.get(name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name}: expected an integer from ${min} to ${max}, got "${text}"`);
  return n;
}

export async function run(args: string[]): Promise<number> {
  let opts: Parameters<typeof ingest>[0];
  let interrupts = 0;
  try {
    const { flags, lists, positional } = parseArgs(args, SPEC);
    if (flags.has('help')) {
      process.stdout.write(HELP);
      return 0;
    }
    const workspace = flags.get('workspace');
    if (workspace === undefined) throw new UsageError('--workspace is required');
    if (!workspace_id_pattern.test(workspace)) throw new UsageError(`--workspace: "${workspace}" is not a workspace id (a letter or digit, then up to 63 letters, digits, ".", "_" or "-")`);
    if (positional.length === 0) throw new UsageError('name at least one file or directory to ingest');
    const prefix = flags.get('prefix') ?? '';
    if (prefix.startsWith('/')) throw new UsageError('--prefix: a document path prefix does not start with "/"');
    opts = {
      roots: positional,
      workspace,
      endpoints: lists.get('url') ?? [process.env['CAIRN_URL'] ?? 'http://127.0.0.1:8080'],
      token: flags.get('token') ?? process.env['CAIRN_AUTH_TOKEN'] ?? '',
      include: lists.get('include') ?? [],
      exclude: lists.get('exclude') ?? [],
      sync: flags.has('sync'),
      dryRun: flags.has('dry-run'),
      prefix,
      maxBytes: intFlag(flags, 'max-bytes', 256 * 1024, 1, 1 << 30),
      every: intFlag(flags, 'progress-every', 1000, 1, 1_000_000_000),
      concurrency: intFlag(flags, 'concurrency', 2, 1, 8),
      out: process.stdout,
      err: process.stderr,
      stopping: () => interrupts > 0,
    };
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(usageLine('ingest', err));
    return 2;
  }

  const onSigint = (): void => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    process.stderr.write('\ningest: interrupted: finishing the requests in flight (Ctrl-C again to quit now); run it again to go on\n');
  };
  process.on('SIGINT', onSigint);
  const started = performance.now();
  try {
    const r = await ingest(opts);
    const s = ((performance.now() - started) / 1000).toFixed(1);
    const what = opts.dryRun ? 'would write' : 'written';
    const nothing = r.written === 0 && r.deleted === 0 && r.failed === 0;
    process.stdout.write(
      `ingest: ${r.files} files: ${r.unchanged} unchanged, ${r.written} ${what}, ${r.skipped} skipped${r.failed > 0 ? `, ${r.failed} refused` : ''}` +
        `${opts.sync ? `, ${r.deleted} ${opts.dryRun ? 'would be deleted' : 'deleted'}` : ''} in ${s}s${nothing && !r.interrupted ? ': nothing to do' : ''}\n`,
    );
    const reasons = Object.entries(r.skippedBy).sort((a, b) => b[1] - a[1]);
    if (reasons.length > 0) process.stderr.write(`ingest: skipped ${reasons.map(([k, n]) => `${n} ${k}`).join(', ')}\n`);
    if (r.interrupted) return 130;
    return r.failed > 0 ? 1 : 0;
  } catch (err) {
    if (err instanceof IngestError || err instanceof GlobError) {
      process.stderr.write(`cairn ingest: ${err.message}\n`);
      return err instanceof GlobError ? 2 : 1;
    }
    if (err instanceof CairnError) {
      process.stderr.write(`cairn ingest: ${err.message}\ncairn ingest: what was written stays; run it again to go on\n`);
      return 1;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
}
