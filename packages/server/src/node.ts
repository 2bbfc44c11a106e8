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
import { forwardTimeoutMs } from './config/budgets.ts';
import { createEmbedder } from './embed/index.ts';
import { endOnBrokenInvariant } from './fatal.ts';
import { accessLog } from './http/access-log.ts';
import { createDrain } from './http/drain.ts';
import type { Drain } from './http/drain.ts';
import { forwardWrites } from './http/forward.ts';
import { createRaftRoutes } from './http/raft-routes.ts';
import { createRollingRoutes } from './http/rolling-routes.ts';
import { mountOperations } from './http/mount-operations.ts';
import type { OperationsMount } from './http/mount-operations.ts';
import { mountPublicApi } from './http/mount-public.ts';
import { unknownRoute } from './http/public/errors.ts';
import { Replica } from './replication/replica.ts';
import { Retrainer } from './retrain/retrainer.ts';
import type { Transport } from './replication/transport.ts';
import { documentStateFactory } from './state-machine.ts';
import type { DocumentStore } from './store/document-store.ts';
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

/**
 * Retraining is checked this often on the leader. A due workspace is trained in a worker thread
 * (retrain/retrainer.ts) and the result logged as a centroids op that carries every vector's list,
 * so neither the leader's event loop nor any replica's apply runs the k-means or routes every
 * vector again. There is no size limit on automatic retraining: at 100k x 384 the leader's event
 * loop stalls for at most the op's apply (about a second), not minutes (BENCHMARKS.md,
 * "Retraining off the event loop"). The only bound is the op's size (centroids_op_bytes_max).
 */
const retrain_check_ms = 2000;

/**
 * A stopping node gives the requests it has this long to their own answers (a write the leader
 * already has, to its outcome: normally well under a second), then answers the rest 503.
 */
const drain_deadline_ms = 3_000;
/** Then this long for the answers to go out and their connections to close, before they are cut. */
const close_flush_ms_max = 1_000;

/** A node's HTTP app, and the close of what its routes run in the background. */
export interface NodeApp {
  readonly app: Hono;
  /** The operator surface's metrics and rate sampler. */
  readonly operations: OperationsMount;
  /** Answers what the node has, and refuses what comes, once it stops (http/drain.ts). */
  readonly drain: Drain;
  /** Stops the app's own timers (the operator surface's rate sampler). The replica is its owner's to close. */
  close(): void;
}

export function buildApp(config: CairnConfig, replica: Replica<DocumentStore>, logger: Logger): NodeApp {
  const app = new Hono();
  app.use(accessLog(logger));
  const drain = createDrain({ node_id: config.node_id, deadline_ms: drain_deadline_ms, retry_after_s: 1 });
  app.use(drain.middleware);
  app.use(async function servedBy(c, next) {
    await next();
    c.header('X-Served-By', replica.self.id);
  });
  // Operations first: its request metrics middleware then also counts /_raft/* routes.
  const operations = mountOperations(app, { config, replica, logger });
  app.route('/_raft', createRaftRoutes({ replica, stateChecksum: () => replica.state.machine.checksum() }));
  app.route('/_raft', createRollingRoutes({ config }));
  app.onError((err, c) => {
    endOnBrokenInvariant(err, logger, `${c.req.method} ${c.req.path}`);
    logger.error({ err }, 'unhandled error');
    return c.json({ error: { code: 'internal', message: 'internal error' } }, 500);
  });
  app.use(forwardWrites({ replica, forward_timeout_ms: forwardTimeoutMs(config), apply_wait_ms: config.server.read_wait_ms_max, body_bytes_max: config.server.body_bytes_max, allowed_origins: () => config.server.allowed_origins, stopping: drain.signal }));
  mountPublicApi(app, { config, replica, logger });
  app.notFound(unknownRoute(() => app.routes));
  return { app, operations, drain, close: () => operations.close() };
}

export async function startNode(opts: NodeOptions): Promise<RunningNode> {
  const { config } = opts;
  const logger = opts.logger ?? pino({ level: config.server.log_level, base: { node: config.node_id } });
  const embedder = createEmbedder(config.embedding);
  // Load the tokenizer's ranks now rather than in the first request that needs them.
  countTokens('warm up');
  const { document_bytes_max, metadata_bytes_max, metadata_depth_max } = config.server;
  const replica = new Replica(config, documentStateFactory(embedder, { document_bytes_max, metadata_bytes_max, metadata_depth_max }, config.server.passage_tokens_target), logger, opts.transport);
  const built = buildApp(config, replica, logger);
  const { app } = built;
  replica.start();

  // On every node: it trains only while this node leads (leadership can be handed over).
  const retrainer = new Retrainer(replica, logger, { check_ms: retrain_check_ms });
  retrainer.start();

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
        // Every request this node has gets an answer: from now on a new one gets 503 shutting_down
        // (Retry-After), one in flight its own answer (bounded by drain_deadline_ms), each with
        // Connection: close. The port stops listening and idle connections close, so nginx opens
        // a new connection for its next request, is refused, and sends it to another node: a
        // refused connection is one nginx may retry a POST on, since nothing was sent.
        const { drain } = built;
        drain.begin();
        logger.info({ in_flight: drain.inFlight() }, 'node stopping: answering the requests in flight');
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const retrained = retrainer.close();
        await drain.settled();
        const flushed = new Promise<void>((resolve) => setTimeout(resolve, close_flush_ms_max).unref());
        await Promise.race([closed, flushed]);
        server.closeAllConnections();
        await retrained;
        replica.stop();
        await replica.settled();
        built.close();
        replica.close();
        logger.info('node stopped');
      })();
      return closing;
    },
  };
}
