// The operator surface of a node: GET /metrics (Prometheus text), /api/v1/cluster/* (overview,
// nodes, live events), GET /dashboard. The HTTP metrics middleware is registered here, first of
// the node's routes (node.ts), so it measures all of them: these, /_raft/*, write forwarding and
// the public API.
//
// With server.auth_token set, all of it asks for that token (Bearer, or the password of Basic for
// a browser); the whole of /metrics, not only its workspace-labelled series, so a scrape either
// works or fails as a whole. The operator token is for operator actions (raft-routes.ts).
//
// The rate sampler runs on a timer from here on; the returned close() stops it, and the node calls
// it when it closes (node.ts).
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import type { CairnConfig } from '../config/types.ts';
import { createDashboardRoutes } from '../dashboard/routes.ts';
import { httpMetricsMiddleware } from '../metrics/http-metrics.ts';
import { createNodeMetrics } from '../metrics/node-metrics.ts';
import type { NodeMetrics } from '../metrics/node-metrics.ts';
import { requireToken } from './secret.ts';
import type { Replica } from '../replication/replica.ts';
import type { DocumentStore } from '../store/document-store.ts';
import { ClusterView } from '../cluster/cluster-view.ts';
import { EventHub } from '../cluster/event-hub.ts';
import { RateSampler } from '../cluster/rates.ts';
import { createClusterRoutes } from './cluster/routes.ts';
import { createBackupRoutes } from './backup-routes.ts';

export interface OperationsMountDeps {
  config: CairnConfig;
  replica: Replica<DocumentStore>;
  logger: Logger;
}

/** What the operator surface runs besides its routes; the node stops it when it closes. */
export interface OperationsMount {
  /** The node's metrics (the registry behind /metrics, the HTTP counters). */
  readonly metrics: NodeMetrics;
  /** The per-second rates behind the overview and the dashboard's charts, sampled on a timer. */
  readonly rates: RateSampler;
  /** Stops the rate sampler's timer. */
  close(): void;
}

/** Operator surface: /metrics, /dashboard, /api/v1/cluster/*. */
export function mountOperations(app: Hono, deps: OperationsMountDeps): OperationsMount {
  const { replica, config } = deps;
  const metrics = createNodeMetrics(replica);
  app.use(httpMetricsMiddleware(metrics.http));
  const token = config.server.auth_token;
  const forTools = requireToken({ token, name: 'server.auth_token', challenge: 'Bearer' });
  app.use('/metrics', forTools);
  app.use('/api/v1/cluster/*', forTools);
  app.use('/dashboard/*', requireToken({ token, name: 'server.auth_token', challenge: 'Basic' }));
  app.get('/metrics', async function prometheusMetrics(c) {
    const text = await metrics.registry.metrics();
    return c.body(text, 200, { 'content-type': metrics.registry.contentType });
  });

  const rates = new RateSampler({ entries: () => replica.appliedIndex(), queries: () => metrics.http.counts.queries });
  rates.start();
  const view = new ClusterView({ replica, rates, authToken: token });
  const hub = new EventHub(view, replica);
  app.route('/api/v1/cluster', createClusterRoutes(view, hub));
  app.route('/dashboard', createDashboardRoutes(view, hub, { tokenRequired: config.replication.operator_token !== '' }));
  app.route('/_raft', createBackupRoutes(replica));
  return {
    metrics,
    rates,
    close(): void {
      rates.stop();
    },
  };
}
