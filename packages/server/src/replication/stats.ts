// Counters of snapshot resyncs, as /_raft/resync_stats reports them.

export interface ResyncStats {
  snapshots_created: number;
  snapshot_send_attempts: number;
  snapshot_send_successes: number;
  snapshot_send_failures: number;
  snapshots_received: number;
  snapshots_applied: number;
  snapshot_bytes_sent: number;
  snapshot_bytes_received: number;
  last_snapshot_index: number | null;
  last_snapshot_at: string | null;
  last_snapshot_ms: number | null;
  last_snapshot_target: string | null;
  /**
   * Where the last successful transfer's time went (ms): copy (the leader's consistent copy of
   * its state), transfer (chunks sent until the follower answered the last one, its install
   * included), and the follower's own timings of receive, fsync, check and install.
   */
  last_snapshot_phases: Record<string, unknown> | null;
  last_failure: string | null;
  last_failure_at: string | null;
  last_applied_snapshot_index: number | null;
  last_applied_snapshot_at: string | null;
}

export function emptyResyncStats(): ResyncStats {
  return {
    snapshots_created: 0,
    snapshot_send_attempts: 0,
    snapshot_send_successes: 0,
    snapshot_send_failures: 0,
    snapshots_received: 0,
    snapshots_applied: 0,
    snapshot_bytes_sent: 0,
    snapshot_bytes_received: 0,
    last_snapshot_index: null,
    last_snapshot_at: null,
    last_snapshot_ms: null,
    last_snapshot_target: null,
    last_snapshot_phases: null,
    last_failure: null,
    last_failure_at: null,
    last_applied_snapshot_index: null,
    last_applied_snapshot_at: null,
  };
}

/** Replication events (desyncs, resyncs) kept for the dashboard and the overview API. */
export interface ReplicationEvent {
  at: string;
  kind: 'desynced' | 'diverged' | 'recovered' | 'resync_started' | 'resync_succeeded' | 'resync_failed' | 'health_changed' | 'leader_started' | 'leader_changed' | 'leadership_handed_over' | 'snapshot_installed';
  follower?: string;
  detail: string;
}

export const EVENTS_MAX = 200;

/**
 * Optional observers of replication work, for metrics. Called synchronously after the work is
 * done; they only record numbers and never change what replication does.
 */
export interface ReplicationObserver {
  /** Leader: a batch of `entries` made durable in one log transaction (fsync included). */
  batchWritten?(entries: number, fsync_ms: number): void;
  /** Follower: an append made durable (`entries` may be 0: a commit-only write). */
  logWritten?(entries: number, fsync_ms: number): void;
  /** Leader: one append round trip to a follower ended (ok = answered 200). */
  appendDone?(follower: string, latency_ms: number, ok: boolean): void;
  /** Leader: a snapshot transfer to a follower ended. */
  snapshotSent?(follower: string, ok: boolean, bytes: number, ms: number): void;
  /** Follower: a received snapshot was installed. */
  snapshotInstalled?(bytes: number, ms: number): void;
}
