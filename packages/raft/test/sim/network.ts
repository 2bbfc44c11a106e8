// The simulated network: every message gets a random delay (so messages overtake each other), may
// be dropped, duplicated or corrupted, and links can be cut for a while (both directions). Requests
// and responses go through the same queue and suffer the same faults.
import type { Prng } from './prng.ts';

export interface NetworkFaults {
  drop: number;
  duplicate: number;
  corrupt: number;
  delay_ms_min: number;
  delay_ms_max: number;
}

export interface Envelope<B> {
  seq: number;
  from: string;
  to: string;
  deliver_at_ms: number;
  body: B;
}

/** Messages in flight at once; past it the network drops (a bounded queue, like a real one). */
export const network_inflight_max = 512;

export class Network<B> {
  faults: NetworkFaults;
  private readonly rng: Prng;
  private readonly corruptBody: (body: B, rng: Prng) => B | null;
  private queue: Envelope<B>[] = [];
  private seq = 0;
  /** Link "a|b" (sorted) is cut until this time. */
  private readonly cuts = new Map<string, number>();
  readonly counts = { sent: 0, dropped: 0, duplicated: 0, corrupted: 0, delivered: 0 };

  constructor(rng: Prng, faults: NetworkFaults, corruptBody: (body: B, rng: Prng) => B | null) {
    this.rng = rng;
    this.faults = faults;
    this.corruptBody = corruptBody;
  }

  send(from: string, to: string, body: B, now: number, extra_delay_ms = 0): void {
    this.counts.sent++;
    if (this.isCut(from, to, now) || this.rng.chance(this.faults.drop) || this.queue.length >= network_inflight_max) {
      this.counts.dropped++;
      return;
    }
    const copies = this.rng.chance(this.faults.duplicate) ? 2 : 1;
    if (copies === 2) this.counts.duplicated++;
    for (let i = 0; i < copies; i++) {
      let sent = body;
      if (this.rng.chance(this.faults.corrupt)) {
        const bad = this.corruptBody(body, this.rng);
        if (bad !== null) {
          sent = bad;
          this.counts.corrupted++;
        }
      }
      const delay = this.rng.int(this.faults.delay_ms_min, this.faults.delay_ms_max) + extra_delay_ms;
      this.queue.push({ seq: this.seq++, from, to, deliver_at_ms: now + delay, body: sent });
    }
  }

  /** Removes and returns the messages due by now, in delivery order. A cut link eats them. */
  takeDue(now: number): Envelope<B>[] {
    const due: Envelope<B>[] = [];
    const rest: Envelope<B>[] = [];
    for (const m of this.queue) (m.deliver_at_ms <= now ? due : rest).push(m);
    if (due.length === 0) return due;
    this.queue = rest;
    due.sort((a, b) => a.deliver_at_ms - b.deliver_at_ms || a.seq - b.seq);
    const out = due.filter((m) => !this.isCut(m.from, m.to, now));
    this.counts.dropped += due.length - out.length;
    this.counts.delivered += out.length;
    return out;
  }

  /** Loses every message in flight that matches (a crashed node's connections). */
  dropWhere(match: (m: Envelope<B>) => boolean): void {
    const before = this.queue.length;
    this.queue = this.queue.filter((m) => !match(m));
    this.counts.dropped += before - this.queue.length;
  }

  cut(a: string, b: string, until_ms: number): void {
    this.cuts.set(linkKey(a, b), until_ms);
  }

  healAll(): void {
    this.cuts.clear();
  }

  isCut(a: string, b: string, now: number): boolean {
    const until = this.cuts.get(linkKey(a, b));
    return until !== undefined && now < until;
  }

  inflight(): number {
    return this.queue.length;
  }
}

function linkKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
