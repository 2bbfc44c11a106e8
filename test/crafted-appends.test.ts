// Crafted /_raft/append requests, as someone holding the cluster secret could send them, against a
// real three-node cluster (node-1 leads). A follower that took a planted or undecodable committed
// entry is found out and repaired by a snapshot the leader sends without an operator; a crafted
// term does not wedge replication; a conflict at an applied index, or an append from another
// leader id, changes nothing. Each reproduction ends with every node at the same applied index and
// state checksum, holding every acknowledged write and nothing planted, and no node exited.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack, unpack } from 'msgpackr';
import { afterAll, describe, expect, it } from 'vitest';
import { ENTRY_COMMAND, makeEntry } from '../packages/raft/src/index.ts';
import type { Entry } from '../packages/raft/src/index.ts';
import { encodeOp, op_version, vectorToBytes } from '../packages/server/src/store/op.ts';
import { startCluster } from './helpers/cluster.ts';
import type { TestCluster, TestNode } from './helpers/cluster.ts';
import { waitFor } from './helpers/wait.ts';

const SECRET = 'crafted-appends-cluster-secret';
const WS = 'crafted';
/** The hashing embedder's dimension (the default embedding.dim). */
const DIM = 384;
const TARGET = 'node-2';

let cluster: TestCluster | undefined;

