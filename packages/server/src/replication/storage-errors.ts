// What a storage error means for the node: the disk is full (writes are refused with 507 until
// space is freed, reads go on), or the device failed an I/O (EIO: after a failed fsync the log
// can no longer be trusted to hold what it was given, so the node must be restarted).
//
// Errors come from better-sqlite3 (`SqliteError`, `code` such as 'SQLITE_FULL' or
// 'SQLITE_IOERR_FSYNC'), from node:fs (`code` 'ENOSPC', 'EDQUOT', 'EIO'), or wrapped by this
// codebase (`cause`), or from a worker thread, where only the message survives: all are
// looked at, in that order.
import fs from 'node:fs';
import Database from 'better-sqlite3';
import type { NodeCondition } from './condition.ts';

/** SQLite result codes (primary or extended) and errno names that mean "no space". */
const disk_full_codes = new Set(['SQLITE_FULL', 'ENOSPC', 'EDQUOT', 'SQLITE_IOERR_SHMSIZE']);
/** What those errors say, for errors that crossed a worker thread as a message only. */
const disk_full_messages = [/database or disk is full/i, /\bENOSPC\b/, /no space left on device/i, /\bEDQUOT\b/, /disk quota exceeded/i];
const io_error_messages = [/\bEIO\b/, /disk I\/O error/i, /input\/output error/i, /\bSQLITE_IOERR/];

function codesOf(err: unknown): { codes: string[]; messages: string[] } {
  const codes: string[] = [];
  const messages: string[] = [];
  let e: unknown = err;
  // Follow `cause` a few levels: an Error wrapping the fs or SQLite error it met.
  for (let depth = 0; depth < 5 && typeof e === 'object' && e !== null; depth++) {
    const o = e as { code?: unknown; message?: unknown; cause?: unknown };
    if (typeof o.code === 'string') codes.push(o.code);
    if (typeof o.message === 'string') messages.push(o.message);
    e = o.cause;
  }
  if (typeof err === 'string') messages.push(err);
  return { codes, messages };
}

/** True when `err` says the disk (or the quota) is full: SQLITE_FULL, ENOSPC, EDQUOT. */
export function isDiskFull(err: unknown): boolean {
  const { codes, messages } = codesOf(err);
  if (codes.some((c) => disk_full_codes.has(c))) return true;
  if (codes.length > 0) return false;
  return messages.some((m) => disk_full_messages.some((re) => re.test(m)));
}

/**
 * True when `err` is a device I/O failure: EIO, or any SQLITE_IOERR* (SQLITE_IOERR_FSYNC,
 * SQLITE_IOERR_WRITE, ...). Not true for a full disk (see isDiskFull, which takes precedence:
 * SQLITE_IOERR_SHMSIZE, the shared-memory file that could not grow, counts as disk full).
 */
export function isIoError(err: unknown): boolean {
  if (isDiskFull(err)) return false;
  const { codes, messages } = codesOf(err);
  if (codes.some((c) => c === 'EIO' || c.startsWith('SQLITE_IOERR'))) return true;
  if (codes.length > 0) return false;
  return messages.some((m) => io_error_messages.some((re) => re.test(m)));
}

/** Bytes free for this process on the file system holding `dir` (blocks available to unprivileged users). */
export async function freeBytes(dir: string): Promise<number> {
  const s = await fs.promises.statfs(dir);
  return s.bavail * s.bsize;
}

/** Free space at which writes resume, unless configured otherwise. */
export const disk_free_bytes_min_default = 1024 * 1024;
/** How often the free space is looked at while the disk is full, unless configured otherwise. */
export const disk_check_ms_default = 1000;
/**
 * Space the leader keeps free on its data directory's disk: what applying the writes it already
 * logged and checkpointing both WALs may still take after it refused the next one. Without it a
 * write could be logged and committed and then fail to apply for lack of space, so that its
 * client waited for an answer that could only be a timeout.
 */
export const disk_reserve_bytes_default = 8 * 1024 * 1024;
/** Bytes that reach the disk per byte of a logged payload: the log, then the state's rows, full-text index and vectors. */
const write_amplification = 4;

/** Admits writes while the disk keeps its reserve (see DiskReserve); the simulation has none. */
export interface SpaceReserve {
  /** Before a batch of `bytes` payload is logged: null to go on, or why there is no room. */
  admit(bytes: number): string | null;
}

/**
 * Free space as last measured (statfs) minus what was written since, estimated from the payload
 * bytes admitted. A batch is refused once the estimate falls below reserve_bytes (the leader then
 * sets disk_full, and the disk watch clears it once a measurement finds the reserve free again);
 * the free space is measured again after every look_every_bytes written (asynchronously: admit
 * never waits), so the estimate is off by at most that much.
 */
