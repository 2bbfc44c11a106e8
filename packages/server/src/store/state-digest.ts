// A digest of the state at its applied index, computed off the event loop (digest-worker.ts),
// for comparing replicas: two replicas at the same applied index must hold the same state.
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import type { StateDigest } from '../replication/ports.ts';
import { stateChecksum } from './checksum.ts';

const entry = new URL('./digest-entry.mjs', import.meta.url);

/**
 * The digest of the state database `file`, on this thread: opens it read-only on its own
 * connection and, inside one read transaction, reads the applied index and computes the state
 * checksum (checksum.ts), so the digest is of one consistent state at one index while another
 * connection goes on applying. Throws when the file is absent or holds no raft_applied row.
 * Takes seconds at 100k documents: the node calls it through stateDigestOf (a worker thread).
 */
export function digestOfFile(file: string): StateDigest {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.transaction(() => {
      const row = db.prepare('SELECT applied_index AS i, applied_term AS t FROM raft_applied WHERE id = 1').get() as { i: number; t: number } | undefined;
      if (row === undefined) throw new Error('state.db has no raft_applied row');
      return { index: row.i, term: row.t, checksum: stateChecksum(db) };
    })();
  } finally {
    db.close();
  }
}

/** The digest of the state database `file` (digestOfFile, in a worker thread). */
export function stateDigestOf(file: string): Promise<StateDigest> {
  return new Promise<StateDigest>((resolve, reject) => {
    let settled = false;
    const worker = new Worker(entry, { workerData: { file } });
    worker.unref();
    worker.once('message', (m: { ok: boolean; digest?: StateDigest; error?: string }) => {
      settled = true;
      if (m.ok && m.digest !== undefined) resolve(m.digest);
      else reject(new Error(`state digest: ${m.error ?? 'no answer'}`));
    });
    worker.once('error', (err) => {
      if (settled) return;
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (settled) return;
      settled = true;
      reject(new Error(`state digest worker exited with code ${code}`));
    });
  });
}
