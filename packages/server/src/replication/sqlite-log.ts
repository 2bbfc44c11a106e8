// The replicated log on disk: log.db, SQLite in WAL mode. Also holds the node's durable
// replication metadata (current term, persisted commit index, snapshot boundary).
//
// Durability: a write transaction only write()s its WAL frames (synchronous=OFF), and
// `sync()` then fdatasyncs the WAL file on libuv's thread pool, so the event loop keeps serving
// while the disk flushes and one fdatasync covers every write made before it started. Callers
// await sync() before they ship, acknowledge or apply what they wrote. Checkpoints are manual
// and run with synchronous=FULL (WAL fsynced, pages copied, database fsynced, and only then the
// frames count as backfilled), so a frame is never overwritten before it is durable in the
// database: at open and close on this connection, and every wal_checkpoint_bytes of log written
// on a second connection in a worker thread, so the event loop does not wait for the copy.
import fs from 'node:fs';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { checkpointDatabase } from './sqlite-worker.ts';
import { isDiskFull, isExclusive, openWalDatabase } from './storage-errors.ts';
import { invariant } from '@cairn/raft';
import type { Entry, LogReader } from '@cairn/raft';
import type { LogChange } from './ports.ts';

interface Row {
  idx: number;
  term: number;
  type: number;
  payload: Buffer;
  checksum: number;
}

export class SqliteLog implements LogReader {
  readonly db: Database.Database;
  private last = 0;
  private snapIndex = 0;
  private snapTerm = 0;
  private lastTerm = 0;
  private readonly stmts;
  /** Write transactions made, and how many of them an fdatasync has covered. */
  private writeSeq = 0;
  private syncedSeq = 0;
  /** The last log index covered by a finished fdatasync. */
  private durable = 0;
  private syncing = false;
  /** Lowest index a truncation left as the log's end while the running fdatasync was in flight. */
  private truncatedSinceSync = Number.POSITIVE_INFINITY;
  private readonly syncWaiters: Array<{ seq: number; resolve: () => void; reject: (err: Error) => void }> = [];
  private walFd: number | null = null;
  private readonly walPath: string;
  private readonly file: string;
  /** Bytes written to the WAL (estimated) since the last checkpoint started. */
  private walBytes = 0;
  private checkpointing: Promise<void> | null = null;

  /** Resolves once no checkpoint of log.db runs in a worker (see StateHolder.settled). */
  async settled(): Promise<void> {
    while (this.checkpointing !== null) await this.checkpointing;
  }
  /** Checkpoints run in the worker, and the last one's failure (the next one retries). */
  checkpoints = 0;
  lastCheckpointError: string | null = null;
  private closed = false;

