import type { Hono } from 'hono';
import type { Logger } from 'pino';
import type { CairnConfig } from '../config/types.ts';
import type { Replica } from '../replication/replica.ts';
import type { DocumentStore } from '../store/document-store.ts';

export interface PublicMountDeps {
  config: CairnConfig;
  replica: Replica<DocumentStore>;
  logger: Logger;
}

export function mountPublicApi(_app: Hono, _deps: PublicMountDeps): void {}
