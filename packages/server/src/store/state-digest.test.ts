import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { HashingEmbedder } from '../embed/hashing.ts';
import { openStateDb } from '../replication/state.ts';
import { DocumentStore } from './document-store.ts';
import { op_version, vectorToBytes } from './op.ts';
import type { PutOp } from './op.ts';
import { digestOfFile, stateDigestOf } from './state-digest.ts';
import { fixedClock } from './testing.ts';

function tempDir(): { path: string } & Disposable {
  const path = mkdtempSync(join(tmpdir(), 'cairn-digest-'));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** A put of one document, written out by hand (no tokenizer or embedder). */
function putOp(id: string, content: string): PutOp {
  const vector = vectorToBytes(Float32Array.from([1, 2, 3, 4]));
  const doc = { id, content, path: null, language: null, metadata: null, tokens: 2, content_hash: id.repeat(64).slice(0, 64), bytes: content.length, vector };
  return { kind: 'put', v: op_version, ws: 'ws', ts: 1000, docs: [doc] };
}

/** A node's state.db in a temporary folder: its raft_applied row and a document store over it. */
function openState(): { file: string; db: Database; store: DocumentStore; put(id: string, content: string): void; setApplied(index: number, term: number): void } & Disposable {
  const dir = tempDir();
  const file = join(dir.path, 'state.db');
  const db = openStateDb(file);
  const store = new DocumentStore(db, { embedder: new HashingEmbedder({ dim: 8 }), clock: fixedClock() });
  return {
    file, db, store,
    put: (id, content) => db.transaction(() => void store.apply(putOp(id, content)))(),
    setApplied: (index, term) => void db.prepare('UPDATE raft_applied SET applied_index = ?, applied_term = ? WHERE id = 1').run(index, term),
    [Symbol.dispose]: () => {
      store.close();
      db.close();
      dir[Symbol.dispose]();
    },
  };
}

describe('digestOfFile', () => {
  it('gives the applied index and term with the checksum of the state at that index', () => {
    using s = openState();
    expect(digestOfFile(s.file)).toEqual({ index: 0, term: 0, checksum: s.store.checksum() });
    s.put('a', 'river stone');
    s.setApplied(7, 3);
    const digest = digestOfFile(s.file);
    expect(digest).toEqual({ index: 7, term: 3, checksum: s.store.checksum() });
    expect(digest.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reads what is committed, not a write the node holds open', () => {
    using s = openState();
    s.put('a', 'river stone');
    s.setApplied(1, 1);
    const before = digestOfFile(s.file);
    s.db.exec('BEGIN IMMEDIATE');
    s.store.apply(putOp('b', 'leader follower'));
    s.setApplied(2, 1);
    expect(digestOfFile(s.file)).toEqual(before);
    s.db.exec('COMMIT');
    expect(digestOfFile(s.file)).toEqual({ index: 2, term: 1, checksum: s.store.checksum() });
    expect(digestOfFile(s.file).checksum).not.toBe(before.checksum);
  });

  it('refuses a database without its raft_applied row, and a file that is absent (without creating it)', () => {
    using s = openState();
    s.db.exec('DELETE FROM raft_applied');
    expect(() => digestOfFile(s.file)).toThrow(new Error('state.db has no raft_applied row'));
    const absent = join(s.file, '..', 'absent.db');
    expect(() => digestOfFile(absent)).toThrow('unable to open database file');
    expect(existsSync(absent)).toBe(false);
  });
});

describe('stateDigestOf', () => {
  // Starting a worker thread takes a second or more: this test starts two, on state.db files as
  // a fresh node has them (the digest of real documents is digestOfFile's, tested above).
  it('gives what digestOfFile gives, from a worker thread, and rejects with the reason it could not', async () => {
    using dir = tempDir();
    const file = join(dir.path, 'state.db');
    const db = openStateDb(file);
    db.prepare('UPDATE raft_applied SET applied_index = 5, applied_term = 2').run();
    db.close();
    const broken = join(dir.path, 'broken.db');
    const other = openStateDb(broken);
    other.exec('DELETE FROM raft_applied');
    other.close();
    const [digest, refused] = await Promise.allSettled([stateDigestOf(file), stateDigestOf(broken)]);
    expect(digest).toEqual({ status: 'fulfilled', value: { index: 5, term: 2, checksum: digestOfFile(file).checksum } });
    expect(refused).toEqual({ status: 'rejected', reason: new Error('state digest: state.db has no raft_applied row') });
  });
});
