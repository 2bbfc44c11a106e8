// Rules of LeaderCore that the mutation run found unchecked (TESTING.md): nothing is sent in a
// term before the driver started it, no entry before a follower held its claim, a follower's match index never goes back on a late answer,
// the persisted commit never goes back, and calls that would break an invariant are refused.
import { describe, expect, it } from 'vitest';
import { LeaderCore, RaftInvariantError } from '../src/index.ts';
import { appendsTo, leaderOptions, logOf, matchOf, ok, reject } from './helpers.ts';

function leader(n: number): { core: LeaderCore; log: ReturnType<typeof logOf> } {
  const log = logOf(new Array<number>(n).fill(1));
  const core = new LeaderCore(leaderOptions(), { last_index: 0, commit_index: 0 });
  core.onLocalAppend(log.lastIndex());
  return { core, log };
}

describe('LeaderCore rules', () => {
  it('starts a term, sends in it without creating entries, and opens it only once a follower answers holding it', () => {
    const { core, log } = leader(5);
    const next = core.term() + 1;
    core.requireTerm(next);
    const starting = core.ready(0, log);
    expect([starting.start_term, starting.open_term, starting.sends]).toEqual([next, null, []]);
    core.onTermStarted(next);
    expect(core.termOpen()).toBe(false);
    // Claiming: the existing entries and heartbeats go out, nothing may be created in the term.
    const claiming = core.ready(0, log);
    expect([claiming.start_term, claiming.open_term]).toEqual([null, null]);
    const sent = appendsTo(claiming.sends, 'a');
    expect(sent.length).toBeGreaterThan(0);
    expect(() => core.onTermOpened(next, log.lastIndex() + 1)).toThrow(/opened before a follower held it/);
    // An answer without the claim (an older follower, or one from before the term) opens nothing.
    core.onAppendResult('a', (sent[0] as (typeof sent)[0]).epoch, ok(matchOf(sent[0] as (typeof sent)[0])), 1, 1);
    expect(core.ready(1, log).open_term).toBeNull();
    core.onAppendResult('b', 0, { ...ok(0), claimed_term: next - 1 }, 1, 1);
    expect(core.ready(1, log).open_term).toBeNull();
    core.onAppendResult('b', 0, { ...reject(0), claimed_term: next }, 2, 1);
    const open = core.ready(2, log);
    expect([open.open_term, open.sends]).toEqual([next, []]);
    core.onTermOpened(next, log.lastIndex() + 1);
    expect(core.termOpen()).toBe(true);
    expect(core.ready(3, log).open_term).toBeNull();
  });

  it('opens a started term without a claim when it has no followers', () => {
    const core = new LeaderCore(leaderOptions({ followers: [], quorum_acks: 0 }), { last_index: 3, commit_index: 3 });
    core.requireTerm(2);
    core.onTermStarted(2);
    expect(core.ready(0, logOf([1, 1, 1])).open_term).toBe(2);
    core.onTermOpened(2, 4);
    expect(core.termOpen()).toBe(true);
  });

  it('is not open while a newer term must be started, even with the claim of the current one held', () => {
    const { core, log } = leader(5);
    const t = core.term() + 1;
    core.requireTerm(t);
    core.onTermStarted(t);
    core.onAppendResult('a', 0, { ...ok(0), claimed_term: t }, 1, 1);
    core.requireTerm(t + 2);
    expect(core.termToOpen()).toBeNull();
    expect(core.ready(2, log)).toMatchObject({ start_term: t + 2, open_term: null, sends: [] });
    core.onTermStarted(t + 2);
    core.onAppendResult('a', 0, { ...ok(0), claimed_term: t + 2 }, 3, 1);
    core.onTermOpened(t + 2, 6);
    expect(core.termOpen()).toBe(true);
    core.requireTerm(t + 3);
    expect(core.termOpen()).toBe(false);
  });

  it('starts over when a follower shows a newer term while claiming: the claim of the old one does not open the new', () => {
    const { core, log } = leader(5);
    const t = core.term() + 1;
    core.requireTerm(t);
    core.onTermStarted(t);
    core.onAppendRefused('a', 0, 1, { status: 409, code: 'stale_term', term: t + 3 });
    expect(core.ready(1, log).start_term).toBe(t + 4);
    core.onTermStarted(t + 4);
    core.onAppendResult('b', 0, { ...ok(0), claimed_term: t }, 2, 1);
    expect(core.ready(2, log).open_term).toBeNull();
    core.onAppendResult('b', 0, { ...ok(0), claimed_term: t + 4 }, 3, 1);
    expect(core.ready(3, log).open_term).toBe(t + 4);
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
    core.onTermStarted(t);
    core.onAppendResult('b', 0, { ...ok(0), claimed_term: t }, 2, 1);
    expect(() => core.onTermOpened(t + 1, 5)).toThrow(RaftInvariantError);
    core.onTermOpened(t, 5);
    expect(() => core.onTermOpened(t, 6)).toThrow(RaftInvariantError);
    expect(() => core.onTermStarted(t)).toThrow(new RegExp(`term ${t} not above ${t}`));
    core.onTermStarted(t + 1);
    core.onAppendResult('b', 0, { ...ok(0), claimed_term: t + 1 }, 3, 1);
    expect(() => core.onTermOpened(t + 1, 4)).toThrow(/term \d+ opened at 4, not above the commit 4/);
    expect(core.term()).toBe(t + 1);
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
    core.onTermStarted(t);
    expect(core.readIndex()).toBe(5);
    core.onAppendResult('a', 0, { ...ok(0), claimed_term: t }, 1, 1);
    core.onTermOpened(t, 6);
    core.onLocalAppend(6);
    // Its own entries do not move it: this leader applies them before acknowledging them.
    core.onLocalAppend(9);
    expect(core.readIndex()).toBe(5);
    core.requireTerm(t + 5);
    core.onTermStarted(t + 5);
    core.onAppendResult('a', 0, { ...ok(0), claimed_term: t + 5 }, 2, 1);
    expect(core.readIndex()).toBe(5);
    // A term opened at or below the persisted commit is a broken invariant.
    expect(() => core.onTermOpened(t + 5, 2)).toThrow(/opened at 2, not above the commit 2/);
  });
});
