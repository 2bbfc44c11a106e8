// Who leads, as the nodes say it: a poller of every node's /_raft/health (`leading`: its driver
// orders writes now; `term`). The leader is the node that says it leads in the highest term; the
// harness follows it (faults aimed at "the leader", the workloads' leader reads and pushes).
//
// It also keeps what the checks need:
// - every claim of leadership per term: at most one node may ever say it leads in one term;
// - every node's term over time, so that a write a node acknowledged itself (not forwarded) gets
//   the term it was acknowledged in when the node reported the same term before the write started
//   and after it ended (terms only grow on a node): no two nodes may acknowledge writes in the
//   same term, and no node may acknowledge a write in a term older than one another node was
//   already seen leading in before the write started (the old leader is fenced);
// - windows in which leadership is changing (a handover under way, or a new leader seen by the
//   poller): a read answered by "the leader" counts as a leader read (linearizable) only when no
//   such window overlaps it.

import type { WriteOp } from './history.ts';
import { sleep } from './workload.ts';

export interface HealthObservation {
  node: string;
  /** When the request was sent and when its answer came, ms (Date.now()). */
  sent_ms: number;
  answered_ms: number;
  term: number;
  leading: boolean;
}

interface HealthBody {
  node_id?: string;
  term?: number;
  leading?: boolean;
}

export interface LeaderCheck {
  /** /_raft/health answers recorded. */
  observations: number;
  /** Terms in which some node said it leads, and which nodes did. */
  leaders_by_term: Record<string, string[]>;
  /** Terms in which more than one node said it leads. */
  shared_terms: number;
  /** Acknowledged writes answered by a node itself whose term is pinned (same term before and after). */
  acks_pinned: number;
  /** Of the acknowledged writes answered by a node itself, those whose term could not be pinned. */
  acks_unpinned: number;
  /** Terms in which writes were acknowledged by more than one node. */
  acks_shared_terms: number;
  /** Writes acknowledged by a node in a term older than one another node was seen leading in before the write started. */
  acks_after_superseded: number;
  /** Leaders seen, in order: node and term from when the poller first saw it lead. */
  changes: Array<{ at_ms: number; node: string; term: number }>;
  examples: string[];
}

export class LeaderWatch {
  /** The node that leads as far as the last rounds told (the configured leader until one says otherwise). */
  leaderId: string;
  leaderTerm = 0;
  readonly observations: HealthObservation[] = [];
  readonly changes: Array<{ at_ms: number; node: string; term: number }> = [];
  private readonly windows: Array<{ start: number; end: number | undefined }> = [];
  private running = false;
  private task: Promise<void> | undefined;

