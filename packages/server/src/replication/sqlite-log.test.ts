import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeEntry, ENTRY_COMMAND } from '@cairn/raft';
import type { Entry } from '@cairn/raft';
import { SqliteLog } from './sqlite-log.ts';
import { isDiskFull } from './storage-errors.ts';
import { TestDisks, fillDisk, thrown } from './testing-disk.ts';

const disks = new TestDisks('log');
const tempDir = (): string => disks.tempDir();
const tmpfs = (mb: number): string | null => disks.tmpfs(mb);
const fill = (dir: string): void => fillDisk(dir);
afterEach(() => disks.cleanup());

function entries(from: number, n: number, term = 1, bytes = 64): Entry[] {
  return Array.from({ length: n }, (_, i) => makeEntry(from + i, term, ENTRY_COMMAND, new Uint8Array(bytes).fill((from + i) % 251)));
}

describe('SqliteLog durability', () => {
  it('counts an entry as durable only after a sync that started after its write', async () => {
    const log = new SqliteLog(path.join(tempDir(), 'log.db'));
    log.write({ entries: entries(1, 5) });
    expect(log.lastIndex()).toBe(5);
    expect(log.durableIndex()).toBe(0);
    const first = log.sync();
    log.write({ entries: entries(6, 5) });
    const second = log.sync();
    await first;
    expect(log.durableIndex()).toBeGreaterThanOrEqual(5);
    await second;
    expect(log.durableIndex()).toBe(10);
    log.close();
  });

  it('resolves syncs in the order they were asked for', async () => {
    const log = new SqliteLog(path.join(tempDir(), 'log.db'));
    const order: number[] = [];
    const all: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      log.write({ entries: entries(i * 3 + 1, 3) });
      const seen = i;
      all.push(log.sync().then(() => void order.push(seen)));
    }
    await Promise.all(all);
    expect(order).toEqual([...Array(20).keys()]);
    expect(log.durableIndex()).toBe(60);
    log.close();
  });

  it('does not count entries that replaced a truncated suffix until they are synced', async () => {
    const log = new SqliteLog(path.join(tempDir(), 'log.db'));
    log.write({ entries: entries(1, 10) });
    await log.sync();
    expect(log.durableIndex()).toBe(10);
    log.write({ truncate_from: 6, entries: entries(6, 2, 2) });
    expect(log.lastIndex()).toBe(7);
    expect(log.durableIndex()).toBe(5);
    await log.sync();
    expect(log.durableIndex()).toBe(7);
    expect(log.termAt(7)).toBe(2);
    log.close();
  });

  it('checkpoints the WAL in a worker as it grows, reuses it, and keeps every entry across a reopen', async () => {
    const file = path.join(tempDir(), 'log.db');
    const log = new SqliteLog(file);
    const per = 100;
    const bytes = 4096;
    const batches = Math.ceil((SqliteLog.wal_checkpoint_bytes * 4) / (per * bytes));
    for (let b = 0; b < batches; b++) {
      log.write({ entries: entries(b * per + 1, per, 1, bytes) });
      await log.sync();
      // Give a running checkpoint time to finish, as the time between batches does on a node.
      const deadline = Date.now() + 10_000;
      while ((log as unknown as { checkpointing: boolean }).checkpointing && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    }
    expect(log.lastCheckpointError).toBeNull();
    expect(log.checkpoints).toBeGreaterThanOrEqual(3);
    // Without checkpoints the WAL would hold all 4x; reused after each one, it stays near 1x.
    expect(fs.statSync(`${file}-wal`).size).toBeLessThan(SqliteLog.wal_checkpoint_bytes * 2);
    log.close();
    const again = new SqliteLog(file);
    expect(again.lastIndex()).toBe(batches * per);
    expect(again.durableIndex()).toBe(batches * per);
    const e = again.entries(1234, 1235, Infinity)[0] as Entry;
    expect(e.payload[0]).toBe(1234 % 251);
    again.close();
  });

  it('keeps every synced entry when the process is killed with SIGKILL', () => {
    const dir = tempDir();
    const file = path.join(dir, 'log.db');
    const script = path.join(dir, 'writer.mts');
    const module = path.resolve(import.meta.dirname, 'sqlite-log.ts');
    const raft = path.resolve(import.meta.dirname, '../../../raft/src/index.ts');
    fs.writeFileSync(
      script,
      `import { SqliteLog } from ${JSON.stringify(module)};
import { makeEntry, ENTRY_COMMAND } from ${JSON.stringify(raft)};
const log = new SqliteLog(${JSON.stringify(file)});
let next = 1;
for (let b = 0; b < 50; b++) {
  const batch = [];
  for (let i = 0; i < 20; i++, next++) batch.push(makeEntry(next, 1, ENTRY_COMMAND, new Uint8Array(100).fill(next % 251)));
  log.write({ entries: batch });
  if (b % 2 === 0) await log.sync();
  process.stdout.write('durable ' + log.durableIndex() + '\\n');
}
process.kill(process.pid, 'SIGKILL');
`,
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: path.resolve(import.meta.dirname, '../../../..'), encoding: 'utf8', timeout: 60_000 });
    expect(run.signal).toBe('SIGKILL');
    const reported = run.stdout.trim().split('\n').filter((l) => l.startsWith('durable ')).map((l) => Number(l.slice(8)));
    const durable = Math.max(...reported);
    expect(durable).toBeGreaterThanOrEqual(980);
    const log = new SqliteLog(file);
    expect(log.lastIndex()).toBeGreaterThanOrEqual(durable);
    const got = log.entries(1, durable + 1, Infinity);
    expect(got).toHaveLength(durable);
    expect(got.every((e) => e.payload[0] === e.index % 251)).toBe(true);
    log.close();
  });
});

