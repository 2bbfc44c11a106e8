import { describe, expect, it } from 'vitest';
import { LeaderCore, RaftInvariantError } from '../src/index.ts';
import type { AppendResponse, LeaderOptions, MemoryLog } from '../src/index.ts';
import { appendsTo, entries, leaderOptions, logOf, matchOf, ok, ranges, reject } from './helpers.ts';
import type { AppendAction } from './helpers.ts';

function ones(n: number): number[] {
  return new Array<number>(n).fill(1);
}

/** A leader whose log holds 1..n (term 1), durable, that never sent anything yet. */
function leaderWith(n: number, over: Partial<LeaderOptions> = {}, log?: MemoryLog): { core: LeaderCore; log: MemoryLog } {
  const l = log ?? logOf(ones(n));
  const core = new LeaderCore(leaderOptions(over), { last_index: 0, commit_index: 0 });
  core.onLocalAppend(l.lastIndex());
  return { core, log: l };
}

/** Feeds back success for every append to `id` in actions (as if the follower accepted all). */
function ackAll(core: LeaderCore, actions: ReturnType<LeaderCore['poll']>, id: string, now: number): void {
  for (const a of appendsTo(actions, id)) core.onAppendResult(id, a.epoch, ok(matchOf(a)), now, 1);
}

/** Brings follower `id` to match the leader: it answers what is in flight to it, then each new batch. */
function catchUp(core: LeaderCore, log: MemoryLog, id: string, now: number): void {
  const p = core.follower(id);
  if (p.inflight > 0) core.onAppendResult(id, p.epoch, ok(p.next_index - 1), now, 1);
  for (let i = 0; i < 1000 && p.match_index < core.durableIndex(); i++) ackAll(core, core.poll(now, log), id, now);
  expect(p.match_index).toBe(core.durableIndex());
}

describe('LeaderCore: batching and pipelining', () => {
  it('sends batches of at most batch_entries_max entries', () => {
    const { core, log } = leaderWith(25, { batch_entries_max: 10, inflight_batches_max: 5 });
    expect(ranges(appendsTo(core.poll(0, log), 'a'))).toEqual([
      [1, 10],
      [11, 20],
      [21, 25],
    ]);
  });

  it('keeps at most inflight_batches_max batches in flight per follower', () => {
    const { core, log } = leaderWith(50, { batch_entries_max: 10, inflight_batches_max: 2 });
    const first = appendsTo(core.poll(0, log), 'a');
    expect(ranges(first)).toEqual([
      [1, 10],
      [11, 20],
    ]);
    expect(appendsTo(core.poll(1, log), 'a')).toEqual([]);
    core.onAppendResult('a', (first[0] as (typeof first)[0]).epoch, ok(10), 2, 2);
    expect(ranges(appendsTo(core.poll(2, log), 'a'))).toEqual([[21, 30]]);
    expect(core.follower('a').inflight).toBe(2);
  });

  it('caps a batch at batch_bytes_max of payload, but always sends at least one entry', () => {
    const { core, log } = leaderWith(6, { batch_entries_max: 10, batch_bytes_max: 25, inflight_batches_max: 10 }, logOf(ones(6), { bytes: 10 }));
    expect(ranges(appendsTo(core.poll(0, log), 'a'))).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    const big = leaderWith(2, { batch_bytes_max: 5, inflight_batches_max: 10 }, logOf([1, 1], { bytes: 10 }));
    expect(ranges(appendsTo(big.core.poll(0, big.log), 'a'))).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });

  it('carries prev index and term of the entry before the batch, and the commit index', () => {
    const { core, log } = leaderWith(0, { batch_entries_max: 2 }, logOf([1, 1, 2, 2]));
    const [x, y] = appendsTo(core.poll(0, log), 'a');
    expect([x?.prev_index, x?.prev_term, y?.prev_index, y?.prev_term]).toEqual([0, 0, 2, 1]);
    expect(x?.commit).toBe(0);
  });
});

