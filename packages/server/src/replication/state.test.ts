// state.db when writes fail: an apply refused with SQLITE_FULL leaves the applied index and the
// state (on disk and in memory) as they were; on a full disk (a real tmpfs, when this runs as
// root) an existing state.db opens, serves reads, refuses applies and resumes once space is freed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ENTRY_COMMAND, makeEntry } from '@cairn/raft';
import type { Entry } from '@cairn/raft';
import { HashingEmbedder } from '../embed/hashing.ts';
import { documentStateFactory } from '../state-machine.ts';
import type { DocumentStore } from '../store/document-store.ts';
import { encodeOp } from '../store/op.ts';
import { StateHolder, openStateDb, readApplied } from './state.ts';
import type { StateFactory, StateMachine } from './state.ts';
import { isDiskFull } from './storage-errors.ts';
import { TestDisks, fillDisk, thrown } from './testing-disk.ts';

const disks = new TestDisks('state');
const tempDir = (): string => disks.tempDir();
const tmpfs = (mb: number): string | null => disks.tmpfs(mb);
const fill = (dir: string): void => fillDisk(dir);
afterEach(() => disks.cleanup());


type Kv = StateMachine;
const kv: StateFactory<Kv> = (db) => {
  db.exec('CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v BLOB NOT NULL)');
  const put = db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)');
  return { machine: { db, close: () => undefined }, applier: { apply: (e: Entry) => void put.run(e.index, Buffer.from(e.payload)) } };
};

function kvEntries(from: number, n: number, bytes = 1024): Entry[] {
  return Array.from({ length: n }, (_, i) => makeEntry(from + i, 1, ENTRY_COMMAND, new Uint8Array(bytes).fill((from + i) % 251)));
}

function kvCount(db: Database.Database): number {
  return db.prepare('SELECT count(*) FROM kv').pluck().get() as number;
}

function documents(): StateFactory<DocumentStore> {
  // Documents larger than the default limit fill the small disks below in a few writes.
  return documentStateFactory(new HashingEmbedder({ dim: 64 }), { document_bytes_max: 4 * 1024 * 1024, metadata_bytes_max: 65_536, metadata_depth_max: 32 });
}

async function putEntry(store: DocumentStore, index: number, id: string, content: string): Promise<Entry> {
  const op = await store.preparePut('ws', { id, content });
  return makeEntry(index, 1, ENTRY_COMMAND, encodeOp(op));
}

/** Whether the store's in-memory vector index of `ws` holds `id` (what a rolled-back apply must not leave there). */
function vectorHas(store: DocumentStore, id: string): boolean {
  const vectors = (store as unknown as { vectors: { all(): Map<string, { has(id: string): boolean }> } }).vectors;
  return vectors.all().get('ws')?.has(id) ?? false;
}

