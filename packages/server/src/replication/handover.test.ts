// Which node leads, as a node whose data directory is new finds out (askWhoLeads over fakes), and
// how an old leader tells its handover target to take over (HandoverNotice over a fake transport).
import { describe, expect, it } from 'vitest';
import { ENTRY_COMMAND, MemoryLog, makeEntry } from '@cairn/raft';
import type { AppendRequest } from '@cairn/raft';
import { HandoverNotice, answerTimeoutNow, askWhoLeads, heardFrom, leaderFromAnswers, leadershipAnswerOf, onLeaderNamed, roleAtStart, type HandoverRecord, type LeadershipAnswer, type RoleSwitch } from './handover.ts';
import { ReplicationError } from './errors.ts';
import type { FollowerHandler } from './follower-handler.ts';
import type { ReplicaLog, LeadershipRecord } from './ports.ts';
import { encode } from './wire.ts';
import type { PendingHandover } from './identity.ts';
import { systemClock } from './ports.ts';
import { decodeAppendRequest } from './wire.ts';

const peers = [
  { id: 'node-1', address: 'a:1' },
  { id: 'node-3', address: 'a:3' },
];

/** askWhoLeads with `answers` per peer id (undefined: not answering); returns the decision and who was asked how often. */
async function ask(answers: Record<string, LeadershipAnswer | undefined>, rounds = 5) {
  const asked: string[] = [];
  let waits = 0;
  const leader = await askWhoLeads({
    self: 'node-2',
    peers,
    ask: (p) => {
      asked.push(p.id);
      const a = answers[p.id];
      return a === undefined ? Promise.reject(new Error('ECONNREFUSED')) : Promise.resolve(a);
    },
    wait: () => {
      waits++;
      return Promise.resolve();
    },
    stopped: () => waits >= rounds,
    progress: () => {},
    retry_ms: 1,
  });
  return { leader, asked, waits };
}

const answer = (node_id: string, over: Partial<LeadershipAnswer> = {}): LeadershipAnswer => ({ node_id, role: 'follower', leading: false, leader_id: 'node-1', term: 3, ...over });

describe('askWhoLeads', () => {
  it('follows a node that leads now at once, though another peer does not answer', async () => {
    const r = await ask({ 'node-1': answer('node-1', { role: 'leader', leading: true }), 'node-3': undefined });
    expect(r.leader).toBe('node-1');
    expect(r.waits).toBe(0);
  });

  it('waits for every peer when none leads now: a recovering leader is not followed', async () => {
    // node-1 is the configured leader but still recovers (role leader, not leading); node-3 is down.
    const r = await ask({ 'node-1': answer('node-1', { role: 'leader', leading: false }), 'node-3': undefined });
    expect(r.leader).toBeNull();
    expect(r.waits).toBe(5);
    expect(r.asked.filter((id) => id === 'node-3')).toHaveLength(5);
    expect(r.asked.filter((id) => id === 'node-1')).toHaveLength(1);
  });

  it('reports no progress once stopped during a round (the node followed the sender of an append meanwhile)', async () => {
    // The round's asks are in flight when the node stops asking: the round must not report
    // progress after that (Replica's progress sets the recovering condition, which would stay).
    let asking = true;
    const progress: string[][] = [];
    const leader = await askWhoLeads({
      self: 'node-2',
      peers,
      ask: (p) => {
        if (p.id === 'node-3') asking = false;
        return Promise.reject(new Error('ECONNREFUSED'));
      },
      wait: () => Promise.resolve(),
      stopped: () => !asking,
      progress: (waiting) => progress.push(waiting.map((w) => w.id)),
      retry_ms: 1,
    });
    expect(leader).toBeNull();
    expect(progress).toEqual([]);
  });

  it('with every answer in and no one leading, takes the leader named in the newest term', async () => {
    const r = await ask({ 'node-1': answer('node-1', { leader_id: 'node-1', term: 3 }), 'node-3': answer('node-3', { leader_id: 'node-2', term: 5 }) });
    expect(r.leader).toBe('node-2');
  });
});

