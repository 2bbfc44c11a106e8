// A stopping node answers every request it has, then closes (node.ts close()).
//
// From drain.begin(): a request that arrives gets 503 `stopping` with Retry-After and
// `Connection: close` at once (it was not taken: nginx passes a GET on to the next node, a client
// retries a POST elsewhere); a request already in flight runs to its own answer (a write the leader
// already has is awaited to its outcome), which goes out with `Connection: close` so that nginx
// does not send the next request on that connection. One still without an answer at the deadline
// gets 503 `shutting_down` saying it may still apply, rather than a connection cut without an
// answer. `signal` is aborted at begin(): a follower's forward stops waiting for its own apply of
// a write the leader acknowledged (forward.ts), since nothing will read it here.
import type { MiddlewareHandler } from 'hono';

export interface Drain {
  readonly middleware: MiddlewareHandler;
  /** Aborted when draining begins. */
  readonly signal: AbortSignal;
  readonly draining: boolean;
  /** Requests in flight (counted by the middleware). */
  inFlight(): number;
  /** Starts draining: new requests are answered 503 from now on. Idempotent. */
  begin(): void;
  /**
   * Resolves once every request in flight has its answer: its own, or 503 at `deadline_ms` after
   * begin(). Call after begin().
   */
  settled(): Promise<void>;
}

export interface DrainOptions {
  /** This node's id, for the answers' messages. */
  node_id: string;
  /** How long a request in flight at begin() may take to its own answer. */
  deadline_ms: number;
  /** Retry-After of the 503s, seconds. */
  retry_after_s: number;
}

export function createDrain(o: DrainOptions): Drain {
  if (!(o.deadline_ms > 0)) throw new Error(`drain deadline_ms must be positive, got ${o.deadline_ms}`);
  if (!(o.retry_after_s >= 0)) throw new Error(`drain retry_after_s must be >= 0, got ${o.retry_after_s}`);
  const controller = new AbortController();
  let in_flight = 0;
  const idleWaiters: Array<() => void> = [];
  let deadlineTimer: ReturnType<typeof setTimeout> | null = null;
  let passDeadline: (v: 'deadline') => void = () => undefined;
  /** Resolves deadline_ms after begin(); never before. */
  const deadline = new Promise<'deadline'>((resolve) => (passDeadline = resolve));

  const finished = (): void => {
    in_flight--;
    if (in_flight < 0) throw new Error('drain: more requests finished than started');
    if (in_flight === 0) for (const w of idleWaiters.splice(0)) w();
  };

  const middleware: MiddlewareHandler = async function drainOnStop(c, next) {
    if (controller.signal.aborted) {
      c.header('Retry-After', String(o.retry_after_s));
      c.header('Connection', 'close');
      return c.json({ error: { code: 'stopping', message: `${o.node_id} is stopping and did not take this request; retry it, another node answers` } }, 503);
    }
    in_flight++;
    try {
      const own = next().then(() => 'answered' as const);
      // A failure after the deadline's answer has no one to go to; one before it is thrown below.
      own.catch(() => undefined);
      const outcome = await Promise.race([own, deadline]);
      if (outcome === 'deadline') {
        c.header('Retry-After', String(o.retry_after_s));
        c.header('Connection', 'close');
        return c.json({ error: { code: 'shutting_down', message: `${o.node_id} stopped before this request had its answer (${o.deadline_ms} ms after the stop began); a write may still apply: retry it (a document with the same id is an update)` } }, 503);
      }
      if (controller.signal.aborted) c.header('Connection', 'close');
      return undefined;
    } finally {
      finished();
    }
  };

  return {
    middleware,
    signal: controller.signal,
    get draining() {
      return controller.signal.aborted;
    },
    inFlight: () => in_flight,
    begin(): void {
      if (controller.signal.aborted) return;
      controller.abort();
      deadlineTimer = setTimeout(() => passDeadline('deadline'), o.deadline_ms);
      deadlineTimer.unref();
    },
    settled(): Promise<void> {
      if (!controller.signal.aborted) throw new Error('drain: settled() before begin()');
      const done = (): void => {
        if (deadlineTimer !== null) clearTimeout(deadlineTimer);
      };
      if (in_flight === 0) {
        done();
        return Promise.resolve();
      }
      return new Promise<void>((resolve) =>
        idleWaiters.push(() => {
          done();
          resolve();
        }),
      );
    },
  };
}
