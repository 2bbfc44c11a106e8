// `cairn backup --out FILE`: a consistent, checksummed copy of the cluster's state, taken through
// the leader while it serves (GET /_raft/backup, http/backup-routes.ts: the state copy the leader
// makes for snapshots). The copy is checked here before it is kept: its size and sha256 are the
// ones the leader announced, SQLite's quick_check passes, its applied index is the announced one,
// and its state checksum, computed again here, is the leader's. Exit 0 kept, 1 not, 2 bad flags.
//
// The backup file is one line of manifest and then the state database, byte for byte as the
// leader copied it (the same bytes a snapshot sends; no second format):
//
//   cairn-backup 1 {"cluster_id":..,"index":..,"term":..,"bytes":..,"sha256":..,"state_checksum":..}\n
//   <state.db: `bytes` bytes of SQLite database>
//
// `tail -n +2 FILE > state.db` gives the database back; `cairn restore` verifies it first.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import Database from 'better-sqlite3';
import { BACKUP_HEADERS } from '../http/backup-routes.ts';
import { version } from '../cluster/cluster-view.ts';
import { quickCheck } from '../replication/sqlite-worker.ts';
import { stateDigestOf } from '../store/state-digest.ts';
import { parseArgs, usageLine, UsageError } from './args.ts';
import { normaliseUrl, reason } from './status.ts';

export const BACKUP_MAGIC = 'cairn-backup';
export const BACKUP_VERSION = 1;
/** The manifest line is at most this long (it is a few hundred bytes). */
export const manifest_bytes_max = 64 * 1024;

export interface BackupManifest {
  format: typeof BACKUP_MAGIC;
  version: typeof BACKUP_VERSION;
  cluster_id: string;
  /** The leader the copy was taken from. */
  node_id: string;
  /** Applied index and term of the state in the copy. */
  index: number;
  term: number;
  /** Size and sha256 of the database bytes that follow the manifest line. */
  bytes: number;
  sha256: string;
  /** The state checksum (store/checksum.ts) of the copy, as /_raft/checksum reports it. */
  state_checksum: string;
  created_at: string;
  cairn_version: string;
}

/** A backup file that cannot be used: the message is one line naming the file and the problem. */
export class BackupFileError extends Error {
  override readonly name = 'BackupFileError';
}

export function manifestLine(m: BackupManifest): string {
  return `${BACKUP_MAGIC} ${BACKUP_VERSION} ${JSON.stringify(m)}\n`;
}

/** Reads and checks the manifest of a backup file; `offset` is where the database starts. */
export function readManifest(file: string): { manifest: BackupManifest; offset: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BackupFileError(code === 'ENOENT' ? `${file}: no such file` : code === 'EISDIR' ? `${file}: is a directory, not a backup file` : `${file}: cannot be read (${code ?? (err as Error).message})`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (fs.fstatSync(fd).isDirectory()) throw new BackupFileError(`${file}: is a directory, not a backup file`);
    const head = Buffer.alloc(Math.min(size, manifest_bytes_max));
    const n = fs.readSync(fd, head, 0, head.length, 0);
    const text = head.subarray(0, n);
    if (!text.subarray(0, BACKUP_MAGIC.length + 1).equals(Buffer.from(`${BACKUP_MAGIC} `))) {
      throw new BackupFileError(`${file}: not a Cairn backup (it does not start with "${BACKUP_MAGIC} ")`);
    }
    const nl = text.indexOf(0x0a);
    if (nl < 0) throw new BackupFileError(`${file}: truncated or damaged: its manifest line has no end within ${manifest_bytes_max} bytes`);
    const line = text.subarray(0, nl).toString('utf8');
    const m = /^cairn-backup (\d+) (\{.*\})$/.exec(line);
    if (m === null) throw new BackupFileError(`${file}: damaged manifest line (expected "${BACKUP_MAGIC} <version> {json}")`);
    if (Number(m[1]) !== BACKUP_VERSION) throw new BackupFileError(`${file}: backup format version ${m[1]}; this cairn reads version ${BACKUP_VERSION}`);
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(m[2] as string) as Record<string, unknown>;
    } catch (err) {
      throw new BackupFileError(`${file}: damaged manifest (${(err as Error).message})`);
    }
    const manifest = checkManifest(o, file);
    const offset = nl + 1;
    if (size < offset + manifest.bytes) throw new BackupFileError(`${file}: truncated: it holds ${size - offset} of the ${manifest.bytes} bytes of state its manifest announces`);
    if (size > offset + manifest.bytes) throw new BackupFileError(`${file}: damaged: ${size - offset - manifest.bytes} bytes more than the ${manifest.bytes} bytes of state its manifest announces`);
    return { manifest, offset, size };
  } finally {
    fs.closeSync(fd);
  }
}

