// The reference: every entry any leader incarnation ever created, by index, and the state a
// correct replica has after applying 1..i. The leader never reuses an index, so there is exactly
// one true entry per index; every replica's log and state are checked against it.
import { crc32 } from '../../src/index.ts';
import type { Entry, LogReader } from '../../src/index.ts';

export class SimFailure extends Error {
  override readonly name = 'SimFailure';
}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new SimFailure(message);
}

/** The state machine: a running hash over applied entries, in index order. */
export function applyToState(state: number, e: Entry): number {
  return crc32(e.payload, (state ^ Math.imul(e.index, 0x9e3779b1) ^ e.type) >>> 0);
}

export class History {
  private readonly entries: Entry[] = [];
  /** states[i]: the state after applying 1..i. */
  private readonly states: number[] = [0];

  /** The leader created e (after its fsync). */
  record(e: Entry): void {
    check(this.entries[e.index] === undefined, `index ${e.index} reused: the leader created two entries there`);
    check(e.index === this.entries.length || (e.index === 1 && this.entries.length === 0), `leader skipped to index ${e.index}`);
    this.entries[e.index] = e;
    this.states[e.index] = applyToState(this.states[e.index - 1] as number, e);
  }

  lastIndex(): number {
    return Math.max(0, this.entries.length - 1);
  }

  stateAt(index: number): number {
    const s = this.states[index];
    check(s !== undefined, `no reference state at ${index}`);
    return s;
  }

  termAt(index: number): number {
    if (index === 0) return 0;
    const e = this.entries[index];
    check(e !== undefined, `no reference entry at ${index}`);
    return e.term;
  }

  /** A node holds e at e.index: it must be the one true entry there. */
  checkEntry(node: string, e: Entry): void {
    const ref = this.entries[e.index];
    check(ref !== undefined, `${node} holds index ${e.index} that no leader created`);
    check(e.term === ref.term && e.checksum === ref.checksum, `${node} holds a different entry at ${e.index} (term ${e.term}/${ref.term}, checksum ${e.checksum}/${ref.checksum})`);
  }

  /** Whole-log check: contiguous, and every entry (and the snapshot boundary) is the true one. */
  checkLog(node: string, log: LogReader): void {
    const snap = log.snapshotIndex();
    check(log.firstIndex() === snap + 1, `${node} firstIndex ${log.firstIndex()} != snapshotIndex + 1`);
    check(log.lastIndex() >= snap, `${node} lastIndex below its snapshot`);
    if (snap > 0) check(log.snapshotTerm() === this.termAt(snap), `${node} snapshot term at ${snap} differs`);
    const all = log.entries(log.firstIndex(), log.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
    check(all.length === log.lastIndex() - snap, `${node} log has holes`);
    for (let i = 0; i < all.length; i++) {
      const e = all[i] as Entry;
      check(e.index === snap + 1 + i, `${node} entry ${e.index} at position ${snap + 1 + i}`);
      this.checkEntry(node, e);
    }
  }
}
