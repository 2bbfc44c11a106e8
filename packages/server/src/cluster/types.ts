// The JSON shapes of /api/v1/cluster/*. One node's own facts (`NodeSelf`, served at
// /api/v1/cluster/self and asked of peers), the merged per-node rows (`NodeRow`, /nodes), and the
// cluster summary (`ClusterSnapshot`: /overview, and each Server-Sent Event of /events).
import type { FollowerStatus } from '../replication/replica.ts';
import type { ReplicationEvent, ResyncStats } from '../replication/stats.ts';
import type { RateHistory } from './rates.ts';

export interface NodeSelf {
  node_id: string;
  cluster_id: string;
  address: string;
  role: 'leader' | 'follower';
  leader_id: string;
  term: number;
  commit_index: number;
  applied_index: number;
  last_log_index: number;
  in_sync: boolean;
  status: string;
  /** Bytes of log.db and state.db with their WAL files; absent from a node that predates it. */
  db_size_bytes?: number;
  version: string;
  started_at: string;
  uptime_s: number;
  write_rate_per_s: number;
  query_rate_per_s: number;
  /** Rates of the last whole second (for live charts). */
  last_second: { at_s: number; write: number; query: number };
  /** Leader only: its view of each follower. */
  followers: FollowerStatus[];
  resync_stats: ResyncStats;
  /** Leader only: snapshot resyncs per follower that ended installed, since this node started. */
  resyncs_by_follower?: Record<string, number>;
  /** Newest last. */
  events: ReplicationEvent[];
  /** With ?history=1: per-second rates of the last minutes. */
  history?: RateHistory;
}

/** Follower health as the leader reports it, plus what an observer can tell without it. */
export type NodeState = 'leader' | 'healthy' | 'lagging' | 'desynced' | 'unknown' | 'unreachable';

export interface NodeRow {
  id: string;
  address: string;
  role: 'leader' | 'follower';
  reachable: boolean;
  state: NodeState;
  applied_index: number | null;
  commit_index: number | null;
  last_log_index: number | null;
  term: number | null;
  /** Entries behind the leader (leader's view for followers; 0 for the leader); null if unknown. */
  lag: number | null;
  last_latency_ms: number | null;
  consecutive_failures: number | null;
  /** Snapshot resyncs to this follower that succeeded since the leader started. */
  resyncs: number;
  snapshot_in_progress: boolean;
  in_sync: boolean | null;
  /** Bytes of the node's log.db and state.db with their WAL files; null if unknown. */
  db_size_bytes: number | null;
  version: string | null;
  uptime_s: number | null;
  write_rate_per_s: number | null;
  query_rate_per_s: number | null;
  /** Why it is unreachable, or what answered instead. */
  error: string | null;
  /** Milliseconds since this node was last heard from (0 for the observer itself). */
  seen_ms_ago: number | null;
}

export interface WorkspaceRow {
  workspace: string;
  documents: number;
  bytes: number;
}

export interface ClusterEvent extends ReplicationEvent {
  /** The node that recorded it. */
  node: string;
}

export interface ClusterSnapshot {
  at: string;
  cluster_id: string;
  observed_by: string;
  total_nodes: number;
  reachable_nodes: number;
  leader: { id: string; address: string; reachable: boolean };
  term: number;
  commit_index: number;
  write_rate_per_s: number;
  query_rate_per_s: number;
  /** The last whole second: writes (leader's applied rate) and queries summed over reachable nodes. */
  last_second: { at_s: number; write: number; query: number };
  followers: Record<'healthy' | 'lagging' | 'desynced' | 'unknown', number>;
  resync_stats: ResyncStats | null;
  nodes: NodeRow[];
  /** Newest first. */
  events: ClusterEvent[];
  workspaces: WorkspaceRow[];
  workspaces_total: number;
}