function checkManifest(o: Record<string, unknown>, file: string): BackupManifest {
  const str = (k: string): string => {
    const v = o[k];
    if (typeof v !== 'string' || v === '') throw new BackupFileError(`${file}: damaged manifest: ${k} is missing or not a string`);
    return v;
  };
  const nat = (k: string): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new BackupFileError(`${file}: damaged manifest: ${k} is missing or not a non-negative integer`);
    return v;
  };
  if (o['format'] !== BACKUP_MAGIC || o['version'] !== BACKUP_VERSION) throw new BackupFileError(`${file}: damaged manifest: format and version do not match the first line`);
  const sha256 = str('sha256');
  const checksum = str('state_checksum');
  if (!/^[0-9a-f]{64}$/.test(sha256) || !/^[0-9a-f]{64}$/.test(checksum)) throw new BackupFileError(`${file}: damaged manifest: sha256 and state_checksum must be 64 hex digits`);
  return {
    format: BACKUP_MAGIC,
    version: BACKUP_VERSION,
    cluster_id: str('cluster_id'),
    node_id: str('node_id'),
    index: nat('index'),
    term: nat('term'),
    bytes: nat('bytes'),
    sha256,
    state_checksum: checksum,
    created_at: str('created_at'),
    cairn_version: str('cairn_version'),
  };
}

/**
 * Checks that `db` (a plain state database file) is the state `m` describes: quick_check, applied
 * index and term, and the state checksum computed again. Throws BackupFileError naming `what`.
 */
export async function verifyStateFile(db: string, m: Pick<BackupManifest, 'index' | 'term' | 'state_checksum'>, what: string): Promise<void> {
  let check: string;
  try {
    check = await quickCheck(db);
  } catch (err) {
    throw new BackupFileError(`${what}: not a valid state database (${(err as Error).message})`);
  }
  if (check !== 'ok') throw new BackupFileError(`${what}: the state database fails SQLite's quick_check: ${check.split('\n')[0]?.slice(0, 200)}`);
  let at: { i: number; t: number } | undefined;
  try {
    const conn = new Database(db, { readonly: true, fileMustExist: true });
    try {
      at = conn.prepare('SELECT applied_index AS i, applied_term AS t FROM raft_applied WHERE id = 1').get() as { i: number; t: number } | undefined;
    } finally {
      conn.close();
    }
  } catch (err) {
    throw new BackupFileError(`${what}: not a Cairn state database (${(err as Error).message})`);
  }
  if (at === undefined) throw new BackupFileError(`${what}: not a Cairn state database (no raft_applied row)`);
  if (at.i !== m.index || at.t !== m.term) throw new BackupFileError(`${what}: the database is at index ${at.i} term ${at.t}, the manifest says index ${m.index} term ${m.term}`);
  const digest = await stateDigestOf(db).catch((err: unknown) => {
    throw new BackupFileError(`${what}: its state checksum cannot be computed (${(err as Error).message})`);
  });
  if (digest.checksum !== m.state_checksum) throw new BackupFileError(`${what}: state checksum ${digest.checksum} where the manifest says ${m.state_checksum}`);
}

