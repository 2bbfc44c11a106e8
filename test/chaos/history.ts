// Every operation of a chaos run with its outcome. ok: the server acknowledged it; failed: it
// certainly did not happen (a 4xx, or the connection was refused before the request was sent);
// unknown: it may or may not have happened (a timeout, a reset, a 5xx after the request left).

export type Outcome = 'ok' | 'failed' | 'unknown';

export interface WriteOp {
  kind: 'write';
  client: number;
  /** 'nginx' or a node id: where the client sent the request. */
  via: string;
  workspace: string;
  id: string;
  concern: 'leader' | 'quorum' | 'all';
  outcome: Outcome;
  status: number | undefined;
  /** The log index in the 201 answer. */
  index: number | undefined;
  error: string | undefined;
  started_ms: number;
  ended_ms: number;
  /** The node that answered (X-Served-By). */
  served_by?: string;
  /** Set when that node forwarded the write: the leader it names (X-Cairn-Leader). */
  forwarded_to?: string;
  /** The node the harness took for the leader when the write was sent. */
  leader_at_start?: string;
}

export interface ReadOp {
  kind: 'read';
  client: number;
  via: string;
  workspace: string;
  id: string;
  outcome: Outcome;
  status: number | undefined;
  /** A read-your-write check: the GET on the same follower right after its 201. */
  ryw: boolean;
  /** The GET carried ?min_index= of the write's index. */
  min_index: number | undefined;
  started_ms: number;
  ended_ms: number;
}

export type Op = WriteOp | ReadOp;

export class History {
  readonly ops: Op[] = [];
  readonly attemptedIds = new Map<string, WriteOp>();
  /** Read-your-write checks that failed: a 404 right after the follower's own 201. */
  readonly rywViolations: string[] = [];
  /** 201s from a follower that said it had not yet applied the write (X-Cairn-Applied: pending). */
  rywPending = 0;
  rywChecked = 0;
  /** min_index reads answered 404 for an acknowledged write (key: workspace/id). */
  readonly staleReads: Array<{ key: string; text: string }> = [];

  key(workspace: string, id: string): string {
    return `${workspace}/${id}`;
  }

  add(op: Op): void {
    this.ops.push(op);
    if (op.kind === 'write') this.attemptedIds.set(this.key(op.workspace, op.id), op);
  }

  writes(): WriteOp[] {
    return this.ops.filter((o): o is WriteOp => o.kind === 'write');
  }

  reads(): ReadOp[] {
    return this.ops.filter((o): o is ReadOp => o.kind === 'read');
  }
}

/** Maps a fetch error to an outcome: refused before sending is a failure, the rest is unknown. */
export function errorOutcome(error: unknown): { outcome: Outcome; error: string } {
  const e = error as Error & { cause?: { code?: string } };
  const code = e.cause?.code ?? (e.name === 'TimeoutError' ? 'timeout' : e.name);
  return { outcome: code === 'ECONNREFUSED' ? 'failed' : 'unknown', error: code ?? String(error) };
}

export function statusOutcome(status: number): Outcome {
  if (status >= 200 && status < 300) return 'ok';
  if (status >= 400 && status < 500) return 'failed';
  return 'unknown';
}
