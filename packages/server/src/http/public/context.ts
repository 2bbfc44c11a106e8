// Shared types of the public API's routes.

import type { WorkspaceLimiter } from '../../limits/workspace-limiter.ts';
import type { RequestSchemas } from '../openapi/requests.ts';
import type { PublicApiDeps } from './deps.ts';

export interface ApiEnv {
  Variables: {
    /** The resolved, validated workspace id. */
    ws: string;
    /** The parsed JSON body of a POST, else undefined. */
    body: unknown;
  };
}

export interface RouteDeps extends PublicApiDeps {
  limiter: WorkspaceLimiter;
  /** The request schemas under this node's limits: the routes check requests against them, /openapi.json shows them. */
  schemas: RequestSchemas;
}
