// Mounts the public document API (http/public) on a node, backed by its replica.
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import type { CairnConfig } from '../config/types.ts';
import type { Replica } from '../replication/replica.ts';
import type { DocumentStore } from '../store/document-store.ts';
import { encodeOp } from '../store/op.ts';
import { createPublicApi } from './public/index.ts';

export interface PublicMountDeps {
  config: CairnConfig;
  replica: Replica<DocumentStore>;
  logger: Logger;
}

export function mountPublicApi(app: Hono, deps: PublicMountDeps): void {
  const { replica, config } = deps;
  const api = createPublicApi({
    config,
    nodeId: replica.self.id,
    // A function: a snapshot install replaces the store.
    store: () => replica.state.machine,
    replicator: {
      propose: (op, opts) => replica.propose(encodeOp(op), opts.writeConcern ?? config.replication.write_concern),
      waitApplied: (index, timeoutMs) => replica.waitApplied(index, timeoutMs),
      appliedIndex: () => replica.appliedIndex(),
      readIndex: () => replica.readIndex(),
    },
    cluster: {
      leaderId: () => replica.leader.id,
      clusterSize: () => config.replication.nodes.length,
      status: () => (replica.inSync().ok ? 'healthy' : 'degraded'),
      conditions: () => replica.condition.list(),
    },
    logger: deps.logger,
  });
  app.route('/', api);
}
