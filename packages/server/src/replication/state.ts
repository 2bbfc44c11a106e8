// The state database (state.db): what the log's entries build. Every apply runs in one SQLite
// transaction that also records the applied index, so apply is exactly-once across crashes.
// state.db uses WAL with synchronous=NORMAL: a kill -9 loses nothing committed (the OS has
// the pages); a power loss may lose the newest applies, which are re-applied from log.db
// (synchronous=FULL) at start. A snapshot is an online backup copy (see snapshotTo).
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { invariant } from '@cairn/raft';
import type { Entry } from '@cairn/raft';
import { checkpointDatabase, copyDatabase } from './sqlite-worker.ts';
import { isExclusive, openWalDatabase } from './storage-errors.ts';

export interface Applier {
  /** Applies one committed entry; runs inside the state transaction; deterministic. */
  apply(entry: Entry): void;
  /**
   * apply(entry) in steps (a generator that yields between documents), so that a batch can be
   * applied over several event-loop turns in one transaction. Running it to the end is
   * apply(entry). Without it an entry is one step.
   */
  steps?(entry: Entry): Iterator<unknown, unknown, void>;
}

export interface StateMachine {
  readonly db: Database.Database;
  close(): void;
}

/** What a state machine is built with besides the writing connection. */
export interface StateContext {
  /**
   * A second connection to state.db for reads: it sees committed state only, never a batch that is
   * being applied. The writing connection itself when none could be opened (a full disk:
   * openWalDatabase's exclusive mode); batches are then applied in one turn.
   */
  readDb: Database.Database;
  /** Resolves once no apply transaction is open. */
  applyIdle: () => Promise<void>;
}

export type StateFactory<S extends StateMachine> = (db: Database.Database, ctx: StateContext) => { machine: S; applier: Applier };

/** A batch whose transaction is open across turns (StateHolder.startApply). */
interface OpenBatch {
  entries: Entry[];
  /** Position in entries of the next entry to start. */
  next: number;
  /** Steps of the entry being applied, null between entries. */
  steps: Iterator<unknown, unknown, void> | null;
  index: number;
  term: number;
}

/**
 * Opens state.db (WAL, synchronous=NORMAL) with its raft_applied row. On a full disk an existing
 * state.db still opens and serves reads (see openWalDatabase: possibly alone, without -shm).
 */
export function openStateDb(file: string): Database.Database {
  const db = openWalDatabase(file);
  db.pragma('synchronous = NORMAL');
  // Checkpoints are StateHolder's, off the event loop (an automatic one runs in the commit that
  // crosses 1000 pages, with its fsyncs, on the thread that serves and replicates).
  db.pragma('wal_autocheckpoint = 0');
  db.exec(`CREATE TABLE IF NOT EXISTS raft_applied (id INTEGER PRIMARY KEY CHECK (id = 1),
           applied_index INTEGER NOT NULL, applied_term INTEGER NOT NULL);
           INSERT OR IGNORE INTO raft_applied (id, applied_index, applied_term) VALUES (1, 0, 0);`);
  return db;
}

export function readApplied(db: Database.Database): { index: number; term: number } {
  const row = db.prepare('SELECT applied_index AS i, applied_term AS t FROM raft_applied WHERE id = 1').get() as { i: number; t: number };
  return { index: row.i, term: row.t };
}

export class StateHolder<S extends StateMachine> {
  private db!: Database.Database;
  /** The reading connection; null when there is only db (exclusive mode). */
  private readDb: Database.Database | null = null;
  private current!: S;
  private applier!: Applier;
  private applied = { index: 0, term: 0 };
  private setApplied!: Database.Statement;
  private batch: OpenBatch | null = null;
  private idleWaiters: Array<() => void> = [];

  constructor(
    readonly file: string,
    private readonly factory: StateFactory<S>,
  ) {
    this.open();
  }

  private open(): void {
    this.db = openStateDb(this.file);
    this.readDb = isExclusive(this.db) ? null : openReadConnection(this.file);
    const built = this.build();
    this.current = built.machine;
    this.applier = built.applier;
    this.applied = readApplied(this.db);
    this.setApplied = this.db.prepare('UPDATE raft_applied SET applied_index = ?, applied_term = ? WHERE id = 1');
  }

  private build(): { machine: S; applier: Applier } {
    return this.factory(this.db, { readDb: this.readDb ?? this.db, applyIdle: () => this.whenIdle() });
  }

  get machine(): S {
    return this.current;
  }

  appliedIndex(): number {
    return this.applied.index;
  }

  appliedTerm(): number {
    return this.applied.term;
  }

