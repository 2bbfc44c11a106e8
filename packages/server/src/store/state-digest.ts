// A digest of the state at its applied index, computed off the event loop (digest-worker.ts),
// for comparing replicas: two replicas at the same applied index must hold the same state.
import { Worker } from 'node:worker_threads';
import type { StateDigest } from '../replication/ports.ts';

const entry = new URL('./digest-entry.mjs', import.meta.url);

/** The digest of the state database `file` (read-only, one read transaction, in a worker thread). */
export function stateDigestOf(file: string): Promise<StateDigest> {
  return new Promise<StateDigest>((resolve, reject) => {
    let settled = false;
    const worker = new Worker(entry, { workerData: { file } });
    worker.unref();
    worker.once('message', (m: { ok: boolean; digest?: StateDigest; error?: string }) => {
      settled = true;
      if (m.ok && m.digest !== undefined) resolve(m.digest);
      else reject(new Error(`state digest: ${m.error ?? 'no answer'}`));
    });
    worker.once('error', (err) => {
      if (settled) return;
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (settled) return;
      settled = true;
      reject(new Error(`state digest worker exited with code ${code}`));
    });
  });
}
