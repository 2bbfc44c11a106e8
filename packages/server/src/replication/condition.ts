// What keeps a node from serving as it should, in one place: the drivers set and clear
// conditions, /_raft/health, /health and /metrics report them. A node with any condition set is
// not in sync (503 on /_raft/health with the reasons); `writable` says whether the leader takes
// writes meanwhile.

export type ConditionCode =
  /** An fdatasync of the log failed: the leader takes no writes until it is restarted. */
  | 'fsync_failed'
  /** The disk is full: writes are refused with 507 until space is freed (checked again on its own). */
  | 'disk_full'
  /** The node's log or data is behind what it once held: it recovers from the other nodes first. */
  | 'recovering'
  /** The data directory belongs to another cluster or node. */
  | 'storage_mismatch';

export const CONDITION_CODES: readonly ConditionCode[] = ['fsync_failed', 'disk_full', 'recovering', 'storage_mismatch'];

export interface Condition {
  code: ConditionCode;
  message: string;
  since: string;
}

export class NodeCondition {
  private readonly set_ = new Map<ConditionCode, Condition>();
  private readonly listeners = new Set<() => void>();

  set(code: ConditionCode, message: string): void {
    const had = this.set_.get(code);
    if (had?.message === message) return;
    this.set_.set(code, { code, message, since: had?.since ?? new Date().toISOString() });
    this.changed();
  }

  clear(code: ConditionCode): void {
    if (this.set_.delete(code)) this.changed();
  }

  has(code: ConditionCode): boolean {
    return this.set_.has(code);
  }

  list(): Condition[] {
    return [...this.set_.values()];
  }

  /** Writes are taken only with none of the conditions that stop them. */
  writable(): boolean {
    return this.set_.size === 0;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}
