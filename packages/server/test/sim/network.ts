// The simulated network between the nodes: one Transport per node life. A request travels to the
// target after a random delay (so requests overtake each other), may be dropped, duplicated or
// corrupted on the way, and is handled by calling the target's real handler (/_raft/append ->
// handleAppend, /_raft/snapshot -> handleSnapshotChunk). The answer is built as the HTTP routes
// build it (raft-routes.ts: a ReplicationError becomes its status and JSON, a success 200 with the
// bytes, a snapshot answer msgpack-encoded) and travels back, with its own delay and drop. GETs
// (a recovering leader asking a follower for its log position, entries and state copy) travel the
// same way to the follower's `get` handler (recovery-peers.ts) and are never corrupted. The
// sender sees one outcome per request: the first answer, or its timeout (on its own clock).
// Links can be cut one way for a while. Requests to a dead node, and answers to a dead sender,
// are lost; requests from a sender that died meanwhile still arrive.
import { ReplicationError } from '../../src/replication/errors.ts';
import type { HttpResult, Transport } from '../../src/replication/transport.ts';
import { decode, encode } from '../../src/replication/wire.ts';
import type { Prng } from './prng.ts';
import type { SimClock } from './clock.ts';

export interface NetworkFaults {
  drop: number;
  duplicate: number;
  corrupt: number;
  delay_ms_min: number;
  delay_ms_max: number;
  /** Chance a message is slow, and the extra delay it gets then (up to). */
  slow: number;
  slow_ms_max: number;
}

export const quietNetwork: NetworkFaults = { drop: 0, duplicate: 0, corrupt: 0, delay_ms_min: 0, delay_ms_max: 3, slow: 0, slow_ms_max: 0 };

/** A node's request handlers, for one life of it. */
export interface Handlers {
  append(body: Uint8Array): Promise<Buffer>;
  snapshot(body: Uint8Array): Promise<Record<string, unknown>>;
  /** GET path (with its query), answered as the routes answer it. */
  get?(path: string): Promise<HttpResult>;
  /** POST /_raft/timeout-now (a handover's notice), answered with JSON. */
  timeoutNow?(body: Uint8Array): Promise<Record<string, unknown>>;
}

interface Life {
  clock: SimClock;
  handlers: Handlers | null;
  /** Requests being handled, and requests whose handling started, in this life. */
  busy: number;
  started: number;
}

/** What the network tells the simulation. */
export interface NetworkHooks {
  /** A handler threw something that is not a ReplicationError: the process would exit. */
  fatal(node: string, path: string, err: unknown): void;
  /** A corrupted request was answered (status); `unchanged` whether the target's log stayed as it was, null when unknown. */
  corruptedAnswered(node: string, path: string, status: number, unchanged: boolean | null): void;
  /** The target's log position, for the check that a refused request changed nothing. */
  fingerprint(node: string): string;
  trace?(line: string): void;
}

export class SimNetwork {
  faults: NetworkFaults;
  private readonly lives = new Map<string, Life>();
  private readonly byAddress = new Map<string, string>();
  /** "from>to" cut until this time. */
  private readonly cuts = new Map<string, number>();
  readonly counts = { sent: 0, dropped: 0, duplicated: 0, corrupted: 0, delivered: 0, answered: 0, timeouts: 0, lost_to_dead: 0, refused: 0, gets: 0 };

  constructor(
    private readonly rng: Prng,
    faults: NetworkFaults,
    private readonly hooks: NetworkHooks,
  ) {
    this.faults = { ...faults };
  }

  addNode(node: string, address: string): void {
    this.byAddress.set(address, node);
  }

  /** A new life of a node: its clock, and its handlers (null for a node that takes no requests). */
  attach(node: string, clock: SimClock, handlers: Handlers | null): void {
    this.lives.set(node, { clock, handlers, busy: 0, started: 0 });
  }

  /** The transport of one life of a node. */
  transport(node: string, clock: SimClock): Transport {
    return {
      post: (address, path, body, timeout_ms) => this.request(node, clock, 'POST', address, path, body, timeout_ms),
      get: (address, path, timeout_ms) => this.request(node, clock, 'GET', address, path, new Uint8Array(0), timeout_ms),
    };
  }

  /** Messages from `from` to `to` are lost until `until_ms` (one direction). */
  cut(from: string, to: string, until_ms: number): void {
    this.cuts.set(`${from}>${to}`, until_ms);
  }

