// HTTP metrics: a Hono middleware that counts requests and observes their latency per matched
// route pattern (never the raw URL: ids in paths would make a label per document) and status,
// per workspace, and the limit rejections (429, 507) per workspace. It also keeps the plain
// write/query counters the cluster view turns into rates. A write is a request whose route is
// declared one (../http/write-route.ts), whether the route answered it or a middleware in front
// of it did (a follower's forwarding).
import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { Counter, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { isWriteRequest } from '../http/write-route.ts';
import { workspace_id_pattern } from '../store/validate.ts';

/** Distinct workspace label values per node; later workspaces are counted under "_other". */
export const workspace_labels_max = 1000;
/** Latency buckets, seconds: 0.5 ms .. 10 s. */
export const http_latency_buckets_s = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Monotonic request counts of this node, read by the rate sampler. */
export interface RequestCounts {
  writes: number;
  queries: number;
}

const QUERY_PATH = /\/api\/v1\/(search|assemble)\/?$|\/api\/v1\/documents(\/[^/]+)?\/?$/;

/** A read of documents: search, assemble, GET of one document or a listing. */
export function isQueryRoute(method: string, path: string): boolean {
  if (method === 'POST') return /\/api\/v1\/(search|assemble)\/?$/.test(path);
  return method === 'GET' && QUERY_PATH.test(path);
}

/** One answered request, as the metrics see it. */
export interface AnsweredRequest {
  method: string;
  path: string;
  /** The matched route pattern (routeOf). */
  route: string;
  status: number;
  /** The workspace named (workspaceOf), or null. */
  workspace: string | null;
  ms: number;
  /** Its route is declared a write. */
  write: boolean;
}

export class HttpMetrics {
  readonly counts: RequestCounts = { writes: 0, queries: 0 };
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly latency: Histogram<'method' | 'route' | 'status'>;
  private readonly wsRequests: Counter<'workspace'>;
  private readonly wsRejections: Counter<'workspace' | 'status'>;
  private readonly wsLabels = new Set<string>();

  /**
   * `diskFull`: true while the node's disk is full; its 507 answers (disk_full) are the node's,
   * not a workspace's storage limit, and are not counted as limit rejections then.
   */
  constructor(
    registry: Registry,
    private readonly opts: { diskFull?: () => boolean } = {},
  ) {
    this.requests = new Counter({
      name: 'cairn_http_requests_total',
      help: 'HTTP requests answered, by method, matched route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: 'cairn_http_request_duration_seconds',
      help: 'HTTP request latency until the response headers, by method, matched route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: http_latency_buckets_s,
      registers: [registry],
    });
    this.wsRequests = new Counter({
      name: 'cairn_workspace_requests_total',
      help: 'Requests that named a workspace (X-Workspace-ID, ?workspace= or /workspace/:id/)',
      labelNames: ['workspace'],
      registers: [registry],
    });
    this.wsRejections = new Counter({
      name: 'cairn_workspace_limit_rejections_total',
      help: 'Requests refused by a workspace limit: 429 (concurrency, token rate) or 507 (storage)',
      labelNames: ['workspace', 'status'],
      registers: [registry],
    });
  }

  record(r: AnsweredRequest): void {
    const { method, status, workspace } = r;
    const labels = { method, route: r.route, status: String(status) };
    this.requests.inc(labels);
    this.latency.observe(labels, r.ms / 1000);
    if (r.write) this.counts.writes++;
    else if (isQueryRoute(method, r.path)) this.counts.queries++;
    if (workspace === null) return;
    const ws = this.workspaceLabel(workspace);
    this.wsRequests.inc({ workspace: ws });
    if (status === 429 || (status === 507 && this.opts.diskFull?.() !== true)) this.wsRejections.inc({ workspace: ws, status: String(status) });
  }

  /** The label for a workspace: itself while fewer than workspace_labels_max are known. */
  workspaceLabel(ws: string): string {
    if (this.wsLabels.has(ws)) return ws;
    if (this.wsLabels.size >= workspace_labels_max) return '_other';
    this.wsLabels.add(ws);
    return ws;
  }
}

/** Builds the middleware bound to one HttpMetrics (one per node). */
export function httpMetricsMiddleware(m: HttpMetrics): MiddlewareHandler {
  return async function httpMetrics(c, next) {
    const started = performance.now();
    try {
      await next();
    } finally {
      m.record({
        method: c.req.method,
        path: c.req.path,
        route: routeOf(c),
        status: c.res.status,
        workspace: workspaceOf(c.req.header('x-workspace-id'), c.req.url),
        ms: performance.now() - started,
        write: isWriteRequest(c),
      });
    }
  };
}

/** The route pattern that answered ("/api/v1/documents/:id"), or a fixed word for the rest. */
export function routeOf(c: Parameters<MiddlewareHandler>[0]): string {
  const routes = matchedRoutes(c);
  const answered = routes[c.req.routeIndex];
  if (answered !== undefined && answered.method !== 'ALL') return answered.path;
  // A middleware answered (write forwarding, auth, limits) or nothing matched.
  for (let i = routes.length - 1; i >= 0; i--) {
    const r = routes[i];
    if (r !== undefined && r.method !== 'ALL') return r.path;
  }
  return c.res.status === 404 ? 'unmatched' : 'middleware';
}

/** The workspace a request names, or null. Invalid ids count as "_invalid" (bounded). */
export function workspaceOf(header: string | undefined, url: string): string | null {
  let ws: string | undefined = header?.trim();
  if (ws === undefined) {
    const u = new URL(url);
    ws = u.searchParams.get('workspace') ?? /^\/workspace\/([^/]+)\//.exec(u.pathname)?.[1];
  }
  if (ws === undefined || ws === '') return null;
  return workspace_id_pattern.test(ws) ? ws : '_invalid';
}
