// The term a follower persists from an append (provenTerm): the request's term only once an entry
// of that term is in the request or at prev_index. An append of the leader's new life that still
// carries only entries of older terms proves nothing yet (the mutation run found that case untested).
import { describe, expect, it } from 'vitest';
import { decideAppend, decideSnapshot, seenTerm } from '../src/index.ts';
import type { AppendDecision, FollowerView, MemoryLog } from '../src/index.ts';
import { entries, logOf, request } from './helpers.ts';

function view(log: MemoryLog, current_term: number): FollowerView {
  return { log, current_term, claimed_term: 0, commit_index: 0, leader_id: 'leader', designated: null };
}

function accepted(d: AppendDecision): Extract<AppendDecision, { kind: 'accept' }> {
  if (d.kind !== 'accept') throw new Error(`expected accept, got ${JSON.stringify(d)}`);
  return d;
}

describe('the term a follower persists', () => {
  it('stays the old one for a newer-term append whose entries are all of older terms', () => {
    const d = accepted(decideAppend(view(logOf([1]), 1), request({ term: 4, prev_index: 1, prev_term: 1, entries: entries(1, [1, 2]) })));
    expect(d.append.map((e) => e.index)).toEqual([2, 3]);
    expect(d.term).toBe(1);
  });

  it('becomes the request term once one of its entries has it, even after older ones', () => {
    const d = accepted(decideAppend(view(logOf([1]), 1), request({ term: 4, prev_index: 1, prev_term: 1, entries: entries(1, [2, 4]) })));
    expect(d.term).toBe(4);
  });

  it('stays what it is for an append of its own term', () => {
    const d = accepted(decideAppend(view(logOf([1, 3]), 3), request({ term: 3, prev_index: 2, prev_term: 3, entries: entries(2, [3]) })));
    expect(d.term).toBe(3);
  });
});

describe('the term a follower claims for a leader (claimed_term)', () => {
  it('records a newer request term before answering, even on a rejection, and the answer carries it', () => {
    const gap = decideAppend(view(logOf([1, 1]), 1), request({ term: 3, prev_index: 5, prev_term: 1, entries: [] }));
    expect(gap).toMatchObject({ kind: 'reject', claim: 3, response: { reason: 'gap', claimed_term: 3 } });
    const mismatch = decideAppend(view(logOf([1, 1]), 1), request({ term: 3, prev_index: 2, prev_term: 2, entries: [] }));
    expect(mismatch).toMatchObject({ kind: 'reject', claim: 3, response: { reason: 'mismatch', claimed_term: 3 } });
    const d = accepted(decideAppend(view(logOf([1, 1]), 1), request({ term: 3, prev_index: 2, prev_term: 1, entries: [] })));
    // Claimed, not proven: no entry of term 3 yet, so the current term stays.
    expect([d.claim, d.term, d.response.claimed_term]).toEqual([3, 1, 3]);
  });

  it('claims nothing again for a request of the term it claimed', () => {
    const d = accepted(decideAppend({ ...view(logOf([1, 1]), 1), claimed_term: 3 }, request({ term: 3, prev_index: 2, prev_term: 1, entries: [] })));
    expect(d.claim).toBeNull();
    expect(d.response.claimed_term).toBe(3);
  });

  it('refuses a request or snapshot of a term below the one it claimed as stale, though no entry of that term came', () => {
    const v = { ...view(logOf([1, 1]), 1), claimed_term: 4 };
    expect(decideAppend(v, request({ term: 3, prev_index: 2, prev_term: 1, entries: entries(2, [3]) }))).toMatchObject({ kind: 'invalid', status: 409, code: 'stale_term' });
    expect(decideSnapshot(v, { index: 2, term: 1, leader_term: 3, repair: false })).toMatchObject({ kind: 'refuse', code: 'stale_term' });
    expect(seenTerm(v)).toBe(4);
  });
});