  healAll(): void {
    this.cuts.clear();
  }

  isCut(from: string, to: string, now: number): boolean {
    const until = this.cuts.get(`${from}>${to}`);
    return until !== undefined && now < until;
  }

  private delay(): number {
    const f = this.faults;
    let d = this.rng.int(f.delay_ms_min, f.delay_ms_max);
    if (f.slow > 0 && this.rng.chance(f.slow)) d += this.rng.int(0, f.slow_ms_max);
    return d;
  }

  private request(from: string, clock: SimClock, method: 'POST' | 'GET', address: string, path: string, body: Uint8Array, timeout_ms: number): Promise<HttpResult> {
    this.counts.sent++;
    if (method === 'GET') this.counts.gets++;
    const to = this.byAddress.get(address);
    return new Promise<HttpResult>((resolve, reject) => {
      let settled = false;
      const timer = clock.setTimeout(
        () => {
          if (settled) return;
          settled = true;
          this.counts.timeouts++;
          reject(new Error(`no answer from ${address}${path} within ${Math.ceil(timeout_ms)} ms`));
        },
        Math.max(1, Math.ceil(timeout_ms)),
      );
      if (to === undefined) return;
      const answer = (res: HttpResult): void => {
        if (settled || !clock.alive) return;
        settled = true;
        clock.clearTimeout(timer);
        this.counts.answered++;
        resolve(res);
      };
      const now = clock.now();
      if (this.isCut(from, to, now) || this.rng.chance(this.faults.drop)) {
        this.counts.dropped++;
        return;
      }
      const copies = this.rng.chance(this.faults.duplicate) ? 2 : 1;
      if (copies === 2) this.counts.duplicated++;
      for (let i = 0; i < copies; i++) {
        let sent = body;
        let corrupted = false;
        if (method === 'POST' && this.rng.chance(this.faults.corrupt)) {
          const bad = corruptBody(path, body, this.rng);
          if (bad !== null) {
            sent = bad;
            corrupted = true;
            this.counts.corrupted++;
          }
        }
        this.deliver(from, to, method, path, sent, corrupted, this.delay(), (res) => {
          // The answer travels back on the sender's clock: lost if it died meanwhile.
          if (!clock.alive) return;
          if (this.isCut(to, from, clock.now()) || this.rng.chance(this.faults.drop)) {
            this.counts.dropped++;
            return;
          }
          clock.setTimeout(() => answer(res), this.delay());
        });
      }
    });
  }

  private deliver(from: string, to: string, method: 'POST' | 'GET', path: string, body: Uint8Array, corrupted: boolean, delay: number, reply: (res: HttpResult) => void): void {
    const life = this.lives.get(to);
    if (life === undefined || !life.clock.alive) {
      this.counts.lost_to_dead++;
      return;
    }
    life.clock.setTimeout(() => {
      // A link cut meanwhile eats what was on it.
      if (this.isCut(from, to, life.clock.now())) {
        this.counts.dropped++;
        return;
      }
      const handlers = life.handlers;
      if (handlers === null) {
        reply({ status: 404, headers: {}, body: Buffer.from(JSON.stringify({ error: { code: 'not_found', message: `${to} takes no ${path}` } })) });
        return;
      }
      this.counts.delivered++;
      const before = corrupted ? this.hooks.fingerprint(to) : '';
      const busyBefore = life.busy++;
      const started = ++life.started;
      this.hooks.trace?.(`${to} <- ${method === 'GET' ? `GET ${path}` : describeRequest(path, body)}${corrupted ? ' (corrupted)' : ''}`);
      const handled: Promise<HttpResult> =
        method === 'GET'
          ? handlers.get === undefined
            ? Promise.resolve({ status: 404, headers: {}, body: Buffer.from('{}') })
            : handlers.get(path)
          : path === '/_raft/append'
            ? handlers.append(body).then((out) => ({ status: 200, headers: {}, body: out }))
            : path === '/_raft/snapshot'
              ? handlers.snapshot(body).then((out) => ({ status: 200, headers: {}, body: encode(out) }))
              : path === '/_raft/timeout-now' && handlers.timeoutNow !== undefined
                ? handlers.timeoutNow(body).then((out) => ({ status: 200, headers: {}, body: Buffer.from(JSON.stringify(out)) }))
                : Promise.resolve({ status: 404, headers: {}, body: Buffer.from('{}') });
      handled
        .then(
          (res) => res,
          (err: unknown): HttpResult | null => {
            if (err instanceof ReplicationError) {
              this.counts.refused++;
              return { status: err.status, headers: {}, body: Buffer.from(JSON.stringify(err.toJSON())) };
            }
            if (life.clock.alive) this.hooks.fatal(to, path, err);
            return null;
          },
        )
        .then((res) => {
          life.busy--;
          // Alone: nothing else was handled on that node meanwhile, so its log is this request's doing.
          const alone = busyBefore === 0 && life.started === started;
          // A process that died while handling it never answers.
          if (res === null || !life.clock.alive) return;
          if (corrupted) this.hooks.corruptedAnswered(to, path, res.status, alone ? this.hooks.fingerprint(to) === before : null);
          this.hooks.trace?.(`${to} -> ${method === 'GET' ? `${res.status} (${res.body.length} bytes)` : describeAnswer(path, res)}`);
          reply(res);
        }, (err: unknown) => this.hooks.fatal(to, path, err));
    }, delay);
  }
}