describe('LeaderCore: answers', () => {
  it('jumps back to the follower last index on a rejection and restarts the stream in a new epoch', () => {
    const { core, log } = leaderWith(30, { batch_entries_max: 10, inflight_batches_max: 3 });
    const sent = appendsTo(core.poll(0, log), 'a');
    const epoch = (sent[0] as (typeof sent)[0]).epoch;
    core.onAppendResult('a', epoch, reject(4), 1, 1);
    const p = core.follower('a');
    expect([p.next_index, p.inflight, p.epoch]).toEqual([5, 0, epoch + 1]);
    const again = appendsTo(core.poll(1, log), 'a');
    expect(again[0]?.prev_index).toBe(4);
    expect(ranges(again)[0]).toEqual([5, 14]);
  });

  it('steps back past a mismatch even when a later batch\'s gap answer is handled first, and reaches the follower', () => {
    // The leader holds 1..20 of term 1 and 21..40 of term 2 (restarted: no follower position
    // known). The follower holds 1..33, all term 1: it agrees up to 20. Every round, its answers
    // come back in reverse order, so a later batch's `gap` is handled before an earlier batch's
    // `mismatch`. Jumping to the gap's last index each time started the step-back over forever.
    const leaderTerms = [...ones(20), ...new Array<number>(20).fill(2)];
    const log = logOf(leaderTerms);
    const core = new LeaderCore(leaderOptions({ followers: ['a'], batch_entries_max: 2, inflight_batches_max: 3 }), { last_index: 36, commit_index: 20, term: 2 });
    core.onLocalAppend(40);
    const follower = ones(33); // follower[i - 1] is the term of its entry i
    const answer = (a: AppendAction): AppendResponse => {
      if (a.prev_index > follower.length) return reject(follower.length, 'gap');
      if (a.prev_index > 0 && follower[a.prev_index - 1] !== a.prev_term) return reject(a.prev_index - 1, 'mismatch');
      for (const e of a.entries) {
        if (follower.length >= e.index && follower[e.index - 1] !== e.term) follower.length = e.index - 1;
        if (follower.length < e.index) follower.push(e.term);
      }
      return ok(matchOf(a));
    };
    let now = 0;
    let gapsFirst = 0;
    for (let round = 0; round < 100 && core.follower('a').match_index < 40; round++) {
      const sent = appendsTo(core.poll(now, log), 'a');
      const answers = sent.map((a) => ({ a, res: answer(a) })).reverse();
      if (answers.length > 1 && answers[0]?.res.reason === 'gap' && answers.some((x) => x.res.reason === 'mismatch')) gapsFirst++;
      for (const { a, res } of answers) {
        const current = a.epoch === core.follower('a').epoch;
        core.onAppendResult('a', a.epoch, res, now, 1);
        // A gap answer never restarts the stream above an entry known to differ.
        const p = core.follower('a');
        if (current && res.reason === 'gap' && p.mismatch_at !== null) expect(p.next_index).toBeLessThanOrEqual(p.mismatch_at);
      }
      now += 200;
    }
    expect(gapsFirst).toBeGreaterThan(0);
    expect(core.follower('a').match_index).toBe(40);
    expect(follower).toEqual(leaderTerms);
    expect(core.follower('a').mismatch_at).toBeNull();
  });

  it('keeps mismatch_at from mismatch answers only, at the index after their last, until an append succeeds at or past it', () => {
    const { core, log } = leaderWith(30, { batch_entries_max: 10, inflight_batches_max: 3 });
    const p = core.follower('a');
    const e0 = (appendsTo(core.poll(0, log), 'a')[0] as AppendAction).epoch;
    core.onAppendResult('a', e0, ok(5), 1, 1);
    core.onAppendResult('a', e0, reject(20, 'gap'), 1, 1);
    expect(p.mismatch_at).toBeNull();
    // A mismatch whose last index is the match itself: the entry after the match differs.
    core.onAppendResult('a', p.epoch, reject(5, 'mismatch'), 2, 1);
    expect([p.mismatch_at, p.next_index]).toEqual([6, 6]);
    // A mismatch at or below the match is outdated: the follower was repaired since.
    core.onAppendResult('a', p.epoch, reject(3, 'mismatch'), 3, 1);
    expect(p.mismatch_at).toBe(6);
    // A success below it keeps it; one reaching it clears it.
    core.onAppendResult('a', p.epoch, ok(5), 4, 1);
    expect(p.mismatch_at).toBe(6);
    core.onAppendResult('a', p.epoch, ok(6), 5, 1);
    expect(p.mismatch_at).toBeNull();
  });

  it('records a mismatch from an older stream without restarting the current one', () => {
    const { core, log } = leaderWith(30, { batch_entries_max: 10, inflight_batches_max: 3 });
    const p = core.follower('a');
    const old = (appendsTo(core.poll(0, log), 'a')[0] as AppendAction).epoch;
    core.onAppendResult('a', old, reject(12, 'gap'), 1, 1); // restarts: epoch + 1, next 13
    const epoch = p.epoch;
    const next = p.next_index;
    core.onAppendResult('a', old, reject(8, 'mismatch'), 2, 1); // a late answer of the first stream
    expect([p.epoch, p.next_index, p.mismatch_at]).toEqual([epoch, next, 9]);
    // The next rejection of the current stream restarts below it.
    core.onAppendResult('a', epoch, reject(12, 'gap'), 3, 1);
    expect(p.next_index).toBe(9);
  });

  it('a failed send with no match known restarts at a known mismatch instead of probing at the end', () => {
    const { core, log } = leaderWith(30, { batch_entries_max: 10, inflight_batches_max: 3 });
    const p = core.follower('a');
    const e0 = (appendsTo(core.poll(0, log), 'a')[0] as AppendAction).epoch;
    core.onAppendResult('a', e0, reject(9, 'mismatch'), 1, 1);
    core.onAppendFailed('a', p.epoch, 2);
    expect([p.match_index, p.next_index]).toEqual([0, 10]);
  });

  it('forgets mismatch_at when the follower\'s log is replaced (snapshot, new storage)', () => {
    const { core, log } = leaderWith(30, { batch_entries_max: 10, inflight_batches_max: 3 });
    const p = core.follower('a');
    const e0 = (appendsTo(core.poll(0, log), 'a')[0] as AppendAction).epoch;
    core.onAppendResult('a', e0, { ...reject(9, 'mismatch'), storage_id: 's1' }, 1, 1);
    expect(p.mismatch_at).toBe(10);
    core.onAppendResult('a', p.epoch, { ...reject(9, 'mismatch'), storage_id: 's2' }, 2, 1);
    expect(p.mismatch_at).toBeNull();
    core.onAppendResult('a', p.epoch, { ...reject(4, 'mismatch'), storage_id: 's2' }, 3, 1);
    expect(p.mismatch_at).toBe(5);
    core.onSnapshotResult('a', p.epoch, true, 20, 4, 's2');
    expect(p.mismatch_at).toBeNull();
  });

  it('ignores the inflight slot of an answer from an older epoch, but keeps the match it proves', () => {
    const { core, log } = leaderWith(30, { batch_entries_max: 10, inflight_batches_max: 3 });
    const sent = appendsTo(core.poll(0, log), 'a');
    const old = (sent[0] as (typeof sent)[0]).epoch;
    core.onAppendResult('a', old, reject(0), 1, 1); // restart: epoch + 1
    core.poll(1, log); // resends from 1
    const inflight = core.follower('a').inflight;
    core.onAppendResult('a', old, ok(20), 2, 1); // a late answer to the first stream
    expect(core.follower('a').inflight).toBe(inflight);
    expect(core.follower('a').match_index).toBe(20);
    expect(core.commitIndex()).toBe(20);
  });

  it('a failed send restarts the stream from the match index; a late failure from an older epoch changes nothing', () => {
    const { core, log } = leaderWith(30, { batch_entries_max: 10, inflight_batches_max: 3 });
    const sent = appendsTo(core.poll(0, log), 'a');
    const epoch = (sent[0] as (typeof sent)[0]).epoch;
    core.onAppendResult('a', epoch, ok(10), 1, 1);
    core.onAppendFailed('a', epoch, 2);
    const p = core.follower('a');
    expect([p.next_index, p.inflight, p.consecutive_failures, p.epoch]).toEqual([11, 0, 1, epoch + 1]);
    core.onAppendFailed('a', epoch, 3); // the third batch of the old stream times out too
    expect(p.consecutive_failures).toBe(1);
  });

  it('after a failure, waits for the retry backoff and probes with a single batch', () => {
    const { core, log } = leaderWith(30, { batch_entries_max: 10, inflight_batches_max: 3, heartbeat_ms: 100, retry_backoff_ms_max: 300 });
    const sent = appendsTo(core.poll(0, log), 'a');
    core.onAppendResult('a', (sent[0] as (typeof sent)[0]).epoch, ok(10), 1, 1);
    core.onAppendFailed('a', (sent[1] as (typeof sent)[0]).epoch, 10);
    expect(appendsTo(core.poll(100, log), 'a')).toEqual([]); // pause = heartbeat * 2^1 = 200 from the last send at 0
    expect(ranges(appendsTo(core.poll(200, log), 'a'))).toEqual([[11, 20]]);
    const probeEpoch = core.follower('a').epoch;
    core.onAppendFailed('a', probeEpoch, 210);
    core.onAppendFailed('a', probeEpoch, 210); // the same stream failing again: no second count
    expect(core.follower('a').consecutive_failures).toBe(2);
    expect(appendsTo(core.poll(499, log), 'a')).toEqual([]); // min(300, 100 * 2^2) = 300 from 200
    expect(appendsTo(core.poll(500, log), 'a')).toHaveLength(1);
  });

  it('after a restart, a failure before any match is known probes at the end instead of resending from index 1', () => {
    // A restarted leader: 5000 entries, compacted to 4000, no follower position known yet.
    const log = logOf(ones(5000), { compactedTo: 4000 });
    const core = new LeaderCore(leaderOptions({ retry_backoff_ms_max: 100 }), { last_index: 4999, commit_index: 4990 });
    core.onLocalAppend(5000);
    const first = appendsTo(core.poll(0, log), 'a');
    expect(first[0]?.prev_index).toBe(4999);
    core.onAppendFailed('a', (first[0] as (typeof first)[0]).epoch, 50); // timed out
    const probe = appendsTo(core.poll(200, log), 'a');
    expect(probe).toEqual([expect.objectContaining({ prev_index: 5000, entries: [] })]);
    expect(core.follower('a').needs_snapshot).toBe(false);
    core.onAppendResult('a', (probe[0] as (typeof probe)[0]).epoch, reject(4995), 201, 1);
    expect(appendsTo(core.poll(202, log), 'a')[0]).toMatchObject({ prev_index: 4995 });
    expect(core.follower('a').health).not.toBe('desynced');
  });

  it('refuses a match beyond its own log', () => {
    const { core } = leaderWith(3);
    expect(() => core.onAppendResult('a', 0, ok(4), 0, 1)).toThrow(RaftInvariantError);
  });
});