describe('StateHolder.applyEntries when a write fails', () => {
  it('refused with SQLITE_FULL: applied index, rows and raft_applied stay as they were; it goes on once there is room', () => {
    const state = new StateHolder(path.join(tempDir(), 'state.db'), kv);
    disks.defer(() => state.close());
    state.applyEntries(kvEntries(1, 10));
    const pages = state.machine.db.pragma('page_count', { simple: true }) as number;
    state.machine.db.pragma(`max_page_count = ${pages + 2}`);
    const err = thrown(() => state.applyEntries(kvEntries(11, 20, 4096)));
    expect(isDiskFull(err)).toBe(true);
    expect(state.appliedIndex()).toBe(10);
    expect(state.appliedTerm()).toBe(1);
    expect(readApplied(state.machine.db)).toEqual({ index: 10, term: 1 });
    expect(kvCount(state.machine.db)).toBe(10);
    state.machine.db.pragma('max_page_count = 1073741823');
    expect(state.applyEntries(kvEntries(11, 20, 4096))).toBe(30);
    expect(kvCount(state.machine.db)).toBe(30);
  });

  it('a failure in the middle of a batch keeps none of it', () => {
    let failAt = 0;
    const flaky: StateFactory<Kv> = (db, ctx) => {
      const built = kv(db, ctx);
      return { machine: built.machine, applier: { apply: (e) => {
        built.applier.apply(e);
        if (e.index === failAt) throw new Error(`apply ${e.index} failed`);
      } } };
    };
    const state = new StateHolder(path.join(tempDir(), 'state.db'), flaky);
    disks.defer(() => state.close());
    state.applyEntries(kvEntries(1, 5));
    failAt = 8;
    expect(() => state.applyEntries(kvEntries(6, 5))).toThrow('apply 8 failed');
    expect(state.appliedIndex()).toBe(5);
    expect(kvCount(state.machine.db)).toBe(5);
    failAt = 0;
    expect(state.applyEntries(kvEntries(6, 5))).toBe(10);
  });

  it('documents: a rolled-back batch leaves no vector in memory, and the store is built again over the database', async () => {
    const state = new StateHolder(path.join(tempDir(), 'state.db'), documents());
    disks.defer(() => state.close());
    const store = state.machine;
    state.applyEntries([await putEntry(store, 1, 'one', 'first document about rivers'), await putEntry(store, 2, 'two', 'second document about mountains')]);
    expect(vectorHas(store, 'one')).toBe(true);
    const pages = store.db.pragma('page_count', { simple: true }) as number;
    const batch = [await putEntry(store, 3, 'three', 'third document about lakes'), await putEntry(store, 4, 'four', 'big '.repeat(200_000))];
    store.db.pragma(`max_page_count = ${pages + 8}`);
    const err = thrown(() => state.applyEntries(batch));
    expect(isDiskFull(err)).toBe(true);
    expect(state.appliedIndex()).toBe(2);
    expect(state.rebuilds).toBe(1);
    // What the old store kept in memory of the rolled-back entry 3: why it is built again.
    expect(vectorHas(store, 'three')).toBe(true);
    const after = state.machine;
    expect(after).not.toBe(store);
    expect(after.get('ws', 'three')).toBeNull();
    expect(vectorHas(after, 'three')).toBe(false);
    expect(vectorHas(after, 'one')).toBe(true);
    expect(after.get('ws', 'one')?.content).toBe('first document about rivers');
    // The same entries once there is room: applied by the new store, as on any replica.
    store.db.pragma('max_page_count = 1073741823');
    expect(state.applyEntries(batch)).toBe(4);
    expect(vectorHas(state.machine, 'three')).toBe(true);
    expect(state.machine.get('ws', 'four')).not.toBeNull();
  });
});

