// The live feed behind GET /api/v1/cluster/events: one loop per node (not per subscriber) that
// refreshes the peers about once a second and pushes the snapshot to every subscriber, plus an
// early push, throttled, when this node applies entries. The loop runs only while someone
// listens; subscribers are bounded.
import type { Replica } from '../replication/replica.ts';
import type { DocumentStore } from '../store/document-store.ts';
import type { ClusterView } from './cluster-view.ts';
import type { ClusterSnapshot } from './types.ts';

/** Streams open at once per node; more get 503. */
export const sse_subscribers_max = 16;
/** Regular push interval, ms. */
export const push_interval_ms = 1000;
/** Shortest gap between two pushes (changes in between are folded into one), ms. */
export const push_gap_ms_min = 250;

export type Subscriber = (snapshot: ClusterSnapshot) => void;

export class EventHub {
  private readonly subscribers = new Set<Subscriber>();
  private timer: NodeJS.Timeout | null = null;
  private early: NodeJS.Timeout | null = null;
  private lastPushMs = 0;
  private ticking = false;
  private unlisten: (() => void) | null = null;

  constructor(
    private readonly view: ClusterView,
    private readonly replica: Replica<DocumentStore>,
  ) {}

  get size(): number {
    return this.subscribers.size;
  }

  /** Adds a subscriber and returns its unsubscribe, or null when sse_subscribers_max are open. */
  subscribe(fn: Subscriber): (() => void) | null {
    if (this.subscribers.size >= sse_subscribers_max) return null;
    this.subscribers.add(fn);
    if (this.subscribers.size === 1) this.startLoop();
    fn(this.view.snapshot());
    return () => {
      this.subscribers.delete(fn);
      if (this.subscribers.size === 0) this.stopLoop();
    };
  }

  private startLoop(): void {
    this.timer = setInterval(() => void this.tick(), push_interval_ms);
    this.timer.unref();
    this.unlisten = this.replica.onChange(() => this.changed());
    void this.tick();
  }

  private stopLoop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    if (this.early !== null) clearTimeout(this.early);
    this.timer = null;
    this.early = null;
    this.unlisten?.();
    this.unlisten = null;
  }

  /** Refreshes the peers (bounded wait), then pushes. Ticks never overlap. */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      await this.view.refresh(push_interval_ms / 2, push_interval_ms * 0.7);
      this.push();
    } finally {
      this.ticking = false;
    }
  }

  private changed(): void {
    if (this.early !== null) return;
    const wait = Math.max(0, push_gap_ms_min - (Date.now() - this.lastPushMs));
    this.early = setTimeout(() => {
      this.early = null;
      this.push();
    }, wait);
    this.early.unref();
  }

  private push(): void {
    if (this.subscribers.size === 0) return;
    this.lastPushMs = Date.now();
    let snap: ClusterSnapshot;
    try {
      snap = this.view.snapshot();
    } catch {
      // The node is closing (its databases are closed) and the streams are about to end.
      this.stopLoop();
      return;
    }
    for (const fn of this.subscribers) fn(snap);
  }
}
