// Writes on a follower: forwarded to the leader over pooled keep-alive connections, then the follower waits, bounded, until it has
// applied the write's index itself, so the client reads its own write on the node it asked.
// Forwarding targets the leader's configured address, never a loopback rewrite. A write is a
// request whose route is declared one (write-route.ts); this middleware runs before the routes.
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { crossSiteGuard } from './cross-site.ts';
import { requireJsonBody } from './public/request.ts';
import { isWriteRequest } from './write-route.ts';
import type { Replica } from '../replication/replica.ts';
import type { StateMachine } from '../replication/state.ts';
import { httpRequest } from '../replication/transport.ts';
import type { HttpResult } from '../replication/transport.ts';

/**
 * Request headers passed on to the leader (preconditions included: the leader's log entry decides
 * them). X-Request-Id is this node's id of the request (access-log.ts), not the client's header.
 */
const FORWARDED_HEADERS = [
  'content-type', 'x-workspace-id', 'authorization', 'x-write-concern', 'x-resource-tier', 'if-match', 'if-none-match',
];
/** Response headers passed back to the client. */
const RETURNED_HEADERS = ['content-type', 'x-cairn-index', 'retry-after', 'x-request-id', 'etag'];

export interface ForwardOptions<S extends StateMachine> {
  replica: Replica<S>;
  /** Timeout of the forwarded request, ms. */
  forward_timeout_ms: number;
  /** How long to wait for the local apply of a forwarded write, ms. */
  apply_wait_ms: number;
  /** Largest body forwarded; larger ones get 413 here, as the leader would answer. */
  body_bytes_max: number;
  /** `server.allowed_origins`: the browser checks run here too, before anything is forwarded. */
  allowed_origins: () => readonly string[];
  /** Aborted when the node stops: a forwarded write's answer then goes out without the wait for the local apply. */
  stopping?: AbortSignal;
}

/**
 * The request body, counted as it arrives: null as soon as it passes `bytes_max`, having kept at
 * most `bytes_max` bytes (the rest is left unread; @hono/node-server drains or closes the socket
 * after the answer). Reads the Node request directly when served by @hono/node-server, else the
 * web stream (in-process `app.request`).
 */
export async function readBodyCapped(c: Context, bytes_max: number): Promise<Uint8Array | null> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming !== undefined && typeof incoming.on === 'function') return readIncomingCapped(incoming, bytes_max);
  const stream = c.req.raw.body;
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > bytes_max) {
      reader.releaseLock();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

function readIncomingCapped(incoming: IncomingMessage, bytes_max: number): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.byteLength;
      if (size > bytes_max) {
        cleanup();
        incoming.pause();
        chunks.length = 0;
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('the client closed the connection before the body ended'));
    };
    if (incoming.readableEnded) {
      resolve(new Uint8Array(0));
      return;
    }
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
    incoming.resume();
  });
}

/** A body over the limit is read and dropped up to this many bytes before the 413. */
export const discard_bytes_max = 16 * 1024 * 1024;
/** ... and for at most this long. */
export const discard_ms_max = 5_000;

/**
 * Reads and drops the rest of a request body (bounded by discard_bytes_max and discard_ms_max),
 * so that a 413 can be answered with `Connection: close` without resetting a connection the
 * client is still sending on: a client that reads its answer only after sending (most do) then
 * gets the 413, and does not reuse a connection the server is about to close. Resolves true when
 * the body ended. In process (no Node request) there is nothing to drop.
 */
export function discardBody(c: Context): Promise<boolean> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming === undefined || typeof incoming.on !== 'function' || incoming.readableEnded) return Promise.resolve(true);
  return new Promise((resolve) => {
    let dropped = 0;
    const done = (ended: boolean): void => {
      clearTimeout(timer);
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onFail);
      incoming.off('close', onFail);
      if (!ended) incoming.pause();
      resolve(ended);
    };
    const onData = (chunk: Buffer): void => {
      dropped += chunk.byteLength;
      if (dropped > discard_bytes_max) done(false);
    };
    const onEnd = (): void => done(true);
    const onFail = (): void => done(false);
    const timer = setTimeout(() => done(false), discard_ms_max);
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onFail);
    incoming.on('close', onFail);
    incoming.resume();
  });
}

/**
 * 413 body_too_large after dropping what is left of the body (see discardBody), with
 * `Connection: close` when it all arrived. A longer body is answered while it still streams, and
 * without it: @hono/node-server goes on draining after the answer (another 64 MB or 500 ms), which
 * gives a client that reads while it sends the time to see the 413 and stop.
 */
