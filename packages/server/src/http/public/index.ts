export { createPublicApi } from './app.ts';
export type { ClusterInfo, PublicApiDeps, Replicator } from './deps.ts';
export { ApiError, errorBody } from './errors.ts';
