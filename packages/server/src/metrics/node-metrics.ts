// One node's metrics: a prom-client Registry of its own (several nodes may share a process in
// tests, so nothing goes to the global registry), the HTTP middleware, and the collectors.
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { Replica } from '../replication/replica.ts';
import type { DocumentStore } from '../store/document-store.ts';
import { HttpMetrics } from './http-metrics.ts';
import { registerReplicationMetrics } from './replication-metrics.ts';
import { registerStoreMetrics } from './store-metrics.ts';

export interface NodeMetrics {
  readonly registry: Registry;
  readonly http: HttpMetrics;
  /** Stops observing the replica. */
  close(): void;
}

export function createNodeMetrics(replica: Replica<DocumentStore>, opts: { processMetrics?: boolean } = {}): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: replica.self.id });
  if (opts.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'cairn_' });
  const http = new HttpMetrics(registry, { diskFull: () => replica.condition.has('disk_full') });
  const unobserve = registerReplicationMetrics(registry, replica);
  registerStoreMetrics(registry, replica);
  return { registry, http, close: unobserve };
}
