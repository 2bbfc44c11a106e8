// `cairn reembed -w W`: re-embeds a workspace after the embedding provider changed (embedding.* in
// the config). A vector is computed when the leader prepares a write and travels in the log entry,
// so a document gets a vector of the new provider only when it is written again: this rewrites
// every document through the API with what it holds (id, content, path, language, metadata: read
// whole, sent unchanged, so ids, paths and metadata stay, and so does the ETag, which does not
// cover the vector; created_at is kept by the store, updated_at is the rewrite's). Each rewrite is
// conditional on the ETag read (If-Match): a document changed or deleted meanwhile is left as the
// newer write made it (that write was embedded by the new provider already).
//
// A workspace keeps the vector dimension of its first document; a provider of another dimension
// cannot rewrite it in place (the leader refuses with dimension_mismatch, and this stops at the
// first one). `--to W2` writes the documents into a new workspace instead, embedded there.
// Exit 0 done, 1 refused or unreachable (one line says why), 2 bad flags.
import { CairnError, PreconditionFailedError, workspace_id_pattern } from '@cairn/client';
import type { Document } from '@cairn/client';
import { parseArgs, usageLine, UsageError } from './args.ts';
import { clientOf, readDocuments, WORKSPACE_FLAGS, workspaceOptions } from './export.ts';
import type { WorkspaceOptions } from './export.ts';

/** Rewrites in flight at once, at most. */
export const reembed_concurrency_max = 16;

const HELP = `Usage: cairn reembed --workspace W [--to W2] [--url URL]... [--token T] [--concurrency N]

Re-embeds the documents of workspace W with the cluster's current embedding provider. Run it once
every node runs the new embedding config (the leader computes a write's vector; the node that
answers a search embeds the query). Every document is written again with its id, content, path,
language and metadata as read, on the condition that it has not changed since (If-Match: its
ETag); one that changed or was deleted meanwhile is left as that newer write made it. Ids, paths,
metadata and ETags stay; created_at is kept; updated_at is the rewrite's.
A workspace keeps the vector dimension of its first document: with a provider of another
dimension, rewriting in place is refused; --to W2 writes the documents into workspace W2 instead
(point your clients at W2 once it is done).
  --workspace W, -w W  the workspace (required)
  --to W2              write into workspace W2 (bulk, unconditional) instead of rewriting W
  --url URL            a node or nginx (default $CAIRN_URL, else http://127.0.0.1:8080); repeatable
  --token T            server.auth_token (also $CAIRN_AUTH_TOKEN)
  --concurrency N      rewrites in flight (default 4, at most ${reembed_concurrency_max})
Exit 0 done, 1 refused or unreachable (one line says why), 2 bad flags.
`;

export interface ReembedResult {
  rewritten: number;
  /** Changed or deleted since they were read: left as the newer write made them. */
  changed: number;
}

/** Rewrites W in place; throws CairnError (dimension_mismatch among them) at the first refusal. */
export async function reembedInPlace(o: WorkspaceOptions, progress: (r: ReembedResult) => void = () => {}): Promise<ReembedResult> {
  const client = clientOf(o);
  const result: ReembedResult = { rewritten: 0, changed: 0 };
  const inFlight = new Set<Promise<void>>();
  const failed: { error: Error | null } = { error: null };
  const rewrite = async (d: Document): Promise<void> => {
    try {
      await client.put({ id: d.id, content: d.content, path: d.path, language: d.language, metadata: d.metadata }, { ifMatch: d.etag });
      result.rewritten++;
    } catch (err) {
      if (!(err instanceof PreconditionFailedError)) throw err;
      result.changed++;
    }
    if ((result.rewritten + result.changed) % 500 === 0) progress({ ...result });
  };
  for await (const d of readDocuments(client, o.concurrency)) {
    if (failed.error !== null) break;
    const p = rewrite(d).catch((err: unknown) => {
      failed.error ??= err instanceof Error ? err : new Error(String(err));
    });
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
    if (inFlight.size >= o.concurrency) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failed.error !== null) throw failed.error;
  return result;
}

export async function run(args: string[]): Promise<number> {
  let o: WorkspaceOptions;
  let to: string | undefined;
  try {
    const { flags, lists, positional } = parseArgs(args, { booleans: ['help'], values: [...WORKSPACE_FLAGS.values, 'to'], lists: WORKSPACE_FLAGS.lists, aliases: WORKSPACE_FLAGS.aliases });
    if (flags.has('help')) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}"`);
    o = workspaceOptions(flags, lists, 4, reembed_concurrency_max);
    to = flags.get('to');
    if (to !== undefined && !workspace_id_pattern.test(to)) throw new UsageError(`--to: "${to}" is not a workspace id`);
    if (to === o.workspace) throw new UsageError('--to names the workspace itself: leave --to out to rewrite it in place');
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(usageLine('reembed', err));
    return 2;
  }
  const started = performance.now();
  const seconds = (): string => ((performance.now() - started) / 1000).toFixed(1);
  try {
    if (to !== undefined) {
      const gone = { count: 0 };
      const r = await clientOf(o, to).bulk(
        (async function* () {
          for await (const d of readDocuments(clientOf(o), o.concurrency, gone)) yield { id: d.id, content: d.content, path: d.path, language: d.language, metadata: d.metadata };
        })(),
        { concurrency: 2 },
      );
      for (const e of r.errors.slice(0, 20)) process.stderr.write(`cairn reembed: item ${e.item}: refused: ${e.error.code}: ${e.error.message}\n`);
      process.stdout.write(`reembed: ${o.workspace} -> ${to}: ${r.added} documents written${r.errors.length > 0 ? `, ${r.errors.length} refused` : ''} in ${seconds()}s\n`);
      return r.errors.length > 0 ? 1 : 0;
    }
    const r = await reembedInPlace(o, (p) => process.stderr.write(`reembed: ${o.workspace}: ${p.rewritten} rewritten, ${p.changed} changed meanwhile\n`));
    process.stdout.write(`reembed: ${o.workspace}: ${r.rewritten} documents rewritten, ${r.changed} changed or deleted meanwhile (left as written) in ${seconds()}s\n`);
    return 0;
  } catch (err) {
    if (err instanceof CairnError) {
      const hint = err.code === 'dimension_mismatch' ? `; a workspace keeps its dimension: re-embed into a new one with --to ${o.workspace}-v2` : '';
      process.stderr.write(`cairn reembed: ${err.message.split('\n')[0]}${hint}\n`);
      return 1;
    }
    throw err;
  }
}
