// One retrain job: a worker thread (worker.ts) that trains over a copy of a workspace's vectors,
// then assigns the vectors written while it trained. Each request's vector buffer is transferred
// to the worker (no structured clone of size * dim floats; the caller's copy is detached); the
// ids are cloned, and the caller keeps its own to build the centroids op.
import { Worker } from 'node:worker_threads';
import type { VectorSnapshot } from '@cairn/ivf';
import type { RetrainReply, RetrainRequest } from './worker.ts';

export interface Trained {
  centroids: Float32Array;
  /** Parallel to the snapshot's ids. */
  lists: Uint32Array;
  fingerprints: Uint32Array;
  /** Time spent training and assigning inside the worker. */
  ms: number;
}

export type Assigned = Omit<Trained, 'centroids'>;

export interface RetrainJob {
  /** Trains over `snapshot` (its buffer is transferred). One request at a time. */
  train(snapshot: VectorSnapshot, seed: number): Promise<Trained>;
  /** Assigns `snapshot` to the centroids of the last train (its buffer is transferred). */
  assign(snapshot: VectorSnapshot): Promise<Assigned>;
  /** Stops the worker (idempotent); a pending request rejects. */
  terminate(): Promise<void>;
}

const worker_entry = new URL('./worker-entry.mjs', import.meta.url);

export function startRetrainJob(): RetrainJob {
  const worker = new Worker(worker_entry);
  let pending: { resolve: (r: RetrainReply) => void; reject: (e: Error) => void } | null = null;
  let dead: Error | null = null;
  const fail = (err: Error): void => {
    dead ??= err;
    const p = pending;
    pending = null;
    p?.reject(err);
  };
  worker.on('message', (reply: RetrainReply) => {
    const p = pending;
    pending = null;
    p?.resolve(reply);
  });
  worker.on('error', (err) => fail(err));
  worker.on('exit', (code) => fail(new Error(`retrain worker exited with code ${code}`)));

  const request = async (req: RetrainRequest): Promise<RetrainReply> => {
    if (dead !== null) throw dead;
    if (pending !== null) throw new Error('retrain job: one request at a time');
    const reply = new Promise<RetrainReply>((resolve, reject) => (pending = { resolve, reject }));
    worker.postMessage(req, [req.snapshot.data.buffer as ArrayBuffer]);
    const r = await reply;
    if (r.kind === 'failed') throw new Error(`retrain worker: ${r.message}`);
    return r;
  };

  return {
    async train(snapshot, seed) {
      const r = await request({ kind: 'train', snapshot, seed });
      if (r.kind !== 'trained') throw new Error(`retrain worker answered ${r.kind} to train`);
      return { centroids: r.centroids, lists: r.lists, fingerprints: r.fingerprints, ms: r.ms };
    },
    async assign(snapshot) {
      const r = await request({ kind: 'assign', snapshot });
      if (r.kind !== 'assigned') throw new Error(`retrain worker answered ${r.kind} to assign`);
      return { lists: r.lists, fingerprints: r.fingerprints, ms: r.ms };
    },
    async terminate() {
      fail(new Error('retrain job terminated'));
      await worker.terminate();
    },
  };
}
