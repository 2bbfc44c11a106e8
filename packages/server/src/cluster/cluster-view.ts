// The cluster as one node sees it: its own facts, merged with what its peers answer at
// /api/v1/cluster/self (or /_raft/health from a node that predates it), asked in parallel with a
// short timeout. The leader's view of its followers (state, lag, latency) wins over anything a
// follower says about itself. Any node can build the view, so the overview, the dashboard and
// `cairn status` work against whichever node nginx or the operator reaches.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeSpec } from '../config/types.ts';
import type { Replica } from '../replication/replica.ts';
import type { DocumentStore } from '../store/document-store.ts';
import type { RateSampler } from './rates.ts';
import type { ClusterEvent, ClusterSnapshot, NodeRow, NodeSelf, NodeState, WorkspaceRow } from './types.ts';

export const version: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Timeout of one peer request, ms. */
export const peer_timeout_ms = 800;
/** A peer not heard from for this long counts as unreachable even while a request is pending, ms. */
export const peer_stale_ms = 2500;
/** Events kept in a snapshot. */
export const snapshot_events_max = 30;
/** Workspaces listed in a snapshot (largest first). */
export const snapshot_workspaces_max = 50;
/** Events a node reports about itself. */
const self_events_max = 50;
/** The files of a node's data directory that `db_size_bytes` adds up. */
export const db_files = ['log.db', 'log.db-wal', 'state.db', 'state.db-wal'] as const;

/** Bytes of the node's databases and their WAL files (a missing file counts 0). */
export function dbSizeBytes(dataDir: string): number {
  let total = 0;
  for (const f of db_files) {
    try {
      total += statSync(join(dataDir, f)).size;
    } catch {
      // not there (yet): 0
    }
  }
  return total;
}

interface PeerState {
  spec: NodeSpec;
  self: NodeSelf | null;
  okAt: number | null;
  failedAt: number | null;
  error: string | null;
  inflight: Promise<void> | null;
}

export interface ClusterViewDeps {
  replica: Replica<DocumentStore>;
  rates: RateSampler;
  /** Peer requests; injectable for tests. */
  fetch?: typeof fetch;
  /** server.auth_token: sent to peers' /api/v1/cluster/self, which asks for it when set. */
  authToken?: string;
  clock?: () => number;
}

export class ClusterView {
  private readonly replica: Replica<DocumentStore>;
  private readonly rates: RateSampler;
  private readonly fetchFn: typeof fetch;
  private readonly peerHeaders: Record<string, string>;
  private readonly clock: () => number;
  private readonly peers: PeerState[];
  private readonly resyncs = new Map<string, number>();

  constructor(deps: ClusterViewDeps) {
    this.replica = deps.replica;
    this.rates = deps.rates;
    this.fetchFn = deps.fetch ?? fetch;
    this.peerHeaders = deps.authToken === undefined || deps.authToken === '' ? {} : { authorization: `Bearer ${deps.authToken}` };
    this.clock = deps.clock ?? Date.now;
    this.peers = deps.replica.config.replication.nodes
      .filter((n) => n.id !== deps.replica.self.id)
      .map((spec) => ({ spec, self: null, okAt: null, failedAt: null, error: null, inflight: null }));
    deps.replica.observe({
      snapshotSent: (follower, ok) => {
        if (ok) this.resyncs.set(follower, (this.resyncs.get(follower) ?? 0) + 1);
      },
    });
  }

  /** This node's own facts (GET /api/v1/cluster/self). */
  self(withHistory = false): NodeSelf {
    const r = this.replica;
    const sync = r.inSync();
    const rates = this.rates.current();
    const out: NodeSelf = {
      node_id: r.self.id,
      cluster_id: r.config.replication.cluster_id,
      address: r.self.address,
      role: r.isLeader() ? 'leader' : 'follower',
      leader_id: r.leader.id,
      term: r.term(),
      commit_index: r.commitIndex(),
      applied_index: r.appliedIndex(),
      last_log_index: r.log.lastIndex(),
      in_sync: sync.ok,
      status: sync.reason,
      db_size_bytes: dbSizeBytes(r.config.server.data_dir),
      version,
      started_at: new Date(r.startedAt).toISOString(),
      uptime_s: Math.round((this.clock() - r.startedAt) / 1000),
      write_rate_per_s: rates.write_per_s,
      query_rate_per_s: rates.query_per_s,
      last_second: this.rates.last(),
      followers: r.followers(),
      resync_stats: { ...r.stats },
      resyncs_by_follower: Object.fromEntries(this.resyncs),
      events: r.events.slice(-self_events_max),
    };
    if (withHistory) out.history = this.rates.history();
    return out;
  }

