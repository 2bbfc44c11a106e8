import { describe, expect, it } from 'vitest';
import { ENTRY_COMMAND, makeEntry } from '@cairn/raft';
import type { Entry } from '@cairn/raft';
import { Prng } from './prng.ts';
import { Scheduler } from './clock.ts';
import { SimDisk, SimLog, SimState, decodeStateImage, encodeStateImage, foldState } from './disk.ts';

const opts = { sync_ms_min: 1, sync_ms_max: 3, checkpoint_every_syncs: 2 };

function entries(from: number, n: number, term = 1): Entry[] {
  return Array.from({ length: n }, (_, i) => makeEntry(from + i, term, ENTRY_COMMAND, new Uint8Array([from + i])));
}

function setup(seed = 1): { s: Scheduler; log: SimLog } {
  const s = new Scheduler();
  const log = new SimLog('n', new Prng(seed), opts);
  log.attach(s.clock('n'));
  return { s, log };
}

describe('simulated log', () => {
  it('makes a write visible at once and durable once a later sync resolves', async () => {
    const { s, log } = setup();
    log.write({ entries: entries(1, 3), term: 1, commit: 0 });
    expect(log.lastIndex()).toBe(3);
    expect(log.durableIndex()).toBe(0);
    expect(log.durable().lastIndex).toBe(0);
    let done = false;
    void log.sync().then(() => (done = true));
    log.write({ entries: entries(4, 1) });
    await s.runUntil(10);
    expect(done).toBe(true);
    expect(log.durableIndex()).toBe(3);
    expect(log.durable().lastIndex).toBe(3);
    expect(log.durable().meta.term).toBe(1);
    expect(log.checksumAt(2)).toBe(entries(2, 1)[0]?.checksum);
  });

  it('keeps the durable image and a prefix of unsynced writes across a crash', () => {
    const kept = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const { log } = setup(seed);
      log.write({ entries: entries(1, 2) });
      log.syncNow();
      for (let i = 3; i <= 6; i++) log.write({ entries: entries(i, 1) });
      log.crash();
      expect(log.lastIndex()).toBeGreaterThanOrEqual(2);
      expect(log.lastIndex()).toBeLessThanOrEqual(6);
      expect(log.durableIndex()).toBe(log.lastIndex());
      expect(log.durable().lastIndex).toBe(log.lastIndex());
      kept.add(log.lastIndex());
    }
    expect(kept.size).toBeGreaterThan(3);
  });

  it('reverts to the last checkpoint when the WAL is lost', async () => {
    const { s, log } = setup();
    log.write({ entries: entries(1, 1) });
    void log.sync();
    await s.runUntil(10);
    log.write({ entries: entries(2, 1) });
    void log.sync();
    await s.runUntil(20); // second sync: checkpoint at 2
    log.write({ entries: entries(3, 1) });
    void log.sync();
    await s.runUntil(30);
    expect(log.durable().lastIndex).toBe(3);
    log.loseWal();
    expect(log.lastIndex()).toBe(2);
  });

  it('fails the next sync with EIO, and what it covered never reaches the disk', async () => {
    const { s, log } = setup();
    log.write({ entries: entries(1, 2) });
    log.failNextSync();
    let err: unknown = null;
    log.sync().catch((e: unknown) => (err = e));
    await s.runUntil(10);
    expect((err as { code?: string }).code).toBe('EIO');
    expect(log.syncFailed()).toBe(true);
    // From then on every sync fails, until the process restarts.
    log.write({ entries: entries(3, 1) });
    let again: unknown = null;
    log.sync().catch((e: unknown) => (again = e));
    await s.runUntil(20);
    expect((again as { code?: string }).code).toBe('EIO');
    expect(() => log.syncNow()).toThrow(/EIO/);
    expect(log.durable().lastIndex).toBe(0);
    log.crash();
    expect(log.lastIndex()).toBe(0);
  });

  it('refuses writes with SQLITE_FULL while full', () => {
    const { log } = setup();
    log.fill();
    expect(() => log.write({ entries: entries(1, 1) })).toThrow(expect.objectContaining({ code: 'SQLITE_FULL' }));
    log.free();
    log.write({ entries: entries(1, 1) });
    expect(log.lastIndex()).toBe(1);
  });

  it('compacts, truncates and resets like the real log', () => {
    const { log } = setup();
    log.write({ entries: entries(1, 5), term: 1 });
    expect(log.compactTo(2)).toBe(2);
    expect(log.firstIndex()).toBe(3);
    expect(log.snapshotTerm()).toBe(1);
    log.write({ truncate_from: 4, entries: entries(4, 1, 2) });
    expect(log.lastIndex()).toBe(4);
    expect(log.termAt(4)).toBe(2);
    expect(log.entries(3, 10, 1 << 20).map((e) => e.index)).toEqual([3, 4]);
    log.resetTo(10, 3, 4);
    expect(log.lastIndex()).toBe(10);
    expect(log.firstIndex()).toBe(11);
    expect(log.meta('commit_index')).toBe(10);
    expect(log.meta('term')).toBe(4);
    expect(log.durable().snapIndex).toBe(10);
    expect(() => log.write({ entries: entries(12, 1) })).toThrow(/append 12 after 10/);
  });

  it('wipes log, state and storage identity', () => {
    const disk = new SimDisk('n', new Prng(1), opts);
    disk.log.attach(new Scheduler().clock('n'));
    disk.log.write({ entries: entries(1, 2) });
    disk.log.syncNow();
    disk.state.applyEntries(entries(1, 2));
    const id = disk.storageId();
    disk.wipe();
    expect(disk.log.lastIndex()).toBe(0);
    expect(disk.state.appliedIndex()).toBe(0);
    expect(disk.storageId()).not.toBe(id);
  });
});

describe('simulated state', () => {
  it('applies in order, skips what it holds, and folds a value', () => {
    const st = new SimState('n');
    const es = entries(1, 3);
    st.applyEntries(es.slice(0, 2));
    st.applyEntries(es);
    expect(st.appliedIndex()).toBe(3);
    expect(st.value()).toBe(es.reduce(foldState, 0));
    expect(() => st.applyEntries(entries(5, 1))).toThrow(/applies 5 after 3/);
  });

  it('encodes a snapshot that decodes to its state, and refuses damaged bytes', () => {
    const img = { index: 7, term: 2, value: 12345 };
    const bytes = encodeStateImage(img, 100);
    expect(decodeStateImage(bytes)).toEqual(img);
    const bad = Buffer.from(bytes);
    bad[bad.length - 5] = (bad[bad.length - 5] as number) ^ 1;
    expect(() => decodeStateImage(bad)).toThrow();
  });
});
