// `cairn restore FILE --config CLUSTER.yaml` (or `--data-dir DIR`): seeds a new cluster from a
// backup (backup.ts). The state database is verified (size, sha256, quick_check, applied index,
// state checksum) and written as state.db into the leader's empty data directory, and only there.
//
// Why only the leader: a node started on a state.db at index N with no log is a leader whose log
// is behind its state (identity.ts checkLocalStorage), so it asks the followers what they hold;
// new followers hold nothing, so it restarts its log after N (recovery.ts) and leads. The
// followers start empty, need entries up to N the leader's log does not have, and are sent a
// snapshot of the leader's state: the path every wiped follower takes, verified chunk by chunk
// and by comparing state checksums afterwards. Seeding each follower too would need a log that
// starts after N with the same term on every node, which no other path writes; one copy, then
// the cluster's own resync, keeps one source of truth.
//
// Exit 0 restored, 1 refused (the line says why: a missing, truncated or damaged file, a data
// directory that is not empty, another cluster, a follower), 2 bad flags or config.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, ConfigError } from '../config/load.ts';
import { loadIdentity } from '../replication/identity.ts';
import { parseArgs, usageLine, UsageError } from './args.ts';
import { BackupFileError, fsyncPath, readManifest, verifyStateFile } from './backup.ts';
import type { BackupManifest } from './backup.ts';

const HELP = `Usage: cairn restore FILE --config CLUSTER.yaml [--node-id ID] [--data-dir DIR] [--other-cluster]
       cairn restore FILE --data-dir DIR

Seeds a new cluster from a backup taken by \`cairn backup\`. The backup is verified (size, sha256,
SQLite quick_check, applied index, and its state checksum computed again), then written as
state.db into the leader's data directory, which must be empty or absent. Only the leader is
seeded: start it on that directory and the followers on empty ones; the leader resyncs each
follower with a snapshot of the restored state.
  --config FILE     the new cluster's config: the data directory is the leader's server.data_dir,
                    and identity.json is written for that node of that cluster
  --node-id ID      the node to seed (default: the config's leader; a follower is refused)
  --data-dir DIR    the data directory to seed (over the config's; without --config, any node
                    that starts there takes it, so start the leader there)
  --other-cluster   allow a config whose replication.cluster_id is not the backup's (seed a
                    copy of the cluster under another id, e.g. staging from production)
Exit 0 restored, 1 refused (one line says why), 2 bad flags or config.
`;

/** The files a node's data directory holds: any of them there means it is not a new node's. */
const NODE_FILES = ['state.db', 'state.db-wal', 'log.db', 'log.db-wal', 'identity.json'];

export interface RestoreTarget {
  dir: string;
  /** Written to identity.json when known (from a config). */
  identity: { cluster_id: string; node_id: string } | null;
}

/** Verifies `file` and writes its state into target.dir; throws BackupFileError with one line. */
export async function restoreBackup(file: string, target: RestoreTarget): Promise<BackupManifest> {
  const { manifest, offset } = readManifest(file);
  const dir = path.resolve(target.dir);
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new BackupFileError(`${dir}: not a directory`);
    const held = NODE_FILES.filter((f) => fs.existsSync(path.join(dir, f)));
    if (held.length > 0) {
      let owner = '';
      try {
        const id = JSON.parse(fs.readFileSync(path.join(dir, 'identity.json'), 'utf8')) as { node_id?: string; cluster_id?: string };
        owner = ` of node ${id.node_id ?? '?'} of cluster ${id.cluster_id ?? '?'}`;
      } catch {
        /* no readable identity */
      }
      throw new BackupFileError(`${dir} already holds a node's data${owner} (${held.join(', ')}): restore seeds a new cluster; choose an empty directory or move that one away`);
    }
  }
  fs.mkdirSync(dir, { recursive: true });
  const dest = path.join(dir, 'state.db');
  const tmp = path.join(dir, 'state.db.restoring');
  fs.rmSync(tmp, { force: true });
  try {
    const hash = crypto.createHash('sha256');
    const out = fs.openSync(tmp, 'w', 0o644);
    try {
      for await (const chunk of fs.createReadStream(file, { start: offset, end: offset + manifest.bytes - 1 })) {
        const buf = chunk as Buffer;
        hash.update(buf);
        for (let written = 0; written < buf.length; ) written += fs.writeSync(out, buf, written, buf.length - written);
      }
      fs.fsyncSync(out);
    } finally {
      fs.closeSync(out);
    }
    const sha256 = manifest.bytes === 0 ? '' : hash.digest('hex');
    if (sha256 !== manifest.sha256) throw new BackupFileError(`${file}: damaged: the state's sha256 is ${sha256 || '(empty)'}, the manifest says ${manifest.sha256}`);
    await verifyStateFile(tmp, manifest, file);
    fs.renameSync(tmp, dest);
    fsyncPath(dir);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  if (target.identity !== null) loadIdentity(dir, target.identity.cluster_id, target.identity.node_id);
  return manifest;
}

