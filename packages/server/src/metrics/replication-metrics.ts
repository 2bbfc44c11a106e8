// Replication metrics. Gauges and the resync counters are read from the Replica when Prometheus
// scrapes (collect callbacks: a few field reads, no I/O); latencies, batch sizes and snapshot
// transfers are observed as they happen through Replica.observe().
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Registry } from 'prom-client';
import { CONDITION_CODES } from '../replication/condition.ts';
import type { Replica } from '../replication/replica.ts';
import type { StateMachine } from '../replication/state.ts';
import type { ReplicationEvent } from '../replication/stats.ts';

export const follower_states = ['unknown', 'healthy', 'lagging', 'desynced'] as const;

const latency_buckets_s = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const fsync_buckets_s = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const snapshot_buckets_s = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export function registerReplicationMetrics<S extends StateMachine>(registry: Registry, replica: Replica<S>): () => void {
  const registers = [registry];
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read());
      },
    });
  };
  gauge('cairn_raft_term', 'Current term of this node', () => replica.term());
  gauge('cairn_raft_last_log_index', 'Index of the last entry in this node\'s log', () => replica.log.lastIndex());
  gauge('cairn_raft_commit_index', 'Commit index as this node knows it', () => replica.commitIndex());
  gauge('cairn_raft_applied_index', 'Index of the last entry applied to this node\'s state', () => replica.appliedIndex());
  gauge('cairn_raft_is_leader', '1 on the leader, 0 on a follower', () => (replica.isLeader() ? 1 : 0));
  gauge('cairn_raft_in_sync', '1 when this node is serving and in sync (as /_raft/health says), else 0', () => (replica.inSync().ok ? 1 : 0));
  gauge('cairn_node_start_time_seconds', 'Unix time this node started', () => replica.startedAt / 1000);
  new Gauge({
    name: 'cairn_node_condition',
    help: 'Conditions that keep this node from serving as it should (disk_full, fsync_failed, ...): 1 while set, else 0',
    labelNames: ['code'],
    registers,
    collect() {
      for (const code of CONDITION_CODES) this.set({ code }, replica.condition.has(code) ? 1 : 0);
    },
  });

  new Gauge({
    name: 'cairn_raft_follower_lag_entries',
    help: 'Entries a follower is behind the leader\'s durable log (leader only)',
    labelNames: ['follower'],
    registers,
    collect() {
      this.reset();
      for (const f of replica.followers()) this.set({ follower: f.node_id }, f.lag);
    },
  });
  new Gauge({
    name: 'cairn_raft_follower_match_index',
    help: 'Last index known replicated on a follower (leader only)',
    labelNames: ['follower'],
    registers,
    collect() {
      this.reset();
      for (const f of replica.followers()) this.set({ follower: f.node_id }, f.last_replicated_index);
    },
  });
  new Gauge({
    name: 'cairn_raft_follower_state',
    help: 'Follower health as the leader sees it: 1 for the current state, 0 for the others',
    labelNames: ['follower', 'state'],
    registers,
    collect() {
      this.reset();
      for (const f of replica.followers()) for (const s of follower_states) this.set({ follower: f.node_id, state: s }, f.health === s ? 1 : 0);
    },
  });
  new Gauge({
    name: 'cairn_raft_follower_consecutive_failures',
    help: 'Consecutive failed appends to a follower (leader only)',
    labelNames: ['follower'],
    registers,
    collect() {
      this.reset();
      for (const f of replica.followers()) this.set({ follower: f.node_id }, f.consecutive_failures);
    },
  });
  new Gauge({
    name: 'cairn_raft_follower_last_latency_seconds',
    help: 'Round trip of the last successful append to a follower (leader only)',
    labelNames: ['follower'],
    registers,
    collect() {
      this.reset();
      for (const f of replica.followers()) if (f.last_latency_ms !== null) this.set({ follower: f.node_id }, f.last_latency_ms / 1000);
    },
  });

  // Resync counters live in replica.stats (also served by /_raft/resync_stats): mirror them.
  const stats = replica.stats;
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  counter('cairn_raft_snapshots_created_total', 'Snapshots of the state made by the leader', () => stats.snapshots_created);
  counter('cairn_raft_snapshot_send_attempts_total', 'Snapshot transfers started by the leader', () => stats.snapshot_send_attempts);
  counter('cairn_raft_snapshots_sent_total', 'Snapshot transfers that ended installed on the follower', () => stats.snapshot_send_successes);
  counter('cairn_raft_snapshot_send_failures_total', 'Snapshot transfers that failed', () => stats.snapshot_send_failures);
  counter('cairn_raft_snapshot_sent_bytes_total', 'Bytes of snapshots sent and installed', () => stats.snapshot_bytes_sent);
  counter('cairn_raft_snapshots_received_total', 'Snapshot transfers this follower began to receive', () => stats.snapshots_received);
  counter('cairn_raft_snapshots_applied_total', 'Snapshots this follower verified and installed', () => stats.snapshots_applied);
  counter('cairn_raft_snapshot_received_bytes_total', 'Snapshot bytes received by this follower', () => stats.snapshot_bytes_received);

  // replica.events keeps the last EVENTS_MAX events: count each one once, as it first appears, so
  // the counter never goes down when old events are dropped.
  const eventCounts = new Map<string, number>();
  let lastCounted: ReplicationEvent | null = null;
  new Counter({
    name: 'cairn_raft_events_total',
    help: 'Replication events (desynced, diverged, resync_started, resync_succeeded, resync_failed, health_changed, snapshot_installed, leader_started) since start',
    labelNames: ['kind'],
    registers,
    collect() {
      const events = replica.events;
      // -1 (the last counted one was dropped: more than EVENTS_MAX since the last scrape) counts all kept.
      const from = lastCounted === null ? 0 : events.lastIndexOf(lastCounted) + 1;
      for (let i = from; i < events.length; i++) {
        const kind = events[i]?.kind ?? 'unknown';
        eventCounts.set(kind, (eventCounts.get(kind) ?? 0) + 1);
      }
      lastCounted = events.at(-1) ?? lastCounted;
      this.reset();
      for (const [kind, n] of eventCounts) this.inc({ kind }, n);
    },
  });

  const appendLatency = new Histogram({
    name: 'cairn_raft_append_duration_seconds',
    help: 'Round trip of appends from the leader to a follower, by follower and result',
    labelNames: ['follower', 'result'],
    buckets: latency_buckets_s,
    registers,
  });
  const batchEntries = new Histogram({
    name: 'cairn_raft_batch_entries',
    help: 'Entries per batch the leader wrote in one log transaction',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers,
  });
  const fsync = new Histogram({
    name: 'cairn_raft_log_write_duration_seconds',
    help: 'Durable log writes (one SQLite transaction with synchronous=FULL, fsync included), by role',
    labelNames: ['role'],
    buckets: fsync_buckets_s,
    registers,
  });
  const snapshotDuration = new Histogram({
    name: 'cairn_raft_snapshot_duration_seconds',
    help: 'Snapshot transfers: sent (leader, by result) and installed (follower)',
    labelNames: ['direction', 'result'],
    buckets: snapshot_buckets_s,
    registers,
  });
  const snapshotBytes = new Histogram({
    name: 'cairn_raft_snapshot_size_bytes',
    help: 'Size of snapshots sent or installed',
    labelNames: ['direction'],
    buckets: [64 * 1024, 256 * 1024, 1024 ** 2, 4 * 1024 ** 2, 16 * 1024 ** 2, 64 * 1024 ** 2, 256 * 1024 ** 2, 1024 ** 3],
    registers,
  });

  return replica.observe({
    batchWritten(entries, ms) {
      batchEntries.observe(entries);
      fsync.observe({ role: 'leader' }, ms / 1000);
    },
    logWritten(_entries, ms) {
      fsync.observe({ role: 'follower' }, ms / 1000);
    },
    appendDone(follower, ms, ok) {
      appendLatency.observe({ follower, result: ok ? 'ok' : 'failed' }, ms / 1000);
    },
    snapshotSent(_follower, ok, bytes, ms) {
      snapshotDuration.observe({ direction: 'sent', result: ok ? 'ok' : 'failed' }, ms / 1000);
      if (ok) snapshotBytes.observe({ direction: 'sent' }, bytes);
    },
    snapshotInstalled(bytes, ms) {
      snapshotDuration.observe({ direction: 'installed', result: 'ok' }, ms / 1000);
      snapshotBytes.observe({ direction: 'installed' }, bytes);
    },
  });
}
