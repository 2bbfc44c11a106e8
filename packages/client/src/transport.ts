// One logical request, sent to the endpoints in turn until one answers: the retry rules are in
// retry.ts, the endpoint order in endpoints.ts. Discovery (GET /api/v1/cluster/nodes) runs once
// before the first request, and again when asked.

import { CairnError, OutcomeUnknownError, UnavailableError } from './errors.ts';
import type { AttemptFailure } from './errors.ts';
import { Endpoints } from './endpoints.ts';
import type { Endpoint } from './endpoints.ts';
import { backoffMs, classifyFetchError, decide, describeFailure, parseRetryAfter } from './retry.ts';
import type { BackoffBounds, Failure, RequestKind } from './retry.ts';
import type { CairnClientOptions, ClusterNodes, RetryEvent } from './types.ts';

export const retries_default = 8;
export const retries_max = 100;
export const timeout_ms_default = 30_000;
export const discovery_timeout_ms = 3_000;
/** A discovery that found nothing is tried again no sooner than this. */
export const rediscovery_ms_min = 10_000;

export interface RequestSpec {
  method: 'GET' | 'POST' | 'DELETE';
  /** From the root: `/api/v1/documents`, `/health`. */
  path: string;
  query?: Record<string, string | number | undefined>;
  /** JSON text. */
  body?: string;
  kind: RequestKind;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Statuses answered to the caller rather than treated as failures (404 for a get, 412). */
  accept?: readonly number[];
  /** What the request does, for messages: `put "docs/a.md"`. */
  what: string;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
  endpoint: string;
  servedBy: string | null;
  /** X-Cairn-Index of the answer. */
  index: number | null;
  /** An earlier attempt of this request may have been received (its answer was lost). */
  afterLostAttempt: boolean;
}

type AttemptResult = { answer: Answer } | { failure: Failure; status: number | null; body: unknown; servedBy: string | null };

export class Transport {
  readonly endpoints: Endpoints;
  private readonly fetchFn: typeof globalThis.fetch;
  private readonly token: string;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly bounds: BackoffBounds;
  private readonly discover: boolean;
  private readonly onRetry: ((e: RetryEvent) => void) | undefined;
  private discovery: Promise<ClusterNodes | null> | null = null;
  private discoveryFailedAt = -Infinity;

  constructor(
    opts: CairnClientOptions,
    private readonly random: () => number = Math.random,
  ) {
    const urls = typeof opts.endpoints === 'string' ? [opts.endpoints] : opts.endpoints;
    this.endpoints = new Endpoints(urls, opts.workspace, opts.affinity ?? 'workspace');
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.token = opts.token ?? '';
    this.timeoutMs = opts.timeoutMs ?? timeout_ms_default;
    if (!(this.timeoutMs > 0)) throw new TypeError(`timeoutMs must be positive, got ${opts.timeoutMs}`);
    this.retries = opts.retry?.retries ?? retries_default;
    if (!Number.isInteger(this.retries) || this.retries < 0 || this.retries > retries_max) {
      throw new TypeError(`retry.retries must be an integer from 0 to ${retries_max}, got ${opts.retry?.retries}`);
    }
    this.bounds = {
      backoffMinMs: opts.retry?.backoffMinMs ?? 100,
      backoffMaxMs: opts.retry?.backoffMaxMs ?? 2_000,
      retryAfterMaxMs: opts.retry?.retryAfterMaxMs ?? 10_000,
    };
    this.discover = opts.discover ?? true;
    this.onRetry = opts.onRetry;
  }

  private authHeaders(): Record<string, string> {
    return this.token === '' ? {} : { authorization: `Bearer ${this.token}` };
  }

  /** Runs discovery now (again); null when no endpoint listed the nodes. */
  async refreshNodes(signal?: AbortSignal): Promise<ClusterNodes | null> {
    this.discovery = this.runDiscovery(signal);
    return this.discovery;
  }

  private async ensureDiscovered(signal: AbortSignal | undefined): Promise<void> {
    if (!this.discover) return;
    if (this.discovery === null && Date.now() - this.discoveryFailedAt >= rediscovery_ms_min) this.discovery = this.runDiscovery(signal);
    if (this.discovery !== null) await this.discovery;
  }

  private async runDiscovery(signal: AbortSignal | undefined): Promise<ClusterNodes | null> {
    for (const ep of this.endpoints.order().filter((e) => e.configured)) {
      try {
        const res = await this.fetchFn(`${ep.url}/api/v1/cluster/nodes`, {
          headers: { accept: 'application/json', ...this.authHeaders() },
          signal: anySignal(AbortSignal.timeout(discovery_timeout_ms), signal),
        });
        const body = (await res.json().catch(() => null)) as ClusterNodes | null;
        if (res.status !== 200 || body === null || !Array.isArray(body.nodes)) continue;
        this.endpoints.addDiscovered(body.nodes, new URL(ep.url).protocol);
        return body;
      } catch {
        if (signal?.aborted === true) throw signal.reason;
      }
    }
    // Nothing listed the nodes (an old node, no token, every endpoint down): go on with the
    // endpoints given, and look again later.
    this.discovery = null;
    this.discoveryFailedAt = Date.now();
    return null;
  }

