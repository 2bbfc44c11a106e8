// Writes on a follower: forwarded to the leader over pooled keep-alive connections (Node's
// fetch keeps connections to the leader open), then the follower waits, bounded, until it has
// applied the write's index itself, so the client reads its own write on the node it asked.
// Forwarding targets the leader's configured address, never a loopback rewrite.
import type { MiddlewareHandler } from 'hono';
import type { Replica } from '../replication/replica.ts';
import type { StateMachine } from '../replication/state.ts';

/** Public routes that write: everything else is a read, served locally. */
const WRITE_ROUTES: Array<[string, RegExp]> = [
  ['POST', /^(\/workspace\/[^/]+)?\/api\/v1\/documents(\/bulk)?\/?$/],
  ['DELETE', /^(\/workspace\/[^/]+)?\/api\/v1\/documents\/[^/]+\/?$/],
];

export function isWriteRoute(method: string, path: string): boolean {
  return WRITE_ROUTES.some(([m, re]) => m === method && re.test(path));
}

/** Request headers passed on to the leader. */
const FORWARDED_HEADERS = ['content-type', 'x-workspace-id', 'authorization', 'x-write-concern', 'x-request-id', 'x-resource-tier'];

export interface ForwardOptions<S extends StateMachine> {
  replica: Replica<S>;
  /** Timeout of the forwarded request, ms. */
  forward_timeout_ms: number;
  /** How long to wait for the local apply of a forwarded write, ms. */
  apply_wait_ms: number;
  /** Largest body forwarded; larger ones get 413 here, as the leader would answer. */
  body_bytes_max: number;
}

export function forwardWrites<S extends StateMachine>(opts: ForwardOptions<S>): MiddlewareHandler {
  const { replica } = opts;
  return async function forwardWritesToLeader(c, next) {
    if (replica.isLeader() || !isWriteRoute(c.req.method, c.req.path)) return next();
    const url = new URL(c.req.url);
    const target = `http://${replica.leader.address}${url.pathname}${url.search}`;
    const headers: Record<string, string> = { 'x-cairn-forwarded-by': replica.self.id };
    for (const h of FORWARDED_HEADERS) {
      const v = c.req.header(h);
      if (v !== undefined) headers[h] = v;
    }
    const tooLarge = (): Response =>
      c.json({ error: { code: 'body_too_large', message: `request body is larger than body_bytes_max (${opts.body_bytes_max} bytes)`, field: 'body' } }, 413);
    if (Number(c.req.header('content-length') ?? '0') > opts.body_bytes_max) return tooLarge();
    const body = c.req.method === 'GET' || c.req.method === 'HEAD' ? undefined : await c.req.arrayBuffer();
    if (body !== undefined && body.byteLength > opts.body_bytes_max) return tooLarge();
    let res: Response;
    try {
      res = await fetch(target, { method: c.req.method, headers, body, signal: AbortSignal.timeout(opts.forward_timeout_ms) });
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
    const text = await res.arrayBuffer();
    const index = Number(res.headers.get('x-cairn-index') ?? '0');
    if (res.ok && index > 0) {
      const applied = await replica.waitApplied(index, opts.apply_wait_ms);
      if (!applied) c.header('X-Cairn-Applied', 'pending');
    }
    for (const h of ['content-type', 'x-cairn-index', 'retry-after', 'x-request-id']) {
      const v = res.headers.get(h);
      if (v !== null) c.header(h, v);
    }
    c.header('X-Cairn-Leader', replica.leader.id);
    return c.body(text, res.status as 200);
  };
}
