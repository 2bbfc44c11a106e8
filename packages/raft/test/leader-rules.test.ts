// Rules of LeaderCore that the mutation run found unchecked (TESTING.md): nothing is sent in a
// term before the driver opened it, a follower's match index never goes back on a late answer,
// the persisted commit never goes back, and calls that would break an invariant are refused.
import { describe, expect, it } from 'vitest';
import { LeaderCore, RaftInvariantError } from '../src/index.ts';
import { appendsTo, leaderOptions, logOf, matchOf, ok } from './helpers.ts';

function leader(n: number): { core: LeaderCore; log: ReturnType<typeof logOf> } {
  const log = logOf(new Array<number>(n).fill(1));
  const core = new LeaderCore(leaderOptions(), { last_index: 0, commit_index: 0 });
  core.onLocalAppend(log.lastIndex());
  return { core, log };
}

describe('LeaderCore rules', () => {
  it('sends nothing while a term it must open is not yet open, and sends once it is', () => {
    const { core, log } = leader(5);
    const next = core.term() + 1;
    core.requireTerm(next);
    const waiting = core.ready(0, log);
    expect(waiting.open_term).toBe(next);
    expect(waiting.sends).toEqual([]);
    expect(core.ready(500, log).sends).toEqual([]);
    core.onTermOpened(next, log.lastIndex() + 1);
    const open = core.ready(1000, log);
    expect(open.open_term).toBeNull();
    expect(appendsTo(open.sends, 'a').length).toBeGreaterThan(0);
    expect(appendsTo(open.sends, 'b').length).toBeGreaterThan(0);
  });

  it('keeps a follower at the highest match it answered when a lower answer arrives late', () => {
    const { core, log } = leader(10);
    const sent = appendsTo(core.poll(0, log), 'a');
    expect(sent.length).toBeGreaterThan(0);
    const last = sent[sent.length - 1];
    if (last === undefined) throw new Error('no append');
    core.onAppendResult('a', last.epoch, ok(matchOf(last)), 1, 1);
    expect(core.follower('a').match_index).toBe(10);
    // An answer for an earlier, shorter append of the same epoch, delivered after.
    core.onAppendResult('a', last.epoch, ok(4), 2, 1);
    expect(core.follower('a').match_index).toBe(10);
    expect(core.follower('a').next_index).toBeGreaterThan(10);
    expect(core.commitIndex()).toBe(10);
  });

  it('never moves the persisted commit back', () => {
    const { core, log } = leader(6);
    for (const a of appendsTo(core.poll(0, log), 'a')) core.onAppendResult('a', a.epoch, ok(matchOf(a)), 1, 1);
    expect(core.commitIndex()).toBe(6);
    core.onCommitPersisted(6);
    core.onCommitPersisted(3);
    expect(core.persistedCommitIndex()).toBe(6);
  });

  it('refuses a persisted commit beyond the commit, an apply beyond it or backwards, and a term not above the current one', () => {
    const { core, log } = leader(6);
    for (const a of appendsTo(core.poll(0, log), 'a')) core.onAppendResult('a', a.epoch, ok(matchOf(a)), 1, 1);
    expect(() => core.onCommitPersisted(7)).toThrow(/persisted commit 7 beyond commit 6/);
    core.onCommitPersisted(4);
    expect(() => core.onApplied(5)).toThrow(/applied 5 beyond the persisted commit 4/);
    core.onApplied(4);
    expect(() => core.onApplied(3)).toThrow(/applied index went back 3 < 4/);
    core.onApplied(4);
    const t = core.term() + 2;
    core.onTermOpened(t, 5);
    expect(() => core.onTermOpened(t, 6)).toThrow(RaftInvariantError);
    expect(() => core.onTermOpened(t - 1, 6)).toThrow(new RegExp(`term ${t - 1} not above ${t}`));
    expect(() => core.onTermOpened(t + 1, 4)).toThrow(/term \d+ opened at 4, not above the commit 4/);
    expect(core.term()).toBe(t);
  });

  it('refuses a durable index that goes back and options that cannot work', () => {
    const { core } = leader(6);
    expect(() => core.onLocalAppend(5)).toThrow(/durable index went back 5 < 6/);
    expect(() => new LeaderCore(leaderOptions({ followers: [], quorum_acks: 1 }), { last_index: 0, commit_index: 0 })).toThrow(/quorum needs followers/);
    expect(() => new LeaderCore(leaderOptions({ batch_entries_max: 0 }), { last_index: 0, commit_index: 0 })).toThrow(/batch_entries_max/);
    expect(() => new LeaderCore(leaderOptions({ inflight_batches_max: 0 }), { last_index: 0, commit_index: 0 })).toThrow(/inflight_batches_max/);
    expect(() => new LeaderCore(leaderOptions({ resync_threshold: 0 }), { last_index: 0, commit_index: 0 })).toThrow(/resync_threshold/);
    expect(() => new LeaderCore(leaderOptions(), { last_index: 3, commit_index: 4 })).toThrow(/commit beyond last index at start/);
    // The edges that are valid.
    expect(() => new LeaderCore(leaderOptions({ batch_entries_max: 1, inflight_batches_max: 1, resync_threshold: 1 }), { last_index: 4, commit_index: 4 })).not.toThrow();
  });

  it('serves reads once it has applied what its log held when it began to lead, term open or not', () => {
    const core = new LeaderCore(leaderOptions(), { last_index: 5, commit_index: 2 });
    // Before its NOOP is durable (a full disk may keep it from writing one): what it held at start.
    expect(core.readIndex()).toBe(5);
    const t = core.term() + 1;
    core.requireTerm(t);
    expect(core.readIndex()).toBe(5);
    core.onTermOpened(t, 6);
    core.onLocalAppend(6);
    // Its own entries do not move it: this leader applies them before acknowledging them.
    core.onLocalAppend(9);
    expect(core.readIndex()).toBe(5);
    core.requireTerm(t + 5);
    expect(core.readIndex()).toBe(5);
    // A term opened at or below the persisted commit is a broken invariant.
    expect(() => core.onTermOpened(t + 5, 2)).toThrow(/opened at 2, not above the commit 2/);
  });
});