  /**
   * Applies entries in order in one transaction; entries at or below the applied index are skipped.
   * When it throws (SQLITE_FULL, an I/O error), nothing of it stays: the transaction is rolled
   * back, the applied index is as before, and the state machine is built again over the database,
   * since what it keeps in memory (vector indexes) may hold part of the batch.
   */
  applyEntries(entries: Entry[]): number {
    this.startApply(entries);
    return this.applied.index;
  }

  /**
   * applyEntries, stopping between two documents once performance.now() is past `deadline`: the
   * batch's transaction is then left open, nothing of it visible to reads (they use the second
   * connection) and the applied index as before, and continueApply goes on with it at a later
   * turn. Returns whether the batch committed. Without a reading connection (exclusive mode) the
   * batch is applied whole.
   */
  startApply(entries: Entry[], deadline = Infinity): boolean {
    invariant(this.batch === null, 'startApply while a batch is open: continueApply it first');
    if (entries.length === 0) return true;
    this.db.exec('BEGIN');
    this.batch = { entries, next: 0, steps: null, index: this.applied.index, term: this.applied.term };
    return this.continueApply(deadline);
  }

  /** True while a batch started by startApply is open. */
  applyOpen(): boolean {
    return this.batch !== null;
  }

  /** Goes on with the open batch (see startApply); returns whether it committed. */
  continueApply(deadline = Infinity): boolean {
    const b = this.batch;
    invariant(b !== null, 'continueApply with no open batch');
    const until = this.readDb === null ? Infinity : deadline;
    try {
      for (;;) {
        if (b.steps !== null) {
          for (;;) {
            if (b.steps.next().done === true) break;
            if (performance.now() > until) return false;
          }
          b.steps = null;
          const e = b.entries[b.next - 1] as Entry;
          b.index = e.index;
          b.term = e.term;
          if (performance.now() > until && b.next < b.entries.length) return false;
        }
        if (b.next >= b.entries.length) break;
        const e = b.entries[b.next++] as Entry;
        if (e.index <= b.index) continue;
        invariant(e.index === b.index + 1, `apply ${e.index} after ${b.index}: entries must be applied in order`);
        b.steps = this.applier.steps?.(e) ?? oneStep(() => this.applier.apply(e));
      }
      this.setApplied.run(b.index, b.term);
      this.db.exec('COMMIT');
    } catch (err) {
      this.abortBatch();
      this.rebuildMachine();
      throw err;
    }
    this.batch = null;
    this.applied = { index: b.index, term: b.term };
    this.notifyIdle();
    this.afterCommit(b.entries);
    return true;
  }

  /** Bytes written to the WAL (estimated) since the last checkpoint started. */
  private walBytes = 0;
  private checkpointing: Promise<void> | null = null;

  /**
   * Resolves once no checkpoint of state.db runs in a worker. install() must wait for it: the
   * worker's connection, closing after the files were swapped, would take itself for the last
   * one and remove the new -wal by its name.
   */
  async settled(): Promise<void> {
    while (this.checkpointing !== null) await this.checkpointing;
  }

  checkpoints = 0;
  lastCheckpointError: string | null = null;
  /**
   * After about this many bytes written to the WAL, it is checkpointed into state.db: SQLite's own
   * default, 1000 pages. A longer WAL fills a small disk during an apply, after the write was
   * logged, so the write times out (503 not_replicated) instead of being refused (507 disk_full).
   */
  static readonly wal_checkpoint_bytes = 4 * 1024 * 1024;

  /**
   * Counts what a batch wrote to the WAL (its payloads thrice: the rows, the full-text index and
   * the vectors, plus a page) and, past wal_checkpoint_bytes, checkpoints state.db: PASSIVE with
   * synchronous=FULL on a second connection in a worker thread, as log.db is; on this connection
   * in exclusive mode (no other can open the file).
   */
  private afterCommit(entries: Entry[]): void {
    for (const e of entries) this.walBytes += 3 * e.payload.byteLength;
    this.walBytes += 4096;
    if (this.walBytes < StateHolder.wal_checkpoint_bytes || this.checkpointing !== null) return;
    this.walBytes = 0;
    if (this.readDb === null) {
      try {
        this.db.pragma('synchronous = FULL');
        this.db.pragma('wal_checkpoint(PASSIVE)');
        this.checkpoints++;
        this.lastCheckpointError = null;
      } catch (err) {
        this.lastCheckpointError = (err as Error).message;
      } finally {
        this.db.pragma('synchronous = NORMAL');
      }
      return;
    }
    this.checkpointing = checkpointDatabase(this.file).then(
      () => {
        this.checkpoints++;
        this.lastCheckpointError = null;
      },
      (err: unknown) => {
        this.lastCheckpointError = (err as Error).message;
      },
    ).finally(() => {
      this.checkpointing = null;
    });
  }

