// Errors the client throws. Every one is a CairnError with the API's error code (or one of the
// client's own: `unavailable`, `outcome_unknown`, `body_too_large` for an item too large to send),
// the HTTP status when there was an answer, and the endpoint that gave it.

/** The API's error object: `{"error": {code, message, field?}}`. */
export interface ApiErrorBody {
  code: string;
  message: string;
  field?: string;
}

export interface CairnErrorDetails {
  status?: number | null;
  field?: string | null;
  endpoint?: string | null;
  servedBy?: string | null;
  body?: unknown;
  cause?: unknown;
}

export class CairnError extends Error {
  override name = 'CairnError';
  /** The API's error code (`not_found`, `document_too_large`, ...) or the client's own. */
  readonly code: string;
  /** HTTP status of the answer; null when no answer came. */
  readonly status: number | null;
  readonly field: string | null;
  /** The URL the failing request went to. */
  readonly endpoint: string | null;
  /** `X-Served-By` of the answer: the node that answered. */
  readonly servedBy: string | null;
  /** The parsed JSON answer, when there was one. */
  readonly body: unknown;

  constructor(code: string, message: string, details: CairnErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.status = details.status ?? null;
    this.field = details.field ?? null;
    this.endpoint = details.endpoint ?? null;
    this.servedBy = details.servedBy ?? null;
    this.body = details.body;
  }
}

/** 412: the If-Match / If-None-Match precondition did not hold when the write applied. */
export class PreconditionFailedError extends CairnError {
  override name = 'PreconditionFailedError';
  /** The document's ETag when the precondition was decided; null: it was absent. */
  readonly currentEtag: string | null;
  /** The log index that decided it (read with this index to see that state). */
  readonly index: number | null;

  constructor(message: string, currentEtag: string | null, index: number | null, details: CairnErrorDetails) {
    super('precondition_failed', message, details);
    this.currentEtag = currentEtag;
    this.index = index;
  }
}

/**
 * A conditional write (If-Match / If-None-Match) whose request may have reached the cluster but
 * whose answer was lost (a connection reset, a timeout, a gateway error, or a 503 that says the
 * write may still apply). It is not retried: a second attempt could fail its precondition on the
 * first attempt's own write, or succeed over someone else's. Read the document to learn the outcome.
 */
export class OutcomeUnknownError extends CairnError {
  override name = 'OutcomeUnknownError';
  constructor(message: string, details: CairnErrorDetails) {
    super('outcome_unknown', message, details);
  }
}

/** One failed attempt of a request, as UnavailableError lists them. */
export interface AttemptFailure {
  endpoint: string;
  /** `ECONNREFUSED`, `timeout`, `HTTP 503 leader_unavailable`, ... */
  reason: string;
}

/** Every attempt failed with a retriable failure, and the attempts (or the deadline) ran out. */
export class UnavailableError extends CairnError {
  override name = 'UnavailableError';
  readonly attempts: AttemptFailure[];
  constructor(message: string, attempts: AttemptFailure[], details: CairnErrorDetails) {
    super('unavailable', message, details);
    this.attempts = attempts;
  }
}