/**
 * Damages a request so that it must be refused: a byte of an entry's payload, its checksum, its
 * index or term, the request's prev_term (newer than its term), the body cut short, or for a
 * snapshot chunk a byte of its data or of its sha256. Null when there is nothing to damage.
 */
export function corruptBody(path: string, body: Uint8Array, rng: Prng): Uint8Array | null {
  if (body.length < 2) return null;
  const how = rng.int(0, 9);
  if (how === 0) return body.slice(0, rng.int(1, body.length - 1));
  let o: Record<string, unknown>;
  try {
    o = decode(body) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (path === '/_raft/append') {
    const entries = (o.entries as Array<Record<string, unknown>>).map((e) => ({ ...e }));
    if (entries.length === 0 || how <= 2) return encode({ ...o, prev_term: (o.term as number) + 1 });
    const i = rng.int(0, entries.length - 1);
    const e = entries[i] as Record<string, unknown>;
    const payload = e.payload as Uint8Array;
    if (how <= 5 && payload.length > 0) {
      const copy = Buffer.from(payload);
      const at = rng.int(0, copy.length - 1);
      copy[at] = (copy[at] as number) ^ (1 << rng.int(0, 7));
      e.payload = copy;
    } else if (how === 6) e.index = (e.index as number) + 1;
    else if (how === 7) e.term = (e.term as number) + 1;
    else e.checksum = ((e.checksum as number) ^ (1 << rng.int(0, 31))) >>> 0;
    return encode({ ...o, entries });
  }
  if (path === '/_raft/snapshot') {
    const data = Buffer.from(o.data as Uint8Array);
    if ((how <= 3 || data.length === 0) && o.done === true) {
      const sha = o.sha256 as string;
      const at = rng.int(0, sha.length - 1);
      const flipped = sha.slice(0, at) + (sha[at] === '0' ? '1' : '0') + sha.slice(at + 1);
      return encode({ ...o, sha256: flipped });
    }
    if (data.length === 0) return null;
    const at = rng.int(0, data.length - 1);
    data[at] = (data[at] as number) ^ (1 << rng.int(0, 7));
    return encode({ ...o, data });
  }
  return null;
}

function describeRequest(path: string, body: Uint8Array): string {
  try {
    const o = decode(body) as Record<string, unknown>;
    if (path === '/_raft/timeout-now') return `timeout-now from ${String(o.from)} after ${String(o.last_index)}/${String(o.last_term)}`;
    if (path === '/_raft/append') {
      const entries = o.entries as unknown[];
      return `append term ${o.term} prev ${o.prev_index}/${o.prev_term} +${entries.length} commit ${o.leader_commit}`;
    }
    return `snapshot chunk ${o.snapshot_id} at ${o.last_index}/${o.last_term} offset ${o.offset}${o.done === true ? ' (last)' : ''}${o.repair === true ? ' repair' : ''}`;
  } catch {
    return `${path} (undecodable)`;
  }
}

function describeAnswer(path: string, res: HttpResult): string {
  if (res.status !== 200) return `${res.status} ${res.body.toString("utf8").slice(0, 400)}`;
  try {
    const o = decode(res.body) as Record<string, unknown>;
    if (path === '/_raft/append') return `${o.success === true ? 'ok' : `reject(${String(o.reason)})`} match ${o.match_index} last ${o.last_index}`;
    return `snapshot ${JSON.stringify({ ...o, phases: undefined })}`;
  } catch {
    return '200 (undecodable)';
  }
}