describe('LeaderCore: commit', () => {
  it('commits what the leader and quorum_acks followers hold (1 of 2)', () => {
    const { core } = leaderWith(10);
    core.onAppendResult('a', 0, ok(4), 0, 1);
    expect(core.commitIndex()).toBe(4);
    core.onAppendResult('b', 0, ok(7), 0, 1);
    expect(core.commitIndex()).toBe(7);
    expect(core.allIndex()).toBe(4);
  });

  it('with quorum_acks 2 waits for both followers', () => {
    const { core } = leaderWith(10, { quorum_acks: 2 });
    core.onAppendResult('a', 0, ok(8), 0, 1);
    expect(core.commitIndex()).toBe(0);
    core.onAppendResult('b', 0, ok(5), 0, 1);
    expect(core.commitIndex()).toBe(5);
  });

  it('with quorum_acks 0 commits what is durable on the leader', () => {
    const core = new LeaderCore(leaderOptions({ followers: [], quorum_acks: 0 }), { last_index: 0, commit_index: 0 });
    core.onLocalAppend(6);
    expect(core.commitIndex()).toBe(6);
  });

  it('never moves commit back, and starts from the persisted commit after a restart', () => {
    const core = new LeaderCore(leaderOptions(), { last_index: 10, commit_index: 8 });
    expect(core.commitIndex()).toBe(8);
    core.onLocalAppend(11); // the NOOP of the new term
    core.onAppendResult('a', 0, reject(3), 0, 1);
    expect(core.commitIndex()).toBe(8);
    core.onAppendResult('a', core.follower('a').epoch, ok(11), 1, 1);
    expect(core.commitIndex()).toBe(11);
  });

  it('never commits beyond what is durable on the leader', () => {
    const core = new LeaderCore(leaderOptions(), { last_index: 0, commit_index: 0 });
    expect(() => core.onAppendResult('a', 0, ok(1), 0, 1)).toThrow(RaftInvariantError);
    expect(() => core.onLocalAppend(-1)).toThrow(RaftInvariantError);
  });

  it('refuses to start with commit beyond the log', () => {
    expect(() => new LeaderCore(leaderOptions(), { last_index: 3, commit_index: 4 })).toThrow(RaftInvariantError);
  });
});