describe('leaderFromAnswers and leadershipAnswerOf', () => {
  it('follows the answers from the leader named to the one it names: a leader that handed over knows its successor', () => {
    // node-1 handed leadership to node-2 (this node, whose data directory was lost); node-3 has not heard from node-2 yet.
    const handedOver = answer('node-1', { leader_id: 'node-2', term: 6 });
    const stale = answer('node-3', { leader_id: 'node-1', term: 6 });
    expect(leaderFromAnswers([stale, handedOver])).toBe('node-2');
    expect(leaderFromAnswers([handedOver, stale])).toBe('node-2');
    // An older answer of the node named does not override a newer statement about it.
    expect(leaderFromAnswers([answer('node-3', { leader_id: 'node-1', term: 6 }), answer('node-1', { leader_id: 'node-3', term: 4 })])).toBe('node-1');
    // Two nodes naming each other: it ends (one of them), it does not go round.
    expect(['node-1', 'node-3']).toContain(leaderFromAnswers([answer('node-1', { leader_id: 'node-3', term: 5 }), answer('node-3', { leader_id: 'node-1', term: 5 })]));
  });

  it('prefers the node whose driver runs over newer terms and role names', () => {
    expect(leaderFromAnswers([answer('node-1', { role: 'leader', term: 9, leader_id: 'node-1' }), answer('node-3', { leading: true, term: 2, leader_id: 'node-3' })])).toBe('node-3');
    expect(leaderFromAnswers([])).toBeNull();
  });

  it('reads leading from /_raft/health; an old node without the field is not leading', () => {
    expect(leadershipAnswerOf('node-1', { role: 'leader', leading: true, leader_id: 'node-1', term: 4 })).toEqual({ node_id: 'node-1', role: 'leader', leading: true, leader_id: 'node-1', term: 4 });
    expect(leadershipAnswerOf('node-1', { role: 'leader', leader_id: 'node-1', term: 4 })?.leading).toBe(false);
    expect(leadershipAnswerOf('node-1', { role: 'leader' })).toBeNull();
    expect(leadershipAnswerOf('node-1', null)).toBeNull();
  });

  it('roleAtStart asks only when the leader is unknown in a cluster of several', () => {
    expect(roleAtStart({ self: 'node-2', configured_leader: 'node-1', recorded_leader: null, leader_unknown: true, nodes: 3 })).toBe('ask');
    expect(roleAtStart({ self: 'node-1', configured_leader: 'node-1', recorded_leader: null, leader_unknown: true, nodes: 1 })).toBe('lead');
    expect(roleAtStart({ self: 'node-1', configured_leader: 'node-1', recorded_leader: 'node-2', leader_unknown: false, nodes: 3 })).toBe('follow');
    expect(roleAtStart({ self: 'node-2', configured_leader: 'node-1', recorded_leader: 'node-2', leader_unknown: false, nodes: 3 })).toBe('lead');
  });
});

describe('HandoverNotice', () => {
  /** An old leader whose log ends at 5 (term 3), fenced for node-2; node-2 answers with `answer`. */
  function notice(answer: (path: string) => { status: number; body: object }) {
    const log = new MemoryLog();
    log.append([1, 1, 2, 2, 3].map((t, i) => makeEntry(i + 1, t, ENTRY_COMMAND, new Uint8Array([i]))));
    let pending: PendingHandover | null = { to: 'node-2', term: 3, last_index: 5, last_term: 3 };
    const record = { pendingHandover: () => pending, recordHandover: (h: PendingHandover | null) => void (pending = h) } as unknown as HandoverRecord;
    const posts: Array<{ path: string; body: Uint8Array }> = [];
    const n = new HandoverNotice({
      record,
      clock: systemClock,
      transport: {
        post: (_address, path, body) => {
          posts.push({ path, body });
          const a = answer(path);
          return Promise.resolve({ status: a.status, body: Buffer.from(JSON.stringify(a.body)) });
        },
      },
      cluster_id: 'c',
      self: 'node-1',
      address: () => 'a:2',
      timeout_ms: 100,
      retry_ms: 10,
      warn: () => {},
      log: () => log,
    });
    return { n, posts, pending: () => pending };
  }

  it('sends a target that lost the tail it had matched the entries after where its log ends, in the old term', async () => {
    const t = notice((path) => (path === '/_raft/timeout-now' ? { status: 409, body: { error: { code: 'not_caught_up', message: 'holds 3', durable_index: 3 } } } : { status: 200, body: {} }));
    expect(await t.n.tell()).toBe(false);
    expect(t.posts.map((p) => p.path)).toEqual(['/_raft/timeout-now', '/_raft/append']);
    const req: AppendRequest = decodeAppendRequest((t.posts[1] as { body: Uint8Array }).body);
    expect(req).toMatchObject({ cluster_id: 'c', leader_id: 'node-1', term: 3, prev_index: 3, prev_term: 2, leader_commit: 5 });
    expect(req.entries.map((e) => e.index)).toEqual([4, 5]);
    // Still pending: the target confirms only when it took over.
    expect(t.pending()).not.toBeNull();
  });

  it('sends no entries on any other refusal, and clears the pending handover once the target took over', async () => {
    const refused = notice(() => ({ status: 409, body: { error: { code: 'wrong_leader', message: 'no' } } }));
    expect(await refused.n.tell()).toBe(false);
    expect(refused.posts.map((p) => p.path)).toEqual(['/_raft/timeout-now']);
    const taken = notice(() => ({ status: 200, body: { ok: true, leader: 'node-2', term: 4 } }));
    expect(await taken.n.tell()).toBe(true);
    expect(taken.pending()).toBeNull();
  });
});