describe('SqliteLog when the disk is full', () => {
  /** Everything a failed write must leave as it was. */
  function view(log: SqliteLog) {
    return {
      last: log.lastIndex(), lastTerm: log.lastLogTerm(), durable: log.durableIndex(), first: log.firstIndex(),
      term: log.meta('term'), commit: log.meta('commit_index'), termAtLast: log.termAt(log.lastIndex()),
      rows: log.entries(log.firstIndex(), log.lastIndex() + 1, Infinity).length,
    };
  }

  it('a write refused with SQLITE_FULL (inside its transaction) leaves tail, meta and durable index as they were', async () => {
    const log = new SqliteLog(path.join(tempDir(), 'log.db'));
    log.write({ entries: entries(1, 10), term: 1, commit: 3 });
    await log.sync();
    const pages = log.db.pragma('page_count', { simple: true }) as number;
    log.db.pragma(`max_page_count = ${pages + 2}`);
    const before = view(log);
    const err = thrown(() => log.write({ entries: entries(11, 50, 2, 4096), term: 2, commit: 10 }));
    expect(isDiskFull(err)).toBe(true);
    expect(view(log)).toEqual(before);
    // A truncation in the refused write is undone too (and the durable index with it).
    const err2 = thrown(() => log.write({ truncate_from: 6, entries: entries(6, 50, 2, 4096), term: 2 }));
    expect(isDiskFull(err2)).toBe(true);
    expect(view(log)).toEqual(before);
    expect(log.termAt(8)).toBe(1);
    // Space again: the log continues where it was.
    log.db.pragma('max_page_count = 1073741823');
    log.write({ entries: entries(11, 50, 2, 4096), term: 2, commit: 10 });
    await log.sync();
    expect(log.lastIndex()).toBe(60);
    expect(log.durableIndex()).toBe(60);
    expect(log.meta('term')).toBe(2);
    log.close();
  });

  it('on a full tmpfs: opens (after a clean close), serves reads, refuses writes, setMeta, compaction and reset without changing anything, resumes once space is freed', async (ctx) => {
    const dir = tmpfs(48);
    if (dir === null) {
      console.log('skipped: mount -t tmpfs is not allowed here (needs root)');
      ctx.skip();
      return;
    }
    const file = path.join(dir, 'log.db');
    const first = new SqliteLog(file);
    first.write({ entries: entries(1, 20, 1, 1000), term: 1, commit: 20 });
    await first.sync();
    first.close();
    fill(dir);

    const log = new SqliteLog(file);
    expect(log.exclusive).toBe(true);
    expect(log.lastIndex()).toBe(20);
    expect(log.durableIndex()).toBe(20);
    expect(log.entries(1, 21, Infinity)).toHaveLength(20);
    const before = view(log);
    const refused = thrown(() => log.write({ entries: entries(21, 5, 1, 1000) }));
    expect(isDiskFull(refused)).toBe(true);
    expect(view(log)).toEqual(before);
    const refusedMeta = thrown(() => log.setMeta('term', 7));
    expect(isDiskFull(refusedMeta)).toBe(true);
    expect(log.meta('term')).toBe(1);
    expect(view(log)).toEqual(before);
    for (const op of [() => log.compactTo(10), () => log.resetTo(100, 3, 3)]) {
      expect(isDiskFull(thrown(op))).toBe(true);
      expect(view(log)).toEqual(before);
      expect([log.snapshotIndex(), log.snapshotTerm()]).toEqual([0, 0]);
    }
    await log.sync();

    fs.rmSync(path.join(dir, 'filler'));
    log.write({ entries: entries(21, 5, 1, 1000), term: 2 });
    await log.sync();
    expect(log.durableIndex()).toBe(25);
    expect(log.meta('term')).toBe(2);
    // No other connection can open the file meanwhile: the WAL is checkpointed on this one.
    const per = 100;
    const batches = Math.ceil((SqliteLog.wal_checkpoint_bytes * 1.5) / (per * 4096));
    for (let b = 0; b < batches; b++) {
      log.write({ entries: entries(26 + b * per, per, 2, 4096) });
      await log.sync();
    }
    expect(log.lastCheckpointError).toBeNull();
    expect(log.checkpoints).toBeGreaterThanOrEqual(1);
    expect(fs.statSync(`${file}-wal`).size).toBeLessThan(SqliteLog.wal_checkpoint_bytes * 1.2);
    const last = log.lastIndex();
    log.close();
    const again = new SqliteLog(file);
    expect(again.exclusive).toBe(false);
    expect(again.lastIndex()).toBe(last);
    expect(again.entries(last, last + 1, Infinity)[0]?.payload[0]).toBe(last % 251);
    again.close();
  });

  it('on a full tmpfs: opens after a crash that left a WAL the open checkpoint cannot copy into log.db', async (ctx) => {
    const dir = tmpfs(4);
    if (dir === null) {
      console.log('skipped: mount -t tmpfs is not allowed here (needs root)');
      ctx.skip();
      return;
    }
    const file = path.join(dir, 'log.db');
    const script = path.join(tempDir(), 'crash.mts');
    const module = path.resolve(import.meta.dirname, 'sqlite-log.ts');
    const raft = path.resolve(import.meta.dirname, '../../../raft/src/index.ts');
    fs.writeFileSync(
      script,
      `import { SqliteLog } from ${JSON.stringify(module)};
import { makeEntry, ENTRY_COMMAND } from ${JSON.stringify(raft)};
const log = new SqliteLog(${JSON.stringify(file)});
const batch = [];
for (let i = 1; i <= 200; i++) batch.push(makeEntry(i, 1, ENTRY_COMMAND, new Uint8Array(4000).fill(i % 251)));
log.write({ entries: batch, term: 1 });
await log.sync();
process.kill(process.pid, 'SIGKILL');
`,
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: path.resolve(import.meta.dirname, '../../../..'), encoding: 'utf8', timeout: 60_000 });
    expect(run.signal).toBe('SIGKILL');
    expect(fs.statSync(`${file}-wal`).size).toBeGreaterThan(500_000);
    fill(dir);

    const log = new SqliteLog(file);
    expect(log.openError).toMatch(/full/);
    expect(log.lastIndex()).toBe(200);
    expect(log.entries(150, 151, Infinity)[0]?.payload[0]).toBe(150);
    const refused = thrown(() => log.write({ entries: entries(201, 5, 1, 4000) }));
    expect(isDiskFull(refused)).toBe(true);
    expect(log.lastIndex()).toBe(200);
    fs.rmSync(path.join(dir, 'filler'));
    log.write({ entries: entries(201, 5, 1, 1000) });
    await log.sync();
    expect(log.durableIndex()).toBe(205);
    log.close();
  });
});