  constructor(
    /** Node id -> base url. */
    private readonly urls: ReadonlyMap<string, string>,
    private readonly initialLeader: string,
    private readonly intervalMs = 100,
  ) {
    this.leaderId = initialLeader;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.task = (async () => {
      while (this.running) {
        await this.round();
        await sleep(this.intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.task;
  }

  /** One round over every node; updates the leader. Resolves with the leader (node, term) if one said it leads. */
  async round(timeoutMs = 1_000): Promise<{ id: string; term: number } | undefined> {
    const answers = await Promise.all([...this.urls].map(([id, url]) => this.ask(id, url, timeoutMs)));
    let best: HealthObservation | undefined;
    for (const o of answers) if (o?.leading === true && (best === undefined || o.term > best.term)) best = o;
    if (best === undefined) return undefined;
    if (best.term >= this.leaderTerm && (best.node !== this.leaderId || best.term !== this.leaderTerm)) {
      if (best.node !== this.leaderId) {
        // A new leader: reads around this moment on either node are not leader reads. The old
        // leader said it led at some moment between the sending and the answer of its last such
        // answer; it may have stopped right after, so the window opens at the sending.
        const since = this.observations.filter((o) => o.node === this.leaderId && o.leading).at(-1)?.sent_ms ?? best.sent_ms;
        this.windows.push({ start: since, end: best.answered_ms });
      }
      this.leaderId = best.node;
      this.leaderTerm = best.term;
      this.changes.push({ at_ms: best.answered_ms, node: best.node, term: best.term });
    }
    return { id: this.leaderId, term: this.leaderTerm };
  }

  /** The leader now, from a fresh round (the last known one when no node says it leads). */
  async current(): Promise<string> {
    await this.round();
    return this.leaderId;
  }

  /**
   * Waits until a node says it leads (a fresh round each time); resolves with it, or undefined
   * past `timeoutMs`.
   */
  async waitLeader(timeoutMs: number): Promise<{ id: string; term: number } | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await this.round();
      if (r !== undefined) return r;
      if (Date.now() >= deadline) return undefined;
      await sleep(100);
    }
  }

  /** Leadership may be changing from now on (a handover under way); call `changeSettled()` after. */
  changeBegins(): void {
    this.windows.push({ start: Date.now(), end: undefined });
  }

  changeSettled(): void {
    const open = this.windows.filter((w) => w.end === undefined);
    for (const w of open) w.end = Date.now();
  }

  /**
   * Whether `node` answered a request sent at `sentMs` and answered at `doneMs` as the one leader
   * throughout, as far as the poller has seen by now: it led at both ends, and no window of
   * changing leadership overlaps. Asked again after the run, when the poller has seen every change
   * (one seen after the answer came opens a window back to before it): the run's checks use that.
   */
  leaderThroughout(node: string | undefined, sentMs: number, doneMs: number): boolean {
    if (node === undefined || this.leaderAt(sentMs) !== node || this.leaderAt(doneMs) !== node) return false;
    return !this.windows.some((w) => w.start <= doneMs && (w.end === undefined || w.end >= sentMs));
  }

  /** The node that led at `t` as the poller saw it: the last change seen by then, else the first leader. */
  leaderAt(t: number): string {
    let id = this.initialLeader;
    for (const c of this.changes) {
      if (c.at_ms > t) break;
      id = c.node;
    }
    return id;
  }

  private async ask(id: string, url: string, timeoutMs: number): Promise<HealthObservation | undefined> {
    const sent = Date.now();
    try {
      const res = await fetch(`${url}/_raft/health`, { signal: AbortSignal.timeout(timeoutMs) });
      const body = (await res.json()) as HealthBody;
      if (typeof body.term !== 'number') return undefined;
      const o: HealthObservation = { node: body.node_id ?? id, sent_ms: sent, answered_ms: Date.now(), term: body.term, leading: body.leading === true };
      this.observations.push(o);
      return o;
    } catch {
      return undefined;
    }
  }

  /**
   * The term `node` acknowledged a write in, when it is pinned: the node reported one term in an
   * answer that came before `startMs` and the same term in one asked after `endMs`.
   */
  pinnedTerm(node: string, startMs: number, endMs: number): number | undefined {
    const ix = this.index().get(node);
    if (ix === undefined) return undefined;
    // The last answer that came at or before startMs; the first one asked at or after endMs.
    const b = lastAtOrBefore(ix.byAnswered, (o) => o.answered_ms, startMs);
    const a = firstAtOrAfter(ix.bySent, (o) => o.sent_ms, endMs);
    return b !== undefined && a !== undefined && b.term === a.term ? b.term : undefined;
  }

  private cached: { count: number; map: Map<string, { byAnswered: HealthObservation[]; bySent: HealthObservation[] }> } | undefined;

  private index(): Map<string, { byAnswered: HealthObservation[]; bySent: HealthObservation[] }> {
    if (this.cached?.count === this.observations.length) return this.cached.map;
    const map = new Map<string, { byAnswered: HealthObservation[]; bySent: HealthObservation[] }>();
    for (const o of this.observations) {
      const e = map.get(o.node) ?? map.set(o.node, { byAnswered: [], bySent: [] }).get(o.node);
      e?.byAnswered.push(o);
      e?.bySent.push(o);
    }
    for (const e of map.values()) {
      e.byAnswered.sort((x, y) => x.answered_ms - y.answered_ms);
      e.bySent.sort((x, y) => x.sent_ms - y.sent_ms);
    }
    this.cached = { count: this.observations.length, map };
    return map;
  }

  /** The checks over everything recorded, and the writes of the fresh-id workload. */
  check(writes: readonly WriteOp[]): LeaderCheck {
    const examples: string[] = [];
    const note = (s: string): void => {
      if (examples.length < 10) examples.push(s);
    };
    const claims = new Map<number, Set<string>>();
    for (const o of this.observations) if (o.leading) (claims.get(o.term) ?? claims.set(o.term, new Set()).get(o.term))?.add(o.node);
    let shared = 0;
    for (const [term, nodes] of claims) {
      if (nodes.size < 2) continue;
      shared++;
      note(`term ${term}: ${[...nodes].sort().join(' and ')} each said it leads`);
    }
    // The first time each node was seen leading in each term (for the fence check).
    const ledFrom = new Map<string, number>();
    for (const o of this.observations) {
      if (!o.leading) continue;
      const k = `${o.node}@${o.term}`;
      const t = ledFrom.get(k);
      if (t === undefined || o.answered_ms < t) ledFrom.set(k, o.answered_ms);
    }
    const ackers = new Map<number, Map<string, WriteOp>>();
    let pinned = 0;
    let unpinned = 0;
    let superseded = 0;
    for (const w of writes) {
      if (w.outcome !== 'ok' || w.served_by === undefined || w.forwarded_to !== undefined) continue;
      const term = this.pinnedTerm(w.served_by, w.started_ms, w.ended_ms);
      if (term === undefined) {
        unpinned++;
        continue;
      }
      pinned++;
      const byNode = ackers.get(term) ?? ackers.set(term, new Map()).get(term);
      if (byNode !== undefined && !byNode.has(w.served_by)) byNode.set(w.served_by, w);
      for (const [k, at] of ledFrom) {
        const [node, t] = k.split('@') as [string, string];
        if (node === w.served_by || Number(t) <= term || at >= w.started_ms) continue;
        superseded++;
        note(`${w.workspace}/${w.id} acknowledged by ${w.served_by} in term ${term} (index ${w.index ?? '?'}), started ${w.started_ms - at} ms after ${node} was seen leading in term ${t}`);
        break;
      }
    }
    let acksShared = 0;
    for (const [term, byNode] of ackers) {
      if (byNode.size < 2) continue;
      acksShared++;
      note(`term ${term}: writes acknowledged by ${[...byNode].map(([n, w]) => `${n} (${w.workspace}/${w.id}, index ${w.index ?? '?'})`).join(' and ')}`);
    }
    return {
      observations: this.observations.length,
      leaders_by_term: Object.fromEntries([...claims].sort((a, b) => a[0] - b[0]).map(([t, n]) => [String(t), [...n].sort()])),
      shared_terms: shared,
      acks_pinned: pinned,
      acks_unpinned: unpinned,
      acks_shared_terms: acksShared,
      acks_after_superseded: superseded,
      changes: this.changes,
      examples,
    };
  }
}

function lastAtOrBefore<T>(xs: readonly T[], key: (x: T) => number, at: number): T | undefined {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (key(xs[mid] as T) <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? undefined : xs[lo - 1];
}

function firstAtOrAfter<T>(xs: readonly T[], key: (x: T) => number, at: number): T | undefined {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (key(xs[mid] as T) < at) lo = mid + 1;
    else hi = mid;
  }
  return xs[lo];
}
