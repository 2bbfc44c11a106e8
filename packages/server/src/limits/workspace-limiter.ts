// Enforcement of per-workspace limits:
//   max_concurrent_requests  a p-queue per workspace with that concurrency; requests beyond it
//                            wait in priority order (higher first), at most
//                            queued_per_slot * max_concurrent_requests of them; beyond that 429.
//   max_tokens_per_minute    tokens assembled in a sliding minute; a request reserves its budget
//                            up front and gives back what it did not use; none left -> 429.
//   max_storage_mb           a write that would take the workspace over it -> 507.
// (max_documents_per_query caps k / max_documents where the request is parsed.)

import PQueue from 'p-queue';
import type { WorkspaceLimits } from '../config/types.ts';
import { SlidingWindow } from './sliding-window.ts';

/** Waiting requests allowed per concurrency slot before 429. */
export const queued_per_slot_default = 4;
export const bytes_per_mb = 1024 * 1024;
export const workspaces_tracked_max = 10_000;

export class LimitError extends Error {
  override readonly name = 'LimitError';
  constructor(
    readonly status: 429 | 507,
    readonly code: 'too_many_requests' | 'token_rate_exceeded' | 'storage_exceeded',
    message: string,
    readonly retry_after_s: number | null,
  ) {
    super(message);
  }
}

interface WorkspaceState {
  queue: PQueue;
  tokens: SlidingWindow;
}

export interface WorkspaceLimiterOptions {
  limits: (ws: string) => WorkspaceLimits;
  clock?: () => number;
  queued_per_slot?: number;
}

export class WorkspaceLimiter {
  private readonly states = new Map<string, WorkspaceState>();
  private readonly clock: () => number;
  private readonly queuedPerSlot: number;

  constructor(private readonly opts: WorkspaceLimiterOptions) {
    this.clock = opts.clock ?? Date.now;
    this.queuedPerSlot = opts.queued_per_slot ?? queued_per_slot_default;
  }

  limits(ws: string): WorkspaceLimits {
    return this.opts.limits(ws);
  }

  private state(ws: string): WorkspaceState {
    let s = this.states.get(ws);
    if (s === undefined) {
      if (this.states.size >= workspaces_tracked_max) this.evictIdle();
      const concurrency = Math.max(1, this.opts.limits(ws).max_concurrent_requests);
      s = { queue: new PQueue({ concurrency }), tokens: new SlidingWindow(60, this.clock) };
      this.states.set(ws, s);
    }
    return s;
  }

  private evictIdle(): void {
    for (const [ws, s] of this.states) {
      if (s.queue.size === 0 && s.queue.pending === 0 && s.tokens.total() === 0) this.states.delete(ws);
    }
  }

  /** Runs `fn` within the workspace's concurrency limit; throws LimitError(429) when the queue is full. */
  async run<T>(ws: string, priority: number, fn: () => Promise<T>): Promise<T> {
    const s = this.state(ws);
    const limits = this.opts.limits(ws);
    const slots = Math.max(1, limits.max_concurrent_requests);
    if (s.queue.pending >= slots && s.queue.size >= slots * this.queuedPerSlot) {
      throw new LimitError(429, 'too_many_requests', `workspace ${ws}: ${slots} concurrent requests and ${s.queue.size} queued (max_concurrent_requests ${slots})`, 1);
    }
    return s.queue.add(fn, { priority });
  }

  active(ws: string): number {
    return this.states.get(ws)?.queue.pending ?? 0;
  }

  queued(ws: string): number {
    return this.states.get(ws)?.queue.size ?? 0;
  }

  tokensUsed(ws: string): number {
    return this.states.get(ws)?.tokens.total() ?? 0;
  }

  /**
   * Reserves up to `wanted` tokens of the workspace's minute budget and returns the grant and a
   * settle function to call with the tokens actually used. Throws LimitError(429) when none are left.
   */
  reserveTokens(ws: string, wanted: number): { granted: number; settle: (used: number) => void } {
    const s = this.state(ws);
    const max = this.opts.limits(ws).max_tokens_per_minute;
    const left = max - s.tokens.total();
    if (left <= 0) {
      throw new LimitError(429, 'token_rate_exceeded', `workspace ${ws}: max_tokens_per_minute ${max} reached`, s.tokens.secondsUntilRelief());
    }
    const granted = Math.min(wanted, left);
    const at = s.tokens.add(granted);
    let settled = false;
    return {
      granted,
      settle: (used: number) => {
        if (settled) return;
        settled = true;
        s.tokens.add(Math.min(used, granted) - granted, at);
      },
    };
  }

  /** Seconds until some of the workspace's token budget frees up. */
  tokenRetryAfter(ws: string): number {
    return this.states.get(ws)?.tokens.secondsUntilRelief() ?? 1;
  }

  /** Throws LimitError(507) when writing `incoming` bytes would take the workspace over max_storage_mb. */
  checkStorage(ws: string, current: number, incoming: number): void {
    const max_mb = this.opts.limits(ws).max_storage_mb;
    if (current + incoming > max_mb * bytes_per_mb) {
      throw new LimitError(507, 'storage_exceeded', `workspace ${ws}: ${current} bytes stored, this write adds ${incoming}, max_storage_mb is ${max_mb}`, null);
    }
  }
}