describe('state.db on a full disk', () => {
  it('opens after a clean close (alone, no -shm), serves reads, refuses applies, resumes and makes a snapshot copy once space is freed', async (ctx) => {
    const dir = tmpfs(8);
    if (dir === null) {
      console.log('skipped: mount -t tmpfs is not allowed here (needs root)');
      ctx.skip();
      return;
    }
    const file = path.join(dir, 'state.db');
    const first = new StateHolder(file, documents());
    first.applyEntries([await putEntry(first.machine, 1, 'one', 'kept across the restart')]);
    first.close();
    fill(dir);

    const state = new StateHolder(file, documents());
    disks.defer(() => state.close());
    expect(state.exclusive).toBe(true);
    expect(state.appliedIndex()).toBe(1);
    expect(state.machine.get('ws', 'one')?.content).toBe('kept across the restart');
    const hits = await state.machine.search('ws', { query: 'restart', k: 5, mode: 'hybrid' });
    expect(hits.map((h) => h.id)).toContain('one');
    const entry = await putEntry(state.machine, 2, 'two', 'x'.repeat(300_000));
    expect(isDiskFull(thrown(() => state.applyEntries([entry])))).toBe(true);
    expect(state.appliedIndex()).toBe(1);

    fs.rmSync(path.join(dir, 'filler'));
    expect(state.applyEntries([entry])).toBe(2);
    // No second connection can open the file: the copy is made on this one.
    const copy = path.join(tempDir(), 'copy.db');
    const at = await state.snapshotTo(copy);
    expect(at.index).toBe(2);
    const db = new Database(copy, { readonly: true });
    expect(readApplied(db)).toEqual({ index: 2, term: 1 });
    expect(db.pragma('journal_mode', { simple: true })).toBe('delete');
    db.close();
  });

  it('openStateDb opens after a crash left -wal and -shm behind, with a WAL that cannot be checkpointed', async (ctx) => {
    const dir = tmpfs(8);
    if (dir === null) {
      console.log('skipped: mount -t tmpfs is not allowed here (needs root)');
      ctx.skip();
      return;
    }
    const file = path.join(dir, 'state.db');
    const script = path.join(tempDir(), 'crash.mts');
    const module = path.resolve(import.meta.dirname, 'state.ts');
    fs.writeFileSync(
      script,
      `import { openStateDb } from ${JSON.stringify(module)};
const db = openStateDb(${JSON.stringify(file)});
db.exec('CREATE TABLE kv (k INTEGER PRIMARY KEY, v BLOB)');
const put = db.prepare('INSERT INTO kv VALUES (?, ?)');
db.transaction(() => { for (let i = 1; i <= 300; i++) put.run(i, Buffer.alloc(4000, i % 251)); db.prepare('UPDATE raft_applied SET applied_index = 300, applied_term = 1').run(); })();
process.kill(process.pid, 'SIGKILL');
`,
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: path.resolve(import.meta.dirname, '../../../..'), encoding: 'utf8', timeout: 60_000 });
    expect(run.signal).toBe('SIGKILL');
    expect(fs.existsSync(`${file}-shm`)).toBe(true);
    fill(dir);
    const db = openStateDb(file);
    disks.defer(() => db.close());
    expect(readApplied(db)).toEqual({ index: 300, term: 1 });
    expect(db.prepare('SELECT count(*) FROM kv').pluck().get()).toBe(300);
    expect(isDiskFull(thrown(() => db.prepare('INSERT INTO kv VALUES (?, ?)').run(301, Buffer.alloc(100_000))))).toBe(true);
  });
});

