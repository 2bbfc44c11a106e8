// The state digest worker thread: computes digestOfFile (state-digest.ts: state.db read-only on
// its own connection, the applied index and the state checksum inside one read transaction) and
// posts the answer. Whole-state hashing takes seconds at 100k documents: it never runs on the
// event loop that replication shares.
import { parentPort, workerData } from 'node:worker_threads';
import { digestOfFile } from './state-digest.ts';

const port = parentPort;
if (port === null) throw new Error('digest worker: not running in a worker thread');
const { file } = workerData as { file: string };
try {
  port.postMessage({ ok: true, digest: digestOfFile(file) });
} catch (err) {
  port.postMessage({ ok: false, error: (err as Error).message });
}
