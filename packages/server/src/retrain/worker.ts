// The retrain worker thread. It answers requests from its job (job.ts), one at a time:
//   train  { snapshot, seed }  -> { centroids, lists, fingerprints, ms }: k-means over the copy of
//                                 a workspace's vectors, and every copied vector assigned to the result;
//   assign { snapshot }        -> { lists, fingerprints, ms }: vectors written since, assigned to the
//                                 centroids of the last train.
// Snapshot vector buffers arrive transferred, not copied; result buffers go back the same way.
// Neither the leader's event loop nor any replica's apply pays for the k-means or for routing
// the vectors the op carries.
import { parentPort } from 'node:worker_threads';
import { assignSnapshot, trainSnapshot } from '@cairn/ivf';
import type { VectorSnapshot } from '@cairn/ivf';

export type RetrainRequest =
  | { kind: 'train'; snapshot: VectorSnapshot; seed: number }
  | { kind: 'assign'; snapshot: VectorSnapshot };

export type RetrainReply =
  | { kind: 'trained'; centroids: Float32Array; lists: Uint32Array; fingerprints: Uint32Array; ms: number }
  | { kind: 'assigned'; lists: Uint32Array; fingerprints: Uint32Array; ms: number }
  | { kind: 'failed'; message: string };

const port = parentPort;
if (port === null) throw new Error('retrain worker: not running in a worker thread');
let centroids: Float32Array | null = null;

port.on('message', (req: RetrainRequest) => {
  const started = performance.now();
  try {
    if (req.kind === 'train') {
      const r = trainSnapshot(req.snapshot, { seed: req.seed });
      centroids = r.centroids;
      const reply: RetrainReply = { kind: 'trained', centroids: r.centroids.slice(), lists: r.lists, fingerprints: r.fingerprints, ms: performance.now() - started };
      port.postMessage(reply, [reply.centroids.buffer, r.lists.buffer, r.fingerprints.buffer] as ArrayBuffer[]);
      return;
    }
    if (centroids === null) throw new Error('assign before train');
    const r = assignSnapshot(req.snapshot, centroids);
    const reply: RetrainReply = { kind: 'assigned', lists: r.lists, fingerprints: r.fingerprints, ms: performance.now() - started };
    port.postMessage(reply, [r.lists.buffer, r.fingerprints.buffer] as ArrayBuffer[]);
  } catch (err) {
    port.postMessage({ kind: 'failed', message: (err as Error).stack ?? String(err) } satisfies RetrainReply);
  }
});
