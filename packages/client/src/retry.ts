// When a failed attempt is tried again. Pure functions, so the rules can be read and tested alone.
//
// Three kinds of request:
//   read         GET, search, assemble: repeating one changes nothing.
//   idempotent   a put (by id, or by the id the server derives from the content), a bulk of
//                such puts, a delete without a precondition: a second attempt leaves the same
//                state as the first (same id, same content; the document gone), so it is safe
//                to send again even when the first may have been applied.
//   conditional  a put or delete with If-Match / If-None-Match: a second attempt after a first
//                that applied would be decided against the first one's own write (412, or a
//                success over someone else's). It is sent again only when the first surely
//                did not reach the log; otherwise the client throws OutcomeUnknownError.
//
// A failure is one of:
//   connect  no connection was made (ECONNREFUSED, DNS, unreachable): nothing was sent.
//   lost     the request may have been received: the connection reset or closed before an
//            answer, the attempt timed out.
//   http     an answer with a status.

export type RequestKind = 'read' | 'idempotent' | 'conditional';

export type Failure =
  | { type: 'connect'; code: string }
  | { type: 'lost'; code: string }
  | { type: 'http'; status: number; code: string | null; retryAfterMs: number | null };

export type Decision = 'retry' | 'unknown' | 'fail';

/** Error codes of a connection that was never made: the request was not sent. */
const connect_codes: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * 503 codes whose write is known not to be in the log (API.md): a conditional write may be sent
 * again (`stopping`: a node that began to stop refused it on arrival). `not_replicated` (in the leader's log, may still apply), `shutting_down`,
 * `outcome_pending`, `outcome_unknown` and `leader_unavailable` (a follower's forward that failed,
 * possibly after the leader received it) are not among them.
 */
const not_written_503: ReadonlySet<string> = new Set(['overloaded', 'recovering', 'log_sync_failed', 'stopping']);

/** Statuses worth another attempt for reads and idempotent writes. */
const transient_statuses: ReadonlySet<number> = new Set([429, 502, 503, 504]);

export function decide(kind: RequestKind, f: Failure): Decision {
  if (f.type === 'connect') return 'retry';
  if (f.type === 'lost') return kind === 'conditional' ? 'unknown' : 'retry';
  if (!transient_statuses.has(f.status)) return 'fail';
  if (kind !== 'conditional') return 'retry';
  // 429: the workspace's queue was full, the request was not run.
  if (f.status === 429) return 'retry';
  if (f.status === 503 && f.code !== null && not_written_503.has(f.code)) return 'retry';
  // 502/504 from nginx: the node may have taken it; other 503s may still apply.
  return 'unknown';
}

/** A failed fetch as a Failure: connect when its cause says no connection was made. */
export function classifyFetchError(err: unknown): Failure {
  const e = err as { name?: string; cause?: unknown };
  if (e.name === 'TimeoutError') return { type: 'lost', code: 'timeout' };
  const code = errorCode(e.cause) ?? errorCode(err) ?? 'network error';
  return connect_codes.has(code) ? { type: 'connect', code } : { type: 'lost', code };
}

function errorCode(v: unknown): string | null {
  if (typeof v !== 'object' || v === null) return null;
  const o = v as { code?: unknown; errors?: unknown };
  if (typeof o.code === 'string') return o.code;
  // Happy eyeballs (several addresses tried) reports an AggregateError of per-address errors.
  if (Array.isArray(o.errors)) return errorCode(o.errors[0]);
  return null;
}

/** `Retry-After` as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null || value.trim() === '') return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

export interface BackoffBounds {
  backoffMinMs: number;
  backoffMaxMs: number;
  retryAfterMaxMs: number;
}

/**
 * How long to wait before retry number `retry` (1-based): exponential from backoffMinMs, capped,
 * with jitter (half to all of it), at least the server's Retry-After (itself capped). `random` is
 * in [0, 1).
 */
export function backoffMs(retry: number, retryAfterMs: number | null, b: BackoffBounds, random: number): number {
  const exp = Math.min(b.backoffMaxMs, b.backoffMinMs * 2 ** Math.max(0, retry - 1));
  const jittered = Math.round(exp * (0.5 + random / 2));
  return retryAfterMs === null ? jittered : Math.max(jittered, Math.min(retryAfterMs, b.retryAfterMaxMs));
}

/** A failure in a few words, for messages and RetryEvent.reason. */
export function describeFailure(f: Failure): string {
  if (f.type === 'http') return `HTTP ${f.status}${f.code === null ? '' : ` ${f.code}`}`;
  return f.type === 'connect' ? `${f.code} (not sent)` : `${f.code} (answer lost)`;
}
