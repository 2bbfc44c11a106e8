import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeEntry, ENTRY_COMMAND } from '@cairn/raft';
import type { Entry } from '@cairn/raft';
import { SqliteLog } from './sqlite-log.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-log-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

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
