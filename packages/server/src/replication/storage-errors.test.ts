// Storage errors as the node meets them: a real SQLITE_FULL from better-sqlite3, a real ENOSPC
// from node:fs, the same wrapped or reduced to a message, I/O errors; and the watch that clears
// the disk_full condition once space is freed (on a real full tmpfs when this runs as root).
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeCondition } from './condition.ts';
import { DiskReserve, DiskSpaceWatch, freeBytes, isDiskFull, isExclusive, isIoError, openWalDatabase } from './storage-errors.ts';
import { TestDisks, fillDisk } from './testing-disk.ts';

const disks = new TestDisks('storage');
const tempDir = (): string => disks.tempDir();
const tmpfs = (mb: number): string | null => disks.tmpfs(mb);
const fill = (dir: string, name = 'filler'): void => fillDisk(dir, name);
afterEach(() => disks.cleanup());

function sqliteFull(): unknown {
  const db = new Database(path.join(tempDir(), 'small.db'));
  try {
    db.exec('CREATE TABLE t (x BLOB)');
    db.pragma('max_page_count = 8');
    try {
      for (let i = 0; i < 100; i++) db.prepare('INSERT INTO t VALUES (?)').run(Buffer.alloc(4096));
    } catch (err) {
      return err;
    }
    throw new Error('no SQLITE_FULL');
  } finally {
    db.close();
  }
}

function enospc(): unknown {
  try {
    fs.writeFileSync('/dev/full', 'x');
  } catch (err) {
    return err;
  }
  throw new Error('/dev/full took a write');
}

