// The log as the core sees it. The daemon implements it over SQLite; MemoryLog is the
// in-memory implementation used by the simulation and unit tests.
import { invariant } from './types.ts';
import type { Entry } from './types.ts';

export interface LogReader {
  /** First index still held; snapshotIndex + 1 after compaction or a snapshot install. */
  firstIndex(): number;
  lastIndex(): number;
  /** Index and term the log starts after (0, 0 for a log that never compacted). */
  snapshotIndex(): number;
  snapshotTerm(): number;
  /** Term of the entry at index, for snapshotIndex <= index <= lastIndex; undefined otherwise. */
  termAt(index: number): number | undefined;
  /** Checksum of the entry at index, for firstIndex <= index <= lastIndex; undefined otherwise. */
  checksumAt(index: number): number | undefined;
  /** Entries in [lo, hi), stopping early once bytes_max of payload is reached (at least one). */
  entries(lo: number, hi: number, bytes_max: number): Entry[];
}

export class MemoryLog implements LogReader {
  private items: Entry[] = [];
  private snapIndex = 0;
  private snapTerm = 0;

  firstIndex(): number {
    return this.snapIndex + 1;
  }

  lastIndex(): number {
    return this.snapIndex + this.items.length;
  }

  snapshotIndex(): number {
    return this.snapIndex;
  }

  snapshotTerm(): number {
    return this.snapTerm;
  }

  termAt(index: number): number | undefined {
    if (index === this.snapIndex) return this.snapTerm;
    if (index < this.snapIndex || index > this.lastIndex()) return undefined;
    return this.items[index - this.snapIndex - 1]?.term;
  }

  checksumAt(index: number): number | undefined {
    return this.entryAt(index)?.checksum;
  }

  entryAt(index: number): Entry | undefined {
    if (index <= this.snapIndex) return undefined;
    return this.items[index - this.snapIndex - 1];
  }

  entries(lo: number, hi: number, bytes_max: number): Entry[] {
    invariant(lo >= this.firstIndex(), `entries(${lo}) below firstIndex ${this.firstIndex()}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi && i <= this.lastIndex(); i++) {
      const e = this.items[i - this.snapIndex - 1] as Entry;
      if (out.length > 0 && bytes + e.payload.length > bytes_max) break;
      bytes += e.payload.length;
      out.push(e);
    }
    return out;
  }

  append(entries: Entry[]): void {
    for (const e of entries) {
      invariant(e.index === this.lastIndex() + 1, `append index ${e.index} after ${this.lastIndex()}`);
      this.items.push(e);
    }
  }

  /** Drops every entry with index >= from. */
  truncateFrom(from: number): void {
    invariant(from > this.snapIndex, `truncate into the snapshot (${from} <= ${this.snapIndex})`);
    this.items.length = Math.max(0, from - this.snapIndex - 1);
  }

  /** Drops entries up to and including index (they are covered by state). */
  compactTo(index: number): void {
    invariant(index <= this.lastIndex(), `compact past last index ${this.lastIndex()}`);
    if (index <= this.snapIndex) return;
    const term = this.termAt(index) as number;
    this.items = this.items.slice(index - this.snapIndex);
    this.snapIndex = index;
    this.snapTerm = term;
  }

  /** Replaces the whole log by an empty one that starts after a snapshot. */
  resetTo(index: number, term: number): void {
    this.items = [];
    this.snapIndex = index;
    this.snapTerm = term;
  }

  clone(): MemoryLog {
    const copy = new MemoryLog();
    copy.items = this.items.slice();
    copy.snapIndex = this.snapIndex;
    copy.snapTerm = this.snapTerm;
    return copy;
  }
}