describe('LeaderCore: heartbeats and commit updates', () => {
  it('sends an idle follower an empty append every heartbeat_ms, not before', () => {
    const { core, log } = leaderWith(3, { heartbeat_ms: 100 });
    catchUp(core, log, 'a', 0);
    catchUp(core, log, 'b', 0);
    expect(core.ready(0, log).persist_commit).toBe(3);
    core.onCommitPersisted(3);
    const commitNews = core.poll(0, log); // both learn commit 3 at once, once it is persisted
    expect(commitNews.map((a) => a.kind === 'append' && a.entries.length === 0 && a.commit)).toEqual([3, 3]);
    ackAll(core, commitNews, 'a', 0);
    ackAll(core, commitNews, 'b', 0);
    expect(core.poll(99, log)).toEqual([]);
    const beats = appendsTo(core.poll(100, log), 'a');
    expect(beats).toHaveLength(1);
    expect(beats[0]).toMatchObject({ prev_index: 3, prev_term: 1, entries: [], commit: 3 });
  });

  it('tells an idle follower about a new commit at once, without waiting for the heartbeat', () => {
    const { core, log } = leaderWith(5, { heartbeat_ms: 1000 });
    const sent = core.poll(0, log);
    ackAll(core, sent, 'a', 1); // commit 5 thanks to a; b answered nothing yet
    ackAll(core, sent, 'b', 1);
    expect(appendsTo(core.poll(2, log), 'a')).toEqual([]); // commit 5 is not persisted yet: not told
    core.onCommitPersisted(5);
    const update = core.poll(2, log);
    expect(appendsTo(update, 'a')).toEqual([expect.objectContaining({ prev_index: 5, entries: [], commit: 5 })]);
    expect(appendsTo(update, 'b')).toEqual([expect.objectContaining({ prev_index: 5, entries: [], commit: 5 })]);
    expect(core.poll(3, log)).toEqual([]);
  });
});

