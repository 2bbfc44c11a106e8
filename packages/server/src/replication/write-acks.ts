// Proposals written to the leader's log and waiting for their write concern: resolved up to the
// index the core allows for each concern (LeaderCore.ackIndex), or rejected 503 not_replicated at
// commit_timeout_ms. Each concern's list is in index order (batches are written in order).
import type { WriteConcern } from '@cairn/raft';
import { ReplicationError } from './errors.ts';
import type { Clock, TimerHandle } from './ports.ts';

interface Waiting {
  index: number;
  resolve: (r: { index: number }) => void;
  reject: (err: Error) => void;
  timer: TimerHandle;
  settled: boolean;
}

export class WriteAcks {
  private readonly waiting: Record<WriteConcern, Waiting[]> = { leader: [], quorum: [], all: [] };

  constructor(
    private readonly clock: Clock,
    private readonly timeout_ms: number,
  ) {}

  /** A proposal written at `index`, waiting for `concern`. */
  add(index: number, concern: WriteConcern, resolve: (r: { index: number }) => void, reject: (err: Error) => void): void {
    const w: Waiting = {
      index,
      resolve,
      reject,
      settled: false,
      timer: this.clock.setTimeout(() => {
        if (w.settled) return;
        w.settled = true;
        const who = concern === 'all' ? 'all followers' : concern === 'quorum' ? 'a quorum' : 'the leader';
        reject(
          new ReplicationError(503, 'not_replicated', `write ${index} is in the leader's log but not acknowledged by ${who} within ${this.timeout_ms} ms`, {
            index,
            retry_after_s: 1,
          }),
        );
      }, this.timeout_ms),
    };
    this.waiting[concern].push(w);
  }

  /** Resolves every proposal of `concern` at or below `upTo`. */
  acknowledge(concern: WriteConcern, upTo: number): void {
    const list = this.waiting[concern];
    let i = 0;
    for (; i < list.length; i++) {
      const w = list[i] as Waiting;
      if (w.index > upTo) break;
      if (w.settled) continue;
      w.settled = true;
      this.clock.clearTimeout(w.timer);
      w.resolve({ index: w.index });
    }
    if (i > 0) list.splice(0, i);
    // Timed-out ones at the front go too.
    while (list.length > 0 && (list[0] as Waiting).settled) list.shift();
  }

  /** Rejects every proposal still waiting. */
  rejectAll(err: Error): void {
    for (const list of Object.values(this.waiting)) {
      for (const w of list.splice(0)) {
        if (w.settled) continue;
        w.settled = true;
        this.clock.clearTimeout(w.timer);
        w.reject(err);
      }
    }
  }

  waitingFor(concern: WriteConcern): number {
    return this.waiting[concern].length;
  }
}