export async function bodyTooLargeAnswer(c: Context, bytes_max: number): Promise<Response> {
  if (await discardBody(c)) c.header('Connection', 'close');
  return c.json({ error: { code: 'body_too_large', message: `request body is larger than body_bytes_max (${bytes_max} bytes)`, field: 'body' } }, 413);
}

export function forwardWrites<S extends StateMachine>(opts: ForwardOptions<S>): MiddlewareHandler {
  const { replica } = opts;
  const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxSockets: 256, maxFreeSockets: 64 });
  const guardCrossSite = crossSiteGuard(opts.allowed_origins);
  const jsonOnly = requireJsonBody();
  const forward = forwardToLeader(opts, agent);
  return async function forwardWritesToLeader(c, next) {
    if (replica.isLeader() || !isWriteRequest(c)) return next();
    // Forwarded once already: the two nodes disagree on the leader for a moment (a handover in
    // progress), and passing it on again could send it round between them.
    if (c.req.header('x-cairn-forwarded-by') !== undefined) {
      c.header('Retry-After', '1');
      return c.json({ error: { code: 'leader_changing', message: `${replica.self.id} does not lead (it follows ${replica.leader.id}), and the write came forwarded from ${c.req.header('x-cairn-forwarded-by')}: leadership is being handed over, retry`, leader: replica.leader.id } }, 503);
    }
    // The leader sees neither the browser's Origin nor the Host it was sent to: decide here.
    let answer: Response | undefined;
    const refused = await guardCrossSite(c, async () => {
      if (c.req.method !== 'POST') {
        answer = await forward(c);
        return;
      }
      const badType = await jsonOnly(c, async () => {
        answer = await forward(c);
      });
      if (badType instanceof Response) answer = badType;
    });
    return refused ?? answer;
  };
}

function forwardToLeader<S extends StateMachine>(opts: ForwardOptions<S>, agent: http.Agent): (c: Context) => Promise<Response> {
  const { replica } = opts;
  return async function forwardOne(c) {
    const url = new URL(c.req.url);
    const headers: Record<string, string> = { 'x-cairn-forwarded-by': replica.self.id };
    for (const h of FORWARDED_HEADERS) {
      const v = c.req.header(h);
      if (v !== undefined) headers[h] = v;
    }
    const requestId: unknown = c.get('requestId');
    const id = typeof requestId === 'string' ? requestId : c.req.header('x-request-id');
    if (id !== undefined) headers['x-request-id'] = id;
    const tooLarge = (): Promise<Response> => bodyTooLargeAnswer(c, opts.body_bytes_max);
    if (Number(c.req.header('content-length') ?? '0') > opts.body_bytes_max) return tooLarge();
    const body = c.req.method === 'GET' || c.req.method === 'HEAD' ? undefined : await readBodyCapped(c, opts.body_bytes_max);
    if (body === null) return tooLarge();
    let res: HttpResult;
    try {
      res = await httpRequest(agent, replica.leader.address, c.req.method, `${url.pathname}${url.search}`, body, headers, opts.forward_timeout_ms);
    } catch (err) {
      c.header('Retry-After', '2');
      return c.json(
        {
          error: {
            code: 'leader_unavailable',
            message: `the leader ${replica.leader.id} (${replica.leader.address}) cannot be reached: ${(err as Error).message}; reads still work on this node`,
            leader: replica.leader.id,
            leader_address: replica.leader.address,
          },
        },
        503,
      );
    }
    const index = Number(res.headers['x-cairn-index'] ?? '0');
    // A 412 is a log entry too (its precondition was decided at apply): wait for it as for a 2xx,
    // so a read here right after sees the state it was decided against.
    if (((res.status >= 200 && res.status < 300) || res.status === 412) && index > 0) {
      const applied = await untilAborted(replica.waitApplied(index, opts.apply_wait_ms), opts.stopping);
      if (!applied) c.header('X-Cairn-Applied', 'pending');
    }
    for (const h of RETURNED_HEADERS) {
      const v = res.headers[h];
      if (typeof v === 'string') c.header(h, v);
    }
    c.header('X-Cairn-Leader', replica.leader.id);
    return c.body(new Uint8Array(res.body), res.status as 200);
  };
}

/** `wait`'s result, or false as soon as `signal` is aborted. */
function untilAborted(wait: Promise<boolean>, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal === undefined) return wait;
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve(false);
    signal.addEventListener('abort', onAbort, { once: true });
    wait.then(
      (applied) => {
        signal.removeEventListener('abort', onAbort);
        resolve(applied);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