  /** Resolves once no batch is open (at once when none is). */
  whenIdle(): Promise<void> {
    if (this.batch === null) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Rolls the open batch back (nothing of it was visible); its in-memory effects are the caller's to drop. */
  private abortBatch(): void {
    if (this.batch === null) return;
    this.batch = null;
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    } finally {
      this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Machines built again after a failed apply. */
  rebuilds = 0;

  private rebuildMachine(): void {
    try {
      const built = this.build();
      // The old machine is left to the garbage collector, not closed: a request still holding it
      // finishes its read; the next one gets the new machine through `machine`.
      this.current = built.machine;
      this.applier = built.applier;
      this.rebuilds++;
    } catch {
      // Keep the machine there is; the next apply goes through it.
    }
  }

  /**
   * Opened with locking_mode=EXCLUSIVE because the disk was full (see openWalDatabase): no other
   * connection can open state.db until it is opened again (a restart or an install), so a
   * snapshot copy is made on this connection.
   */
  get exclusive(): boolean {
    return isExclusive(this.db);
  }

  /**
   * A consistent copy of the state for a snapshot, made by SQLite's online backup on a second
   * connection in a worker thread (sqlite-worker.ts), so the event loop goes on serving while it
   * runs. The copy is one read transaction: applies committed meanwhile are not in it, and its
   * index and term are read from the copy itself (raft_applied is written in the same
   * transaction as the state). It is a rollback-journal database (nothing beside it) and is not
   * fsynced here: it is read once and deleted; the receiver fsyncs what it installs.
   */
  async snapshotTo(file: string): Promise<{ index: number; term: number; bytes: number }> {
    removeDbFiles(file);
    const before = this.applied.index;
    const at = this.exclusive ? await this.copyHere(file) : await copyDatabase(this.file, file);
    invariant(at.index >= before && at.index <= this.applied.index, `snapshot copy at ${at.index}, applied was ${before} then ${this.applied.index}`);
    return { index: at.index, term: at.term, bytes: fs.statSync(file).size };
  }

  /**
   * The copy of snapshotTo made by this connection (SQLite's online backup in steps, the event
   * loop running between them): applies made on this connection meanwhile are carried into the
   * copy, so it is consistent as of its end, and its index is read from it as in the worker.
   */
  private async copyHere(file: string): Promise<{ index: number; term: number }> {
    await this.db.backup(file);
    const copy = new Database(file, { fileMustExist: true });
    try {
      copy.pragma('journal_mode = DELETE');
      return readApplied(copy);
    } finally {
      copy.close();
    }
  }

  /** Replaces the whole state by a verified snapshot file (full replace: deletions included). */
  install(file: string): { index: number; term: number } {
    invariant(this.checkpointing === null, 'state.db replaced while a checkpoint of it runs: await settled() first');
    // A batch left open is rolled back: the snapshot replaces everything it would have written.
    this.abortBatch();
    this.current.close();
    this.readDb?.close();
    this.db.close();
    for (const suffix of ['-wal', '-shm']) fs.rmSync(this.file + suffix, { force: true });
    fs.renameSync(file, this.file);
    fsyncDir(path.dirname(this.file));
    this.open();
    return { ...this.applied };
  }

  close(): void {
    this.abortBatch();
    this.current.close();
    this.readDb?.close();
    this.db.close();
  }
}

/** An entry applied in one step, for appliers without steps(). */
function* oneStep(apply: () => void): Generator<void, void, void> {
  apply();
}

/**
 * The reading connection to state.db (see StateContext.readDb): read-only, so nothing written
 * through it can interleave with an open batch of the writing connection.
 */
function openReadConnection(file: string): Database.Database {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.prepare('SELECT count(*) FROM sqlite_master').pluck().get();
  return db;
}

const DB_FILE_SUFFIXES = ['', '-wal', '-shm', '-journal'];

/** Removes a database file and any -wal, -shm or -journal beside it. */
export function removeDbFiles(file: string): void {
  for (const suffix of DB_FILE_SUFFIXES) fs.rmSync(file + suffix, { force: true });
}

/**
 * Moves a database file that is no longer wanted out of its path at once (a rename, replacing an
 * earlier retired one) and removes what is beside it, so the path is free for a new file; the
 * retired file is deleted later by removeRetiredDbFile, off the event loop.
 */
export function retireDbFile(file: string): void {
  try {
    fs.renameSync(file, `${file}.old`);
  } catch {
    /* nothing there */
  }
  removeDbFiles(file);
}

/** Deletes what retireDbFile moved aside, on the thread pool (freeing a large file's blocks takes a while). */
export async function removeRetiredDbFile(file: string): Promise<void> {
  await fs.promises.rm(`${file}.old`, { force: true });
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