  async send(spec: RequestSpec): Promise<Answer> {
    await this.ensureDiscovered(spec.signal);
    const failures: AttemptFailure[] = [];
    const requestId = randomId();
    let tried = new Set<Endpoint>();
    let lost = false;
    for (let attempt = 0; ; attempt++) {
      const order = this.endpoints.order();
      let ep = order.find((e) => !tried.has(e));
      if (ep === undefined) {
        // A new round: every endpoint was tried once.
        tried = new Set();
        ep = order[0];
        if (ep === undefined) throw new Error('invariant: a client has at least one endpoint');
      }
      tried.add(ep);
      const result = await this.attempt(ep, spec, requestId);
      if ('answer' in result) {
        this.endpoints.markUp(ep);
        return { ...result.answer, afterLostAttempt: lost };
      }
      const f = result.failure;
      const details = { status: result.status, endpoint: ep.url, servedBy: result.servedBy, body: result.body };
      failures.push({ endpoint: ep.url, reason: describeFailure(f) });
      if (f.type !== 'http') this.endpoints.markDown(ep);
      const decision = decide(spec.kind, f);
      if (decision === 'fail') throw httpError(spec, result.status ?? 0, result.body, details);
      if (decision === 'unknown') {
        throw new OutcomeUnknownError(
          `${spec.what}: the outcome is unknown: ${describeFailure(f)} from ${ep.url} after the request may have been received; ` +
            'a conditional write is not sent again (a second attempt would be decided against the first one, had it applied); read the document to learn the outcome',
          details,
        );
      }
      if (f.type !== 'connect' && !(f.type === 'http' && f.status === 429)) lost = true;
      if (attempt >= this.retries) {
        throw new UnavailableError(
          `${spec.what}: no endpoint answered after ${attempt + 1} attempts: ${failures.map((x) => `${x.endpoint} ${x.reason}`).join('; ')}`,
          failures,
          details,
        );
      }
      // A connection failure moves on at once while this round has endpoints left; an answer
      // that asks to wait (429, 503 with Retry-After), or a full round of failures, waits.
      const roundDone = this.endpoints.order().every((e) => tried.has(e));
      const wait = f.type === 'http' || roundDone ? backoffMs(attempt + 1, f.type === 'http' ? f.retryAfterMs : null, this.bounds, this.random()) : 0;
      this.onRetry?.({ method: spec.method, path: spec.path, endpoint: ep.url, attempt: attempt + 1, reason: describeFailure(f), delayMs: wait });
      if (wait > 0) await sleep(wait, spec.signal);
    }
  }

  private async attempt(ep: Endpoint, spec: RequestSpec, requestId: string): Promise<AttemptResult> {
    const headers: Record<string, string> = { accept: 'application/json', 'x-request-id': requestId, ...this.authHeaders(), ...spec.headers };
    if (spec.body !== undefined) headers['content-type'] = 'application/json';
    const url = `${ep.url}${spec.path}${queryString(spec.query)}`;
    let res: Response;
    let text: string;
    try {
      res = await this.fetchFn(url, { method: spec.method, headers, body: spec.body, signal: anySignal(AbortSignal.timeout(this.timeoutMs), spec.signal) });
      text = await res.text();
    } catch (err) {
      if (spec.signal?.aborted === true) throw spec.signal.reason;
      return { failure: classifyFetchError(err), status: null, body: undefined, servedBy: null };
    }
    const body = parseJson(text);
    const servedBy = res.headers.get('x-served-by');
    if ((res.status >= 200 && res.status < 300) || spec.accept?.includes(res.status) === true) {
      const index = Number(res.headers.get('x-cairn-index'));
      return {
        answer: { status: res.status, headers: res.headers, body, endpoint: ep.url, servedBy, index: Number.isInteger(index) && index > 0 ? index : null, afterLostAttempt: false },
      };
    }
    const code = errorBody(body)?.code ?? null;
    return { failure: { type: 'http', status: res.status, code, retryAfterMs: parseRetryAfter(res.headers.get('retry-after'), Date.now()) }, status: res.status, body, servedBy };
  }
}

function httpError(spec: RequestSpec, status: number, body: unknown, details: ConstructorParameters<typeof CairnError>[2]): CairnError {
  const e = errorBody(body);
  const message = e?.message ?? (typeof body === 'string' && body !== '' ? body.slice(0, 200) : `HTTP ${status}`);
  return new CairnError(e?.code ?? `http_${status}`, `${spec.what}: ${status} ${message}`, { ...details, field: e?.field ?? null });
}

export function errorBody(body: unknown): { code: string; message: string; field?: string } | null {
  if (typeof body !== 'object' || body === null) return null;
  const e = (body as { error?: unknown }).error;
  if (typeof e !== 'object' || e === null) return null;
  const { code, message, field } = e as { code?: unknown; message?: unknown; field?: unknown };
  if (typeof code !== 'string') return null;
  return { code, message: typeof message === 'string' ? message : code, ...(typeof field === 'string' ? { field } : {}) };
}

function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function queryString(q: RequestSpec['query']): string {
  if (q === undefined) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) if (v !== undefined) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length === 0 ? '' : `?${parts.join('&')}`;
}

function anySignal(a: AbortSignal, b: AbortSignal | undefined): AbortSignal {
  return b === undefined ? a : AbortSignal.any([a, b]);
}

function randomId(): string {
  return globalThis.crypto.randomUUID();
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
