// identity.json (created once, atomically; refused when it names another cluster or node) and the
// start-up check of a node's log against its state.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileTermRecord, IDENTITY_FILE, checkLocalStorage, loadIdentity } from './identity.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-identity-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function log(first: number, last: number) {
  return { firstIndex: () => first, lastIndex: () => last, snapshotIndex: () => first - 1 };
}
const applied = (n: number) => ({ appliedIndex: () => n });

describe('loadIdentity', () => {
  it('creates identity.json once (a random storage id, no temporary file left) and reads the same one back', () => {
    const dir = path.join(tempDir(), 'data', 'node-1');
    const first = loadIdentity(dir, 'c1', 'node-1');
    expect(first.created).toBe(true);
    expect(first.identity).toMatchObject({ cluster_id: 'c1', node_id: 'node-1' });
    expect(first.identity.storage_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number.isNaN(Date.parse(first.identity.created_at))).toBe(false);
    expect(fs.readdirSync(dir)).toEqual([IDENTITY_FILE]);
    const again = loadIdentity(dir, 'c1', 'node-1');
    expect(again.created).toBe(false);
    expect(again.identity).toEqual(first.identity);
  });

  it('a wiped directory gets a new storage id', () => {
    const dir = tempDir();
    const a = loadIdentity(dir, 'c1', 'node-2').identity.storage_id;
    fs.rmSync(path.join(dir, IDENTITY_FILE));
    const b = loadIdentity(dir, 'c1', 'node-2');
    expect(b.created).toBe(true);
    expect(b.identity.storage_id).not.toBe(a);
  });

  it('refuses another node\'s or another cluster\'s data, naming both', () => {
    const dir = tempDir();
    loadIdentity(dir, 'c1', 'node-1');
    expect(() => loadIdentity(dir, 'c1', 'node-2')).toThrow(/"node-1" of cluster "c1".*"node-2" of cluster "c1"/);
    expect(() => loadIdentity(dir, 'c2', 'node-1')).toThrow(/"node-1" of cluster "c1".*"node-1" of cluster "c2"/);
  });

  it('refuses an identity file it cannot read rather than replacing it', () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, IDENTITY_FILE), '{"cluster_id": "c1"');
    expect(() => loadIdentity(dir, 'c1', 'node-1')).toThrow(/not valid JSON/);
    fs.writeFileSync(path.join(dir, IDENTITY_FILE), '{"cluster_id": "c1", "node_id": "node-1"}');
    expect(() => loadIdentity(dir, 'c1', 'node-1')).toThrow(/storage_id is missing/);
  });
});

describe('FileTermRecord', () => {
  it('records the term in identity.json (whole, no temporary file left), read back by the next start', () => {
    const dir = tempDir();
    const { identity } = loadIdentity(dir, 'c1', 'node-1');
    const terms = new FileTermRecord(dir, identity);
    expect(terms.recorded()).toBe(0);
    terms.record(3);
    expect(terms.recorded()).toBe(3);
    expect(fs.readdirSync(dir)).toEqual([IDENTITY_FILE]);
    const again = loadIdentity(dir, 'c1', 'node-1');
    expect(again.identity).toEqual({ ...identity, term: 3 });
    expect(new FileTermRecord(dir, again.identity).recorded()).toBe(3);
    expect(() => terms.record(2)).toThrow(/below the recorded term 3/);
  });

  it('records the index a takeover held with the leader, read back by the next start; it never goes back', () => {
    const dir = tempDir();
    const { identity } = loadIdentity(dir, 'c1', 'node-2');
    const record = new FileTermRecord(dir, identity);
    expect(record.logFloor()).toBe(0);
    record.recordLeader('node-2', 68);
    const again = loadIdentity(dir, 'c1', 'node-2');
    expect(again.identity).toMatchObject({ leader: 'node-2', log_floor: 68 });
    const reread = new FileTermRecord(dir, again.identity);
    expect(reread.logFloor()).toBe(68);
    reread.recordLeader('node-3');
    reread.recordLeader('node-2', 40);
    expect(loadIdentity(dir, 'c1', 'node-2').identity).toMatchObject({ leader: 'node-2', log_floor: 68 });
    const bad = JSON.parse(fs.readFileSync(`${dir}/${IDENTITY_FILE}`, 'utf8')) as Record<string, unknown>;
    fs.writeFileSync(`${dir}/${IDENTITY_FILE}`, JSON.stringify({ ...bad, log_floor: -1 }));
    expect(() => loadIdentity(dir, 'c1', 'node-2')).toThrow(/log_floor is not a non-negative integer/);
  });

  it('refuses an identity whose term is not a non-negative integer', () => {
    const dir = tempDir();
    const { identity } = loadIdentity(dir, 'c1', 'node-1');
    fs.writeFileSync(path.join(dir, IDENTITY_FILE), JSON.stringify({ ...identity, term: 'x' }));
    expect(() => loadIdentity(dir, 'c1', 'node-1')).toThrow(/term is not a non-negative integer/);
  });
});

