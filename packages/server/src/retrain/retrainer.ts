// The leader's vector index retraining, off the event loop.
//
// Every `check_ms` the leader looks for a workspace whose index asks for retraining. It copies
// that workspace's vectors (one memcpy-sized pass on the event loop), hands the copy to a worker
// thread (job.ts) that trains the centroids and assigns every copied vector to them, has the
// worker assign the vectors written meanwhile (trainWorkspace), and logs the result as one
// centroids op carrying the assignment. Writes to the workspace keep flowing throughout; replicas
// install the op by taking the assignment for every vector unchanged since its copy and routing
// only the few written since (store/apply.ts). One job at a time; closing the node terminates a
// running worker.
import type { Logger } from 'pino';
import { raft_body_bytes_max } from '../http/raft-routes.ts';
import { ReplicationError } from '../replication/errors.ts';
import type { Replica } from '../replication/replica.ts';
import { mergeAssignments } from '@cairn/ivf';
import type { Assignment } from '@cairn/ivf';
import type { DocumentStore } from '../store/document-store.ts';
import { encodeOp } from '../store/op.ts';
import type { CentroidsOp } from '../store/op.ts';
import { index_seed } from '../store/vectors.ts';
import { startRetrainJob } from './job.ts';
import type { RetrainJob } from './job.ts';

/** Largest centroids op logged: it travels alone in one /_raft/append body (1 MiB left for framing). */
export const centroids_op_bytes_max = raft_body_bytes_max - 1024 * 1024;
/** Vectors written during training are assigned in further rounds until at most this many remain... */
export const unassigned_max = 256;
/** ...or after this many rounds (each round covers the writes of the previous one). */
export const assign_rounds_max = 4;
/** Longest wait, per round, for the leader to apply what it has logged (followers lagging). */
export const settle_wait_ms_max = 60_000;
/** Attempts to log the op while the write queue is full, one second apart. */
export const propose_attempts_max = 60;
/** A workspace whose retrain failed is not tried again for this long (doubling up to retry_backoff_ms_max). */
export const retry_backoff_ms_min = 30_000;
export const retry_backoff_ms_max = 600_000;

export interface RetrainerOptions {
  /** How often the leader looks for a workspace to retrain. */
  check_ms: number;
  /** Largest encoded centroids op (default centroids_op_bytes_max). */
  op_bytes_max?: number;
}

export interface RetrainRecord extends TrainStats {
  workspace: string;
  index: number;
  /** Encoding the op on the event loop. */
  encode_ms: number;
  op_bytes: number;
  /** Installing the op on the leader (its apply, on the event loop), and the vectors it routed itself. */
  apply_ms: number;
  routed_at_apply: number;
  /** From the copy to the op applied on the leader (commit included: a quorum holds it). */
  total_ms: number;
}

export class Retrainer {
  private timer: NodeJS.Timeout | null = null;
  private job: RetrainJob | null = null;
  private busy = false;
  private closed = false;
  private readonly backoff = new Map<string, { until: number; ms: number }>();
  /** The last retrain logged by this node (for logs and tests). */
  last: RetrainRecord | null = null;

  constructor(
    private readonly replica: Replica<DocumentStore>,
    private readonly logger: Logger,
    private readonly opts: RetrainerOptions,
  ) {}

