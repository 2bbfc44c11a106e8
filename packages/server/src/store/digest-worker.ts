// The state digest worker thread: opens state.db read-only on its own connection, and inside one
// read transaction reads the applied index and computes the state checksum (checksum.ts), so the
// digest is of one consistent state at one index while the node goes on applying. Whole-state
// hashing takes seconds at 100k documents: it never runs on the event loop that replication shares.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { stateChecksum } from './checksum.ts';

const port = parentPort;
if (port === null) throw new Error('digest worker: not running in a worker thread');
const { file } = workerData as { file: string };
try {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const digest = db.transaction(() => {
      const row = db.prepare('SELECT applied_index AS i, applied_term AS t FROM raft_applied WHERE id = 1').get() as { i: number; t: number } | undefined;
      if (row === undefined) throw new Error('state.db has no raft_applied row');
      return { index: row.i, term: row.t, checksum: stateChecksum(db) };
    })();
    port.postMessage({ ok: true, digest });
  } finally {
    db.close();
  }
} catch (err) {
  port.postMessage({ ok: false, error: (err as Error).message });
}
