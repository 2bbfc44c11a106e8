// Whole-file SQLite work, run in a worker thread with its own connection, so the
// event loop keeps serving appends, reads and health checks while it runs: the copy of the
// state a snapshot is made from (SQLite's online backup in one step, which holds one read
// transaction throughout, so the copy is consistent while the main connection keeps
// applying), PRAGMA quick_check of that copy, and WAL checkpoints of the log.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

export type SqliteTask = { kind: 'copy'; source: string; dest: string } | { kind: 'check'; file: string } | { kind: 'checkpoint'; file: string };

export interface CopyResult {
  /** raft_applied as held by the copy itself. */
  index: number;
  term: number;
}

const DRIVER = createRequire(import.meta.url).resolve('better-sqlite3');

// Plain JavaScript (the worker runs it as given, without the TypeScript loader).
const SCRIPT = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
async function run(task) {
  if (task.kind === 'copy') {
    const src = new Database(task.source, { readonly: true, fileMustExist: true });
    try {
      // One step for every page: one read transaction, so a consistent copy.
      await src.backup(task.dest, { progress: () => 0x7fffffff });
    } finally {
      src.close();
    }
    const copy = new Database(task.dest, { fileMustExist: true });
    try {
      // A rollback-journal file: it travels and is opened alone, without -wal or -shm.
      copy.pragma('journal_mode = DELETE');
      const row = copy.prepare('SELECT applied_index AS i, applied_term AS t FROM raft_applied WHERE id = 1').get();
      if (row === undefined) throw new Error('the copy has no raft_applied row');
      return { index: row.i, term: row.t };
    } finally {
      copy.close();
    }
  }
  if (task.kind === 'check') {
    const db = new Database(task.file, { readonly: true, fileMustExist: true });
    try {
      const rows = db.pragma('quick_check');
      return rows.map((r) => String(Object.values(r)[0])).join('; ');
    } finally {
      db.close();
    }
  }
  if (task.kind === 'checkpoint') {
    const db = new Database(task.file, { fileMustExist: true });
    try {
      // FULL: the WAL is fsynced before pages are copied and the database is fsynced before the
      // frames count as backfilled, so the writer may reuse the WAL only once they are durable.
      db.pragma('synchronous = FULL');
      const row = db.pragma('wal_checkpoint(PASSIVE)')[0];
      return { busy: row.busy, log: row.log, checkpointed: row.checkpointed };
    } finally {
      db.close();
    }
  }
  throw new Error('unknown task ' + task.kind);
}
run(workerData.task).then(
  (value) => parentPort.postMessage({ ok: true, value }),
  (err) => parentPort.postMessage({ ok: false, error: String((err && err.message) || err) }),
);
`;

function run<T>(task: SqliteTask, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const worker = new Worker(SCRIPT, { eval: true, workerData: { driver: DRIVER, task } });
    // Never what keeps a stopping process alive.
    worker.unref();
    signal?.addEventListener(
      'abort',
      () => {
        if (settled) return;
        settled = true;
        void worker.terminate();
        reject(new Error('cancelled'));
      },
      { once: true },
    );
    worker.once('message', (m: { ok: boolean; value?: T; error?: string }) => {
      settled = true;
      if (m.ok) resolve(m.value as T);
      else reject(new Error(m.error));
    });
    worker.once('error', (err) => {
      if (settled) return;
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (settled) return;
      settled = true;
      reject(new Error(`sqlite worker exited with code ${code}`));
    });
  });
}

/** A consistent copy of the database `source` into `dest` (which must not exist), off the event loop. */
export function copyDatabase(source: string, dest: string): Promise<CopyResult> {
  return run<CopyResult>({ kind: 'copy', source, dest });
}

/** PRAGMA quick_check of `file`, off the event loop: "ok", or what it found. Aborting `signal` stops it. */
export function quickCheck(file: string, signal?: AbortSignal): Promise<string> {
  return run<string>({ kind: 'check', file }, signal);
}

export interface CheckpointResult {
  /** 1 when the checkpoint could not run to completion (another connection was busy). */
  busy: number;
  /** Frames in the WAL, and how many of them are now in the database file. */
  log: number;
  checkpointed: number;
}

/** A PASSIVE WAL checkpoint of `file` with synchronous=FULL, on its own connection, off the event loop. */
export function checkpointDatabase(file: string): Promise<CheckpointResult> {
  return run<CheckpointResult>({ kind: 'checkpoint', file });
}
