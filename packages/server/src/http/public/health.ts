// GET /health in the clustering guide's shape, with real values. With X-Workspace-ID (or
// ?workspace=), workspaces.workspaces holds only that workspace's block. While the node has a
// condition set (replication/condition.ts: the disk is full, a log fsync failed, ...), it answers
// 503 with status "unhealthy" and the conditions listed.
//
// With server.auth_token set, the workspaces block (names, document counts, sizes) is only in the
// answer to a request that carries the token; status, node and cluster stay open for load
// balancers.

import { cpus, loadavg } from 'node:os';
import type { Context } from 'hono';
import type { ActivityTracker } from './activity.ts';
import type { RouteDeps } from './context.ts';
import { ApiError } from './errors.ts';
import { carriesToken } from '../secret.ts';
import { workspace_id_pattern, workspace_id_rule } from '../../store/validate.ts';

/** A workspace counts as active when it served a request within this window. */
export const active_window_ms = 5 * 60 * 1000;

export interface WorkspaceHealth {
  document_count: number;
  resource_tier: string;
  /** Unix seconds of the last request on this node (or the last write, if none); 0 if neither. */
  last_access: number;
  access_pattern: string;
  active_requests: number;
  queued_requests: number;
  storage_bytes: number;
}

/**
 * ClusterInfo as /health reads it: `conditions` (the node's replica.condition.list()) when the
 * node wires it. Any condition set makes the node unhealthy.
 */

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export function healthHandler(deps: RouteDeps, activity: ActivityTracker, clock: () => number) {
  return function health(c: Context): Response {
    const only = c.req.header('x-workspace-id') ?? c.req.query('workspace');
    if (only !== undefined && !workspace_id_pattern.test(only)) {
      throw new ApiError(400, 'invalid_workspace', `workspace id must be ${workspace_id_rule}`, 'X-Workspace-ID');
    }
    const conditions = deps.cluster.conditions?.() ?? [];
    const unhealthy = conditions.length > 0;
    const load = deps.cluster.loadFactor?.() ?? (loadavg()[0] ?? 0) / Math.max(1, cpus().length);
    const open = {
      status: unhealthy ? 'unhealthy' : (deps.cluster.status?.() ?? 'healthy'),
      node_id: deps.nodeId,
      cluster: {
        enabled: deps.config.cluster.enabled,
        node_id: deps.nodeId,
        cluster_size: deps.cluster.clusterSize(),
        leader_node: deps.cluster.leaderId(),
        load_factor: round2(load),
        discovery_method: deps.config.cluster.discovery_method,
        load_balancing: deps.config.cluster.load_balancing.strategy,
      },
    };
    const tail = {
      applied_index: deps.replicator.appliedIndex(),
      conditions: conditions.map((x) => ({ code: x.code, message: x.message, since: x.since })),
    };
    const status = unhealthy ? 503 : 200;
    if (!carriesToken(c, deps.config.server.auth_token)) return c.json({ ...open, ...tail }, status);
    const stats = deps.store().workspaceStats();
    const configured = Object.keys(deps.config.resource_limits).filter((ws) => ws !== 'default');
    const all = new Set([...Object.keys(stats), ...activity.workspaces(), ...configured]);
    const now = clock();
    const block = (ws: string): WorkspaceHealth => {
      const s = stats[ws];
      const lastRequest = activity.lastAccessMs(ws);
      const last = Math.max(lastRequest ?? 0, s?.last_write_ms ?? 0);
      return {
        document_count: s?.document_count ?? 0,
        resource_tier: deps.config.cluster.affinity.rules[ws]?.resource_tier ?? deps.config.cluster.affinity.default_tier,
        last_access: Math.floor(last / 1000),
        access_pattern: activity.pattern(ws),
        active_requests: deps.limiter.active(ws),
        queued_requests: deps.limiter.queued(ws),
        storage_bytes: s?.bytes ?? 0,
      };
    };
    const selected = only === undefined ? [...all].sort() : [only];
    const workspaces: Record<string, WorkspaceHealth> = {};
    for (const ws of selected) workspaces[ws] = block(ws);
    const active = [...all].filter((ws) => {
      const last = activity.lastAccessMs(ws);
      return deps.limiter.active(ws) > 0 || (last !== null && now - last < active_window_ms);
    }).length;
    return c.json({ ...open, workspaces: { total_workspaces: all.size, active_workspaces: active, workspaces }, ...tail }, status);
  };
}