  constructor(file: string) {
    this.walPath = `${file}-wal`;
    this.file = file;
    // On a full disk the node still opens (and serves reads): see openWalDatabase.
    this.db = openWalDatabase(file);
    this.exclusive = isExclusive(this.db);
    this.db.pragma('wal_autocheckpoint = 0');
    // Durable from a previous run (a clean close checkpointed with FULL; after a crash what
    // SQLite recovers from the WAL is what reached it, and sync() runs before any use of it).
    try {
      this.checkpoint();
    } catch (err) {
      // The database file could not grow to take the WAL's pages: they stay in the WAL, which
      // SQLite reads as before, and the next checkpoint copies them. The WAL is made durable
      // here instead (a failed fdatasync does throw: nothing in it could be vouched for).
      if (!isDiskFull(err)) throw err;
      this.openError = (err as Error).message;
      this.lastCheckpointError = this.openError;
      if (fs.existsSync(this.walPath)) fs.fdatasyncSync(this.wal());
    }
    this.db.pragma('synchronous = OFF');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL,
                                      payload BLOB NOT NULL, checksum INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `);
    this.stmts = {
      insert: this.db.prepare('INSERT INTO log (idx, term, type, payload, checksum) VALUES (?, ?, ?, ?, ?)'),
      range: this.db.prepare('SELECT idx, term, type, payload, checksum FROM log WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?'),
      term: this.db.prepare('SELECT term FROM log WHERE idx = ?').pluck(),
      checksum: this.db.prepare('SELECT checksum FROM log WHERE idx = ?').pluck(),
      last: this.db.prepare('SELECT idx, term FROM log ORDER BY idx DESC LIMIT 1'),
      truncate: this.db.prepare('DELETE FROM log WHERE idx >= ?'),
      compact: this.db.prepare('DELETE FROM log WHERE idx <= ?'),
      clear: this.db.prepare('DELETE FROM log'),
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    };
    this.snapIndex = this.meta('snapshot_index');
    this.snapTerm = this.meta('snapshot_term');
    const lastRow = this.stmts.last.get() as { idx: number; term: number } | undefined;
    this.last = lastRow?.idx ?? this.snapIndex;
    this.lastTerm = lastRow?.term ?? this.snapTerm;
    invariant(this.last >= this.snapIndex, 'log ends before its snapshot boundary');
    this.durable = this.last;
    try {
      fsyncDir(path.dirname(file));
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      this.openError ??= (err as Error).message;
    }
  }

  /**
   * Opened with locking_mode=EXCLUSIVE because the disk was full (see openWalDatabase): no other
   * connection can open log.db, so checkpoints run on this connection, until a restart.
   */
  readonly exclusive: boolean;
  /** What the disk being full kept the constructor from doing (the checkpoint at open, the directory fsync), or null. */
  openError: string | null = null;

  /** Last index whose entry is on disk (covered by a finished sync). */
  durableIndex(): number {
    return Math.min(this.durable, this.last);
  }

  /** Resolves once every write made before this call is on disk (fdatasync of the WAL). */
  sync(): Promise<void> {
    // After a failed fdatasync nothing written since can be vouched for: every later sync fails.
    if (this.syncError !== null) return Promise.reject(this.syncError);
    const seq = this.writeSeq;
    if (this.syncedSeq >= seq) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.syncWaiters.push({ seq, resolve, reject });
      this.startSync();
    });
  }

  /** The same as sync(), blocking: for rare writes (a leader's first entry, a log reset). */
  syncNow(): void {
    if (this.syncError !== null) throw this.syncError;
    const seq = this.writeSeq;
    const last = this.last;
    if (this.syncedSeq >= seq) return;
    try {
      fs.fdatasyncSync(this.wal());
    } catch (err) {
      this.syncError = syncFailure(err as NodeJS.ErrnoException);
      throw this.syncError;
    }
    this.markSynced(seq, last);
  }

  /** The first fdatasync failure, kept: later syncs fail with it (the node must be restarted). */
  private syncError: Error | null = null;

  private startSync(): void {
    if (this.syncing || this.closed) return;
    const seq = this.writeSeq;
    const last = this.last;
    this.syncing = true;
    this.truncatedSinceSync = Number.POSITIVE_INFINITY;
    const fd = this.wal();
    fs.fdatasync(fd, (err) => {
      this.syncing = false;
      if (this.closed) {
        // close() left the descriptor to this callback (it was in use here).
        fs.closeSync(fd);
        return;
      }
      if (err !== null) {
        // Kept even when nobody waits for this sync (a syncNow() covered them meanwhile): the
        // kernel may have dropped those pages, and the next sync() must say so.
        this.syncError ??= syncFailure(err);
        for (const w of this.syncWaiters.splice(0)) w.reject(this.syncError);
        return;
      }
      // Entries a truncation replaced after this fdatasync started are not covered by it.
      this.markSynced(seq, Math.min(last, this.truncatedSinceSync));
      if (this.syncWaiters.length > 0) this.startSync();
    });
  }

  private markSynced(seq: number, last: number): void {
    if (seq > this.syncedSeq) {
      this.syncedSeq = seq;
      this.durable = Math.max(this.durable, last);
    }
    while (this.syncWaiters.length > 0 && (this.syncWaiters[0]?.seq ?? Infinity) <= this.syncedSeq) this.syncWaiters.shift()?.resolve();
  }

  private wal(): number {
    if (this.closed) throw new Error('log is closed');
    this.walFd ??= fs.openSync(this.walPath, 'r');
    return this.walFd;
  }

  /** After about this many bytes written to the WAL, it is checkpointed into log.db. */
  static readonly wal_checkpoint_bytes = 16 * 1024 * 1024;

  private checkpoint(mode: 'TRUNCATE' | 'PASSIVE' = 'TRUNCATE'): void {
    this.db.pragma('synchronous = FULL');
    try {
      this.db.pragma(`wal_checkpoint(${mode})`);
    } finally {
      this.db.pragma('synchronous = OFF');
    }
  }

  private afterWrite(bytes = 0): void {
    this.writeSeq++;
    // Payload plus per-row and per-page overhead: an estimate of what went into the WAL.
    this.walBytes += bytes + 4096;
    if (this.walBytes < SqliteLog.wal_checkpoint_bytes || this.checkpointing !== null) return;
    this.walBytes = 0;
    if (this.exclusive) {
      // No second connection can open the file: checkpoint here (blocking, as at open).
      try {
        this.checkpoint('PASSIVE');
        this.checkpoints++;
        this.lastCheckpointError = null;
      } catch (err) {
        this.lastCheckpointError = (err as Error).message;
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

  /** Meta values (term, commit, snapshot boundary) as last written: read on every append, so cached. */
  private readonly metaCache = new Map<string, number>();

  meta(key: string): number {
    let v = this.metaCache.get(key);
    if (v === undefined) {
      v = (this.stmts.getMeta.get(key) as number | undefined) ?? 0;
      this.metaCache.set(key, v);
    }
    return v;
  }

  /** Outside a transaction, one statement of its own: when it fails (SQLITE_FULL), value and cache are as before. */
  setMeta(key: string, value: number): void {
    this.stmts.setMeta.run(key, value);
    this.metaCache.set(key, value);
    if (!this.db.inTransaction) this.afterWrite();
  }

  /**
   * Runs fn in one transaction; after a rollback (a failed write: SQLITE_FULL, an I/O error),
   * cached meta and tail are read again and `restore` puts back what else fn changed, so the
   * log is as before the call.
   */
  private transaction(fn: () => void, bytes = 0, restore?: () => void): void {
    try {
      this.db.transaction(fn)();
    } catch (err) {
      this.metaCache.clear();
      this.reloadTail();
      restore?.();
      throw err;
    }
    this.afterWrite(bytes);
  }

  firstIndex(): number {
    return this.snapIndex + 1;
  }

  lastIndex(): number {
    return this.last;
  }

  lastLogTerm(): number {
    return this.lastTerm;
  }

  snapshotIndex(): number {
    return this.snapIndex;
  }

  snapshotTerm(): number {
    return this.snapTerm;
  }

  termAt(index: number): number | undefined {
    if (index === this.snapIndex) return this.snapTerm;
    if (index < this.snapIndex || index > this.last) return undefined;
    if (index === this.last) return this.lastTerm;
    return this.stmts.term.get(index) as number | undefined;
  }

  checksumAt(index: number): number | undefined {
    if (index <= this.snapIndex || index > this.last) return undefined;
    return this.stmts.checksum.get(index) as number | undefined;
  }

  entries(lo: number, hi: number, bytes_max: number): Entry[] {
    invariant(lo >= this.firstIndex(), `entries from ${lo} below first index ${this.firstIndex()}`);
    const rows = this.stmts.range.all(lo, hi, Math.max(0, hi - lo)) as Row[];
    const out: Entry[] = [];
    let bytes = 0;
    for (const r of rows) {
      if (out.length > 0 && bytes + r.payload.length > bytes_max) break;
      bytes += r.payload.length;
      out.push({ index: r.idx, term: r.term, type: r.type, payload: r.payload, checksum: r.checksum });
    }
    return out;
  }

  /**
   * One write: optionally drop a conflicting suffix, append entries, persist term and commit.
   * Durable once a sync() called after it resolves.
   */
  write(change: LogChange): void {
    const durable = this.durable;
    const truncatedSinceSync = this.truncatedSinceSync;
    this.transaction(() => {
      if (change.truncate_from !== undefined && change.truncate_from !== null) {
        invariant(change.truncate_from > this.snapIndex, 'truncate into snapshot');
        this.stmts.truncate.run(change.truncate_from);
        this.last = change.truncate_from - 1;
        this.durable = Math.min(this.durable, this.last);
        this.truncatedSinceSync = Math.min(this.truncatedSinceSync, this.last);
        this.lastTerm = this.termAtUncached(this.last);
      }
      for (const e of change.entries) {
        invariant(e.index === this.last + 1, `append ${e.index} after ${this.last}`);
        this.stmts.insert.run(e.index, e.term, e.type, e.payload, e.checksum);
        this.last = e.index;
        this.lastTerm = e.term;
      }
      if (change.term !== undefined) this.setMeta('term', change.term);
      if (change.claimed_term !== undefined) this.setMeta('claimed_term', change.claimed_term);
      if (change.commit !== undefined) this.setMeta('commit_index', change.commit);
    }, change.entries.reduce((n, e) => n + e.payload.byteLength, 0), () => {
      // Rolled back (e.g. SQLITE_FULL): the truncation did not happen either.
      this.durable = durable;
      this.truncatedSinceSync = truncatedSinceSync;
    });
  }

  private termAtUncached(index: number): number {
    if (index === this.snapIndex) return this.snapTerm;
    return (this.stmts.term.get(index) as number | undefined) ?? 0;
  }

  private reloadTail(): void {
    const lastRow = this.stmts.last.get() as { idx: number; term: number } | undefined;
    this.last = lastRow?.idx ?? this.snapIndex;
    this.lastTerm = lastRow?.term ?? this.snapTerm;
  }

  /** Drops entries up to and including index; they are covered by the state database. */
  compactTo(index: number): number {
    if (index <= this.snapIndex) return 0;
    invariant(index <= this.last, `compact ${index} past last ${this.last}`);
    const term = this.termAt(index);
    invariant(term !== undefined, `no term at ${index}`);
    let removed = 0;
    this.transaction(() => {
      removed = this.stmts.compact.run(index).changes;
      this.setMeta('snapshot_index', index);
      this.setMeta('snapshot_term', term);
    });
    this.snapIndex = index;
    this.snapTerm = term;
    return removed;
  }

  /** After a snapshot install: the log is empty and starts after (index, term). Durable on return. */
  resetTo(index: number, term: number, current_term: number): void {
    this.transaction(() => {
      this.stmts.clear.run();
      this.setMeta('snapshot_index', index);
      this.setMeta('snapshot_term', term);
      this.setMeta('commit_index', index);
      this.setMeta('term', Math.max(current_term, this.meta('term')));
    });
    this.snapIndex = index;
    this.snapTerm = term;
    this.last = index;
    this.lastTerm = term;
    this.durable = index;
    this.syncNow();
  }

  /** crc32s of the entries in [lo, hi], for cross-node log comparison. */
  checksums(lo: number, hi: number): Array<[number, number, number]> {
    const rows = this.db.prepare('SELECT idx, term, checksum FROM log WHERE idx >= ? AND idx <= ? ORDER BY idx').raw().all(lo, hi);
    return rows as Array<[number, number, number]>;
  }

  close(): void {
    if (this.closed) return;
    // Closing checkpoints the WAL into log.db and removes it: with FULL, both are fsynced first.
    this.db.pragma('synchronous = FULL');
    this.db.close();
    this.closed = true;
    if (this.walFd !== null && !this.syncing) fs.closeSync(this.walFd);
    this.walFd = null;
    for (const w of this.syncWaiters.splice(0)) w.reject(new Error('log closed'));
  }
}

/** fsync of a directory, so a file created in it (the WAL) survives a crash. */
function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A failed fdatasync as an Error that keeps the errno code (EIO, ENOSPC), for isIoError / isDiskFull. */
function syncFailure(err: NodeJS.ErrnoException): Error {
  return Object.assign(new Error(`log fsync failed: ${err.message}`, { cause: err }), { code: err.code });
}
