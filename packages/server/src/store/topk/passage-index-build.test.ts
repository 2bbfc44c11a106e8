// The passage index's build (passage-index.ts) on a clock the test drives: performance.now()
// advances only when the build puts a passage (by a cost the test gives each passage) or trims a
// workspace's lists, and process.cpuUsage() counts 1.5 ms of CPU per passage put. The slices,
// their figures and the stops then follow from the costs alone, whatever the machine is doing.

import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Database } from 'better-sqlite3';
import { openTestStore } from '../testing.ts';
import type { TestStore } from '../testing.ts';
import { PassageIndexes } from './passage-index.ts';
import { TopKIndex } from './index.ts';

let now = 1_000;
let cpuMicros = 0;

/** Puts advance the clock by `cost(text)` ms; trim steps by `trimCost` ms. */
function driveClock(index: PassageIndexes, cost: (text: string) => number, trimCost = 0): { trims: () => number } {
  vi.spyOn(performance, 'now').mockImplementation(() => now);
  vi.spyOn(process, 'cpuUsage').mockImplementation((prev?: NodeJS.CpuUsage) => {
    const user = cpuMicros;
    const system = cpuMicros / 2;
    return prev === undefined ? { user, system } : { user: user - prev.user, system: system - prev.system };
  });
  const put = index.put.bind(index);
  vi.spyOn(index, 'put').mockImplementation((ws, row, text, path) => {
    now += cost(text);
    cpuMicros += 1_000;
    put(ws, row, text, path);
  });
  const trim = Reflect.get<TopKIndex, 'trim'>(TopKIndex.prototype, 'trim');
  let trims = 0;
  vi.spyOn(TopKIndex.prototype, 'trim').mockImplementation(function (this: TopKIndex, from?: number, count?: number) {
    now += trimCost;
    trims += 1;
    return trim.call(this, from, count);
  });
  return { trims: () => trims };
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** One passage each (short contents), in rowid order d0, d1, ... */
async function documents(t: TestStore, contents: string[], ws = 'ws'): Promise<void> {
  for (const [i, content] of contents.entries()) await t.put(ws, { id: `d${i}`, content });
  // the store's own passage index, built in the background as it opened, is done before the clock is driven
  await t.store.passageIndexBuilt;
}

const passageCount = (db: Database): number => (db.prepare('SELECT count(*) AS n FROM passages').get() as { n: number }).n;

/** Every passage in the database (of one workspace if given): its row, workspace, text and path. */
function passageRows(db: Database, ws?: string): { r: number; ws: string; text: string; path: string | null }[] {
  const rows = db
    .prepare('SELECT p.rowid AS r, p.workspace AS ws, p.start, p."end" AS e, d.content, d.path FROM passages p JOIN documents d ON d.workspace = p.workspace AND d.id = p.doc_id WHERE @ws IS NULL OR p.workspace = @ws')
    .all({ ws: ws ?? null }) as { r: number; ws: string; start: number; e: number; content: string; path: string | null }[];
  return rows.map((p) => ({ r: p.r, ws: p.ws, text: p.content.slice(p.start, p.e), path: p.path }));
}

describe('the passage index build, on a driven clock', () => {
  it('fills each slice to slice_ms and reports the longest slice, the first of equals, with its passages', async () => {
    using t = openTestStore();
    // 20 one-passage documents of 1 ms each, but d9 and d15 take 30 ms: with slices of 4 ms, d9
    // ends the slice d8, d9 (31 ms) and d15 the slice d14, d15 (31 ms as well).
    const contents = Array.from({ length: 20 }, (_, i) => (i === 9 || i === 15 ? `slow quorum ${i}` : `leader replica ${i}`));
    await documents(t, contents);
    expect(passageCount(t.db)).toBe(20);
    const index = new PassageIndexes();
    driveClock(index, (text) => (text.startsWith('slow') ? 30 : 1));
    const started = now;
    const built = await index.build(t.db, () => false, async () => {}, { slice_ms: 4 });
    expect(built.documents).toBe(20);
    expect(built.passages).toBe(20);
    expect(built.ms).toBe(18 + 60);
    // d0-d3 | d4-d7 | d8 d9 | d10-d13 | d14 d15 | d16-d19 | (the read finds no more, lists trimmed)
    expect(built.slices).toBe(7);
    expect(built.slice_max_ms).toBe(31);
    expect(built.slices_over_20ms).toBe(2);
    expect(built.slice_max_at).toEqual({ started_ms: started + 8, phase: 'read', passages: 2 });
    // 4 passages put in one slice, 1.5 ms of CPU each
    expect(built.slice_max_cpu_ms).toBe(6);
    expect(index.ready()).toBe(true);
    expect(index.size('ws')).toBe(20);
    expect(index.lastBuild).toEqual(built);
  });

  it('ends a slice at its first look at the clock once the time is up, reading rows taking time too', async () => {
    using t = openTestStore();
    await documents(t, Array.from({ length: 10 }, (_, i) => `leader ${i}`));
    const index = new PassageIndexes();
    driveClock(index, () => 1);
    // every row read by the build takes 1 ms as well
    const timed = new Proxy(t.db, {
      get(target, prop) {
        if (prop === 'prepare') {
          return (sql: string) => {
            const statement = target.prepare(sql);
            return {
              all: (...args: unknown[]) => ((now += 1), statement.all(...args)),
              get: (...args: unknown[]) => ((now += 1), statement.get(...args)),
            };
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const built = await index.build(timed, () => false, async () => {}, { slice_ms: 2 });
    // A slice reads a page (1 ms) and the document's passages (1 ms), puts one (1 ms) and is over
    // its 2 ms; the next reads the document again and finds no more passages (2 ms: exactly its
    // time, so it ends there too). Two slices a document, and one that finds no more documents.
    expect(built.slice_max_ms).toBe(3);
    expect(built.slices).toBe(21);
    expect(built.documents).toBe(10);
    expect(index.size('ws')).toBe(10);
  });

  it('counts a slice of exactly 20 ms as not over 20', async () => {
    using t = openTestStore();
    await documents(t, ['leader one', 'leader two', 'leader three']);
    const index = new PassageIndexes();
    driveClock(index, (text) => (text.endsWith('two') ? 20 : 1));
    const built = await index.build(t.db, () => false, async () => {}, { slice_ms: 1 });
    // one passage a slice: 1 ms, 20 ms, 1 ms, then the slice that finds no more
    expect(built.slices).toBe(4);
    expect(built.slice_max_ms).toBe(20);
    expect(built.slices_over_20ms).toBe(0);
  });

  it('stops a document inside it when the slice is up and reads the rest of it in the next', async () => {
    using t = openTestStore({ passage_tokens: 16 });
    const paragraph = (i: number): string => `replica ${i} ` + 'leader '.repeat(10).trim();
    await t.put('ws', { id: 'long', content: Array.from({ length: 10 }, (_, i) => paragraph(i)).join('\n\n') });
    await documents(t, ['quorum one', 'quorum two'], 'other');
    const passages = passageCount(t.db);
    expect(passages).toBe(12);
    const index = new PassageIndexes();
    driveClock(index, () => 1);
    const built = await index.build(t.db, () => false, async () => {}, { slice_ms: 3 });
    // 3 passages a slice: long's 10 in four slices (3, 3, 3, then its last with the two of
    // `other`, the second of which ends the slice), and a fifth that finds no more
    expect(built.slices).toBe(5);
    expect(built.slice_max_at.passages).toBe(3);
    expect(built.documents).toBe(3);
    expect(built.passages).toBe(12);
    expect(index.size('ws')).toBe(10);
    expect(index.size('other')).toBe(2);
    let expected = 0;
    for (const p of passageRows(t.db)) expected += PassageIndexes.terms(p.text, p.path).terms.size;
    expect(built.postings).toBe(expected);
    expect(built.postings).toBeGreaterThan(12);
  });

  it('trims a few lists a slice once every passage is read, and gives room back', async () => {
    using t = openTestStore();
    const words = Array.from({ length: 40 }, (_, i) => `w${i}x`).join(' ');
    for (const ws of ['a', 'b', 'c', 'd', 'e']) await documents(t, [words, words, words], ws);
    const index = new PassageIndexes();
    // reading costs nothing here: only the trim steps take time, 1 ms each (one workspace's lists each)
    const clock = driveClock(index, () => 0, 1);
    const built = await index.build(t.db, () => false, async () => {}, { slice_ms: 2 });
    // the read in one slice that goes on to trim a and b; then c, d | e, then the end found
    expect(built.slices).toBe(3);
    expect(clock.trims()).toBe(5);
    expect(built.slice_max_at.phase).toBe('read');

    // the same passages put with no build: their lists keep the room they reserved
    const untrimmed = new PassageIndexes();
    for (const p of passageRows(t.db)) untrimmed.put(p.ws, p.r, p.text, null);
    expect(index.postingBytes()).toBeGreaterThan(0);
    expect(index.bytesHeld()).toBeGreaterThanOrEqual(index.postingBytes());
    expect(index.postingBytes()).toBeLessThan(untrimmed.postingBytes());
    // five workspaces hold five times what one does
    const one = new PassageIndexes();
    for (const p of passageRows(t.db, 'a')) one.put('a', p.r, p.text, null);
    expect(untrimmed.bytesHeld()).toBe(5 * one.bytesHeld());
    expect(untrimmed.postingBytes()).toBe(5 * one.postingBytes());
  });

  it('waits while the writer is busy, and reads nothing then', async () => {
    using t = openTestStore();
    await documents(t, ['leader one', 'leader two']);
    const index = new PassageIndexes();
    driveClock(index, () => 1);
    let busy = 3;
    let waits = 0;
    const built = await index.build(t.db, () => busy-- > 0, async () => {
      expect(index.size('ws')).toBe(0);
      waits += 1;
    }, { slice_ms: 10 });
    expect(waits).toBe(3);
    expect(built.slices).toBe(1);
    expect(built.passages).toBe(2);
  });

  it('ends a build stopped between slices without reading on, and is not ready', async () => {
    using t = openTestStore();
    await documents(t, Array.from({ length: 10 }, (_, i) => `leader ${i}`));
    const index = new PassageIndexes();
    driveClock(index, () => 1);
    let slices = 0;
    const built = await index.build(t.db, () => {
      slices += 1;
      if (slices < 3) return false;
      // stopped while waiting for the writer: the build ends when it looks again
      index.stop();
      return true;
    }, async () => {}, { slice_ms: 2 });
    // two slices of two passages, then stopped
    expect(built.passages).toBe(4);
    expect(built.slices).toBe(2);
    expect(index.ready()).toBe(false);
    expect(index.lastBuild).toBeNull();
    expect(index.size('ws')).toBe(0);
  });

  it('forgets everything on stop and takes no more puts', async () => {
    using t = openTestStore();
    await documents(t, ['leader one']);
    const index = new PassageIndexes();
    await index.build(t.db, () => false, async () => {});
    expect(index.ready()).toBe(true);
    const terms = [...PassageIndexes.terms('leader', null).terms.keys()];
    expect(index.search('ws', terms, 5)).toHaveLength(1);
    index.stop();
    expect(index.ready()).toBe(false);
    expect(index.size('ws')).toBe(0);
    index.put('ws', 99, 'leader again', null);
    expect(index.size('ws')).toBe(0);
    expect(index.search('ws', terms, 5)).toEqual([]);
  });

  it('refuses a negative or NaN slice and takes 0', async () => {
    using t = openTestStore();
    await documents(t, ['leader one']);
    await expect(new PassageIndexes().build(t.db, () => false, async () => {}, { slice_ms: -1 })).rejects.toThrow(/slice_ms -1/);
    await expect(new PassageIndexes().build(t.db, () => false, async () => {}, { slice_ms: Number.NaN })).rejects.toThrow(/slice_ms NaN/);
    const built = await new PassageIndexes().build(t.db, () => false, async () => {}, { slice_ms: 0 });
    expect(built.passages).toBe(1);
  });
});
