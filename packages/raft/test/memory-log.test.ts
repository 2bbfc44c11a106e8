// MemoryLog at its edges: the snapshot boundary, the last index, the byte limit of entries(), and
// the invariants that refuse an append out of order, a truncation into the snapshot and a
// compaction past the end. The unit tests and the leader's tests read the log through these
// methods, so an off-by-one here would hide one in the code under test.
import { describe, expect, it } from 'vitest';
import { RaftInvariantError } from '../src/index.ts';
import { entries, logOf } from './helpers.ts';

describe('MemoryLog', () => {
  it('reads terms and checksums from the snapshot index to the last index, and nothing outside', () => {
    const log = logOf([1, 1, 2, 2, 3], { compactedTo: 2 });
    expect([log.snapshotIndex(), log.snapshotTerm(), log.firstIndex(), log.lastIndex()]).toEqual([2, 1, 3, 5]);
    expect([1, 2, 3, 4, 5, 6].map((i) => log.termAt(i))).toEqual([undefined, 1, 2, 2, 3, undefined]);
    // The snapshot index has a term but no entry, so no checksum.
    expect([2, 3, 5, 6].map((i) => log.checksumAt(i) === undefined)).toEqual([true, false, false, true]);
    expect(log.checksumAt(3)).toBe(entries(2, [2])[0]?.checksum);
    expect(log.entryAt(2)).toBeUndefined();
    expect(log.entryAt(3)?.index).toBe(3);
  });

  it('hands out entries in [lo, hi), up to the last index, stopping once the payload bytes would pass the limit', () => {
    const log = logOf([1, 1, 1, 1], { bytes: 10 });
    expect(log.entries(2, 4, 1000).map((e) => e.index)).toEqual([2, 3]);
    expect(log.entries(3, 99, 1000).map((e) => e.index)).toEqual([3, 4]);
    // Exactly at the limit is within it; one byte less stops before the entry that would pass it.
    expect(log.entries(1, 5, 30).map((e) => e.index)).toEqual([1, 2, 3]);
    expect(log.entries(1, 5, 29).map((e) => e.index)).toEqual([1, 2]);
    // At least one entry, whatever the limit.
    expect(log.entries(1, 5, 0).map((e) => e.index)).toEqual([1]);
    log.compactTo(2);
    expect(() => log.entries(2, 5, 1000)).toThrow(RaftInvariantError);
    expect(log.entries(3, 5, 1000).map((e) => e.index)).toEqual([3, 4]);
  });

  it('refuses an append that does not continue the log', () => {
    const log = logOf([1, 1]);
    expect(() => log.append(entries(3, [1]))).toThrow(/append index 4 after 2/);
    expect(() => log.append(entries(1, [1]))).toThrow(RaftInvariantError);
    expect(log.lastIndex()).toBe(2);
    log.append(entries(2, [2]));
    expect(log.lastIndex()).toBe(3);
  });

  it('truncates from an index after the snapshot, keeping what is before it', () => {
    const log = logOf([1, 1, 2, 2, 3], { compactedTo: 2 });
    log.truncateFrom(5);
    expect([log.lastIndex(), log.termAt(4)]).toEqual([4, 2]);
    log.truncateFrom(3);
    expect([log.firstIndex(), log.lastIndex(), log.termAt(2)]).toEqual([3, 2, 1]);
    expect(() => log.truncateFrom(2)).toThrow(/truncate into the snapshot/);
    log.append(entries(2, [4]));
    expect(log.termAt(3)).toBe(4);
  });

  it('compacts up to an index it holds, keeps the entries after it, and ignores an index already compacted', () => {
    const log = logOf([1, 2, 3, 4, 5]);
    expect(() => log.compactTo(6)).toThrow(/compact past last index 5/);
    log.compactTo(3);
    expect([log.snapshotIndex(), log.snapshotTerm(), log.firstIndex(), log.lastIndex()]).toEqual([3, 3, 4, 5]);
    expect(log.entries(4, 6, 1000).map((e) => [e.index, e.term])).toEqual([[4, 4], [5, 5]]);
    log.compactTo(2);
    log.compactTo(3);
    expect([log.snapshotIndex(), log.snapshotTerm(), log.lastIndex()]).toEqual([3, 3, 5]);
    log.compactTo(5);
    expect([log.snapshotIndex(), log.snapshotTerm(), log.firstIndex(), log.lastIndex()]).toEqual([5, 5, 6, 5]);
  });

  it('resets to an empty log that starts after a snapshot', () => {
    const log = logOf([1, 1, 2]);
    log.resetTo(10, 4);
    expect([log.snapshotIndex(), log.snapshotTerm(), log.firstIndex(), log.lastIndex(), log.termAt(10), log.termAt(3)]).toEqual([10, 4, 11, 10, 4, undefined]);
    log.append(entries(10, [4]));
    expect(log.lastIndex()).toBe(11);
  });

  it('clones into a log that changes independently', () => {
    const log = logOf([1, 2, 3], { compactedTo: 1 });
    const copy = log.clone();
    log.truncateFrom(3);
    log.compactTo(2);
    expect([copy.snapshotIndex(), copy.snapshotTerm(), copy.lastIndex(), copy.termAt(3)]).toEqual([1, 1, 3, 3]);
    expect([log.snapshotIndex(), log.lastIndex()]).toEqual([2, 2]);
  });

  it('names its error class for stack traces and logs', () => {
    expect(new RaftInvariantError('x').name).toBe('RaftInvariantError');
  });
});