describe('a batch applied over several turns', () => {
  async function bulkEntry(store: DocumentStore, index: number, n: number, word: string): Promise<Entry> {
    const prepared = await store.preparePutMany('ws', Array.from({ length: n }, (_, i) => ({ id: `${word}-${i}`, content: `${word} document number ${i}` })));
    if (prepared.op === null) throw new Error('nothing prepared');
    return makeEntry(index, 1, ENTRY_COMMAND, encodeOp(prepared.op));
  }

  it('stops between documents at the deadline, shows reads none of it, holds vector reads back, then commits whole', async () => {
    const state = new StateHolder(path.join(tempDir(), 'state.db'), documents());
    disks.defer(() => state.close());
    const entry = await bulkEntry(state.machine, 1, 50, 'river');
    // A deadline already past: one document per call.
    expect(state.startApply([entry], 0)).toBe(false);
    expect(state.applyOpen()).toBe(true);
    expect(state.appliedIndex()).toBe(0);
    const store = state.machine;
    expect(store.get('ws', 'river-0')).toBeNull();
    expect(store.list('ws').documents).toEqual([]);
    expect(await store.search('ws', { query: 'river', k: 5, mode: 'lexical' })).toEqual([]);
    let vectorAnswered = false;
    const vector = store.search('ws', { query: 'river document', k: 5, mode: 'vector' }).then((hits) => {
      vectorAnswered = true;
      return hits;
    });
    let calls = 1;
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      expect(vectorAnswered).toBe(false);
      expect(store.get('ws', 'river-0')).toBeNull();
      calls++;
      if (state.continueApply(0)) break;
    }
    // One document a call: the batch never held the event loop for more than one.
    expect(calls).toBe(50);
    expect(state.applyOpen()).toBe(false);
    expect(state.appliedIndex()).toBe(1);
    expect(store.list('ws', { limit: 100 }).documents).toHaveLength(50);
    expect((await vector).length).toBe(5);
    expect(vectorAnswered).toBe(true);
  });

  it('ends in the same state as the batch applied in one turn', async () => {
    const whole = new StateHolder(path.join(tempDir(), 'state.db'), documents());
    const sliced = new StateHolder(path.join(tempDir(), 'state.db'), documents());
    disks.defer(() => whole.close());
    disks.defer(() => sliced.close());
    const entries = [await bulkEntry(whole.machine, 1, 20, 'lake'), await bulkEntry(whole.machine, 2, 30, 'hill')];
    const del = whole.machine.prepareDelete('ws', ['lake-3', 'hill-7', 'absent']);
    entries.push(makeEntry(3, 1, ENTRY_COMMAND, encodeOp(del)));
    whole.applyEntries(entries);
    let ok = sliced.startApply(entries, 0);
    while (!ok) ok = sliced.continueApply(0);
    expect(sliced.appliedIndex()).toBe(3);
    expect(sliced.machine.checksum()).toBe(whole.machine.checksum());
    expect(sliced.machine.get('ws', 'lake-3')).toBeNull();
  });

  it('applies one large document over several calls, between its passages, and ends as in one turn: put, replace, delete', async () => {
    const whole = new StateHolder(path.join(tempDir(), 'state.db'), documents());
    const sliced = new StateHolder(path.join(tempDir(), 'state.db'), documents());
    disks.defer(() => whole.close());
    disks.defer(() => sliced.close());
    const long = (word: string): string => Array.from({ length: 60 }, (_, i) => `Paragraph ${i} about ${word}: ${`the ${word} runs past the stone number ${i} `.repeat(30)}`).join('\n\n');
    const put = async (index: number, word: string): Promise<Entry> => makeEntry(index, 1, ENTRY_COMMAND, encodeOp(await whole.machine.preparePut('ws', { id: 'big', path: 'big.md', content: long(word) })));
    const entries = [await put(1, 'river'), await put(2, 'harbor')];
    entries.push(makeEntry(3, 1, ENTRY_COMMAND, encodeOp(whole.machine.prepareDelete('ws', ['big']))));
    entries.push(await put(4, 'meadow'));
    const calls: number[] = [];
    for (const [i, e] of entries.entries()) {
      whole.applyEntries([e]);
      let n = 1;
      let ok = sliced.startApply([e], 0);
      while (!ok) {
        n++;
        ok = sliced.continueApply(0);
      }
      calls.push(n);
      expect(sliced.appliedIndex()).toBe(i + 1);
      expect(sliced.machine.checksum(), `after entry ${i + 1}`).toBe(whole.machine.checksum());
    }
    // The put inserts its passages one call each, the replace also removes the old ones one call each, the delete too.
    expect(calls[0]).toBeGreaterThan(10);
    expect(calls[1]).toBeGreaterThan(calls[0] as number);
    expect(calls[2]).toBeGreaterThan(10);
    expect(await sliced.machine.search('ws', { query: 'meadow stone', k: 3, mode: 'lexical' })).toEqual(await whole.machine.search('ws', { query: 'meadow stone', k: 3, mode: 'lexical' }));
    expect((await sliced.machine.search('ws', { query: 'harbor', k: 3, mode: 'lexical' })).length).toBe(0);
  });

  it('an install rolls the open batch back', async () => {
    const state = new StateHolder(path.join(tempDir(), 'state.db'), documents());
    disks.defer(() => state.close());
    const copyFrom = new StateHolder(path.join(tempDir(), 'state.db'), documents());
    disks.defer(() => copyFrom.close());
    copyFrom.applyEntries([await bulkEntry(copyFrom.machine, 1, 3, 'snap')]);
    const copy = path.join(tempDir(), 'copy.db');
    await copyFrom.snapshotTo(copy);
    expect(state.startApply([await bulkEntry(state.machine, 1, 10, 'open')], 0)).toBe(false);
    expect(state.install(copy)).toEqual({ index: 1, term: 1 });
    expect(state.applyOpen()).toBe(false);
    expect(state.machine.get('ws', 'open-0')).toBeNull();
    expect(state.machine.get('ws', 'snap-2')).not.toBeNull();
    await state.whenIdle();
  });

  it('a kill -9 while a batch is open keeps none of it', async () => {
    const file = path.join(tempDir(), 'state.db');
    const script = path.join(tempDir(), 'open-batch.mts');
    const here = import.meta.dirname;
    fs.writeFileSync(
      script,
      `import { makeEntry, ENTRY_COMMAND } from ${JSON.stringify(path.join(here, '..', '..', '..', 'raft', 'src', 'index.ts'))};
import { StateHolder } from ${JSON.stringify(path.join(here, 'state.ts'))};
import { documentStateFactory } from ${JSON.stringify(path.join(here, '..', 'state-machine.ts'))};
import { HashingEmbedder } from ${JSON.stringify(path.join(here, '..', 'embed', 'hashing.ts'))};
import { encodeOp } from ${JSON.stringify(path.join(here, '..', 'store', 'op.ts'))};
const state = new StateHolder(${JSON.stringify(file)}, documentStateFactory(new HashingEmbedder({ dim: 64 })));
const first = await state.machine.preparePutMany('ws', [{ id: 'kept', content: 'committed before the crash' }]);
state.applyEntries([makeEntry(1, 1, ENTRY_COMMAND, encodeOp(first.op))]);
const docs = Array.from({ length: 40 }, (_, i) => ({ id: 'lost-' + i, content: 'open when the process died ' + i }));
const bulk = await state.machine.preparePutMany('ws', docs);
let calls = 0;
let done = state.startApply([makeEntry(2, 1, ENTRY_COMMAND, encodeOp(bulk.op))], 0);
while (!done && ++calls < 20) done = state.continueApply(0);
if (done) throw new Error('the batch committed');
process.kill(process.pid, 'SIGKILL');
`,
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: path.resolve(here, '../../../..'), encoding: 'utf8', timeout: 60_000 });
    expect(run.signal, run.stderr).toBe('SIGKILL');
    const state = new StateHolder(file, documents());
    disks.defer(() => state.close());
    expect(state.appliedIndex()).toBe(1);
    expect(state.machine.get('ws', 'kept')?.content).toBe('committed before the crash');
    expect(state.machine.get('ws', 'lost-0')).toBeNull();
    expect(state.machine.workspaceStats()['ws']?.document_count).toBe(1);
  });
});