  /**
   * Asks every peer whose answer is older than `maxAgeMs` (without doubling a request in flight)
   * and waits for them up to `waitMs`.
   */
  async refresh(maxAgeMs = 0, waitMs = peer_timeout_ms, withHistory = false): Promise<void> {
    const now = this.clock();
    const pending = this.peers.map((p) => {
      const fresh = p.okAt !== null && now - p.okAt <= maxAgeMs && !withHistory;
      if (fresh) return Promise.resolve();
      p.inflight ??= this.ask(p, withHistory).finally(() => {
        p.inflight = null;
      });
      return p.inflight;
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, waitMs);
    });
    await Promise.race([Promise.all(pending), deadline]);
    clearTimeout(timer);
  }

  private async ask(p: PeerState, withHistory: boolean): Promise<void> {
    try {
      const res = await this.fetchFn(`http://${p.spec.address}/api/v1/cluster/self${withHistory ? '?history=1' : ''}`, { headers: this.peerHeaders, signal: AbortSignal.timeout(peer_timeout_ms) });
      if (res.status === 404) {
        await res.arrayBuffer();
        p.self = fromRaftHealth(await this.raftHealth(p.spec), p.spec);
      } else if (res.ok) {
        p.self = (await res.json()) as NodeSelf;
      } else {
        throw new Error(`answered ${res.status}`);
      }
      p.okAt = this.clock();
      p.error = null;
    } catch (err) {
      p.failedAt = this.clock();
      p.error = describe(err);
    }
  }

  private async raftHealth(spec: NodeSpec): Promise<Record<string, unknown>> {
    const res = await this.fetchFn(`http://${spec.address}/_raft/health`, { signal: AbortSignal.timeout(peer_timeout_ms) });
    // 503 still carries the body: the node answers, it is only out of sync.
    return (await res.json()) as Record<string, unknown>;
  }

  /** The peers' per-second histories as last fetched (refresh(…, true) first for fresh ones). */
  peerHistories(): NodeSelf['history'][] {
    return this.peers.map((p) => p.self?.history).filter((h) => h !== undefined);
  }

  /** Merges this node's facts with the peers' last answers. Synchronous and cheap. */
  snapshot(): ClusterSnapshot {
    const now = this.clock();
    const me = this.self();
    const rep = this.replica.config.replication;
    const selves = new Map<string, { self: NodeSelf; reachable: boolean; error: string | null; seen: number | null }>();
    selves.set(me.node_id, { self: me, reachable: true, error: null, seen: 0 });
    for (const p of this.peers) {
      const reachable = p.okAt !== null && (p.failedAt === null || p.okAt > p.failedAt) && now - p.okAt <= peer_stale_ms;
      if (p.self !== null) selves.set(p.spec.id, { self: p.self, reachable, error: reachable ? null : (p.error ?? 'no answer'), seen: p.okAt === null ? null : now - p.okAt });
    }
    const leaderSelf = selves.get(rep.leader);
    const leaderReachable = rep.leader === me.node_id || this.peers.some((p) => p.spec.id === rep.leader && selves.get(p.spec.id)?.reachable === true);
    const leaderView = leaderSelf?.self.role === 'leader' ? leaderSelf.self : null;
    const rows: NodeRow[] = rep.nodes.map((spec) => this.row(spec, selves.get(spec.id), leaderView, now));
    for (const p of this.peers) {
      const row = rows.find((r) => r.id === p.spec.id);
      if (row !== undefined && p.self === null) row.error = p.error ?? 'not asked yet';
    }
    const followers = { healthy: 0, lagging: 0, desynced: 0, unknown: 0 };
    for (const row of rows) if (row.role === 'follower' && row.state in followers) followers[row.state as keyof typeof followers]++;
    const writeRate = leaderView !== null && leaderReachable ? leaderView.write_rate_per_s : me.write_rate_per_s;
    return {
      at: new Date(now).toISOString(),
      cluster_id: rep.cluster_id,
      observed_by: me.node_id,
      total_nodes: rows.length,
      reachable_nodes: rows.filter((r) => r.reachable).length,
      leader: { id: this.replica.leader.id, address: this.replica.leader.address, reachable: leaderReachable },
      term: leaderView?.term ?? me.term,
      commit_index: leaderView?.commit_index ?? me.commit_index,
      write_rate_per_s: writeRate,
      query_rate_per_s: Math.round(rows.reduce((a, r) => a + (r.reachable ? (r.query_rate_per_s ?? 0) : 0), 0) * 100) / 100,
      last_second: {
        at_s: me.last_second.at_s,
        write: leaderView !== null && leaderReachable ? leaderView.last_second.write : me.last_second.write,
        query: Math.round([...selves.values()].reduce((a, s) => a + (s.reachable ? (s.self.last_second?.query ?? 0) : 0), 0) * 100) / 100,
      },
      followers,
      resync_stats: leaderView?.resync_stats ?? null,
      nodes: rows,
      events: mergeEvents([...selves.values()].map((s) => s.self)),
      ...this.workspaces(),
    };
  }

  private row(spec: NodeSpec, seen: { self: NodeSelf; reachable: boolean; error: string | null; seen: number | null } | undefined, leaderView: NodeSelf | null, _now: number): NodeRow {
    const isLeader = spec.id === this.replica.leader.id;
    const s = seen?.self;
    const reachable = seen?.reachable ?? false;
    const f = leaderView?.followers.find((x) => x.node_id === spec.id);
    let state: NodeState;
    if (isLeader) state = reachable ? 'leader' : 'unreachable';
    else if (f !== undefined) state = f.health as NodeState;
    else if (!reachable) state = 'unreachable';
    else state = s?.in_sync === true ? 'healthy' : 'lagging';
    const lag = isLeader ? (reachable ? 0 : null) : (f?.lag ?? (s !== undefined && leaderView !== null ? Math.max(0, leaderView.last_log_index - s.applied_index) : null));
    return {
      id: spec.id,
      address: spec.address,
      role: isLeader ? 'leader' : 'follower',
      reachable,
      state,
      applied_index: s?.applied_index ?? null,
      commit_index: s?.commit_index ?? null,
      last_log_index: s?.last_log_index ?? null,
      term: s?.term ?? null,
      lag,
      last_latency_ms: f?.last_latency_ms ?? null,
      consecutive_failures: f?.consecutive_failures ?? null,
      resyncs:
        leaderView === null
          ? 0
          : (leaderView.resyncs_by_follower?.[spec.id] ?? leaderView.events.filter((e) => e.kind === 'resync_succeeded' && e.follower === spec.id).length),
      snapshot_in_progress: f?.snapshot_in_progress ?? false,
      in_sync: s?.in_sync ?? null,
      db_size_bytes: s?.db_size_bytes ?? null,
      version: s === undefined || s.version === 'unknown' ? null : s.version,
      uptime_s: s === undefined || s.started_at === '' ? null : s.uptime_s,
      write_rate_per_s: s?.write_rate_per_s ?? null,
      query_rate_per_s: s?.query_rate_per_s ?? null,
      error: seen?.error ?? null,
      seen_ms_ago: seen?.seen ?? null,
    };
  }

  private workspaces(): { workspaces: WorkspaceRow[]; workspaces_total: number } {
    let stats: ReturnType<DocumentStore['workspaceStats']>;
    try {
      stats = this.replica.state.machine.workspaceStats();
    } catch {
      return { workspaces: [], workspaces_total: 0 };
    }
    const rows = Object.entries(stats).map(([workspace, s]) => ({ workspace, documents: s.document_count, bytes: s.bytes }));
    rows.sort((a, b) => b.documents - a.documents || a.workspace.localeCompare(b.workspace));
    return { workspaces: rows.slice(0, snapshot_workspaces_max), workspaces_total: rows.length };
  }
}

