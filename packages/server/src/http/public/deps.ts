// What the public API consumes. The node wires real implementations; tests pass fakes.

import type { Condition } from '../../replication/condition.ts';
import type { Logger } from 'pino';
import type { CairnConfig, WriteConcern } from '../../config/types.ts';
import type { WorkspaceLimiter } from '../../limits/workspace-limiter.ts';
import type { DocumentStore } from '../../store/document-store.ts';
import type { Op } from '../../store/op.ts';

/**
 * The replicated log, as write handlers see it (on the leader; followers forward writes before
 * these routes run). propose resolves once the op is durable per the write concern and applied
 * locally. A rejection with an error carrying `status` (number), `code` and optionally
 * `toJSON()` / `retry_after_s` / `details` is answered with that status and body (e.g. 503 when
 * the leader is unreachable); any other rejection becomes 503 `replication_failed`.
 */
export interface Replicator {
  propose(op: Op, opts: { writeConcern?: WriteConcern }): Promise<{ index: number }>;
  /** Resolves true once the local replica applied `index`, false after `timeoutMs`. */
  waitApplied(index: number, timeoutMs: number): Promise<boolean>;
  appliedIndex(): number;
  /**
   * The index a read must see applied here before it answers (on the leader, the last index its
   * log held when it began to lead: its reads are linearizable); 0 on a follower.
   */
  readIndex(): number;
}

/** Cluster facts for /health. */
export interface ClusterInfo {
  leaderId(): string;
  clusterSize(): number;
  /** "healthy" unless the node knows better (e.g. "degraded" when out of sync). */
  status?(): string;
  /** 0..1; defaults to the 1-minute load average over the CPU count. */
  loadFactor?(): number;
  /** What keeps the node from serving as it should (fsync failed, disk full, recovering): /health is then unhealthy (503). */
  conditions?(): readonly Condition[];
}

export interface PublicApiDeps {
  config: CairnConfig;
  nodeId: string;
  /** The current store. A function: the node builds a new store when a snapshot is installed. */
  store: () => DocumentStore;
  replicator: Replicator;
  cluster: ClusterInfo;
  logger: Logger;
  /** Shared limiter; built from config.resource_limits when absent. */
  limiter?: WorkspaceLimiter;
  /** Wall clock (ms) for /health's last_access; Date.now by default. */
  clock?: () => number;
}