afterAll(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/**
 * The cluster the next reproduction runs on: the one the previous reproduction left, when it left
 * every node running and converged; otherwise (or at first) a new one. So a reproduction that
 * fails does not fail the ones after it, and a passing run starts the nodes once.
 */
async function ready(): Promise<TestCluster> {
  if (cluster !== undefined) {
    const c = cluster;
    const fine = c.nodes.every((n) => n.process.running) && (await converged(c, 5_000).then(() => true, () => false));
    if (fine) return c;
    await c.stop();
    cluster = undefined;
  }
  const c = await startCluster({ nodes: 3, configOverrides: { replication: { secret: SECRET } } });
  cluster = c;
  // A new cluster's leader first asks its followers what they hold (it answers 503 meanwhile).
  await waitFor(
    async () => {
      const res = await fetch(`${c.leader.url}/_raft/health`, { signal: AbortSignal.timeout(2_000) });
      const h = (await res.json()) as { follower_details?: Array<{ health: string }> };
      return res.status === 200 && (h.follower_details ?? []).length === 2 && h.follower_details?.every((f) => f.health === 'healthy');
    },
    { what: 'the leader to take writes with both followers healthy', timeoutMs: 30_000 },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${c.logs()}`);
  });
  return c;
}

interface Checksum {
  node_id: string;
  applied_index: number;
  state_checksum: string;
  last_log_index: number;
}

interface Health {
  term: number;
  commit_index: number;
  last_applied: number;
  last_log_index: number;
}

interface ReplicationEvent {
  at: string;
  kind: string;
  follower?: string;
  detail: string;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return (await res.json()) as T;
}

const checksum = (n: TestNode): Promise<Checksum> => getJson<Checksum>(`${n.url}/_raft/checksum`);
const health = (n: TestNode): Promise<Health> => getJson<Health>(`${n.url}/_raft/health`);
const resyncStats = async (c: TestCluster): Promise<{ snapshot_send_successes: number; snapshot_send_attempts: number }> =>
  (await getJson<{ resync_stats: { snapshot_send_successes: number; snapshot_send_attempts: number } }>(`${c.leader.url}/_raft/resync_stats`)).resync_stats;
const leaderEvents = async (c: TestCluster): Promise<ReplicationEvent[]> => (await getJson<{ events: ReplicationEvent[] }>(`${c.leader.url}/api/v1/cluster/self`)).events;

/** A document write through the leader; resolves to the log index it was acknowledged at. */
async function write(c: TestCluster, id: string, content: string): Promise<number> {
  const res = await fetch(`${c.leader.url}/api/v1/documents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-workspace-id': WS },
    body: JSON.stringify({ id, content }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = await res.text();
  expect(res.status, `write ${id}: ${body}\n${c.logs()}`).toBe(201);
  return (JSON.parse(body) as { index: number }).index;
}

async function docStatus(n: TestNode, id: string): Promise<number> {
  const res = await fetch(`${n.url}/api/v1/documents/${id}`, { headers: { 'x-workspace-id': WS }, signal: AbortSignal.timeout(5_000) });
  await res.arrayBuffer();
  return res.status;
}

/** Every node has applied everything the leader committed and holds nothing more: returns the leader's term and index. */
async function settled(c: TestCluster): Promise<{ term: number; index: number }> {
  return waitFor(
    async () => {
      const h = await health(c.leader);
      if (h.commit_index !== h.last_log_index || h.last_applied !== h.commit_index) return undefined;
      const all = await Promise.all(c.nodes.map(checksum));
      const ok = all.every((s) => s.applied_index === h.commit_index && s.last_log_index === h.commit_index);
      return ok ? { term: h.term, index: h.commit_index } : undefined;
    },
    { what: 'every node to apply everything the leader committed', timeoutMs: 15_000 },
  );
}

/** All three nodes at the same applied index and state checksum (and at the leader's commit). */
async function converged(c: TestCluster, timeoutMs = 20_000): Promise<Checksum[]> {
  return waitFor(
    async () => {
      const h = await health(c.leader);
      const all = await Promise.all(c.nodes.map(checksum));
      const first = all[0] as Checksum;
      const same = all.every((s) => s.applied_index === first.applied_index && s.state_checksum === first.state_checksum);
      return same && first.applied_index === h.commit_index ? all : undefined;
    },
    { what: 'all three nodes to have the same applied index and state checksum', timeoutMs },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${c.logs(40)}`);
  });
}

interface AppendBody {
  term: number;
  leader_id?: string;
  prev_index: number;
  prev_term: number;
  entries: Entry[];
  leader_commit: number;
}

/** POST /_raft/append to a node with the cluster secret; the answer decoded (msgpack on 200, JSON otherwise). */
async function craftedAppend(c: TestCluster, n: TestNode, body: AppendBody): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${n.url}/_raft/append`, {
    method: 'POST',
    headers: { 'content-type': 'application/msgpack', 'x-cairn-secret': SECRET },
    body: pack({ cluster_id: c.config.replication.cluster_id, leader_id: 'node-1', ...body }),
    signal: AbortSignal.timeout(10_000),
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (res.status === 200) return { status: 200, body: unpack(bytes) as Record<string, unknown> };
  const text = new TextDecoder().decode(bytes);
  try {
    return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
  } catch {
    return { status: res.status, body: { text } };
  }
}

/** A put op of one document, encoded the way the leader encodes what it proposes. */
function putPayload(id: string, content: string): Uint8Array {
  const vector = new Float32Array(DIM);
  for (let i = 0; i < DIM; i++) vector[i] = ((i * 7919) % 101) / 101 - 0.5;
  return encodeOp({
    kind: 'put',
    v: op_version,
    ws: WS,
    ts: Date.now(),
    docs: [
      {
        id,
        content,
        path: null,
        language: null,
        metadata: null,
        tokens: 4,
        content_hash: createHash('sha256').update(content).digest('hex'),
        bytes: Buffer.byteLength(content, 'utf8'),
        vector: vectorToBytes(vector),
      },
    ],
  });
}

function nodeLog(c: TestCluster, id: string): string {
  return readFileSync(join(c.dir, 'logs', `${id}.log`), 'utf8');
}

/** Log lines (pino JSON) of a node whose msg contains `text`, logged at `since` (ms) or later. */
function logLines(c: TestCluster, id: string, text: string, since = 0): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of nodeLog(c, id).split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (typeof o.msg === 'string' && o.msg.includes(text) && typeof o.time === 'number' && o.time >= since) out.push(o);
    } catch {
      /* not a log record */
    }
  }
  return out;
}

/**
 * Waits for a node to log a line whose msg contains `text` (at `since` or later) and that `match`
 * accepts. Nodes write their log asynchronously: a line may land a moment after the answer.
 */
async function logged(c: TestCluster, id: string, text: string, since: number, match: (l: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>> {
  return waitFor(() => logLines(c, id, text, since).find(match), { what: `${id} to log "${text}"`, timeoutMs: 5_000 }).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${c.node(id).logTail(30)}`);
  });
}

function expectAlive(c: TestCluster): void {
  for (const n of c.nodes) {
    expect(n.process.running, `${n.id} exited (${String(n.process.exitCode)}):\n${n.logTail(40)}`).toBe(true);
    expect(n.process.unexpectedExit, n.id).toBeUndefined();
  }
}

/** No append answered 500 anywhere in the leader's log. */
function expectNo500(c: TestCluster): void {
  const refused500 = logLines(c, 'node-1', 'append refused').filter((l) => l.status === 500);
  expect(refused500, JSON.stringify(refused500.slice(0, 3))).toEqual([]);
}

/** Every acknowledged document is on every node; none of the planted ones is anywhere. */
async function expectDocuments(c: TestCluster, present: string[], absent: string[]): Promise<void> {
  for (const n of c.nodes) {
    for (const id of present) expect(await docStatus(n, id), `${id} on ${n.id}`).toBe(200);
    for (const id of absent) expect(await docStatus(n, id), `${id} on ${n.id}`).toBe(404);
  }
}

/** Waits for the leader to report a snapshot sent to the target with a reason containing `why`. */
async function repairStarted(c: TestCluster, why: string): Promise<ReplicationEvent> {
  return waitFor(
    async () => (await leaderEvents(c)).find((e) => e.kind === 'resync_started' && e.follower === TARGET && e.detail.includes(why)),
    { what: `the leader to start a resync of ${TARGET} because "${why}"`, timeoutMs: 15_000 },
  ).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}\n${c.logs(40)}`);
  });
}

/**
 * Samples the leader's sync-status row of the target every 20 ms until stopped, so the short
 * window in which it is desynced (while its snapshot is made and sent) is seen. It stops by
 * itself after a minute (a failed test never stops it).
 */
function watchSyncStatus(c: TestCluster): { stop: () => Promise<Array<Record<string, unknown>>> } {
  const rows: Array<Record<string, unknown>> = [];
  let stopped = false;
  const deadline = Date.now() + 60_000;
  const loop = (async (): Promise<void> => {
    while (!stopped && Date.now() < deadline) {
      try {
        const status = await getJson<{ followers: Array<Record<string, unknown>> }>(`${c.leader.url}/_raft/sync-status`);
        const row = status.followers.find((f) => f.node_id === TARGET);
        if (row !== undefined) rows.push(row);
      } catch {
        /* the next sample */
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return rows;
    },
  };
}

/** sync-status carried the reason in every sample, and showed the target desynced for `why`. */
function expectDesyncReported(rows: Array<Record<string, unknown>>, why: string): void {
  expect(rows.length).toBeGreaterThan(0);
  for (const r of rows) expect(r, 'a sync-status row without desync_reason').toHaveProperty('desync_reason');
  const desynced = rows.filter((r) => r.health === 'desynced');
  expect(desynced.length, `no desynced sample among ${rows.length}: ${JSON.stringify(rows.slice(-3))}`).toBeGreaterThan(0);
  expect(desynced.some((r) => typeof r.desync_reason === 'string' && r.desync_reason.includes(why)), JSON.stringify(desynced.slice(0, 3))).toBe(true);
}

describe('crafted appends from a holder of the cluster secret', () => {
  it('a planted same-term entry, committed and applied on one follower, is found at the next write and repaired by a snapshot', async () => {
    const c = await ready();
    const since = Date.now();
    const target = c.node(TARGET);
    const acknowledged: string[] = [];
    for (let i = 0; i < 3; i++) {
      await write(c, `t1-before-${i}`, `written before the planted entry ${i}`);
      acknowledged.push(`t1-before-${i}`);
    }
    const { term, index } = await settled(c);

    const planted = makeEntry(index + 1, term, ENTRY_COMMAND, putPayload('t1-planted', 'a document the leader never wrote'));
    const res = await craftedAppend(c, target, { term, prev_index: index, prev_term: term, entries: [planted], leader_commit: index + 1 });
    expect(res, JSON.stringify(res.body)).toMatchObject({ status: 200, body: { success: true, match_index: index + 1 } });
    await waitFor(async () => (await checksum(target)).applied_index === index + 1 && (await docStatus(target, 't1-planted')) === 200, {
      what: `${TARGET} to apply the planted entry`,
      timeoutMs: 10_000,
    });
    const before = await resyncStats(c);
    const watcher = watchSyncStatus(c);

    // The leader's own entry at that index differs from the one the follower applied.
    const at = await write(c, 't1-real-1', 'the real entry at the planted index');
    acknowledged.push('t1-real-1');
    expect(at).toBe(index + 1);

    const why = `its applied entry at index ${index + 1} differs from the leader's`;
    const started = await repairStarted(c, why);
    expect(started.detail).toContain(target.address);
    await waitFor(async () => (await resyncStats(c)).snapshot_send_successes > before.snapshot_send_successes, {
      what: 'the leader to count a successful resync',
      timeoutMs: 20_000,
    });
    await logged(c, TARGET, 'an applied entry differs from the leader', since, (l) => l.at === index + 1);
    await logged(c, TARGET, 'snapshot installed', since, (l) => l.repair === true);
    expectDesyncReported(await watcher.stop(), why);
    for (let i = 0; i < 3; i++) {
      await write(c, `t1-after-${i}`, `written after the repair ${i}`);
      acknowledged.push(`t1-after-${i}`);
    }
    await converged(c);
    await expectDocuments(c, acknowledged, ['t1-planted']);
    expectAlive(c);
    expectNo500(c);
  });

  it('an append in a far newer term with no entry of that term does not wedge replication: the follower records the claim, the leader opens a term above it', async () => {
    const c = await ready();
    const target = c.node(TARGET);
    await write(c, 't2-before', 'written before the far-term append');
    const { term, index } = await settled(c);
    const far = term + 1000;

    const res = await craftedAppend(c, target, { term: far, prev_index: index, prev_term: term, entries: [], leader_commit: index });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ claimed_term: far });
    // Nothing in the log proves the term: the follower's term stays. But it recorded the request's
    // term as claimed, so the leader's appends are stale there until it opens a term above it.
    expect((await health(target)).term).toBe(term);

    const acknowledged = ['t2-before'];
    for (let i = 0; i < 5; i++) {
      await write(c, `t2-after-${i}`, `written after the far-term append ${i}`);
      acknowledged.push(`t2-after-${i}`);
    }
    await converged(c);
    await expectDocuments(c, acknowledged, []);
    const leaderTerm = (await health(c.leader)).term;
    expect(leaderTerm).toBeGreaterThan(far);
    const forced = await fetch(`${c.leader.url}/_raft/force-resync?target=${TARGET}`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
    const forcedBody = (await forced.json()) as { success: boolean; message: string };
    expect(forced.status, JSON.stringify(forcedBody)).toBe(200);
    expect(forcedBody.success).toBe(true);
    expect((await health(c.leader)).term).toBe(leaderTerm);
    await write(c, 't2-after-resync', 'written after the forced resync');
    acknowledged.push('t2-after-resync');
    await converged(c);
    await waitFor(async () => (await health(target)).term === leaderTerm, { what: `${TARGET} to take the leader's term`, timeoutMs: 10_000 });
    await expectDocuments(c, acknowledged, []);
    expectAlive(c);
    expectNo500(c);
  });

  it('a follower that took a far newer term from an entry of that term makes the leader open a term above it', async () => {
    const c = await ready();
    const target = c.node(TARGET);
    await write(c, 't2b-before', 'written before the far-term entry');
    const { term, index } = await settled(c);
    const far = term + 1000;

    // Not committed: the follower holds it, the log proves the far term, so the follower takes it.
    const planted = makeEntry(index + 1, far, ENTRY_COMMAND, putPayload('t2b-planted-far', 'an entry of a term no leader opened'));
    const res = await craftedAppend(c, target, { term: far, prev_index: index, prev_term: term, entries: [planted], leader_commit: index });
    expect(res, JSON.stringify(res.body)).toMatchObject({ status: 200, body: { success: true } });
    expect((await health(target)).term).toBe(far);

    // The leader's appends are refused as stale until it opens a term above it.
    await waitFor(async () => (await health(c.leader)).term > far, { what: `the leader to open a term above ${far}`, timeoutMs: 15_000 }).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n${c.logs(40)}`);
    });
    const acknowledged = ['t2b-before'];
    for (let i = 0; i < 5; i++) {
      await write(c, `t2b-after-${i}`, `written in the leader's new term ${i}`);
      acknowledged.push(`t2b-after-${i}`);
    }
    await converged(c);
    const leaderTerm = (await health(c.leader)).term;
    expect(leaderTerm).toBeGreaterThan(far);
    await waitFor(async () => (await health(target)).term === leaderTerm, { what: `${TARGET} to take the leader's term`, timeoutMs: 10_000 });
    await expectDocuments(c, acknowledged, ['t2b-planted-far']);
    const forced = await fetch(`${c.leader.url}/_raft/force-resync?target=${TARGET}`, { method: 'POST', signal: AbortSignal.timeout(30_000) });
    expect(forced.status, await forced.clone().text()).toBe(200);
    expect(((await forced.json()) as { success: boolean }).success).toBe(true);
    await converged(c);
    expectAlive(c);
    expectNo500(c);
  });

  it('a committed entry whose payload does not decode is repaired by the leader without an operator', async () => {
    const c = await ready();
    const since = Date.now();
    const target = c.node(TARGET);
    const acknowledged: string[] = [];
    for (let i = 0; i < 3; i++) {
      await write(c, `t3-before-${i}`, `written before the undecodable entry ${i}`);
      acknowledged.push(`t3-before-${i}`);
    }
    const { term, index } = await settled(c);
    const before = await resyncStats(c);
    const watcher = watchSyncStatus(c);

    // 0xc1 is never used in msgpack: the payload cannot decode as an op.
    const garbage = new Uint8Array([0xc1, ...randomBytes(63)]);
    const bad = makeEntry(index + 1, term, ENTRY_COMMAND, garbage);
    const res = await craftedAppend(c, target, { term, prev_index: index, prev_term: term, entries: [bad], leader_commit: index + 1 });
    expect(res.status, JSON.stringify(res.body)).toBe(200);

    const why = `its applied entry at index ${index + 1} differs from the leader's`;
    await repairStarted(c, why);
    await waitFor(async () => (await resyncStats(c)).snapshot_send_successes > before.snapshot_send_successes, {
      what: 'the leader to count a successful resync',
      timeoutMs: 20_000,
    });
    expectDesyncReported(await watcher.stop(), why);
    await logged(c, TARGET, 'a committed entry failed to apply', since, (l) => l.index === index + 1);
    const leaderSum = await checksum(c.leader);
    await waitFor(async () => (await checksum(target)).state_checksum === leaderSum.state_checksum, {
      what: `${TARGET} to hold the leader's state`,
      timeoutMs: 10_000,
    });

    for (let i = 0; i < 3; i++) {
      await write(c, `t3-after-${i}`, `written after the repair ${i}`);
      acknowledged.push(`t3-after-${i}`);
    }
    await converged(c);
    await expectDocuments(c, acknowledged, []);
    // Its answers since are appends accepted, not errors.
    const probe = await craftedAppend(c, target, { term: (await health(c.leader)).term, prev_index: 0, prev_term: 0, entries: [], leader_commit: 0 });
    expect(probe.status, JSON.stringify(probe.body)).toBe(200);
    expect(probe.body.reason).not.toBe('diverged');
    expectAlive(c);
    expectNo500(c);
  });

  it('a conflicting entry at an applied index is answered diverged, changes nothing, and the follower keeps replicating', async () => {
    const c = await ready();
    const since = Date.now();
    const target = c.node(TARGET);
    const acknowledged: string[] = [];
    for (let i = 0; i < 3; i++) {
      await write(c, `t4-before-${i}`, `written before the conflicting entry ${i}`);
      acknowledged.push(`t4-before-${i}`);
    }
    const { term, index } = await settled(c);
    const held = await checksum(target);

    // Index `index` and the one before are both in the leader's current term (its NOOP opened it before the writes).
    const conflicting = makeEntry(index, term, ENTRY_COMMAND, putPayload('t4-conflicting', 'other bytes at an applied index'));
    const res = await craftedAppend(c, target, { term, prev_index: index - 1, prev_term: term, entries: [conflicting], leader_commit: index });
    expect(res, JSON.stringify(res.body)).toMatchObject({ status: 200, body: { success: false, reason: 'diverged', diverged_at: index } });
    // The same conflict given as prev_term at an applied index.
    if (term > 1) {
      const prev = await craftedAppend(c, target, { term, prev_index: index, prev_term: term - 1, entries: [], leader_commit: index });
      expect(prev, JSON.stringify(prev.body)).toMatchObject({ status: 200, body: { success: false, reason: 'diverged', diverged_at: index } });
    }
    expectAlive(c);
    expect(await checksum(target)).toMatchObject({ applied_index: held.applied_index, state_checksum: held.state_checksum, last_log_index: held.last_log_index });
    await logged(c, TARGET, 'an applied entry differs from the leader', since, (l) => l.at === index);

    for (let i = 0; i < 3; i++) {
      await write(c, `t4-after-${i}`, `written after the conflicting entry ${i}`);
      acknowledged.push(`t4-after-${i}`);
    }
    await converged(c);
    await expectDocuments(c, acknowledged, ['t4-conflicting']);
    expectAlive(c);
    expectNo500(c);
  });

  it('an append from another leader id is refused with 409 wrong_leader and changes nothing', async () => {
    const c = await ready();
    const target = c.node(TARGET);
    await write(c, 't5-before', 'written before the append from another leader');
    const { term, index } = await settled(c);
    const held = await checksum(target);
    const heldTerm = (await health(target)).term;

    const entry = makeEntry(index + 1, term + 1, ENTRY_COMMAND, putPayload('t5-from-node-3', 'written by a node that does not lead'));
    for (const leader_id of ['node-3', TARGET, 'intruder']) {
      const res = await craftedAppend(c, target, { term: term + 1, leader_id, prev_index: index, prev_term: term, entries: [entry], leader_commit: index + 1 });
      expect(res.status, `${leader_id}: ${JSON.stringify(res.body)}`).toBe(409);
      expect(res.body, leader_id).toMatchObject({ error: { code: 'wrong_leader' } });
    }
    expect(await checksum(target)).toMatchObject({ applied_index: held.applied_index, state_checksum: held.state_checksum, last_log_index: held.last_log_index });
    expect((await health(target)).term).toBe(heldTerm);
    expect(await docStatus(target, 't5-from-node-3')).toBe(404);

    await write(c, 't5-after', 'written after the append from another leader');
    await converged(c);
    await expectDocuments(c, ['t5-before', 't5-after'], ['t5-from-node-3']);
    expectAlive(c);
    expectNo500(c);
  });
});