export function fsyncPath(p: string, flags = 'r'): void {
  const fd = fs.openSync(p, flags);
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const HELP = `Usage: cairn backup --out FILE [--url URL] [--token TOKEN] [--force] [--timeout-ms MS]

Takes a consistent copy of the cluster's state through the leader while it serves (GET
/_raft/backup): every workspace, every table of state.db, at one applied index. The copy is
checked before it is kept (size, sha256, SQLite quick_check, applied index, and the state
checksum computed again here must equal the leader's), then written to FILE, fsynced and renamed
into place. Restore it with \`cairn restore FILE --config CLUSTER.yaml\`.
  --out FILE        where to write the backup (required; refused if it exists, unless --force)
  --url URL         any node (default $CAIRN_URL, else http://127.0.0.1:8080); a follower names
                    the leader, which is then asked
  --token TOKEN     the operator token (replication.operator_token), also $CAIRN_OPERATOR_TOKEN
  --force           replace FILE if it exists
  --timeout-ms MS   how long the copy may take (default 600000)
Exit 0 kept, 1 not (the line says why), 2 bad flags.
`;

interface Fetched {
  headers: Headers;
  body: ReadableStream<Uint8Array>;
  from: string;
}

async function fetchBackup(base: string, token: string, timeoutMs: number): Promise<Fetched> {
  const headers: Record<string, string> = token === '' ? {} : { authorization: `Bearer ${token}` };
  const signal = AbortSignal.timeout(timeoutMs);
  for (let url = base, hops = 0; ; hops++) {
    let res: Response;
    try {
      res = await fetch(`${url}/_raft/backup`, { headers, signal });
    } catch (err) {
      throw new BackupFileError(`cannot reach ${url}: ${reason(err, timeoutMs)}`);
    }
    if (res.status === 200 && res.body !== null) return { headers: res.headers, body: res.body, from: url };
    const text = await res.text();
    let error: { code?: string; message?: string; leader_address?: string } = {};
    try {
      error = ((JSON.parse(text) as { error?: typeof error }).error ?? {});
    } catch {
      /* not JSON */
    }
    if (res.status === 409 && error.code === 'not_leader' && typeof error.leader_address === 'string' && hops === 0) {
      url = normaliseUrl(error.leader_address);
      continue;
    }
    const hint = res.status === 401 ? (token === '' ? ': pass --token (the operator token)' : ': wrong --token') : res.status === 404 ? ': this node has no /_raft/backup (an older cairn?)' : '';
    throw new BackupFileError(`${url}/_raft/backup answered ${res.status}${error.code ? ` ${error.code}` : ''}: ${error.message ?? text.slice(0, 200)}${hint}`);
  }
}

function announced(h: Headers): Omit<BackupManifest, 'format' | 'version' | 'created_at' | 'cairn_version'> {
  const get = (k: string): string => {
    const v = h.get(k);
    if (v === null || v === '') throw new BackupFileError(`the leader's answer has no ${k} header`);
    return v;
  };
  const int = (k: string): number => {
    const n = Number(get(k));
    if (!Number.isSafeInteger(n) || n < 0) throw new BackupFileError(`the leader's answer has a bad ${k} header`);
    return n;
  };
  return {
    cluster_id: get(BACKUP_HEADERS.cluster_id),
    node_id: get(BACKUP_HEADERS.node_id),
    index: int(BACKUP_HEADERS.index),
    term: int(BACKUP_HEADERS.term),
    bytes: int(BACKUP_HEADERS.bytes),
    sha256: get(BACKUP_HEADERS.sha256),
    state_checksum: get(BACKUP_HEADERS.state_checksum),
  };
}

/** Takes a backup into `out`; returns its manifest. Throws BackupFileError with one line. */
export async function takeBackup(opts: { base: string; token: string; out: string; timeoutMs: number }): Promise<BackupManifest> {
  const got = await fetchBackup(opts.base, opts.token, opts.timeoutMs);
  const a = announced(got.headers);
  const dir = path.dirname(path.resolve(opts.out));
  const plain = path.join(dir, `.${path.basename(opts.out)}.${process.pid}.db`);
  const framed = path.join(dir, `.${path.basename(opts.out)}.${process.pid}.partial`);
  try {
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(got.body as Parameters<typeof Readable.fromWeb>[0]), count, fs.createWriteStream(plain));
    } catch (err) {
      throw new BackupFileError(`the copy from ${got.from} broke off after ${bytes} of ${a.bytes} bytes: ${reason(err, opts.timeoutMs)}`);
    }
    const sha256 = hash.digest('hex');
    if (bytes !== a.bytes || sha256 !== a.sha256) throw new BackupFileError(`the copy from ${got.from} is ${bytes} bytes with sha256 ${sha256}; the leader announced ${a.bytes} bytes with sha256 ${a.sha256}`);
    await verifyStateFile(plain, a, `the copy from ${got.from}`);
    const manifest: BackupManifest = { format: BACKUP_MAGIC, version: BACKUP_VERSION, ...a, created_at: new Date().toISOString(), cairn_version: version };
    const fd = fs.openSync(framed, 'w', 0o600);
    try {
      fs.writeSync(fd, manifestLine(manifest));
      fs.closeSync(fd);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    await pipeline(fs.createReadStream(plain), fs.createWriteStream(framed, { flags: 'a' }));
    fsyncPath(framed, 'r+');
    fs.renameSync(framed, opts.out);
    fsyncPath(dir);
    return manifest;
  } finally {
    fs.rmSync(plain, { force: true });
    fs.rmSync(framed, { force: true });
  }
}