describe('LeaderCore: health', () => {
  it('goes unknown -> healthy on the first answer with a small lag', () => {
    const { core, log } = leaderWith(3);
    expect(core.follower('a').health).toBe('unknown');
    ackAll(core, core.poll(0, log), 'a', 1);
    expect(core.follower('a').health).toBe('healthy');
  });

  it('is lagging from failures_lagging consecutive failures, and healthy again on an answer', () => {
    const { core, log } = leaderWith(3, { failures_lagging: 2, retry_backoff_ms_max: 1 });
    catchUp(core, log, 'a', 0);
    core.poll(200, log); // heartbeat
    core.onAppendFailed('a', core.follower('a').epoch, 201);
    expect(core.follower('a').health).toBe('healthy');
    core.poll(300, log);
    core.onAppendFailed('a', core.follower('a').epoch, 301);
    expect(core.follower('a').health).toBe('lagging');
    const probe = appendsTo(core.poll(400, log), 'a');
    core.onAppendResult('a', (probe[0] as (typeof probe)[0]).epoch, ok(3), 401, 1);
    expect(core.follower('a').health).toBe('healthy');
  });

  it('is lagging after silence_lagging_ms without a successful answer', () => {
    const { core, log } = leaderWith(3, { silence_lagging_ms: 500, heartbeat_ms: 10_000 });
    catchUp(core, log, 'a', 0);
    core.poll(500, log);
    expect(core.follower('a').health).toBe('healthy');
    core.poll(501, log);
    expect(core.follower('a').health).toBe('lagging');
  });

  it('is lagging when more than lag_healthy_max entries behind', () => {
    const { core, log } = leaderWith(10, { lag_healthy_max: 3 });
    core.onAppendResult('a', 0, ok(7), 0, 1);
    core.poll(0, log);
    expect(core.follower('a').health).toBe('healthy'); // lag 3
    core.onAppendResult('b', 0, ok(10), 0, 1);
    core.onLocalAppend(11);
    log.append(logOf(ones(11)).entries(11, 12, 100));
    core.poll(1, log);
    expect(core.follower('a').health).toBe('lagging'); // lag 4
  });

  it('is desynced when more than resync_threshold behind the commit and not keeping up', () => {
    const { core, log } = leaderWith(40, { resync_threshold: 10, heartbeat_ms: 10 });
    catchUp(core, log, 'b', 0); // commit 40
    core.onAppendResult('a', 0, ok(29), 0, 1); // 11 behind
    expect(core.follower('a').health).toBe('lagging'); // it just answered: keeping up
    core.poll(1, log);
    core.onAppendFailed('a', core.follower('a').epoch, 2);
    expect(core.follower('a').health).toBe('desynced');
    expect(core.follower('a').needs_snapshot).toBe(true);
  });

  it('at exactly resync_threshold behind it is not desynced', () => {
    const { core, log } = leaderWith(40, { resync_threshold: 10 });
    catchUp(core, log, 'b', 0);
    core.onAppendResult('a', 0, ok(30), 0, 1);
    core.poll(1, log);
    core.onAppendFailed('a', core.follower('a').epoch, 2);
    expect(core.follower('a').health).toBe('lagging');
  });

  it('is desynced when its answer shows it more than resync_threshold behind the commit', () => {
    const { core, log } = leaderWith(40, { resync_threshold: 10 });
    catchUp(core, log, 'b', 0);
    core.poll(1, log);
    core.onAppendResult('a', core.follower('a').epoch, reject(20), 2, 1);
    expect(core.follower('a').health).toBe('desynced');
  });

  it('is desynced when more than 10 x resync_threshold behind even while answering', () => {
    const { core, log } = leaderWith(200, { resync_threshold: 10 });
    catchUp(core, log, 'b', 0);
    core.onAppendResult('a', 0, ok(100), 0, 1);
    expect(core.follower('a').health).toBe('lagging'); // 100 behind, answering
    const { core: c2, log: l2 } = leaderWith(200, { resync_threshold: 10 });
    catchUp(c2, l2, 'b', 0);
    c2.onAppendResult('a', 0, ok(89), 0, 1);
    expect(c2.follower('a').health).toBe('desynced'); // 111 behind
  });

  it('is not desynced by lag the commit has not reached: a snapshot could not help', () => {
    // Both followers were away while writes with concern `leader` piled up: commit is 0.
    const { core, log } = leaderWith(500, { resync_threshold: 10 });
    core.poll(0, log);
    core.onAppendResult('a', core.follower('a').epoch, reject(0), 1, 1);
    core.onAppendFailed('b', core.follower('b').epoch, 1);
    expect(core.follower('a').health).toBe('lagging');
    expect(core.follower('b').health).not.toBe('desynced');
    expect(appendsTo(core.poll(2, log), 'a')[0]?.prev_index).toBe(0);
  });

  it('is desynced when the next entry it needs was compacted, and gets a snapshot', () => {
    const log = logOf(ones(30));
    const { core } = leaderWith(30, {}, log);
    catchUp(core, log, 'b', 0);
    core.onAppendResult('a', 0, ok(5), 0, 1);
    core.onAppendFailed('a', core.follower('a').epoch, 1);
    log.compactTo(20);
    const actions = core.poll(5000, log);
    expect(actions.filter((a) => a.kind === 'snapshot' && a.follower === 'a')).toHaveLength(1);
    expect(core.follower('a').health).toBe('desynced');
  });

  it('requestSnapshot desyncs a healthy follower; onSnapshotResult(ok) makes it healthy and resumes appends after the snapshot', () => {
    const log = logOf(ones(20));
    const { core } = leaderWith(20, { heartbeat_ms: 1000 }, log);
    catchUp(core, log, 'a', 0);
    catchUp(core, log, 'b', 0);
    core.requestSnapshot('a');
    const snap = core.poll(1, log).filter((a) => a.kind === 'snapshot');
    expect(snap).toEqual([{ kind: 'snapshot', follower: 'a', epoch: expect.any(Number) as number, repair: true, reason: 'resync forced by an operator' }]);
    expect(core.follower('a').health).toBe('desynced');
    expect(appendsTo(core.poll(2, log), 'a')).toEqual([]); // appends pause during the transfer
    core.onLocalAppend(21);
    log.append(logOf(ones(21)).entries(21, 22, 100));
    core.onSnapshotResult('a', (snap[0] as (typeof snap)[0]).epoch, true, 20, 3);
    expect(core.follower('a').health).toBe('healthy');
    expect(appendsTo(core.poll(4, log), 'a')).toEqual([expect.objectContaining({ prev_index: 20, entries: [expect.objectContaining({ index: 21 })] })]);
  });

  it('keeps needed entries: neededIndex ignores desynced followers', () => {
    const { core, log } = leaderWith(30);
    catchUp(core, log, 'b', 0);
    core.onAppendResult('a', 0, ok(12), 0, 1);
    expect(core.neededIndex()).toBe(13);
    core.requestSnapshot('a');
    expect(core.neededIndex()).toBe(31);
  });
});

