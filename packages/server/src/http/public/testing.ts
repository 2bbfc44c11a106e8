// Test wiring for the public API: a real SQLite file in a temp dir, the hashing embedder, and an
// in-memory Replicator that applies each op in a transaction (as the leader does) and counts
// the log index.

import pino from 'pino';
import type { CairnConfig, WorkspaceLimits } from '../../config/types.ts';
import { HashingEmbedder } from '../../embed/hashing.ts';
import type { Embedder } from '../../embed/types.ts';
import { default_workspace_limits } from '../../limits/limits.ts';
import { decodeOp, encodeOp } from '../../store/op.ts';
import type { Op } from '../../store/op.ts';
import { openTestStore } from '../../store/testing.ts';
import type { TestStore } from '../../store/testing.ts';
import { createPublicApi } from './app.ts';
import type { Replicator } from './deps.ts';
import type { Hono } from 'hono';
import { SERVER } from '../../config/schema.ts';

export function testConfig(overrides: { resource_limits?: Record<string, WorkspaceLimits>; server?: Partial<CairnConfig['server']> } = {}): CairnConfig {
  return {
    source: '',
    node_id: 'node-1',
    cluster: {
      enabled: true,
      discovery_method: 'static',
      endpoints: ['localhost:8080', 'localhost:8081', 'localhost:8082'],
      load_balancing: { strategy: 'workspace_hash', health_check_interval: 30, max_load_factor: 0.85, enable_circuit_breaker: false },
      affinity: {
        workspace_routing: true,
        sticky_sessions: true,
        default_tier: 'medium',
        rules: { 'mission-architect': { preferred_nodes: ['node-1'], avoid_nodes: [], resource_tier: 'high', sticky_session: true, locality: '' } },
      },
    },
    resource_limits: overrides.resource_limits ?? { default: { ...default_workspace_limits } },
    replication: {
      cluster_id: 'test', nodes: [{ id: 'node-1', address: '127.0.0.1:0' }], leader: 'node-1', batch_size: 100,
      flush_interval_ms: 5, resync_threshold: 1000, snapshot_timeout_s: 60, write_concern: 'quorum', inflight_batches_max: 4,
      failures_lagging: 3, silence_lagging_ms: 3000, lag_healthy_max: 100, append_timeout_ms: 2000, heartbeat_ms: 200,
      log_retain_entries: 10000, snapshots_inflight_max: 1, commit_timeout_ms: 5000, state_compare_interval_ms: 0, secret: '', operator_token: '',
    },
    server: {
      ...SERVER.defaults,
      host: '127.0.0.1', port: 0, data_dir: '', auth_token: '', body_bytes_max: 1024 * 1024, bulk_documents_max: 100,
      read_wait_ms_max: 200, log_level: 'silent', ...overrides.server,
    },
    embedding: { provider: 'hashing', dim: 64, url: '', model: '', api_key: '', timeout_ms: 1000 },
  };
}

export class FakeReplicator implements Replicator {
  index = 0;
  proposed: Op[] = [];
  /** When set, propose waits for it (to hold requests in flight). */
  gate: Promise<void> | null = null;
  failWith: Error | null = null;

  constructor(private readonly t: TestStore) {}

  async propose(op: Op, _opts?: { writeConcern?: string }): Promise<{ index: number }> {
    if (this.failWith) throw this.failWith;
    if (this.gate) await this.gate;
    const wire = decodeOp(encodeOp(op));
    this.t.db.transaction(() => this.t.store.apply(wire))();
    this.proposed.push(op);
    this.index += 1;
    return { index: this.index };
  }

  async waitApplied(index: number, timeoutMs: number): Promise<boolean> {
    if (index <= this.index) return true;
    await new Promise((r) => setTimeout(r, Math.min(timeoutMs, 50)));
    return index <= this.index;
  }

  appliedIndex(): number {
    return this.index;
  }

  /** What readIndex answers (a leader whose log ended at this index when it began to lead). */
  leaderReadIndex = 0;

  readIndex(): number {
    return this.leaderReadIndex;
  }
}

export interface TestApi {
  app: Hono;
  t: TestStore;
  replicator: FakeReplicator;
  /** JSON request helper: app.request with a JSON body and headers. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
  [Symbol.dispose](): void;
}

export function openTestApi(opts: { config?: CairnConfig; embedder?: Embedder } = {}): TestApi {
  const config = opts.config ?? testConfig();
  const t = openTestStore({ embedder: opts.embedder ?? new HashingEmbedder({ dim: 64 }) });
  const replicator = new FakeReplicator(t);
  const app = createPublicApi({
    config,
    nodeId: 'node-1',
    store: () => t.store,
    replicator,
    cluster: { leaderId: () => 'node-1', clusterSize: () => 3 },
    logger: pino({ level: 'silent' }),
  });
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> =>
    Promise.resolve(
      app.request(path, {
        method,
        headers: { 'content-type': 'application/json', ...headers },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      }),
    );
  return { app, t, replicator, call, [Symbol.dispose]: () => t.close() };
}
