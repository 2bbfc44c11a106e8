// Entry of a prepare pool worker thread. Worker threads do not inherit the TypeScript loader the
// main thread registered (bin/cairn.mjs, vitest), so register it here, then load the worker.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
// Below the event loop's priority (worker-priority.ts); the pool passes its increment.
const { lowerThisThread } = await import('../worker-priority.ts');
lowerThisThread(workerData?.nice_increment);
const worker = await import('./prepare-worker.ts');
export default worker.default;