describe('LeaderCore: snapshot limits and backoff', () => {
  it('doubles the pause after each failed snapshot, from snapshot_backoff_ms_min up to snapshot_backoff_ms_max', () => {
    const { core, log } = leaderWith(5, { snapshot_backoff_ms_min: 50, snapshot_backoff_ms_max: 150 });
    core.requestSnapshot('a');
    let now = 0;
    const pauses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const snap = core.poll(now, log).filter((a) => a.kind === 'snapshot' && a.follower === 'a');
      expect(snap).toHaveLength(1);
      core.onSnapshotResult('a', (snap[0] as (typeof snap)[0]).epoch, false, 0, now);
      const retry = core.follower('a').snapshot_retry_at_ms;
      pauses.push(retry - now);
      expect(core.poll(retry - 1, log).some((a) => a.kind === 'snapshot' && a.follower === 'a')).toBe(false);
      now = retry;
    }
    expect(pauses).toEqual([50, 100, 150, 150]);
    expect(core.follower('a').health).toBe('desynced');
  });

  it('sends at most snapshots_inflight_max snapshots at once over all followers', () => {
    const { core, log } = leaderWith(5, { snapshots_inflight_max: 1 });
    core.requestSnapshot('a');
    core.requestSnapshot('b');
    const first = core.poll(0, log).filter((a) => a.kind === 'snapshot');
    expect(first).toHaveLength(1);
    expect(core.poll(1, log).filter((a) => a.kind === 'snapshot')).toEqual([]);
    core.onSnapshotResult(first[0]?.follower ?? '', first[0]?.epoch ?? 0, true, 5, 2);
    const second = core.poll(3, log).filter((a) => a.kind === 'snapshot');
    expect(second.map((a) => a.follower)).toEqual([first[0]?.follower === 'a' ? 'b' : 'a']);

    const two = leaderWith(5, { snapshots_inflight_max: 2 });
    two.core.requestSnapshot('a');
    two.core.requestSnapshot('b');
    expect(two.core.poll(0, two.log).filter((a) => a.kind === 'snapshot')).toHaveLength(2);
  });

  it('waits for appends in flight to finish before it starts a snapshot', () => {
    const { core, log } = leaderWith(5);
    const sent = appendsTo(core.poll(0, log), 'a');
    core.requestSnapshot('a');
    expect(core.poll(1, log).filter((a) => a.kind === 'snapshot')).toEqual([]);
    core.onAppendFailed('a', (sent[0] as (typeof sent)[0]).epoch, 2);
    expect(core.poll(3, log).filter((a) => a.kind === 'snapshot')).toHaveLength(1);
  });
});