describe('state.db checkpoints', () => {
  it('are not run by commits on the event loop but in a worker past wal_checkpoint_bytes, and an install waits for them', async () => {
    const file = path.join(tempDir(), 'state.db');
    const state = new StateHolder(file, kv);
    disks.defer(() => state.close());
    expect(state.machine.db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const per = 256 * 1024;
    const batches = Math.ceil(StateHolder.wal_checkpoint_bytes / (3 * per * 4)) + 1;
    let next = 1;
    for (let b = 0; b < batches; b++) {
      state.applyEntries(kvEntries(next, 4, per));
      next += 4;
    }
    const walBefore = fs.statSync(`${file}-wal`).size;
    expect(walBefore).toBeGreaterThan(4 * per);
    await state.settled();
    expect(state.lastCheckpointError).toBeNull();
    expect(state.checkpoints).toBe(1);
    // Backfilled frames are reused: the WAL does not grow past what one checkpoint interval wrote.
    for (let b = 0; b < batches; b++) {
      state.applyEntries(kvEntries(next, 4, per));
      next += 4;
    }
    await state.settled();
    expect(state.checkpoints).toBe(2);
    expect(fs.statSync(`${file}-wal`).size).toBeLessThan(walBefore * 2);
    const copyFrom = new StateHolder(path.join(tempDir(), 'state.db'), kv);
    copyFrom.applyEntries(kvEntries(1, 3));
    const copy = path.join(tempDir(), 'copy.db');
    await copyFrom.snapshotTo(copy);
    copyFrom.close();
    expect(state.install(copy)).toEqual({ index: 3, term: 1 });
    expect(kvCount(state.machine.db)).toBe(3);
  });
});
