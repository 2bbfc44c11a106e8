// Per-workspace request activity on this node, for /health: last access, request rate and
// the access pattern derived from it.

import { SlidingWindow } from '../../limits/sliding-window.ts';

/** Requests in the last minute at or above which a workspace is "high-frequency". */
export const high_frequency_requests_per_minute_min = 60;
/** No access for this long (or never on this node) makes a workspace "archive". */
export const archive_idle_ms_min = 24 * 60 * 60 * 1000;
export const workspaces_tracked_max = 10_000;

export type AccessPattern = 'high-frequency' | 'normal' | 'archive';

interface Activity {
  last_access_ms: number;
  requests: SlidingWindow;
}

export class ActivityTracker {
  private readonly byWorkspace = new Map<string, Activity>();

  constructor(private readonly clock: () => number) {}

  touch(ws: string): void {
    let a = this.byWorkspace.get(ws);
    if (a === undefined) {
      if (this.byWorkspace.size >= workspaces_tracked_max) this.forgetOldest();
      a = { last_access_ms: 0, requests: new SlidingWindow(60, this.clock) };
      this.byWorkspace.set(ws, a);
    }
    a.last_access_ms = this.clock();
    a.requests.add(1);
  }

  private forgetOldest(): void {
    let oldest: string | undefined;
    let at = Infinity;
    for (const [ws, a] of this.byWorkspace) if (a.last_access_ms < at) [oldest, at] = [ws, a.last_access_ms];
    if (oldest !== undefined) this.byWorkspace.delete(oldest);
  }

  workspaces(): string[] {
    return [...this.byWorkspace.keys()];
  }

  lastAccessMs(ws: string): number | null {
    return this.byWorkspace.get(ws)?.last_access_ms ?? null;
  }

  requestsLastMinute(ws: string): number {
    return this.byWorkspace.get(ws)?.requests.total() ?? 0;
  }

  pattern(ws: string): AccessPattern {
    const last = this.lastAccessMs(ws);
    if (last === null || this.clock() - last >= archive_idle_ms_min) return 'archive';
    return this.requestsLastMinute(ws) >= high_frequency_requests_per_minute_min ? 'high-frequency' : 'normal';
  }
}