describe('LeaderCore: options are checked and used', () => {
  it('refuses options that cannot work', () => {
    expect(() => new LeaderCore(leaderOptions({ batch_entries_max: 0 }), { last_index: 0, commit_index: 0 })).toThrow(RaftInvariantError);
    expect(() => new LeaderCore(leaderOptions({ inflight_batches_max: 0 }), { last_index: 0, commit_index: 0 })).toThrow(RaftInvariantError);
    expect(() => new LeaderCore(leaderOptions({ resync_threshold: 0 }), { last_index: 0, commit_index: 0 })).toThrow(RaftInvariantError);
    expect(() => new LeaderCore(leaderOptions({ followers: [], quorum_acks: 1 }), { last_index: 0, commit_index: 0 })).toThrow(RaftInvariantError);
  });

  it('uses the given thresholds, not defaults: the same history reads differently under other options', () => {
    const run = (over: Partial<LeaderOptions>): string => {
      const { core, log } = leaderWith(50, over);
      catchUp(core, log, 'b', 0);
      core.onAppendResult('a', 0, ok(44), 0, 1); // 6 behind
      core.poll(0, log);
      core.onAppendFailed('a', core.follower('a').epoch, 10);
      core.poll(20, log);
      return core.follower('a').health;
    };
    expect(run({ lag_healthy_max: 6, failures_lagging: 2 })).toBe('healthy');
    expect(run({ lag_healthy_max: 5, failures_lagging: 2 })).toBe('lagging');
    expect(run({ lag_healthy_max: 6, failures_lagging: 1 })).toBe('lagging');
    expect(run({ lag_healthy_max: 6, failures_lagging: 2, silence_lagging_ms: 19 })).toBe('lagging');
    expect(run({ resync_threshold: 5 })).toBe('desynced');
  });
});

describe('LeaderCore: what is persisted, applied and acknowledged (ready)', () => {
  it('applies and acknowledges quorum writes only once the commit index is persisted and applied', () => {
    const { core, log } = leaderWith(4);
    ackAll(core, core.poll(0, log), 'a', 1);
    expect(core.commitIndex()).toBe(4);
    const rd = core.ready(2, log);
    expect(rd.persist_commit).toBe(4);
    expect(rd.apply_to).toBe(0);
    expect(core.ackIndex('leader')).toBe(4);
    expect(core.ackIndex('quorum')).toBe(0);
    core.onCommitPersisted(4);
    expect(core.ready(3, log)).toMatchObject({ persist_commit: null, apply_to: 4 });
    expect(core.ackIndex('quorum')).toBe(0); // not applied yet
    core.onApplied(4);
    expect(core.ackIndex('quorum')).toBe(4);
    expect(core.ackIndex('all')).toBe(0); // b holds nothing
  });

  it('refuses to apply past the persisted commit (a broken driver is a broken invariant)', () => {
    const { core } = leaderWith(4);
    expect(() => core.onApplied(1)).toThrow(RaftInvariantError);
  });

  it('starts a term above a follower that answers with a higher term, sends nothing until then, and opens it on a claim', () => {
    const { core, log } = leaderWith(3);
    const sent = core.poll(0, log);
    const a = appendsTo(sent, 'a')[0] as (typeof sent)[0];
    core.onAppendRefused('a', a.epoch, 1, { status: 409, code: 'stale_term', term: 1001 });
    const rd = core.ready(2, log);
    expect(rd.start_term).toBe(1002);
    expect(rd.sends).toEqual([]);
    core.onTermStarted(1002);
    expect(core.ready(2, log).open_term).toBeNull();
    core.onAppendResult('b', core.follower('b').epoch, { ...ok(3), claimed_term: 1002 }, 2, 1);
    expect(core.ready(2, log).open_term).toBe(1002);
    core.onTermOpened(1002, 4);
    log.append(entries(3, [1002]));
    core.onLocalAppend(4);
    expect(core.ready(3, log).open_term).toBeNull();
  });

  it('resyncs (with a repair snapshot) a follower whose appends are refused again and again at one index', () => {
    const { core, log } = leaderWith(3, { refusals_resync: 3, retry_backoff_ms_max: 1 });
    for (let i = 0; i < 3; i++) {
      const now = 200 * i;
      const sent = appendsTo(core.poll(now, log), 'a');
      expect(sent.length).toBeGreaterThan(0);
      core.onAppendRefused('a', (sent[0] as (typeof sent)[0]).epoch, now + 1, { status: 500, code: 'internal' });
    }
    const p = core.follower('a');
    expect(p.health).toBe('desynced');
    expect(p.desync_reason).toMatch(/refused 3 times at index 1/);
    expect(core.poll(100, log).filter((x) => x.kind === 'snapshot')).toEqual([expect.objectContaining({ follower: 'a', repair: true })]);
  });

  it('resyncs a follower that answers diverged, with a repair snapshot', () => {
    const { core, log } = leaderWith(3);
    const sent = appendsTo(core.poll(0, log), 'a');
    core.onAppendResult('a', (sent[0] as (typeof sent)[0]).epoch, { success: false, term: 1, match_index: 0, last_index: 3, reason: 'diverged', diverged_at: 2 }, 1, 1);
    expect(core.follower('a')).toMatchObject({ health: 'desynced', repair: true, desync_reason: expect.stringMatching(/index 2 differs/) as string });
  });

  it('treats a follower that reports a new storage id as empty: match 0 and a snapshot', () => {
    const { core, log } = leaderWith(5);
    catchUp(core, log, 'a', 0);
    const p = core.follower('a');
    core.onAppendResult('a', p.epoch, { ...ok(5), storage_id: 's1' }, 1, 1);
    expect(p.match_index).toBe(5);
    core.onAppendResult('a', p.epoch, { ...ok(5), storage_id: 's2' }, 2, 1);
    expect(p).toMatchObject({ match_index: 0, health: 'desynced', needs_snapshot: true });
    expect(p.desync_reason).toMatch(/storage is new/);
  });

  it('after a snapshot install, counts only the snapshot index: answers to older sends no longer raise the match', () => {
    const { core, log } = leaderWith(20, { heartbeat_ms: 1000 });
    const early = appendsTo(core.poll(0, log), 'a'); // entries 1..20 in flight to a
    core.requestSnapshot('a');
    core.onAppendFailed('a', (early[0] as (typeof early)[0]).epoch, 1);
    const snap = core.poll(2, log).filter((x) => x.kind === 'snapshot');
    expect(snap).toHaveLength(1);
    core.onSnapshotResult('a', (snap[0] as (typeof snap)[0]).epoch, true, 10, 3);
    expect(core.follower('a').match_index).toBe(10);
    // A delayed answer to the send from before the install: the follower may have dropped those entries.
    for (const a of early) core.onAppendResult('a', a.epoch, ok(matchOf(a)), 4, 1);
    expect(core.follower('a').match_index).toBe(10);
    expect(core.commitIndex()).toBe(10);
  });

  it('compacts only what is applied, what no healthy follower needs, keeping retain entries', () => {
    const { core, log } = leaderWith(30);
    catchUp(core, log, 'a', 0);
    core.onAppendResult('b', core.follower('b').epoch, ok(12), 0, 1);
    core.onCommitPersisted(core.commitIndex());
    core.onApplied(25);
    expect(core.compactionTarget(log, 0)).toBe(12);
    expect(core.compactionTarget(log, 25)).toBe(5);
  });
});