describe('isDiskFull / isIoError', () => {
  it('classifies a real SQLITE_FULL from better-sqlite3 as disk full', () => {
    const err = sqliteFull();
    expect(err).toBeInstanceOf(Database.SqliteError);
    expect((err as { code: string }).code).toBe('SQLITE_FULL');
    expect(isDiskFull(err)).toBe(true);
    expect(isIoError(err)).toBe(false);
  });

  it.skipIf(!fs.existsSync('/dev/full'))('classifies a real ENOSPC from node:fs as disk full', () => {
    const err = enospc();
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(isDiskFull(err)).toBe(true);
    expect(isIoError(err)).toBe(false);
  });

  it('sees through a wrapping error (cause) and a message that crossed a worker thread', () => {
    expect(isDiskFull(new Error('log write failed', { cause: sqliteFull() }))).toBe(true);
    expect(isDiskFull(new Error('database or disk is full'))).toBe(true);
    expect(isDiskFull(new Error('ENOSPC: no space left on device, write'))).toBe(true);
    expect(isDiskFull(Object.assign(new Error('quota'), { code: 'EDQUOT' }))).toBe(true);
    expect(isDiskFull(new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_SHMSIZE'))).toBe(true);
  });

  it('classifies EIO and SQLITE_IOERR* as I/O errors, not as disk full', () => {
    const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO', errno: -5, syscall: 'fdatasync' });
    const wrapped = Object.assign(new Error('log fsync failed: EIO: i/o error, fdatasync', { cause: eio }), { code: 'EIO' });
    for (const err of [eio, wrapped, new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_FSYNC'), new Database.SqliteError('disk I/O error', 'SQLITE_IOERR'), new Error('disk I/O error')]) {
      expect(isIoError(err)).toBe(true);
      expect(isDiskFull(err)).toBe(false);
    }
  });

  it('says no to anything else', () => {
    const constraint = new Database.SqliteError('UNIQUE constraint failed', 'SQLITE_CONSTRAINT_PRIMARYKEY');
    for (const err of [constraint, new Error('boom'), Object.assign(new Error('x'), { code: 'ENOENT' }), null, undefined, 42, {}]) {
      expect(isDiskFull(err)).toBe(false);
      expect(isIoError(err)).toBe(false);
    }
  });
});

describe('DiskSpaceWatch', () => {
  it('clears disk_full and calls onFreed once there is enough space, then stops', async () => {
    const condition = new NodeCondition();
    condition.set('disk_full', 'the disk is full');
    let freed = 0;
    const watch = new DiskSpaceWatch({ dir: tempDir(), condition, free_bytes_min: 1, check_ms: 10, onFreed: () => freed++ });
    watch.start();
    watch.start();
    expect(watch.running).toBe(true);
    const deadline = Date.now() + 5000;
    while (condition.has('disk_full') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(condition.has('disk_full')).toBe(false);
    expect(freed).toBe(1);
    expect(watch.running).toBe(false);
    expect(watch.lastFreeBytes).toBeGreaterThan(0);
  });

  it('keeps the condition while space is short, stops when someone else cleared it, and never holds the process', async () => {
    const condition = new NodeCondition();
    condition.set('disk_full', 'the disk is full');
    let freed = 0;
    const dir = tempDir();
    const watch = new DiskSpaceWatch({ dir, condition, free_bytes_min: Number.MAX_SAFE_INTEGER, check_ms: 10, onFreed: () => freed++ });
    watch.start();
    expect((watch as unknown as { timer: NodeJS.Timeout }).timer.hasRef()).toBe(false);
    expect(await watch.check()).toBe(false);
    // Other processes write to this disk meanwhile: the figure is the disk's, give or take their writes.
    expect(Math.abs((watch.lastFreeBytes ?? 0) - (await freeBytes(dir)))).toBeLessThan(256 * 1024 * 1024);
    expect(condition.has('disk_full')).toBe(true);
    condition.clear('disk_full');
    expect(await watch.check()).toBe(true);
    expect(watch.running).toBe(false);
    expect(freed).toBe(0);
  });

  it('keeps the condition when statfs fails, with the reason', async () => {
    const condition = new NodeCondition();
    condition.set('disk_full', 'the disk is full');
    const watch = new DiskSpaceWatch({ dir: path.join(tempDir(), 'missing'), condition, free_bytes_min: 1, check_ms: 1000 });
    expect(await watch.check()).toBe(false);
    expect(watch.lastError).toMatch(/ENOENT/);
    expect(condition.has('disk_full')).toBe(true);
  });

  it('on a real full tmpfs: clears the condition only after the filler is removed', async (ctx) => {
    const dir = tmpfs(2);
    if (dir === null) {
      console.log('skipped: mount -t tmpfs is not allowed here (needs root)');
      ctx.skip();
      return;
    }
    fill(dir);
    expect(await freeBytes(dir)).toBeLessThan(64 * 1024);
    const condition = new NodeCondition();
    condition.set('disk_full', 'the disk is full');
    let freed = 0;
    const watch = new DiskSpaceWatch({ dir, condition, free_bytes_min: 512 * 1024, check_ms: 20, onFreed: () => freed++ });
    disks.defer(() => watch.stop());
    watch.start();
    await new Promise((r) => setTimeout(r, 200));
    expect(condition.has('disk_full')).toBe(true);
    fs.rmSync(path.join(dir, 'filler'));
    const deadline = Date.now() + 5000;
    while (condition.has('disk_full') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(condition.has('disk_full')).toBe(false);
    expect(freed).toBe(1);
  });
});

describe('DiskReserve', () => {
  it('on a real 8 MB tmpfs: admits batches while the estimate keeps the reserve free, refuses the one that would not, and measures again', async (ctx) => {
    const dir = tmpfs(8);
    if (dir === null) {
      console.log('skipped: mount -t tmpfs is not allowed here (needs root)');
      ctx.skip();
      return;
    }
    const reserve = new DiskReserve({ dir, reserve_bytes: 4 * 1024 * 1024, look_every_bytes: 512 * 1024 });
    // Before the first measurement everything is admitted, and a measurement starts.
    expect(reserve.admit(1)).toBeNull();
    await reserve.look();
    const free = await freeBytes(dir);
    expect(reserve.free).toBe(free);
    // 4 bytes reach the disk per payload byte: 1 MiB of payload leaves about free - 4 MiB, the limit.
    const room = Math.floor((free - 4 * 1024 * 1024) / 4);
    expect(reserve.admit(room + 1)).toMatch(/below the 4194304 kept/);
    expect(reserve.admit(room - 1024)).toBeNull();
    // What was admitted counts: the next byte beyond the room is refused, without any write to the disk.
    expect(reserve.admit(2048)).toMatch(/bytes would be left free/);
    // The disk itself has not changed: a measurement puts the estimate back to what it is.
    await reserve.look();
    expect(reserve.free).toBe(await freeBytes(dir));
    expect(reserve.admit(2048)).toBeNull();
    // A filler takes the space for real: once measured, the reserve refuses.
    fs.writeFileSync(path.join(dir, 'filler'), Buffer.alloc(5 * 1024 * 1024, 1));
    await reserve.look();
    expect(reserve.admit(1)).toMatch(/kept for applying what is logged/);
    fs.rmSync(path.join(dir, 'filler'));
    reserve.measured(await freeBytes(dir));
    expect(reserve.admit(1)).toBeNull();
  });
});

describe('openWalDatabase', () => {
  it('opens in WAL mode, normally', () => {
    const db = openWalDatabase(path.join(tempDir(), 'a.db'));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(isExclusive(db)).toBe(false);
    db.close();
  });

  it('on a full disk, opens a cleanly closed database alone (no -shm can be made) and reads it', async (ctx) => {
    const dir = tmpfs(2);
    if (dir === null) {
      console.log('skipped: mount -t tmpfs is not allowed here (needs root)');
      ctx.skip();
      return;
    }
    const file = path.join(dir, 'a.db');
    const first = openWalDatabase(file);
    first.exec("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('kept')");
    first.close();
    fill(dir);
    // A plain open cannot even read: the shared-memory file cannot grow.
    const plain = new Database(file);
    expect(() => plain.prepare('SELECT x FROM t').pluck().get()).toThrow(expect.objectContaining({ code: 'SQLITE_IOERR_SHMSIZE' }));
    plain.close();
    const db = openWalDatabase(file);
    expect(isExclusive(db)).toBe(true);
    expect(db.prepare('SELECT x FROM t').pluck().get()).toBe('kept');
    let refused: unknown;
    try {
      db.prepare('INSERT INTO t VALUES (?)').run('x'.repeat(100_000));
    } catch (err) {
      refused = err;
    }
    expect(isDiskFull(refused)).toBe(true);
    fs.rmSync(path.join(dir, 'filler'));
    db.prepare('INSERT INTO t VALUES (?)').run('after');
    expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(2);
    db.close();
    // Reopened with space: normal again.
    const again = openWalDatabase(file);
    expect(isExclusive(again)).toBe(false);
    again.close();
  });
});
