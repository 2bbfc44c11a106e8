// The shared-key workload: a few document ids per workspace, each a register that many clients
// read and write at once: put with a unique value, delete, compare-and-set (a read on the leader,
// then a put with If-Match of the ETag it answered, or If-None-Match: * when the id was absent),
// and reads on the leader, on a follower with min_index of the client's session (the highest
// index it wrote or read), on a follower without it, and through nginx. Every operation is recorded as an invoke and a
// completion event (test/chaos/HISTORY.md gives the format) for the linearizability and session
// checkers. A document's content is its value.
//
// Each client is a process in the history's sense: one operation at a time. After an operation
// whose outcome is unknown (a timeout, a reset, a 5xx) the client goes on as a new process, since
// the old operation may still take effect at any time.

import { writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import type { Consistency, HistoryEvent as ParsedEvent } from './history-format.ts';
import type { Prng } from './prng.ts';
import { sleep } from './workload.ts';
import type { Target } from './workload.ts';

/** One line of history.jsonl as recorded (HISTORY.md), with two fields for reading it by eye. */
export type HistoryEvent = Omit<ParsedEvent, 'line'> & {
  /** Write invoke: the write concern asked for. */
  concern?: string;
  /** Completion: the HTTP status or the error. */
  status?: string;
};

/** Records events with a monotonic clock (ns since the recorder was made). */
export class HistoryRecorder {
  readonly events: HistoryEvent[] = [];
  private readonly origin = process.hrtime.bigint();

  now(): number {
    return Number(process.hrtime.bigint() - this.origin);
  }

  add(e: Omit<HistoryEvent, 'time_ns'>): HistoryEvent {
    const event = { ...e, time_ns: this.now() };
    this.events.push(event);
    return event;
  }

  text(): string {
    return this.events.map((e) => JSON.stringify(e)).join('\n') + '\n';
  }

  /** history.jsonl (gzipped when the file name ends in .gz). */
  write(file: string): void {
    const text = this.text();
    writeFileSync(file, file.endsWith('.gz') ? gzipSync(text) : text);
  }
}

export interface RegisterWorkloadOptions {
  /** Every node, and nginx when there is one. */
  targets: Target[];
  /** The node that leads now, as the harness knows it (default node-1). */
  leaderId?: () => string;
  /**
   * Whether a read answered by `servedBy`, sent at `sentMs` and answered at `doneMs` (Date.now()),
   * was answered by the leader with no change of leadership in between (a leader read:
   * linearizable). Asked as each read completes and again by classifyReads() after the run.
   * Default: served by leaderId().
   */
  leaderRead?: (servedBy: string | undefined, sentMs: number, doneMs: number) => boolean;
  workspaces: string[];
  keysPerWorkspace: number;
  clients: number;
  /** Pause between a client's operations, ms. */
  thinkMs: [number, number];
  requestTimeoutMs: number;
  rng: Prng;
  recorder: HistoryRecorder;
}

interface Answer {
  status: number | undefined;
  error: string | undefined;
  body: Record<string, unknown>;
  index: number | undefined;
  servedBy: string | undefined;
  etag: string | undefined;
}

const WRITE_CONCERNS = ['quorum', 'quorum', 'quorum', 'all', 'leader'] as const;

/** What a write's concern promises about when it becomes visible (README, "Consistency"). */
export function writeConsistency(concern: string): Consistency {
  return concern === 'leader' ? 'none' : 'linearizable';
}

/** A refused connection never reached a node: the request certainly had no effect. */
function unsent(error: string | undefined): boolean {
  return error === 'ECONNREFUSED';
}

export class RegisterWorkload {
  private running = false;
  private tasks: Array<Promise<void>> = [];
  private nextProcess = 0;
  private seq = 0;
  readonly keys: Array<{ ws: string; id: string }> = [];
  private readonly nodes: Target[];
  private readonly nginx: Target | undefined;
  /** Every answered read's completion, for classifyReads(). */
  private readonly reads: Array<{ event: HistoryEvent; servedBy: string | undefined; sentMs: number; doneMs: number; minIndex: number | undefined }> = [];

  constructor(private readonly o: RegisterWorkloadOptions) {
    for (const ws of o.workspaces) for (let k = 0; k < o.keysPerWorkspace; k++) this.keys.push({ ws, id: `reg-${k}` });
    this.nodes = o.targets.filter((t) => t.name !== 'nginx');
    this.nginx = o.targets.find((t) => t.name === 'nginx');
  }

  /** The node that leads now (as the harness knows it). */
  private get leader(): Target {
    const id = this.o.leaderId?.() ?? 'node-1';
    return this.nodes.find((t) => t.name === id) ?? (this.nodes[0] as Target);
  }

  /** The other nodes. */
  private get followers(): Target[] {
    const id = this.leader.name;
    return this.nodes.filter((t) => t.name !== id);
  }

  private leaderRead(servedBy: string | undefined, sentMs: number, doneMs: number): boolean {
    return this.o.leaderRead === undefined ? servedBy === (this.o.leaderId?.() ?? 'node-1') : this.o.leaderRead(servedBy, sentMs, doneMs);
  }

  /**
   * After the run, before the history is written or checked: each read's consistency decided
   * again from what is known now. A change of leader seen only after a read completed (the
   * poller asks every 100 ms, slower under load) makes a read that looked like a leader read
   * at its completion a follower read. Resolves with how many reads changed level.
   */
  classifyReads(): number {
    let changed = 0;
    for (const r of this.reads) {
      const level: Consistency = this.leaderRead(r.servedBy, r.sentMs, r.doneMs) ? 'linearizable' : r.minIndex !== undefined ? 'session' : 'none';
      if (r.event.consistency !== level) changed++;
      r.event.consistency = level;
    }
    return changed;
  }

  static key(ws: string, id: string): string {
    return `${ws}/${id}`;
  }

  start(): void {
    if (this.running) throw new Error('register workload already running');
    this.running = true;
    for (let c = 0; c < this.o.clients; c++) this.tasks.push(this.client());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.tasks);
    this.tasks = [];
  }

  /**
   * Many clients on one id for `durationMs`: puts and compare-and-sets through every way in.
   * Resolves with how many operations were attempted and acknowledged.
   */
  async hotKey(durationMs: number, clients = 8): Promise<{ attempted: number; ok: number }> {
    const key = this.o.rng.pick(this.keys);
    const deadline = Date.now() + durationMs;
    let attempted = 0;
    let ok = 0;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        let p = this.nextProcess++;
        while (Date.now() < deadline) {
          attempted++;
          const r = this.o.rng.chance(0.5) ? await this.put(p, key, this.pickTarget()) : await this.cas(p, key, this.pickTarget());
          if (r === 'ok') ok++;
          if (r === 'info') p = this.nextProcess++;
        }
      }),
    );
    return { attempted, ok };
  }

  /**
   * After the run: every key read on the leader, then on every node with min_index of the
   * leader's applied index (recorded like any other read). Resolves with the reads that failed.
   */
  async finalReads(nodes: Target[], minIndex: number): Promise<number> {
    let failed = 0;
    const p = this.nextProcess++;
    for (const key of this.keys) {
      if ((await this.get(p, key, this.leader, undefined)) !== 'ok') failed++;
      for (const n of nodes) if ((await this.get(p, key, n, minIndex)) !== 'ok') failed++;
    }
    return failed;
  }

  private pickTarget(): Target {
    const { rng } = this.o;
    const all = [this.leader, ...this.followers, ...(this.nginx === undefined ? [] : [this.nginx])];
    return rng.pick(all);
  }

  private async client(): Promise<void> {
    const { rng } = this.o;
    let p = this.nextProcess++;
    // The client's session: the highest index it wrote or read (a write's index, a read's
    // X-Cairn-Index). Its follower reads ask for it, so they are never older than what it saw.
    let session = 0;
    const saw = (i: number): void => {
      session = Math.max(session, i);
    };
    while (this.running) {
      const key = rng.pick(this.keys);
      const r = rng.float();
      let outcome: 'ok' | 'fail' | 'info';
      if (r < 0.25) outcome = await this.put(p, key, this.pickTarget(), saw);
      else if (r < 0.35) outcome = await this.del(p, key, this.pickTarget(), saw);
      else if (r < 0.55) outcome = await this.cas(p, key, this.pickTarget(), saw);
      else if (r < 0.7) outcome = await this.get(p, key, this.leader, undefined, saw);
      else if (r < 0.85 || this.nginx === undefined) outcome = await this.get(p, key, rng.pick(this.followers), session, saw);
      else if (r < 0.93) outcome = await this.get(p, key, rng.pick(this.followers), undefined);
      else outcome = await this.get(p, key, this.nginx, undefined);
      if (outcome === 'info') p = this.nextProcess++;
      else if (outcome === 'ok' && r < 0.55 && rng.chance(0.5)) {
        // Read the write back on a follower at once, with its index: read-your-writes across nodes.
        if ((await this.get(p, key, rng.pick(this.followers), session, saw)) === 'info') p = this.nextProcess++;
      }
      await sleep(rng.int(...this.o.thinkMs));
    }
  }

  private async request(target: Target, method: string, key: { ws: string; id: string }, query: string, headers: Record<string, string>, body?: unknown): Promise<Answer> {
    const answer: Answer = { status: undefined, error: undefined, body: {}, index: undefined, servedBy: undefined, etag: undefined };
    try {
      const res = await fetch(`${target.url}/api/v1/documents${method === 'POST' ? '' : `/${key.id}`}${query}`, {
        method,
        headers: { 'x-workspace-id': key.ws, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.o.requestTimeoutMs),
      });
      answer.status = res.status;
      answer.servedBy = res.headers.get('x-served-by') ?? undefined;
      const index = Number(res.headers.get('x-cairn-index') ?? '');
      answer.index = Number.isSafeInteger(index) && index > 0 ? index : undefined;
      answer.body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      const etag = answer.body['etag'] ?? res.headers.get('etag')?.replace(/^"|"$/g, '');
      answer.etag = typeof etag === 'string' ? etag : undefined;
    } catch (error) {
      const e = error as Error & { cause?: { code?: string } };
      answer.error = e.cause?.code ?? (e.name === 'TimeoutError' ? 'timeout' : e.name);
    }
    return answer;
  }

  private complete(base: Omit<HistoryEvent, 'time_ns' | 'type'>, type: 'ok' | 'fail' | 'info', a: Answer, extra: Partial<HistoryEvent> = {}): HistoryEvent {
    return this.o.recorder.add({
      ...base, type, ...extra,
      ...(a.index === undefined ? {} : { index: a.index }),
      ...(a.servedBy === undefined ? {} : { served_by: a.servedBy }),
      status: a.status === undefined ? (a.error ?? 'error') : String(a.status),
    });
  }

  /** A write's completion type from its answer: 2xx ok, other 4xx fail, 5xx and lost answers info. */
  private writeType(a: Answer): 'ok' | 'fail' | 'info' {
    if (a.status !== undefined) {
      if (a.status >= 200 && a.status < 300) return 'ok';
      if (a.status >= 400 && a.status < 500) return 'fail';
      return 'info';
    }
    return unsent(a.error) ? 'fail' : 'info';
  }

  private async put(p: number, key: { ws: string; id: string }, target: Target, onIndex?: (i: number) => void): Promise<'ok' | 'fail' | 'info'> {
    const concern = this.o.rng.pick(WRITE_CONCERNS);
    const value = `v${p}-${this.seq++}`;
    const base = { process: p, f: 'put' as const, key: RegisterWorkload.key(key.ws, key.id), value, consistency: writeConsistency(concern), node: target.name };
    this.o.recorder.add({ ...base, type: 'invoke', concern });
    const a = await this.request(target, 'POST', key, `?write_concern=${concern}`, {}, { id: key.id, content: value });
    const type = this.writeType(a);
    this.complete(base, type, a);
    if (type === 'ok' && a.index !== undefined) onIndex?.(a.index);
    return type;
  }

  private async del(p: number, key: { ws: string; id: string }, target: Target, onIndex?: (i: number) => void): Promise<'ok' | 'fail' | 'info'> {
    const concern = this.o.rng.pick(WRITE_CONCERNS);
    const base = { process: p, f: 'delete' as const, key: RegisterWorkload.key(key.ws, key.id), value: null, consistency: writeConsistency(concern), node: target.name };
    this.o.recorder.add({ ...base, type: 'invoke', concern });
    const a = await this.request(target, 'DELETE', key, `?write_concern=${concern}`, {});
    if (a.status === 404) {
      // Absent when the leader looked: nothing written, an observation of absence. Through nginx
      // the outcome is unknown instead: nginx passes a DELETE to the next node after an error or a
      // 503 (an idempotent method), so an earlier attempt may have deleted the document.
      const direct = target.name !== 'nginx';
      this.complete(base, direct ? 'ok' : 'info', { ...a, index: direct ? a.index : undefined }, direct ? { applied: false } : {});
      return direct ? 'ok' : 'info';
    }
    const type = this.writeType(a);
    this.complete(base, type, a, type === 'ok' ? { applied: true } : {});
    if (type === 'ok' && a.index !== undefined) onIndex?.(a.index);
    return type;
  }

  /** A read on the leader, then a conditional put on what it returned. */
  private async cas(p: number, key: { ws: string; id: string }, target: Target, onIndex?: (i: number) => void): Promise<'ok' | 'fail' | 'info'> {
    const seen = await this.read(p, key, this.leader, undefined);
    if (seen.type !== 'ok') return seen.type;
    if (seen.index !== undefined) onIndex?.(seen.index);
    const concern = this.o.rng.pick(['quorum', 'quorum', 'all'] as const);
    const value = `v${p}-${this.seq++}`;
    const expected = seen.value;
    const base = { process: p, f: 'cas' as const, key: RegisterWorkload.key(key.ws, key.id), value, expected, consistency: writeConsistency(concern), node: target.name };
    this.o.recorder.add({ ...base, type: 'invoke', concern });
    const headers: Record<string, string> = expected === null ? { 'if-none-match': '*' } : { 'if-match': `"${seen.etag ?? ''}"` };
    const a = await this.request(target, 'POST', key, `?write_concern=${concern}`, headers, { id: key.id, content: value });
    if (a.status === 412) {
      this.complete(base, 'ok', a, { applied: false });
      return 'ok';
    }
    const type = this.writeType(a);
    this.complete(base, type, a, type === 'ok' ? { applied: true } : {});
    if (type === 'ok' && a.index !== undefined) onIndex?.(a.index);
    return type;
  }

  private async get(p: number, key: { ws: string; id: string }, target: Target, minIndex: number | undefined, onIndex?: (i: number) => void): Promise<'ok' | 'fail' | 'info'> {
    const r = await this.read(p, key, target, minIndex);
    if (r.type === 'ok' && r.index !== undefined) onIndex?.(r.index);
    return r.type;
  }

  /**
   * One GET, recorded. Its consistency is what the README promises for where it was answered: the
   * leader's reads are linearizable, a follower's with min_index are session reads, the rest none.
   */
  private async read(p: number, key: { ws: string; id: string }, target: Target, minIndex: number | undefined): Promise<{ type: 'ok' | 'fail' | 'info'; value: string | null; etag: string | undefined; index?: number }> {
    const sentMs = Date.now();
    const promised = (servedBy: string | undefined): Consistency =>
      this.leaderRead(servedBy, sentMs, Date.now()) ? 'linearizable' : minIndex !== undefined ? 'session' : 'none';
    const guess: Consistency = target.name === this.leader.name ? 'linearizable' : minIndex !== undefined ? 'session' : 'none';
    const base = { process: p, f: 'get' as const, key: RegisterWorkload.key(key.ws, key.id), value: null, node: target.name };
    this.o.recorder.add({ ...base, consistency: guess, type: 'invoke', ...(minIndex === undefined ? {} : { min_index: minIndex }) });
    const a = await this.request(target, 'GET', key, minIndex === undefined ? '' : `?min_index=${minIndex}`, {});
    if (a.status === 200 || a.status === 404) {
      const value = a.status === 200 ? (typeof a.body['content'] === 'string' ? a.body['content'] : null) : null;
      const event = this.complete({ ...base, value, consistency: promised(a.servedBy) }, 'ok', a);
      this.reads.push({ event, servedBy: a.servedBy, sentMs, doneMs: Date.now(), minIndex });
      return { type: 'ok', value, etag: a.etag, index: a.index };
    }
    // A read that got no answer changed nothing: it is dropped from the checks.
    this.complete({ ...base, consistency: promised(a.servedBy) }, 'fail', a);
    return { type: 'fail', value: null, etag: undefined };
  }
}