export async function run(args: string[]): Promise<number> {
  let out: string;
  let base: string;
  let token: string;
  let timeoutMs: number;
  try {
    const { flags, positional } = parseArgs(args, { booleans: ['help', 'force'], values: ['out', 'url', 'token', 'timeout-ms'] });
    if (flags.has('help')) {
      process.stdout.write(HELP);
      return 0;
    }
    if (positional.length > 0) throw new UsageError(`unexpected argument "${positional[0]}" (the file is given with --out)`);
    const o = flags.get('out');
    if (o === undefined || o === '') throw new UsageError('--out FILE is required');
    out = o;
    const url = flags.get('url') ?? process.env['CAIRN_URL'] ?? 'http://127.0.0.1:8080';
    try {
      base = normaliseUrl(url);
    } catch {
      throw new UsageError(`--url: not a URL: "${url}"`);
    }
    token = flags.get('token') ?? process.env['CAIRN_OPERATOR_TOKEN'] ?? '';
    timeoutMs = Number(flags.get('timeout-ms') ?? '600000');
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new UsageError(`--timeout-ms: expected a positive integer, got "${flags.get('timeout-ms')}"`);
    if (!flags.has('force') && fs.existsSync(out)) {
      process.stderr.write(`cairn backup: ${out} exists: pass --force to replace it\n`);
      return 1;
    }
    const dir = path.dirname(path.resolve(out));
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      process.stderr.write(`cairn backup: ${dir}: no such directory for --out\n`);
      return 1;
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(usageLine('backup', err));
    return 2;
  }
  const started = performance.now();
  try {
    const m = await takeBackup({ base, token, out, timeoutMs });
    const s = ((performance.now() - started) / 1000).toFixed(1);
    process.stdout.write(`backup: ${out}: cluster ${m.cluster_id} at index ${m.index} (term ${m.term}) from ${m.node_id}, ${m.bytes} bytes, sha256 ${m.sha256}, state checksum ${m.state_checksum}, ${s}s\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof BackupFileError) && (err as NodeJS.ErrnoException).code === undefined) throw err;
    process.stderr.write(`cairn backup: ${(err as Error).message}\n`);
    return 1;
  }
}
