// GET /_raft/backup: a consistent copy of the leader's state for `cairn backup`. It is the state
// copy the leader makes for snapshots and recovery (replica.stateCopy(): SQLite's online backup of
// the whole of state.db in one read transaction, off the event loop, hashed with sha256), so every
// table state.db holds is in it, and the node goes on serving while it is made. Before the bytes
// are sent the state checksum of the copy (store/state-digest.ts, the digest replicas are compared
// by) is computed in a worker, so the backup says which logical state it holds, not only which bytes.
//
// Operator token (replication.operator_token), as force-resync: a backup holds every workspace.
// Only the leader answers it; another node answers 409 not_leader naming the leader and its address.
import { stateCopyResponse } from './state-copy-response.ts';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { STATE_COPY_HEADERS, StateCopyBusy } from '../replication/recovery.ts';
import type { StateCopy } from '../replication/recovery.ts';
import type { Replica } from '../replication/replica.ts';
import type { StateMachine } from '../replication/state.ts';
import { stateDigestOf } from '../store/state-digest.ts';
import { crossSiteGuard } from './cross-site.ts';
import { bearer, secretsEqual } from './secret.ts';

/** Headers of a 200 answer besides STATE_COPY_HEADERS (index, term, bytes, sha256). */
export const BACKUP_HEADERS = {
  ...STATE_COPY_HEADERS,
  state_checksum: 'x-cairn-state-checksum',
  cluster_id: 'x-cairn-cluster-id',
  node_id: 'x-cairn-node-id',
} as const;

/**
 * The routes, to be mounted at /_raft. `GET /backup` answers 200 with the state copy
 * (application/vnd.sqlite3) and BACKUP_HEADERS; 401 without the operator token; 403 cross-site;
 * 409 not_leader; 503 busy (another copy is being made or sent; Retry-After) or recovering.
 */
export function createBackupRoutes<S extends StateMachine>(replica: Replica<S>): Hono {
  const app = new Hono();
  app.use('/backup', crossSiteGuard(() => replica.config.server.allowed_origins));
  app.get('/backup', async function backup(c: Context) {
    const token = replica.config.replication.operator_token;
    const given = bearer(c.req.header('authorization')) ?? c.req.header('x-cairn-operator-token') ?? null;
    if (token !== '' && !secretsEqual(given, token)) {
      c.header('WWW-Authenticate', 'Bearer realm="cairn"');
      return c.json({ error: { code: 'unauthorized', message: 'backup needs the operator token (Authorization: Bearer <replication.operator_token>)', field: 'Authorization' } }, 401);
    }
    if (!replica.isLeader()) {
      const leader = replica.leader;
      return c.json({ error: { code: 'not_leader', message: `${replica.self.id} is not the leader: ask ${leader.id} (${leader.address})`, leader: leader.id, leader_address: leader.address } }, 409);
    }
    const sync = replica.inSync();
    if (!sync.ok && replica.condition.has('recovering')) {
      c.header('Retry-After', '1');
      return c.json({ error: { code: 'recovering', message: `the leader is recovering its storage (${sync.reason}): retry once it serves` } }, 503);
    }
    let copy: StateCopy;
    try {
      copy = await replica.stateCopy();
    } catch (err) {
      if (!(err instanceof StateCopyBusy)) throw err;
      c.header('Retry-After', '1');
      return c.json({ error: { code: 'busy', message: `${err.message}: retry` } }, 503);
    }
    let checksum: string;
    try {
      const digest = await stateDigestOf(copy.file);
      if (digest.index !== copy.index) throw new Error(`the copy's digest is at index ${digest.index}, the copy at ${copy.index}`);
      checksum = digest.checksum;
    } catch (err) {
      copy.release();
      throw err;
    }
    return stateCopyResponse(copy, replica.config.replication.snapshot_timeout_s * 1000 * 10, {
      [BACKUP_HEADERS.state_checksum]: checksum,
      [BACKUP_HEADERS.cluster_id]: replica.config.replication.cluster_id,
      [BACKUP_HEADERS.node_id]: replica.self.id,
    });
  });
  return app;
}