describe('checkLocalStorage', () => {
  it('a log whose term is below the term recorded outside it lost its tail: log_behind_state', () => {
    const withTerm = (term: number) => ({ ...log(1, 10), meta: (k: string) => (k === 'term' ? term : 0), lastLogTerm: () => term });
    expect(checkLocalStorage(withTerm(4), applied(8), false, 4)).toEqual({ ok: true });
    expect(checkLocalStorage(withTerm(4), applied(8), false, 3)).toEqual({ ok: true });
    expect(checkLocalStorage(withTerm(3), applied(8), false, 4)).toMatchObject({ ok: false, reason: 'log_behind_state', message: expect.stringMatching(/opened term 4/) });
  });

  it('a log that ends before the index this node took leadership over at lost its tail: log_behind_state', () => {
    expect(checkLocalStorage(log(1, 68), applied(67), false, 0, 68)).toEqual({ ok: true });
    expect(checkLocalStorage(log(1, 70), applied(67), false, 0, 68)).toEqual({ ok: true });
    // Everything it held applied, so neither the state nor a term record shows the loss.
    expect(checkLocalStorage(log(1, 67), applied(67), false, 0, 68)).toMatchObject({ ok: false, reason: 'log_behind_state', message: expect.stringMatching(/took leadership over at index 68 .* ends at 67/) });
  });

  it('a log that holds everything after the state is fine, compacted or not', () => {
    expect(checkLocalStorage(log(1, 10), applied(10), false)).toEqual({ ok: true });
    expect(checkLocalStorage(log(1, 10), applied(0), false)).toEqual({ ok: true });
    expect(checkLocalStorage(log(6, 10), applied(5), false)).toEqual({ ok: true });
    expect(checkLocalStorage(log(11, 10), applied(10), false)).toEqual({ ok: true });
    // An old data directory (no identity yet) with a consistent log and state.
    expect(checkLocalStorage(log(1, 10), applied(7), true)).toEqual({ ok: true });
  });

  it('nothing at all is data_gone, whether the identity was just created or not', () => {
    expect(checkLocalStorage(log(1, 0), applied(0), true)).toMatchObject({ ok: false, reason: 'data_gone' });
    // An identity without data: a start that stopped before it held anything, or data removed.
    expect(checkLocalStorage(log(1, 0), applied(0), false)).toMatchObject({ ok: false, reason: 'data_gone' });
  });

  it('a state ahead of the log (a lost WAL) is log_behind_state', () => {
    const r = checkLocalStorage(log(1, 0), applied(6), false);
    expect(r).toMatchObject({ ok: false, reason: 'log_behind_state' });
    expect(r.ok === false && r.message).toMatch(/ends at index 0.*applied up to 6/);
    expect(checkLocalStorage(log(1, 3), applied(6), true)).toMatchObject({ ok: false, reason: 'log_behind_state' });
  });

  it('a log that starts past applied + 1 (entries between them missing) is log_behind_state', () => {
    const r = checkLocalStorage(log(9, 12), applied(5), false);
    expect(r).toMatchObject({ ok: false, reason: 'log_behind_state' });
    expect(r.ok === false && r.message).toMatch(/entries 6\.\.8 are missing/);
  });
});
