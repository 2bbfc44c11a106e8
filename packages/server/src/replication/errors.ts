// Errors the replication layer reports to HTTP handlers: a status code and a JSON body.

export class ReplicationError extends Error {
  override readonly name = 'ReplicationError';
  constructor(
    readonly status: 400 | 401 | 404 | 409 | 429 | 500 | 503 | 504 | 507,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  toJSON(): { error: Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}
