// A leader recovering lost storage from its followers, in one process: real SqliteLog and
// StateHolder files in temp dirs, and a transport that hands each GET to the follower's real
// /_raft routes (createRaftRoutes over a stand-in replica), so the follower side runs as served.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ENTRY_COMMAND, ENTRY_NOOP, makeEntry } from '@cairn/raft';
import type { Entry } from '@cairn/raft';
import type { NodeSpec, ReplicationConfig } from '../config/types.ts';
import { createRaftRoutes } from '../http/raft-routes.ts';
import { checkLocalStorage, loadIdentity } from './identity.ts';
import type { Identity } from './identity.ts';
import { LOG_ENTRIES_PER_CALL_MAX, decodeLogEntriesPage, encodeLogEntriesPage, fileRecoveryPorts, logPosition, makeStateCopy, readLogEntries, recoverLeaderLog } from './recovery.ts';
import type { RecoveryOptions } from './recovery.ts';
import type { Replica } from './replica.ts';
import { SqliteLog } from './sqlite-log.ts';
import { StateHolder } from './state.ts';
import type { StateFactory, StateMachine } from './state.ts';
import { HttpTransport } from './transport.ts';
import type { DownloadResult, HttpResult, Transport } from './transport.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-recovery-'));
  dirs.push(d);
  return d;
}
const closers: Array<() => void> = [];
afterEach(() => {
  for (const c of closers.splice(0).reverse()) c();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

type Kv = StateMachine;

/** One row per applied entry: the rows say exactly which entries a state applied. */
const factory: StateFactory<Kv> = (db) => {
  db.exec('CREATE TABLE IF NOT EXISTS kv (k INTEGER PRIMARY KEY, v BLOB NOT NULL)');
  const put = db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)');
  return { machine: { db, close: () => undefined }, applier: { apply: (e: Entry) => void put.run(e.index, Buffer.from(e.payload)) } };
};

function rows(state: StateHolder<Kv>): Array<{ k: number; v: Buffer }> {
  return state.machine.db.prepare('SELECT k, v FROM kv ORDER BY k').all() as Array<{ k: number; v: Buffer }>;
}

/** The one history every node's log is a prefix of: term 1 up to 20, term 2 after (a leader restart). */
const HISTORY: Entry[] = Array.from({ length: 3000 }, (_, i) => {
  const index = i + 1;
  const term = index <= 20 ? 1 : 2;
  return index === 1 || index === 21 ? makeEntry(index, term, ENTRY_NOOP, new Uint8Array(0)) : makeEntry(index, term, ENTRY_COMMAND, crypto.randomBytes(64));
});
const upTo = (n: number): Entry[] => HISTORY.slice(0, n);

const CLUSTER = 'recovery-test';
const cfg: ReplicationConfig = {
  cluster_id: CLUSTER, nodes: [], leader: 'node-1', batch_size: 100, flush_interval_ms: 5, resync_threshold: 1000, snapshot_timeout_s: 30,
  write_concern: 'quorum', inflight_batches_max: 4, failures_lagging: 3, silence_lagging_ms: 3000, lag_healthy_max: 100, append_timeout_ms: 1000,
  heartbeat_ms: 200, log_retain_entries: 10_000, snapshots_inflight_max: 1, commit_timeout_ms: 5000, state_compare_interval_ms: 0, secret: 's3cret', operator_token: '',
};

interface Node {
  id: string;
  dir: string;
  log: SqliteLog;
  state: StateHolder<Kv>;
  identity: Identity;
}

function node(id: string, opts: { log?: number; applied?: number; compact?: number; term?: number } = {}): Node {
  const dir = tempDir();
  const identity = loadIdentity(dir, CLUSTER, id).identity;
  const log = new SqliteLog(path.join(dir, 'log.db'));
  const state = new StateHolder(path.join(dir, 'state.db'), factory);
  closers.push(() => {
    state.close();
    log.close();
  });
  const n = opts.log ?? 0;
  for (let lo = 0; lo < n; lo += 500) log.write({ entries: HISTORY.slice(lo, Math.min(n, lo + 500)), term: opts.term ?? HISTORY[n - 1]?.term });
  const applied = opts.applied ?? 0;
  for (let lo = 0; lo < applied; lo += 500) state.applyEntries(HISTORY.slice(lo, Math.min(applied, lo + 500)));
  if (n > 0) log.setMeta('commit_index', Math.min(applied, n));
  if (opts.compact !== undefined) log.compactTo(opts.compact);
  log.syncNow();
  return { id, dir, log, state, identity };
}

/** A leader whose log lost its WAL: the state kept `applied`, the log nothing (or a prefix). */
function leaderLostWal(applied: number, kept = 0): Node {
  const n = node('node-1', { applied });
  if (kept > 0) n.log.write({ entries: upTo(kept), term: 1 });
  return n;
}

/** The follower side as served: the real routes over this node's log and state. */
function routesOf(f: Node) {
  const replica = {
    config: { replication: cfg },
    self: { id: f.id, address: f.id },
    logPosition: () => logPosition(f.log, f.state, f.identity, f.log.meta('term')),
    logEntries: (from: string | undefined, to: string | undefined) => readLogEntries(f.log, from, to),
    stateCopy: () => makeStateCopy(f.state, f.dir),
    onChange: () => () => undefined,
  };
  return createRaftRoutes({ replica: replica as unknown as Replica<Kv>, stateChecksum: () => '' });
}

/** Routes GETs to followers by address; a follower in `down` does not answer. */
class InProcess implements Transport {
  readonly down = new Set<string>();
  readonly gets: string[] = [];
  private readonly apps = new Map<string, ReturnType<typeof routesOf>>();
  alter: ((address: string, p: string, body: Buffer) => Buffer) | null = null;

  constructor(followers: Node[]) {
    for (const f of followers) this.apps.set(f.id, routesOf(f));
  }

  async post(): Promise<never> {
    throw new Error('recovery only reads');
  }

  private async request(address: string, p: string): Promise<Response> {
    if (this.down.has(address)) throw new Error(`connect ECONNREFUSED ${address}`);
    const app = this.apps.get(address);
    if (app === undefined) throw new Error(`no node at ${address}`);
    this.gets.push(`${address}${p}`);
    return app.request(p.replace(/^\/_raft/, ''), { headers: { 'x-cairn-secret': cfg.secret } });
  }

  async get(address: string, p: string): Promise<HttpResult> {
    const res = await this.request(address, p);
    let body: Buffer = Buffer.from(await res.arrayBuffer());
    if (this.alter) body = this.alter(address, p, body);
    return { status: res.status, headers: Object.fromEntries(res.headers.entries()), body };
  }

  async download(address: string, p: string, file: string): Promise<DownloadResult> {
    const res = await this.request(address, p);
    const body = Buffer.from(await res.arrayBuffer());
    const headers = Object.fromEntries(res.headers.entries());
    if (res.status !== 200) return { status: res.status, headers, bytes: 0, sha256: '', body };
    fs.writeFileSync(file, body);
    return { status: 200, headers, bytes: body.length, sha256: crypto.createHash('sha256').update(body).digest('hex'), body: Buffer.alloc(0) };
  }
}

const specs = (...ids: string[]): NodeSpec[] => ids.map((id) => ({ id, address: id }));

function options(leader: Node, transport: Transport, reason: 'log_behind_state' | 'data_gone', extra: Partial<RecoveryOptions> = {}): RecoveryOptions {
  return {
    ...fileRecoveryPorts(leader.log, leader.state, transport), followers: specs('node-2', 'node-3'), cluster_id: CLUSTER, reason,
    logger: pino({ level: 'silent' }), retry_ms: 10, ...extra,
  };
}

function logEntries(log: SqliteLog): Entry[] {
  return log.lastIndex() < log.firstIndex() ? [] : log.entries(log.firstIndex(), log.lastIndex() + 1, Number.POSITIVE_INFINITY);
}

const same = (a: Entry[], b: Entry[]): void => {
  expect(a.map((e) => [e.index, e.term, e.checksum])).toEqual(b.map((e) => [e.index, e.term, e.checksum]));
};

describe('recoverLeaderLog: the leader lost its log\'s tail (log_behind_state)', () => {
  it('restarts its log after its applied index and takes the entries after it from the longest follower log', async () => {
    const leader = leaderLostWal(6, 2);
    expect(checkLocalStorage(leader.log, leader.state, false)).toMatchObject({ ok: false, reason: 'log_behind_state' });
    const f2 = node('node-2', { log: 8, applied: 6 });
    const f3 = node('node-3', { log: 7, applied: 6 });
    const transport = new InProcess([f2, f3]);
    const r = await recoverLeaderLog(options(leader, transport, 'log_behind_state'));
    expect(r).toMatchObject({ recovered_entries: 2, from_node: 'node-2', last_index: 8, applied_index: 6, snapshot_index: null });
    expect(leader.log.firstIndex()).toBe(7);
    same(logEntries(leader.log), HISTORY.slice(6, 8));
    expect(leader.log.meta('term')).toBe(1);
    expect(leader.log.meta('commit_index')).toBe(6);
    expect(rows(leader.state)).toEqual(rows(f2.state));
    // It checked that the follower's entry at its applied index is the one it applied.
    expect(transport.gets).toContain('node-2/_raft/log-entries?from=6&to=6');
    expect(checkLocalStorage(leader.log, leader.state, false)).toEqual({ ok: true });
  });

  it('applies what a follower already applied past the leader\'s state (it was committed), and keeps the newest term', async () => {
    const leader = leaderLostWal(18);
    const f2 = node('node-2', { log: 40, applied: 30 });
    const f3 = node('node-3', { log: 25, applied: 25 });
    const r = await recoverLeaderLog(options(leader, new InProcess([f2, f3]), 'log_behind_state'));
    expect(r).toMatchObject({ recovered_entries: 22, from_node: 'node-2', last_index: 40, applied_index: 30 });
    expect(leader.log.meta('commit_index')).toBe(30);
    expect(leader.log.meta('term')).toBe(2);
    same(logEntries(leader.log), HISTORY.slice(18, 40));
    expect(rows(leader.state)).toEqual(rows(f2.state));
  });

  it('waits for every follower after a lost WAL too: its state may be an older copy than what it acknowledged', async () => {
    const leader = leaderLostWal(6);
    const f2 = node('node-2', { log: 8, applied: 6 });
    const f3 = node('node-3', { log: 4, applied: 4 });
    const transport = new InProcess([f2, f3]);
    transport.down.add('node-3');
    let settled = false;
    const recovering = recoverLeaderLog(options(leader, transport, 'log_behind_state')).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);
    transport.down.delete('node-3');
    const r = await recovering;
    expect(r).toMatchObject({ from_node: 'node-2', last_index: 8 });
  });

  it('keeps a current term at least the term of what its state applied, though its log and the follower answering show older ones', async () => {
    // The lost WAL took the log's term too (0); the state applied up to 30, of term 2; the one
    // follower that answers lost entries of term 2 as well (its log ends at 10, term 1).
    const leader = leaderLostWal(30);
    expect(leader.log.meta('term')).toBe(0);
    const transport = new InProcess([node('node-2', { log: 10, applied: 10 }), node('node-3', { log: 10, applied: 10 })]);
    const r = await recoverLeaderLog(options(leader, transport, 'log_behind_state'));
    expect(r).toMatchObject({ recovered_entries: 0, from_node: null, last_index: 30, applied_index: 30 });
    // The leader opens the term after this one: never one older than the entries its log starts after.
    expect(leader.log.lastLogTerm()).toBe(2);
    expect(leader.log.meta('term')).toBe(2);
  });

  it('a log past its applied index whose term is below the recorded one (the lost WAL took the term it opened) keeps its entries and takes the follower\'s after them', async () => {
    // The log kept 1..25 (term 2) of which 22 are applied; the term it opened next (3) is recorded
    // in identity.json only. The entries it still holds past its state stay (leader-concern writes).
    const leader = node('node-1', { log: 25, applied: 22 });
    expect(checkLocalStorage(leader.log, leader.state, false)).toEqual({ ok: true });
    expect(checkLocalStorage(leader.log, leader.state, false, 3)).toMatchObject({ ok: false, reason: 'log_behind_state' });
    const f2 = node('node-2', { log: 30, applied: 22 });
    const f3 = node('node-3', { log: 23, applied: 22 });
    const r = await recoverLeaderLog(options(leader, new InProcess([f2, f3]), 'log_behind_state', { terms: { recorded: () => 3 } }));
    expect(r).toMatchObject({ recovered_entries: 5, from_node: 'node-2', last_index: 30, applied_index: 22 });
    expect(leader.log.firstIndex()).toBe(1);
    same(logEntries(leader.log), HISTORY.slice(0, 30));
    expect(leader.log.meta('term')).toBe(3);
    expect(checkLocalStorage(leader.log, leader.state, false, 3)).toEqual({ ok: true });
  });

  it('keeps its own log past its applied index when the followers hold less of it', async () => {
    const leader = node('node-1', { log: 25, applied: 22 });
    const f2 = node('node-2', { log: 23, applied: 22 });
    const r = await recoverLeaderLog(options(leader, new InProcess([f2, node('node-3', { log: 22, applied: 22 })]), 'log_behind_state', { terms: { recorded: () => 3 } }));
    expect(r).toMatchObject({ recovered_entries: 0, last_index: 25, applied_index: 22 });
    same(logEntries(leader.log), HISTORY.slice(0, 25));
    expect(leader.log.meta('term')).toBe(3);
  });

  it('drops its own log past its applied index when the newest follower log holds other entries there', async () => {
    const leader = node('node-1', { log: 25, applied: 22 });
    const f2 = node('node-2', { log: 23, applied: 22 });
    const other = [24, 25].map((i) => makeEntry(i, 3, ENTRY_COMMAND, crypto.randomBytes(16)));
    f2.log.write({ entries: other, term: 3 });
    f2.log.syncNow();
    const r = await recoverLeaderLog(options(leader, new InProcess([f2, node('node-3', { log: 22, applied: 22 })]), 'log_behind_state', { terms: { recorded: () => 3 } }));
    expect(r).toMatchObject({ recovered_entries: 3, from_node: 'node-2', last_index: 25, applied_index: 22 });
    same(logEntries(leader.log), [...HISTORY.slice(22, 23), ...other]);
    expect(leader.log.meta('term')).toBe(3);
  });

  it('keeps its own log past its applied index when it ends in a newer term than every follower log, longer ones included', async () => {
    // The leader led again in term 3 from index 24 (its log had lost 24..30 of term 2, which a
    // follower still holds: never acknowledged with quorum, as the state applied only 22).
    const leader = node('node-1', { log: 23, applied: 22 });
    const own = [24, 25, 26].map((i) => makeEntry(i, 3, ENTRY_COMMAND, crypto.randomBytes(16)));
    leader.log.write({ entries: own, term: 3 });
    leader.log.syncNow();
    const f2 = node('node-2', { log: 30, applied: 22 });
    const r = await recoverLeaderLog(options(leader, new InProcess([f2, node('node-3', { log: 22, applied: 22 })]), 'log_behind_state', { terms: { recorded: () => 4 } }));
    expect(r).toMatchObject({ recovered_entries: 0, last_index: 26, applied_index: 22 });
    // Its `leader`-concern writes of term 3 are still there; the follower's older 24..30 are not taken.
    same(logEntries(leader.log), [...HISTORY.slice(0, 23), ...own]);
    expect(leader.log.meta('term')).toBe(4);
    expect(checkLocalStorage(leader.log, leader.state, false, 4)).toEqual({ ok: true });
  });

  it('copies the longest follower\'s state when that follower compacted past the leader\'s state', async () => {
    const leader = leaderLostWal(5);
    const f2 = node('node-2', { log: 1500, applied: 1400, compact: 1200 });
    const f3 = node('node-3', { log: 30, applied: 30 });
    const r = await recoverLeaderLog(options(leader, new InProcess([f2, f3]), 'log_behind_state'));
    expect(r).toMatchObject({ from_node: 'node-2', snapshot_index: 1400, recovered_entries: 100, last_index: 1500, applied_index: 1400 });
    expect(leader.log.firstIndex()).toBe(1401);
    same(logEntries(leader.log), HISTORY.slice(1400, 1500));
    expect(rows(leader.state)).toEqual(rows(f2.state));
    // The copy was removed on both sides.
    expect(fs.readdirSync(f2.dir).filter((n) => n.startsWith('state-copy-'))).toEqual([]);
    expect(fs.readdirSync(leader.dir).filter((n) => n.startsWith('recovery-state-in'))).toEqual([]);
  });

  it('refuses a follower whose entry at the leader\'s applied index is another one (not one history)', async () => {
    const leader = leaderLostWal(6);
    const f2 = node('node-2', { log: 8, applied: 6 });
    const transport = new InProcess([f2, node('node-3', { log: 4, applied: 4 })]);
    // node-2 is shown a history where entry 6 has another term.
    const other = makeEntry(6, 2, ENTRY_COMMAND, new Uint8Array([1]));
    transport.alter = (_a, p, body) => (p.includes('from=6&to=6') ? encodePage([other]) : body);
    await expect(recoverLeaderLog(options(leader, transport, 'log_behind_state'))).rejects.toThrow(/not one history/);
    // Unfinished: the next start recovers again.
    expect(checkLocalStorage(leader.log, leader.state, false)).toMatchObject({ ok: false, reason: 'log_behind_state' });
  });

  it('refuses a corrupted entry and stays unrecovered', async () => {
    const leader = leaderLostWal(6);
    const f2 = node('node-2', { log: 9, applied: 6 });
    const f3 = node('node-3', { log: 6, applied: 6 });
    const transport = new InProcess([f2, f3]);
    transport.alter = (_a, p, body) => {
      if (!p.includes('from=7')) return body;
      const page = decodeLogEntriesPage(body);
      const bad = page.entries.map((e) => (e.index === 8 ? { ...e, payload: new Uint8Array([9, 9, 9]) } : e));
      return encodePage(bad);
    };
    await expect(recoverLeaderLog(options(leader, transport, 'log_behind_state'))).rejects.toThrow(/entry 8 fails its checksum/);
    expect(checkLocalStorage(leader.log, leader.state, false)).toMatchObject({ ok: false });
    // With the follower answering honestly again, the retry completes.
    transport.alter = null;
    const r = await recoverLeaderLog(options(leader, transport, 'log_behind_state'));
    expect(r).toMatchObject({ from_node: 'node-2', last_index: 9 });
    expect(checkLocalStorage(leader.log, leader.state, false)).toEqual({ ok: true });
  });
});

