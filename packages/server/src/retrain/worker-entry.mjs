// Entry of the retrain worker thread. Worker threads do not inherit the TypeScript loader the
// main thread registered (bin/cairn.mjs, vitest), so register it here, then load the worker.
import { register } from 'tsx/esm/api';

register();
// Below the event loop's priority (worker-priority.ts).
const { lowerThisThread } = await import('../worker-priority.ts');
lowerThisThread();
await import('./worker.ts');