function mergeEvents(selves: NodeSelf[]): ClusterEvent[] {
  const all: ClusterEvent[] = [];
  for (const s of selves) for (const e of s.events) all.push({ ...e, node: s.node_id });
  all.sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
  return all.slice(0, snapshot_events_max);
}

function describe(err: unknown): string {
  const e = err as Error & { cause?: { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `no answer within ${peer_timeout_ms} ms`;
  return e.cause?.code ?? e.message;
}

/** A NodeSelf from /_raft/health, for a peer that has no /api/v1/cluster/self. */
export function fromRaftHealth(h: Record<string, unknown>, spec: NodeSpec): NodeSelf {
  const num = (k: string): number => (typeof h[k] === 'number' ? h[k] : 0);
  const details = Array.isArray(h['follower_details']) ? (h['follower_details'] as NodeSelf['followers']) : [];
  return {
    node_id: typeof h['node_id'] === 'string' ? h['node_id'] : spec.id,
    cluster_id: '',
    address: typeof h['address'] === 'string' ? h['address'] : spec.address,
    role: String(h['role'] ?? h['state']).toLowerCase() === 'leader' ? 'leader' : 'follower',
    leader_id: typeof h['leader_id'] === 'string' ? h['leader_id'] : '',
    term: num('term'),
    commit_index: num('commit_index'),
    applied_index: num('last_applied'),
    last_log_index: num('last_log_index'),
    in_sync: h['in_sync'] === true,
    status: typeof h['status'] === 'string' ? h['status'] : '',
    version: 'unknown',
    started_at: '',
    uptime_s: 0,
    write_rate_per_s: 0,
    query_rate_per_s: 0,
    last_second: { at_s: 0, write: 0, query: 0 },
    followers: details,
    resync_stats: {} as NodeSelf['resync_stats'],
    events: [],
  };
}
