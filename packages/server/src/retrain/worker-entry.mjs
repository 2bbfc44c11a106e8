// Entry of the retrain worker thread. Worker threads do not inherit the TypeScript loader the
// main thread registered (bin/cairn.mjs, vitest), so register it here, then load the worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
