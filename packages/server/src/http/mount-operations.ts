import type { Hono } from 'hono';
import type { Logger } from 'pino';
import type { CairnConfig } from '../config/types.ts';
import type { Replica } from '../replication/replica.ts';
import type { DocumentStore } from '../store/document-store.ts';

export interface OperationsMountDeps {
  config: CairnConfig;
  replica: Replica<DocumentStore>;
  logger: Logger;
}

/** Operator surface: /metrics, /dashboard, /api/v1/cluster/*. */
export function mountOperations(_app: Hono, _deps: OperationsMountDeps): void {}