describe('role switches (what Replica and the simulation both run)', () => {
  /** A follower of node-1 in term 3 whose durable log ends at `durable` (term 3); `calls` records what the node was made to do. */
  function node(over: Partial<RoleSwitch> = {}, durable = 5) {
    const calls: string[] = [];
    const follower = { leaderId: () => 'node-1', currentTerm: () => 3, stop: () => void calls.push('follower stopped') } as unknown as FollowerHandler;
    const log = { durableIndex: () => durable, lastIndex: () => durable, termAt: (i: number) => (i <= durable ? 3 : undefined), write: () => void calls.push('log write') } as unknown as ReplicaLog;
    const record = { designated: () => null, recordDesignated: (id: string) => void calls.push(`designated ${id}`), recordLeader: (id: string, floor?: number) => void calls.push(`leader ${id}${floor === undefined ? '' : ` at ${floor}`}`) } as unknown as LeadershipRecord;
    const n: RoleSwitch = {
      self: 'node-2', cluster_id: 'c', nodes: [{ id: 'node-1' }, { id: 'node-2' }, { id: 'node-3' }],
      leadingTerm: () => null, notReady: () => null, asking: () => false, follower: () => follower, log, record,
      follow: (leader, why) => void calls.push(`follow ${leader} (${why})`),
      lead: (why) => {
        calls.push(`lead after ${why.from} ${why.last_index}`);
        return 4;
      },
      ...over,
    };
    return { n, calls };
  }
  const req = { cluster_id: 'c', from: 'node-1', term: 3, last_index: 5, last_term: 3 };

  it('answerTimeoutNow: takes over from its leader when caught up, records itself, then leads', () => {
    const { n, calls } = node();
    expect(answerTimeoutNow(req, n)).toEqual({ ok: true, leader: 'node-2', term: 4 });
    expect(calls).toEqual(['follower stopped', 'designated node-2', 'leader node-2 at 5', 'lead after node-1 5']);
  });

  it('answerTimeoutNow: refuses another cluster, says so when it leads already, and does nothing while not ready', () => {
    expect(() => answerTimeoutNow({ ...req, cluster_id: 'x' }, node().n)).toThrow(/cluster/);
    const leading = node({ leadingTerm: () => 7 });
    expect(answerTimeoutNow(req, leading.n)).toEqual({ ok: true, leader: 'node-2', term: 7 });
    expect(leading.calls).toEqual([]);
    const busy = node({ notReady: () => new ReplicationError(503, 'recovering', 'recovering') });
    expect(() => answerTimeoutNow(req, busy.n)).toThrow(/recovering/);
    expect(busy.calls).toEqual([]);
    const none = node({ follower: () => null });
    expect(() => answerTimeoutNow(req, none.n)).toThrow(/neither leading nor following/);
    const behind = node({}, 4);
    expect(() => answerTimeoutNow(req, behind.n)).toThrow(/holds 4/);
    expect(behind.calls).toEqual([]);
  });

  it('heardFrom: only a node asking who leads, and not yet following, follows the sender of a message of its cluster', () => {
    const append = (leader_id: string, cluster_id = 'c'): Uint8Array => encode({ cluster_id, term: 3, leader_id, prev_index: 0, prev_term: 0, entries: [], leader_commit: 0 });
    const asking = node({ asking: () => true, follower: () => null });
    heardFrom(append('node-3'), 'append', asking.n);
    expect(asking.calls).toEqual(['follow node-3 (data directory new, an append came from node-3)']);
    const other = node({ asking: () => true, follower: () => null });
    heardFrom(append('node-3', 'x'), 'append', other.n);
    heardFrom(append('node-9'), 'append', other.n);
    heardFrom(new Uint8Array([1, 2, 3]), 'append', other.n);
    expect(other.calls).toEqual([]);
    const settled = node({ asking: () => false, follower: () => null });
    heardFrom(append('node-3'), 'append', settled.n);
    expect(settled.calls).toEqual([]);
  });

  it('onLeaderNamed: follows another node; named itself, records itself and leads only with its storage whole, else recovers unrecorded', () => {
    const run = (leader: string, ok: boolean): string[] => {
      const { n, calls } = node();
      onLeaderNamed(leader, {
        ...n,
        checkStorage: () => (ok ? { ok: true } : { ok: false, reason: 'data_gone', message: 'gone' }),
        leadNamed: () => void calls.push('lead named'),
        recover: (c) => void calls.push(`recover ${c.reason}`),
      });
      return calls;
    };
    expect(run('node-3', true)).toEqual(['follow node-3 (data directory new)']);
    expect(run('node-2', true)).toEqual(['leader node-2', 'lead named']);
    expect(run('node-2', false)).toEqual(['recover data_gone']);
  });
});