describe('LeaderCore: acknowledgements follow what a quorum holds now', () => {
  it('does not acknowledge a committed write with quorum once the follower that held it lost it, until it is replicated again', () => {
    const { core, log } = leaderWith(10);
    const sent = appendsTo(core.poll(0, log), 'a');
    for (const a of sent) core.onAppendResult('a', a.epoch, ok(matchOf(a)), 1, 1);
    expect(core.commitIndex()).toBe(10);
    // a restarts without its WAL: its log ends at 4 now, and it says so.
    const p = core.follower('a');
    core.onAppendResult('a', p.epoch, reject(4), 2, 1);
    core.onCommitPersisted(10);
    core.onApplied(10);
    expect(core.commitIndex()).toBe(10); // commit never goes back
    expect(core.ackIndex('quorum')).toBe(4);
    // Entries 5..10 sent again and acknowledged: acknowledged with quorum.
    for (const a of appendsTo(core.poll(3, log), 'a')) core.onAppendResult('a', a.epoch, ok(matchOf(a)), 4, 1);
    expect(core.ackIndex('quorum')).toBe(10);
  });
});

describe('LeaderCore: transferReadiness', () => {
  it('is ready only once the target holds the whole log, committed, durable and applied here', () => {
    const { core, log } = leaderWith(5);
    expect(core.transferReadiness('c', 5)).toEqual({ ready: false, reason: 'c is not a follower of this leader' });
    expect(core.transferReadiness('a', 5)).toMatchObject({ ready: false });
    catchUp(core, log, 'a', 0);
    // Committed (a and the leader hold it) but the commit is not durable nor applied yet.
    expect(core.transferReadiness('a', 5)).toEqual({ ready: false, reason: 'committed to 0 of 5' });
    core.onCommitPersisted(5);
    expect(core.transferReadiness('a', 5)).toEqual({ ready: false, reason: 'applied to 0 of 5' });
    core.onApplied(5);
    expect(core.transferReadiness('a', 5)).toEqual({ ready: true });
    // b holds nothing: not ready to lead.
    expect(core.transferReadiness('b', 5)).toEqual({ ready: false, reason: 'b holds 0 of 5' });
    // A write proposed but not durable on the leader yet keeps it from handing over.
    expect(core.transferReadiness('a', 6)).toEqual({ ready: false, reason: 'the log is durable to 5 of 6' });
  });

  it('is not ready while the target needs a snapshot', () => {
    const { core, log } = leaderWith(3);
    catchUp(core, log, 'a', 0);
    core.onCommitPersisted(3);
    core.onApplied(3);
    core.requestSnapshot('a', 'forced');
    expect(core.transferReadiness('a', 3)).toMatchObject({ ready: false });
  });
});