/** A page as a follower would send it (for answers altered in flight). */
function encodePage(entries: Entry[]): Buffer {
  return encodeLogEntriesPage({ entries, first_index: 1, last_index: entries.at(-1)?.index ?? 0 });
}

describe('recoverLeaderLog: the leader\'s data directory is gone (data_gone)', () => {
  it('replays an uncompacted follower log from index 1 and applies what the followers applied', async () => {
    const leader = node('node-1');
    expect(checkLocalStorage(leader.log, leader.state, true)).toMatchObject({ ok: false, reason: 'data_gone' });
    const f2 = node('node-2', { log: 1200, applied: 1100 });
    const f3 = node('node-3', { log: 1150, applied: 1150 });
    const transport = new InProcess([f2, f3]);
    const r = await recoverLeaderLog(options(leader, transport, 'data_gone'));
    expect(r).toMatchObject({ recovered_entries: 1200, from_node: 'node-2', last_index: 1200, applied_index: 1150, snapshot_index: null });
    same(logEntries(leader.log), upTo(1200));
    expect(leader.log.meta('commit_index')).toBe(1150);
    expect(rows(leader.state)).toEqual(rows(f3.state));
    // In pages of at most 1000 entries.
    expect(transport.gets.filter((g) => g.startsWith('node-2/_raft/log-entries'))).toEqual(['node-2/_raft/log-entries?from=1&to=1200', 'node-2/_raft/log-entries?from=1001&to=1200']);
  });

  it('installs a copy of a compacted follower\'s state, then its log after it', async () => {
    const leader = node('node-1');
    const f2 = node('node-2', { log: 900, applied: 880, compact: 850 });
    const f3 = node('node-3', { log: 600, applied: 600 });
    const r = await recoverLeaderLog(options(leader, new InProcess([f2, f3]), 'data_gone'));
    expect(r).toMatchObject({ from_node: 'node-2', snapshot_index: 880, recovered_entries: 20, last_index: 900, applied_index: 880 });
    expect(leader.log.snapshotIndex()).toBe(880);
    expect(leader.log.snapshotTerm()).toBe(2);
    same(logEntries(leader.log), HISTORY.slice(880, 900));
    expect(rows(leader.state)).toEqual(rows(f2.state));
    expect(leader.log.meta('term')).toBe(2);
  });

  it('takes the log with the newest last term over a longer one of an older term', async () => {
    // node-2 kept entries 21..25 of term 2 that a later leader life (term 3) replaced at 21..22 on node-3.
    const leader = node('node-1');
    const f2 = node('node-2', { log: 25, applied: 20 });
    const f3 = node('node-3', { log: 20, applied: 20 });
    const newer = [makeEntry(21, 3, ENTRY_NOOP, new Uint8Array(0)), makeEntry(22, 3, ENTRY_COMMAND, new Uint8Array([7]))];
    f3.log.write({ entries: newer, term: 3 });
    f3.log.syncNow();
    const r = await recoverLeaderLog(options(leader, new InProcess([f2, f3]), 'data_gone'));
    expect(r).toMatchObject({ from_node: 'node-3', last_index: 22, applied_index: 20 });
    same(logEntries(leader.log), [...upTo(20), ...newer]);
    expect(leader.log.meta('term')).toBe(3);
  });

  it('waits for every follower: a quorum-acknowledged write may be on only one of them', async () => {
    const leader = node('node-1');
    const f2 = node('node-2', { log: 10, applied: 10 });
    const f3 = node('node-3', { log: 14, applied: 12 });
    const transport = new InProcess([f2, f3]);
    transport.down.add('node-3');
    const messages: string[] = [];
    let settled = false;
    const recovering = recoverLeaderLog(options(leader, transport, 'data_gone', { progress: (m) => messages.push(m) })).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(settled).toBe(false);
    expect(leader.log.lastIndex()).toBe(0);
    expect(messages.at(-1)).toMatch(/waiting for every follower.*node-3/);
    transport.down.delete('node-3');
    const r = await recovering;
    expect(r).toMatchObject({ from_node: 'node-3', last_index: 14, applied_index: 12 });
  });

  it('gives up after wait_ms_max when asked to, and stops when the node stops', async () => {
    const leader = node('node-1');
    const transport = new InProcess([node('node-2', { log: 3, applied: 3 })]);
    transport.down.add('node-3');
    await expect(recoverLeaderLog(options(leader, transport, 'data_gone', { wait_ms_max: 100 }))).rejects.toThrow(/no answer within 100 ms from node-3/);
    const stop = new AbortController();
    const p = recoverLeaderLog(options(leader, transport, 'data_gone', { signal: stop.signal }));
    setTimeout(() => stop.abort(new Error('stopping')), 50);
    await expect(p).rejects.toThrow(/stopping/);
    expect(checkLocalStorage(leader.log, leader.state, false)).toMatchObject({ ok: false, reason: 'data_gone' });
  });

  it('every follower empty too: a new cluster, nothing to recover', async () => {
    const leader = node('node-1');
    const r = await recoverLeaderLog(options(leader, new InProcess([node('node-2'), node('node-3')]), 'data_gone'));
    expect(r).toMatchObject({ recovered_entries: 0, from_node: null, last_index: 0, applied_index: 0 });
    // The next start (before anything was written) asks again; that is harmless.
    expect(leader.log.lastIndex()).toBe(0);
  });

  it('does not count a node of another cluster or one answering as another node', async () => {
    const leader = node('node-1');
    const f2 = node('node-2', { log: 5, applied: 5 });
    const stranger = node('node-3', { log: 50, applied: 50 });
    const transport = new InProcess([f2, stranger]);
    transport.alter = (a, p, body) => (a === 'node-3' && p === '/_raft/log-position' ? Buffer.from(JSON.stringify({ ...JSON.parse(body.toString()), cluster_id: 'other' })) : body);
    const messages: string[] = [];
    await expect(recoverLeaderLog(options(leader, transport, 'data_gone', { wait_ms_max: 100, progress: (m) => messages.push(m) }))).rejects.toThrow(/node-3/);
    expect(messages.at(-1)).toMatch(/node-3 \(node-3: is in cluster "other"/);
  });
});

describe('the follower routes', () => {
  it('log-position says where the log and state are', async () => {
    const f = node('node-2', { log: 30, applied: 25, compact: 10 });
    const res = await routesOf(f).request('/log-position', { headers: { 'x-cairn-secret': cfg.secret } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      node_id: 'node-2', cluster_id: CLUSTER, storage_id: f.identity.storage_id, first_index: 11, last_index: 30, last_term: 2,
      applied_index: 25, applied_term: 2, commit_index: 25, term: 2,
    });
  });

  it('log-entries: bounded pages, 400 on bad ranges, 410 below the first index, the cluster secret required', async () => {
    const f = node('node-2', { log: 2500, applied: 2500, compact: 100 });
    const app = routesOf(f);
    const get = (q: string, secret = cfg.secret) => app.request(`/log-entries${q}`, { headers: { 'x-cairn-secret': secret } });
    const page = decodeLogEntriesPage(Buffer.from(await (await get('?from=101&to=2500')).arrayBuffer()));
    expect(page.entries).toHaveLength(LOG_ENTRIES_PER_CALL_MAX);
    expect(page.entries[0]?.index).toBe(101);
    expect(page).toMatchObject({ first_index: 101, last_index: 2500 });
    const tail = decodeLogEntriesPage(Buffer.from(await (await get('?from=2499')).arrayBuffer()));
    expect(tail.entries.map((e) => e.index)).toEqual([2499, 2500]);
    const past = decodeLogEntriesPage(Buffer.from(await (await get('?from=2501&to=2600')).arrayBuffer()));
    expect(past.entries).toEqual([]);
    for (const q of ['', '?from=0', '?from=x', '?from=5&to=4', '?from=1.5', '?from=200&to=-1']) expect((await get(q)).status, q).toBe(400);
    const gone = await get('?from=100');
    expect(gone.status).toBe(410);
    expect(await gone.json()).toMatchObject({ error: { code: 'compacted', first_index: 101 } });
    expect((await get('?from=101', 'wrong')).status).toBe(401);
    expect((await app.request('/log-position')).status).toBe(401);
    expect((await app.request('/state-snapshot')).status).toBe(401);
  });

  it('log-entries: at most 8 MiB of payload per page (at least one entry)', () => {
    const f = node('node-2');
    const big = Array.from({ length: 5 }, (_, i) => makeEntry(i + 1, 1, ENTRY_COMMAND, crypto.randomBytes(3 * 1024 * 1024)));
    f.log.write({ entries: big, term: 1 });
    const a = readLogEntries(f.log, '1', '5');
    expect(a.status === 200 && a.page.entries.map((e) => e.index)).toEqual([1, 2]);
  });

  it('state-snapshot streams a consistent copy with its index, size and sha256, one at a time, and removes it', async () => {
    const f = node('node-2', { log: 50, applied: 40 });
    const app = routesOf(f);
    const res = await app.request('/state-snapshot', { headers: { 'x-cairn-secret': cfg.secret } });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(res.headers.get('x-cairn-snapshot-index')).toBe('40');
    expect(res.headers.get('x-cairn-snapshot-term')).toBe('2');
    expect(Number(res.headers.get('x-cairn-snapshot-bytes'))).toBe(body.length);
    expect(res.headers.get('x-cairn-snapshot-sha256')).toBe(crypto.createHash('sha256').update(body).digest('hex'));
    await new Promise((r) => setTimeout(r, 20));
    expect(fs.readdirSync(f.dir).filter((n) => n.startsWith('state-copy-'))).toEqual([]);
    // One at a time.
    const first = makeStateCopy(f.state, f.dir);
    await expect(makeStateCopy(f.state, f.dir)).rejects.toThrow(/already/);
    (await first).release();
  });
});

describe('over HTTP', () => {
  it('a wiped leader recovers from compacted followers served by the real server, through HttpTransport', async () => {
    const f2 = node('node-2', { log: 2600, applied: 2500, compact: 2000 });
    const f3 = node('node-3', { log: 2400, applied: 2400, compact: 2300 });
    const servers = [f2, f3].map((f) => serve({ fetch: new Hono().route('/_raft', routesOf(f)).fetch, port: 0, hostname: '127.0.0.1' }));
    closers.push(() => servers.forEach((s) => s.close()));
    await Promise.all(servers.map((s) => new Promise((r) => (s.listening ? r(null) : s.once('listening', r)))));
    const followers = servers.map((s, i) => ({ id: `node-${i + 2}`, address: `127.0.0.1:${(s.address() as AddressInfo).port}` }));
    const leader = node('node-1');
    const transport = new HttpTransport(cfg.secret);
    closers.push(() => transport.close());
    const r = await recoverLeaderLog({ ...options(leader, transport, 'data_gone', { wait_ms_max: 10_000 }), followers });
    expect(r).toMatchObject({ from_node: 'node-2', snapshot_index: 2500, recovered_entries: 100, last_index: 2600, applied_index: 2500 });
    same(logEntries(leader.log), HISTORY.slice(2500, 2600));
    expect(rows(leader.state)).toEqual(rows(f2.state));
    // A wrong secret is refused, and the answer is not written as a state copy.
    const wrong = new HttpTransport('nope');
    closers.push(() => wrong.close());
    const file = path.join(leader.dir, 'x.db');
    const res = await wrong.download(followers[0]?.address ?? '', '/_raft/state-snapshot', file, 5000);
    expect(res.status).toBe(401);
    expect(res.body.toString()).toMatch(/cluster secret/);
    expect(fs.existsSync(file)).toBe(false);
  });
});