export class DiskReserve implements SpaceReserve {
  /** Free bytes at the last measurement (null before the first). */
  free: number | null = null;
  /** Bytes estimated written since that measurement started. */
  private since = 0;
  private looking: Promise<void> | null = null;

  constructor(private readonly opts: { dir: string; reserve_bytes: number; look_every_bytes: number }) {}

  admit(bytes: number): string | null {
    const left = this.free === null ? null : this.free - this.since - bytes * write_amplification;
    if (left !== null && left < this.opts.reserve_bytes) {
      return `about ${Math.max(0, left)} bytes would be left free, below the ${this.opts.reserve_bytes} kept for applying what is logged`;
    }
    this.since += bytes * write_amplification;
    if (this.free === null || this.since >= this.opts.look_every_bytes) void this.look();
    return null;
  }

  /** Measures the free space now (one measurement at a time). */
  look(): Promise<void> {
    this.looking ??= (async () => {
      const before = this.since;
      try {
        const free = await freeBytes(this.opts.dir);
        this.free = free;
        this.since -= before;
      } catch {
        // statfs failed: keep the old figure; the log's own write errors still say when it is full.
      } finally {
        this.looking = null;
      }
    })();
    return this.looking;
  }

  /** A measurement made elsewhere (the disk watch saw space come back). */
  measured(free: number): void {
    this.free = free;
    this.since = 0;
  }
}

export interface DiskSpaceWatchOptions {
  /** The data directory (any path on the file system to watch). */
  dir: string;
  condition: NodeCondition;
  /** The disk counts as freed once at least this many bytes are available. */
  free_bytes_min: number;
  /** Poll interval while the disk is full. */
  check_ms: number;
  /** Called after the disk_full condition was cleared, with the free bytes measured. */
  onFreed?: (free: number) => void;
}

/**
 * While the disk_full condition is set, looks at the free space every check_ms and clears the
 * condition (then calls onFreed) once at least free_bytes_min bytes are available. start() is
 * called when disk_full is set (again calling it while running does nothing); it stops by itself
 * once the condition is cleared (by it or by anyone else), or with stop(). Its timer never keeps
 * the process alive.
 */
export class DiskSpaceWatch {
  private timer: NodeJS.Timeout | null = null;
  private checking = false;
  /** Free bytes at the last look, and the last statfs failure (null when it worked). */
  lastFreeBytes: number | null = null;
  lastError: string | null = null;

  constructor(private readonly opts: DiskSpaceWatchOptions) {}

  get running(): boolean {
    return this.timer !== null;
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.check(), Math.max(1, this.opts.check_ms));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * One look now: true when the disk_full condition is (now) clear. Clears it, calls onFreed and
   * stops when there is enough space; stops when someone else cleared it.
   */
  async check(): Promise<boolean> {
    const { condition } = this.opts;
    if (!condition.has('disk_full')) {
      this.stop();
      return true;
    }
    if (this.checking) return false;
    this.checking = true;
    try {
      const free = await freeBytes(this.opts.dir);
      this.lastFreeBytes = free;
      this.lastError = null;
      if (free < this.opts.free_bytes_min) return false;
    } catch (err) {
      this.lastError = (err as Error).message;
      return false;
    } finally {
      this.checking = false;
    }
    this.stop();
    if (condition.has('disk_full')) {
      condition.clear('disk_full');
      this.opts.onFreed?.(this.lastFreeBytes ?? 0);
    }
    return true;
  }
}

/**
 * Opens a SQLite database in WAL mode. WAL needs its shared-memory file (-shm, 32 KiB), which a
 * clean close removed: on a full disk it cannot be created (SQLITE_IOERR_SHMSIZE) and nothing,
 * not even a read, would work. Then the database is opened again with locking_mode=EXCLUSIVE,
 * where SQLite keeps the WAL index in memory and needs no -shm: this connection reads and (once
 * there is space) writes as before, but no other connection can open the file until the process
 * restarts (see isExclusive). A database that cannot be opened either way throws.
 */
export function openWalDatabase(file: string): Database.Database {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    // A read, so the WAL index is built now and not at the first real query.
    db.prepare('SELECT count(*) FROM sqlite_master').pluck().get();
    return db;
  } catch (err) {
    db.close();
    if (!isDiskFull(err)) throw err;
  }
  const alone = new Database(file);
  try {
    alone.pragma('locking_mode = EXCLUSIVE');
    alone.pragma('journal_mode = WAL');
    alone.prepare('SELECT count(*) FROM sqlite_master').pluck().get();
  } catch (err) {
    alone.close();
    throw err;
  }
  return alone;
}

/** True when `db` was opened with locking_mode=EXCLUSIVE (see openWalDatabase): no second connection can open its file. */
export function isExclusive(db: Database.Database): boolean {
  return db.pragma('locking_mode', { simple: true }) === 'exclusive';
}
