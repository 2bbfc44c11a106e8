// The replicated log on disk: log.db, SQLite in WAL mode with synchronous=FULL, so a committed
// append is fsynced before it is shipped or acknowledged. Also holds the node's durable
// replication metadata (current term, persisted commit index, snapshot boundary).
import Database from 'better-sqlite3';
import { invariant } from '@cairn/raft';
import type { Entry, LogReader } from '@cairn/raft';

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

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS log (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, type INTEGER NOT NULL,
                                      payload BLOB NOT NULL, checksum INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `);
    this.stmts = {
      insert: this.db.prepare('INSERT INTO log (idx, term, type, payload, checksum) VALUES (?, ?, ?, ?, ?)'),
      range: this.db.prepare('SELECT idx, term, type, payload, checksum FROM log WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?'),
      term: this.db.prepare('SELECT term FROM log WHERE idx = ?').pluck(),
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

  setMeta(key: string, value: number): void {
    this.stmts.setMeta.run(key, value);
    this.metaCache.set(key, value);
  }

  /** Runs fn in one transaction; after a rollback, cached meta and tail are read again. */
  private transaction(fn: () => void): void {
    try {
      this.db.transaction(fn)();
    } catch (err) {
      this.metaCache.clear();
      this.reloadTail();
      throw err;
    }
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
   * One durable write: optionally drop a conflicting suffix, append entries, persist term and
   * commit. Returns after SQLite's fsync (synchronous=FULL).
   */
  write(change: { truncate_from?: number | null; entries: Entry[]; term?: number; commit?: number }): void {
    this.transaction(() => {
      if (change.truncate_from !== undefined && change.truncate_from !== null) {
        invariant(change.truncate_from > this.snapIndex, 'truncate into snapshot');
        this.stmts.truncate.run(change.truncate_from);
        this.last = change.truncate_from - 1;
        this.lastTerm = this.termAtUncached(this.last);
      }
      for (const e of change.entries) {
        invariant(e.index === this.last + 1, `append ${e.index} after ${this.last}`);
        this.stmts.insert.run(e.index, e.term, e.type, e.payload, e.checksum);
        this.last = e.index;
        this.lastTerm = e.term;
      }
      if (change.term !== undefined) this.setMeta('term', change.term);
      if (change.commit !== undefined) this.setMeta('commit_index', change.commit);
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

  /** After a snapshot install: the log is empty and starts after (index, term). */
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
  }

  /** crc32s of the entries in [lo, hi], for cross-node log comparison. */
  checksums(lo: number, hi: number): Array<[number, number, number]> {
    const rows = this.db.prepare('SELECT idx, term, checksum FROM log WHERE idx >= ? AND idx <= ? ORDER BY idx').raw().all(lo, hi);
    return rows as Array<[number, number, number]>;
  }

  close(): void {
    this.db.close();
  }
}
