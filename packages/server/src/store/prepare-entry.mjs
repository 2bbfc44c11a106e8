// Entry of a prepare pool worker thread. Worker threads do not inherit the TypeScript loader the
// main thread registered (bin/cairn.mjs, vitest), so register it here, then load the worker.
import { register } from 'tsx/esm/api';

register();
const worker = await import('./prepare-worker.ts');
export default worker.default;
