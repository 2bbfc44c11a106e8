import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { stateChecksum } from './checksum.ts';
import { op_version, vectorToBytes } from './op.ts';
import type { DeleteOp, Op, OpDocument, PutOp } from './op.ts';
import { openTestStore } from './testing.ts';
import type { TestStore } from './testing.ts';

// Ops are written out by hand (fixed timestamps and vectors), so two stores can be given exactly
// the same logical state by different routes.

function docOf(id: string, content: string, o: Partial<OpDocument> = {}): OpDocument {
  return {
    id, content, path: null, language: null, metadata: null, tokens: 2, content_hash: createHash('sha256').update(content).digest('hex'),
    bytes: Buffer.byteLength(content), vector: vectorToBytes(Float32Array.from([1, 2, 3, 4])), ...o,
  };
}

function put(ts: number, docs: OpDocument[], ws = 'ws'): PutOp {
  return { kind: 'put', v: op_version, ws, ts, docs };
}

function del(ts: number, ids: string[]): DeleteOp {
  return { kind: 'delete', v: op_version, ws: 'ws', ts, ids };
}

function storeWith(...ops: Op[]): TestStore {
  const t = openTestStore();
  for (const op of ops) t.applyLogged(op);
  return t;
}

describe('stateChecksum', () => {
  it('is the same on two stores holding the same state, whatever order its rows were written in', () => {
    const a = docOf('a', 'alpha text', { path: 'a.md' });
    const b = docOf('b', 'beta text', { vector: vectorToBytes(Float32Array.from([4, 3, 2, 1])) });
    using one = storeWith(put(100, [b, a]), put(100, [docOf('c', 'gamma')], 'other'));
    using two = storeWith(put(100, [docOf('c', 'gamma')], 'other'), put(100, [a]), put(100, [docOf('x', 'gone')]), del(100, ['x']), put(100, [b]));
    expect(stateChecksum(one.db)).toMatch(/^[0-9a-f]{64}$/);
    expect(stateChecksum(two.db)).toBe(stateChecksum(one.db));
    expect(one.store.checksum()).toBe(stateChecksum(one.db));
  });

  it('changes with each field of a document it covers, and comes back when the document does', () => {
    const base = docOf('a', 'hello', { path: 'a.md', language: 'markdown', metadata: '{"k":1}' });
    using t = storeWith(put(100, [base]));
    const sum = stateChecksum(t.db);
    const variants: [string, OpDocument][] = [
      ['path', { ...base, path: 'b.md' }],
      ['path null', { ...base, path: null }],
      ['language', { ...base, language: 'markdowm' }],
      ['metadata', { ...base, metadata: '{"k":2}' }],
      ['tokens', { ...base, tokens: 3 }],
      ['content', docOf('a', 'hellp', { path: 'a.md', language: 'markdown', metadata: '{"k":1}' })],
      ['vector', { ...base, vector: vectorToBytes(Float32Array.from([1, 2, 3, 5])) }],
    ];
    for (const [what, d] of variants) {
      t.applyLogged(put(100, [d]));
      expect(stateChecksum(t.db), what).not.toBe(sum);
      t.applyLogged(put(100, [base]));
      expect(stateChecksum(t.db), `${what} undone`).toBe(sum);
    }
  });

  it('does not confuse values that would run together: adjacent strings, or a null beside a string', () => {
    const pair = (path: string | null, language: string | null): string => {
      using t = storeWith(put(100, [docOf('a', 'hello', { path, language })]));
      return stateChecksum(t.db);
    };
    expect(pair('ab', 'c')).not.toBe(pair('a', 'bc'));
    expect(pair(null, 'x')).not.toBe(pair('x', null));
  });

  it('covers the workspace row: the same documents after writes at other times differ', () => {
    using one = storeWith(put(100, [docOf('a', 'hello')]), put(200, [docOf('b', 'brief')]), del(300, ['b']));
    using two = storeWith(put(100, [docOf('a', 'hello')]), put(200, [docOf('b', 'brief')]), del(250, ['b']));
    expect(one.store.get('ws', 'a')).toEqual(two.store.get('ws', 'a'));
    expect(one.store.workspaceStats().ws).toMatchObject({ document_count: 1, last_write_ms: 300 });
    expect(stateChecksum(one.db)).not.toBe(stateChecksum(two.db));
  });

  it('leaves out what is not the store state: the applied index and other tables', () => {
    using t = storeWith(put(100, [docOf('a', 'hello')]));
    const sum = stateChecksum(t.db);
    t.db.exec(`CREATE TABLE raft_applied (id INTEGER PRIMARY KEY, applied_index INTEGER NOT NULL, applied_term INTEGER NOT NULL);
               INSERT INTO raft_applied VALUES (1, 41, 2)`);
    expect(stateChecksum(t.db)).toBe(sum);
    t.db.exec('UPDATE raft_applied SET applied_index = 42');
    expect(stateChecksum(t.db)).toBe(sum);
  });

  it('hashes nothing for a table that is absent: a database without the store tables is the digest of no bytes', () => {
    const db = new Database(':memory:');
    expect(stateChecksum(db)).toBe(createHash('sha256').digest('hex'));
    db.close();
  });

  it('keeps its encoding from one version to the next: a fixed state has a fixed checksum', () => {
    // Replicas compare checksums at one applied index, possibly while a rolling upgrade has them
    // on two versions, where a change of encoding reads as divergence: it has to be deliberate.
    using t = storeWith(put(100, [docOf('a', 'hello', { path: 'a.md', metadata: '{"k":1}' }), docOf('b', 'world')]), put(200, [docOf('a', 'hello again')]));
    expect(stateChecksum(t.db)).toBe('34f6a9fe355bb71e8eb7f632478f5b807c741f4c5563f84433261733cc3ac692');
  });
});