export async function run(args: string[]): Promise<number> {
  let file: string;
  let target: RestoreTarget;
  let flags: Map<string, string>;
  try {
    const parsed = parseArgs(args, { booleans: ['help', 'other-cluster'], values: ['config', 'node-id', 'data-dir'] });
    flags = parsed.flags;
    if (flags.has('help')) {
      process.stdout.write(HELP);
      return 0;
    }
    if (parsed.positional.length !== 1) throw new UsageError(parsed.positional.length === 0 ? 'name the backup FILE to restore' : `one backup FILE, got ${parsed.positional.length}`);
    file = parsed.positional[0] as string;
    const config = flags.get('config');
    if (config === undefined && !flags.has('data-dir')) throw new UsageError('--config CLUSTER.yaml or --data-dir DIR is required');
    if (config === undefined && flags.has('node-id')) throw new UsageError('--node-id needs --config (the node of which cluster?)');
    if (config === undefined) {
      target = { dir: flags.get('data-dir') as string, identity: null };
    } else {
      const nodeId = flags.get('node-id');
      let c;
      try {
        c = loadConfig({ file: config, env: process.env, flags: nodeId === undefined ? {} : { 'node-id': nodeId }, anyNode: nodeId === undefined });
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        process.stderr.write(`cairn restore: invalid configuration (${config}): ${err.errors.join('; ')}\n`);
        return 2;
      }
      if (c.node_id !== c.replication.leader) {
        process.stderr.write(`cairn restore: ${c.node_id} is a follower in ${config}: restore seeds the leader (${c.replication.leader}); the followers start empty and are resynced from it\n`);
        return 1;
      }
      target = { dir: flags.get('data-dir') ?? c.server.data_dir, identity: { cluster_id: c.replication.cluster_id, node_id: c.node_id } };
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(usageLine('restore', err));
    return 2;
  }
  try {
    if (target.identity !== null && !flags.has('other-cluster')) {
      const { manifest } = readManifest(file);
      if (manifest.cluster_id !== target.identity.cluster_id) {
        process.stderr.write(
          `cairn restore: ${file} is a backup of cluster "${manifest.cluster_id}", ${flags.get('config')} is cluster "${target.identity.cluster_id}" (replication.cluster_id): pass --other-cluster to seed cluster "${target.identity.cluster_id}" with it\n`,
        );
        return 1;
      }
    }
    const m = await restoreBackup(file, target);
    const who = target.identity === null ? 'the leader' : `${target.identity.node_id} (the leader of cluster ${target.identity.cluster_id})`;
    process.stdout.write(
      `restore: ${path.join(target.dir, 'state.db')}: the state of cluster ${m.cluster_id} at index ${m.index} (term ${m.term}), state checksum ${m.state_checksum}, verified\n` +
        `restore: start ${who} on ${target.dir} and the followers on empty data directories: the leader resyncs each of them with a snapshot\n`,
    );
    return 0;
  } catch (err) {
    if (!(err instanceof BackupFileError) && (err as NodeJS.ErrnoException).code === undefined) throw err;
    process.stderr.write(`cairn restore: ${(err as Error).message}\n`);
    return 1;
  }
}
