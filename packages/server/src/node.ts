// One Cairn node, wired the way `cairn serve` runs it: config -> replica (log + state) -> HTTP.
// Data flow: HTTP request -> (follower: forward write to leader) -> leader: prepare op ->
// log (fsync) -> apply to state -> ship to followers -> acknowledge per write concern.
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import pino from 'pino';
import type { Logger } from 'pino';
import type { CairnConfig } from './config/types.ts';
import { createEmbedder } from './embed/index.ts';
import { accessLog } from './http/access-log.ts';
import { forwardWrites } from './http/forward.ts';
import { createRaftRoutes } from './http/raft-routes.ts';
import { mountOperations } from './http/mount-operations.ts';
import { mountPublicApi } from './http/mount-public.ts';
import { Replica } from './replication/replica.ts';
import type { Transport } from './replication/transport.ts';
import { documentStateFactory } from './state-machine.ts';
import type { DocumentStore } from './store/document-store.ts';
import { encodeOp } from './store/op.ts';
import { countTokens } from './store/tokens.ts';

export interface NodeOptions {
  config: CairnConfig;
  logger?: Logger;
  transport?: Transport;
}

export interface RunningNode {
  readonly replica: Replica<DocumentStore>;
  readonly app: Hono;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Retraining is checked this often on the leader; its result is logged as a centroids op. */
const retrain_check_ms = 2000;
/**
 * Workspaces above this many documents are not retrained automatically: training runs on the
 * leader's event loop and installing centroids reassigns every vector on every replica, which
 * at 100k vectors stalls each node for minutes (BENCHMARKS.md). Below it a retrain costs
 * seconds. Larger workspaces keep their centroids (search stays correct; recall at a fixed
 * nprobe can drift) until training moves off the event loop.
 */
export const retrain_documents_max = 20_000;

export function buildApp(config: CairnConfig, replica: Replica<DocumentStore>, logger: Logger): Hono {
  const app = new Hono();
  app.use(accessLog(logger));
  app.use(async function servedBy(c, next) {
    await next();
    c.header('X-Served-By', replica.self.id);
  });
  // Operations first: its request metrics middleware then also counts /_raft/* routes.
  mountOperations(app, { config, replica, logger });
  app.route('/_raft', createRaftRoutes({ replica, stateChecksum: () => replica.state.machine.checksum() }));
  app.use(forwardWrites({ replica, forward_timeout_ms: config.replication.commit_timeout_ms + 5000, apply_wait_ms: config.server.read_wait_ms_max, body_bytes_max: config.server.body_bytes_max }));
  mountPublicApi(app, { config, replica, logger });
  return app;
}

export async function startNode(opts: NodeOptions): Promise<RunningNode> {
  const { config } = opts;
  const logger = opts.logger ?? pino({ level: config.server.log_level, base: { node: config.node_id } });
  const embedder = createEmbedder(config.embedding);
  // Load the tokenizer's ranks now rather than in the first request that needs them.
  countTokens('warm up');
  const replica = new Replica(config, documentStateFactory(embedder), logger, opts.transport);
  const app = buildApp(config, replica, logger);
  replica.start();

  let retrainPending = false;
  const retrainTimer = replica.isLeader()
    ? setInterval(() => {
        if (retrainPending) return;
        const store = replica.state.machine;
        const stats = store.workspaceStats();
        const ws = store.retrainCandidates().find((w) => (stats[w]?.document_count ?? 0) <= retrain_documents_max);
        if (ws === undefined) return;
        retrainPending = true;
        const started = performance.now();
        const op = store.prepareRetrain(ws);
        if (op.kind !== 'centroids') {
          retrainPending = false;
          return;
        }
        replica
          .propose(encodeOp(op), 'leader')
          .then(({ index }) => logger.info({ workspace: ws, index, ms: Math.round(performance.now() - started) }, 'vector index retrained'))
          .catch((err: unknown) => logger.warn({ workspace: ws, err: (err as Error).message }, 'retrain not logged'))
          .finally(() => {
            retrainPending = false;
          });
      }, retrain_check_ms)
    : null;

  const server = await new Promise<Server>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.server.port, hostname: config.server.host }, () => resolve(s as Server));
  });
  server.keepAliveTimeout = 65_000;
  const port = (server.address() as AddressInfo).port;
  logger.info({ node: config.node_id, role: replica.role(), port, host: config.server.host, leader: replica.leader.id, applied: replica.appliedIndex(), last_log_index: replica.log.lastIndex() }, 'node started');

  let closing: Promise<void> | null = null;
  return {
    replica,
    app,
    port,
    url: `http://${config.server.host === '0.0.0.0' ? '127.0.0.1' : config.server.host}:${port}`,
    close(): Promise<void> {
      closing ??= (async () => {
        if (retrainTimer) clearInterval(retrainTimer);
        // Stop accepting, let in-flight requests finish (bounded), then flush and close.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const deadline = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
        await Promise.race([closed, deadline]);
        server.closeAllConnections();
        replica.close();
        logger.info('node stopped');
      })();
      return closing;
    },
  };
}