  start(): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setInterval(() => void this.tick(), this.opts.check_ms);
  }

  /** True while a training job runs or its op is being logged. */
  get running(): boolean {
    return this.busy;
  }

  /** Stops checking and terminates a running worker; a pending op is not logged. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    const job = this.job;
    this.job = null;
    if (job !== null) await job.terminate();
  }

  /** One check: starts a retrain of the first due workspace unless one is running. */
  async tick(): Promise<void> {
    if (this.busy || this.closed || !this.replica.isLeader()) return;
    const store = this.replica.state.machine;
    const now = Date.now();
    const ws = store.retrainCandidates().find((w) => (this.backoff.get(w)?.until ?? 0) <= now);
    if (ws === undefined) return;
    this.busy = true;
    try {
      await this.retrain(store, ws);
      this.backoff.delete(ws);
    } catch (err) {
      const prev = this.backoff.get(ws)?.ms ?? 0;
      const ms = Math.min(retry_backoff_ms_max, Math.max(retry_backoff_ms_min, prev * 2));
      this.backoff.set(ws, { until: Date.now() + ms, ms });
      if (!this.closed) this.logger.warn({ workspace: ws, err: (err as Error).message, retry_in_ms: ms }, 'vector index retrain failed');
    } finally {
      this.job = null;
      this.busy = false;
    }
  }

  private async retrain(store: DocumentStore, ws: string): Promise<void> {
    const started = performance.now();
    const job = startRetrainJob();
    this.job = job;
    try {
      const { op, stats } = await trainWorkspace(store, ws, job, {
        onStart: (vectors, copy_ms) => this.logger.info({ workspace: ws, vectors, copy_ms: Math.round(copy_ms) }, 'vector index retrain started'),
        closed: () => this.closed || this.replica.state.machine !== store,
        settle: async () => {
          const target = this.replica.log.lastIndex();
          await this.replica.waitApplied(target, settle_wait_ms_max);
        },
      });
      if (op === null || this.closed) return;
      const encodeStarted = performance.now();
      const payload = encodeOp(op);
      const encode_ms = performance.now() - encodeStarted;
      const limit = this.opts.op_bytes_max ?? centroids_op_bytes_max;
      if (payload.byteLength > limit) {
        throw new Error(`centroids op of ${payload.byteLength} bytes for ${stats.vectors} vectors is over ${limit} bytes`);
      }
      const index = await this.log(payload);
      if (index === null) return;
      const install = store.lastCentroidsInstall();
      this.last = {
        workspace: ws, index, ...stats, encode_ms, op_bytes: payload.byteLength, apply_ms: install?.ms ?? 0,
        routed_at_apply: install?.routed ?? 0, total_ms: performance.now() - started,
      };
      this.logger.info(
        Object.fromEntries(Object.entries(this.last).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v) : v])),
        'vector index retrained',
      );
    } finally {
      this.job = null;
      await job.terminate();
    }
  }

  /**
   * Logs the op and waits until the leader has applied it (so the next check sees the new
   * index); null if the node closes first. A full write queue is retried (the training is worth
   * keeping); the wait for commit has no deadline: while followers lag, no other training starts.
   */
  private async log(payload: Uint8Array): Promise<number | null> {
    let index = -1;
    for (let attempt = 1; index < 0; attempt++) {
      try {
        ({ index } = await this.replica.propose(payload, 'leader'));
      } catch (err) {
        const overloaded = err instanceof ReplicationError && err.code === 'overloaded';
        if (!overloaded || attempt >= propose_attempts_max || this.closed) throw err;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    while (!(await this.replica.waitApplied(index, 5000))) if (this.closed) return null;
    return index;
  }
}

export interface TrainStats {
  vectors: number;
  nlist: number;
  /** Copying the vectors on the event loop (all copies). */
  copy_ms: number;
  /** Training and assigning inside the worker (all rounds). */
  train_ms: number;
  /** Assignment rounds after training (vectors written meanwhile). */
  rounds: number;
  /** Ids in the op. */
  assigned: number;
  /** Ids written since the last round: routed when the op applies. */
  unassigned: number;
}

/**
 * Trains `ws` in `job`'s worker and returns its centroids op (null when there is nothing to
 * train or `closed()` turned true). Writes to the workspace keep being applied meanwhile: the ids
 * written while the worker trained are copied and assigned in further rounds (each shorter than
 * the last) until at most `unassigned_max` remain, so that a replica applying the op routes only
 * a few vectors itself: those written during the last round or logged after it. Before each
 * round, `settle` lets the leader apply what it has already logged. The op holds each id once,
 * from the latest round that copied it.
 */
export async function trainWorkspace(
  store: DocumentStore, ws: string, job: RetrainJob,
  hooks: {
    onStart?: (vectors: number, copy_ms: number) => void;
    closed?: () => boolean;
    /**
     * Resolves once the writes already logged have been applied here (the leader applies only
     * committed entries, so while followers lag its log runs ahead of its state): the ids taken
     * after it then include every write the op will be logged behind.
     */
    settle?: () => Promise<void>;
  } = {},
): Promise<{ op: CentroidsOp | null; stats: TrainStats }> {
  const closed = hooks.closed ?? (() => false);
  let t = performance.now();
  // Tracking starts in the same tick as the copy: no write falls between them.
  const written = store.trackVectorWrites(ws);
  try {
    const snapshot = store.retrainSnapshot(ws);
    const stats: TrainStats = { vectors: snapshot?.ids.length ?? 0, nlist: 0, copy_ms: performance.now() - t, train_ms: 0, rounds: 0, assigned: 0, unassigned: 0 };
    if (snapshot === null) return { op: null, stats };
    hooks.onStart?.(stats.vectors, stats.copy_ms);
    const { dim } = snapshot;
    const trained = await job.train(snapshot, index_seed);
    stats.train_ms += trained.ms;
    stats.nlist = trained.centroids.length / dim;
    const rounds: Assignment[] = [{ ids: snapshot.ids, lists: trained.lists, fingerprints: trained.fingerprints }];
    const settle = hooks.settle ?? (async () => {});
    await settle();
    let pending = written.take();
    while (pending.length > unassigned_max && stats.rounds < assign_rounds_max && !closed()) {
      t = performance.now();
      const delta = store.retrainSnapshot(ws, pending);
      stats.copy_ms += performance.now() - t;
      if (delta === null) break;
      const a = await job.assign(delta);
      stats.train_ms += a.ms;
      stats.rounds++;
      rounds.push({ ids: delta.ids, lists: a.lists, fingerprints: a.fingerprints });
      await settle();
      pending = written.take();
    }
    if (closed()) return { op: null, stats };
    const assignment = mergeAssignments(rounds);
    stats.assigned = assignment.ids.length;
    stats.unassigned = pending.length;
    return { op: store.centroidsOp(ws, dim, trained.centroids, assignment), stats };
  } finally {
    written.stop();
  }
}
