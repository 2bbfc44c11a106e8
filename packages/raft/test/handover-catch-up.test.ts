// handoverCatchUp: what an old leader sends a handover target that lost the tail of the log it had
// matched, so that it can take over.
import { describe, expect, it } from 'vitest';
import { handoverCatchUp, validateAppend } from '../src/index.ts';
import { logOf } from './helpers.ts';

const TERMS = [1, 1, 2, 2, 3];
const fence = { term: 3, last_index: 5 };

describe('handoverCatchUp', () => {
  it('sends the entries after where the target holds, in the old term, committing what it carries', () => {
    const log = logOf(TERMS);
    const a = handoverCatchUp(log, fence, 2, 1000, 1 << 20);
    expect(a).not.toBeNull();
    expect(a?.term).toBe(3);
    expect(a?.prev_index).toBe(2);
    expect(a?.prev_term).toBe(1);
    expect(a?.entries.map((e) => e.index)).toEqual([3, 4, 5]);
    expect(a?.leader_commit).toBe(5);
    // A well-formed append, as a follower checks it.
    expect(validateAppend({ cluster_id: 'c', leader_id: 'old', ...(a as NonNullable<typeof a>) })).toBeNull();
  });

  it('from the start of a log that never compacted: prev 0/0', () => {
    const a = handoverCatchUp(logOf(TERMS), fence, 0, 1000, 1 << 20);
    expect(a?.prev_index).toBe(0);
    expect(a?.prev_term).toBe(0);
    expect(a?.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5]);
  });

  it('sends at most entries_max entries, and commits only those', () => {
    const a = handoverCatchUp(logOf(TERMS), fence, 1, 2, 1 << 20);
    expect(a?.entries.map((e) => e.index)).toEqual([2, 3]);
    expect(a?.leader_commit).toBe(3);
  });

  it('never sends past the fence, even when the log goes on', () => {
    const a = handoverCatchUp(logOf([...TERMS, 3, 3]), fence, 3, 1000, 1 << 20);
    expect(a?.entries.map((e) => e.index)).toEqual([4, 5]);
    expect(a?.leader_commit).toBe(5);
  });

  it('sends nothing when the target holds everything, or says nonsense', () => {
    const log = logOf(TERMS);
    expect(handoverCatchUp(log, fence, 5, 1000, 1 << 20)).toBeNull();
    expect(handoverCatchUp(log, fence, 6, 1000, 1 << 20)).toBeNull();
    expect(handoverCatchUp(log, fence, -1, 1000, 1 << 20)).toBeNull();
    expect(handoverCatchUp(log, fence, 2.5, 1000, 1 << 20)).toBeNull();
    // A fence past this log's end: not this log's handover.
    expect(handoverCatchUp(log, { term: 3, last_index: 9 }, 2, 1000, 1 << 20)).toBeNull();
  });

  it('sends nothing when the entries after the target were compacted here; from the compaction point it does', () => {
    const log = logOf(TERMS, { compactedTo: 3 });
    expect(handoverCatchUp(log, fence, 1, 1000, 1 << 20)).toBeNull();
    expect(handoverCatchUp(log, fence, 2, 1000, 1 << 20)).toBeNull();
    const a = handoverCatchUp(log, fence, 3, 1000, 1 << 20);
    expect(a?.prev_term).toBe(2);
    expect(a?.entries.map((e) => e.index)).toEqual([4, 5]);
  });
});
