import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createEmbedder } from '../embed/index.ts';
import { Replica } from '../replication/replica.ts';
import { documentStateFactory } from '../state-machine.ts';
import type { DocumentStore } from '../store/document-store.ts';
import { testConfig } from '../http/public/testing.ts';
import { ClusterView } from './cluster-view.ts';
import { EventHub, sse_subscribers_max } from './event-hub.ts';
import { RateSampler, sumHistories } from './rates.ts';
import type { NodeSelf } from './types.ts';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** node-2, a follower of node-1 (leader, at a:1) beside node-3 (at c:3); nothing listens. */
function followerReplica(): Replica<DocumentStore> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-view-'));
  const base = testConfig({ server: { data_dir: dir } });
  const config = {
    ...base,
    node_id: 'node-2',
    replication: { ...base.replication, nodes: [{ id: 'node-1', address: 'a:1' }, { id: 'node-2', address: 'b:2' }, { id: 'node-3', address: 'c:3' }], leader: 'node-1' },
  };
  const replica = new Replica<DocumentStore>(config, documentStateFactory(createEmbedder(config.embedding)), pino({ level: 'silent' }));
  cleanups.push(() => {
    replica.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return replica;
}

function leaderSelf(): NodeSelf {
  const follower = { address: '', desync_reason: null, state_check: null, last_replicated_index: 0, next_index: 0, last_latency_ms: 3, consecutive_failures: 0, last_success_at: null, snapshot_in_progress: false };
  return {
    node_id: 'node-1', cluster_id: 'test', address: 'a:1', role: 'leader', leader_id: 'node-1', term: 4, commit_index: 120, applied_index: 120, last_log_index: 120,
    in_sync: true, status: 'leader', version: '0.1.0', started_at: new Date().toISOString(), uptime_s: 50, write_rate_per_s: 7, query_rate_per_s: 2,
    last_second: { at_s: 1, write: 7, query: 2 },
    followers: [
      { ...follower, node_id: 'node-2', address: 'b:2', health: 'healthy', lag: 0 },
      { ...follower, node_id: 'node-3', address: 'c:3', health: 'lagging', lag: 42, consecutive_failures: 5 },
    ],
    resync_stats: {} as NodeSelf['resync_stats'],
    events: [
      { at: '2026-01-01T00:00:02.000Z', kind: 'health_changed', follower: 'node-3', detail: 'healthy -> lagging' },
      { at: '2026-01-01T00:00:03.000Z', kind: 'resync_succeeded', follower: 'node-3', detail: 'ok' },
    ],
  };
}

type Route = (url: string) => Response | Promise<Response>;

function fakeFetch(route: Route): typeof fetch {
  return async (input) => route(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
}

function timeout(): never {
  throw Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
}

describe('ClusterView', () => {
  it('merges the leader\'s view of the followers with what each peer answers', async () => {
    const replica = followerReplica();
    const view = new ClusterView({
      replica,
      rates: new RateSampler({ entries: () => 0, queries: () => 0 }),
      fetch: fakeFetch((url) => (url.startsWith('http://a:1/api/v1/cluster/self') ? Response.json(leaderSelf()) : timeout())),
    });
    await view.refresh();
    const snap = view.snapshot();
    expect(snap.observed_by).toBe('node-2');
    expect(snap).toMatchObject({ total_nodes: 3, reachable_nodes: 2, term: 4, commit_index: 120, write_rate_per_s: 7, leader: { id: 'node-1', reachable: true } });
    const [n1, n2, n3] = snap.nodes;
    expect(n1).toMatchObject({ id: 'node-1', role: 'leader', state: 'leader', reachable: true, lag: 0, version: '0.1.0', uptime_s: 50 });
    expect(n2).toMatchObject({ id: 'node-2', role: 'follower', state: 'healthy', reachable: true, lag: 0, last_latency_ms: 3 });
    expect(n3).toMatchObject({ id: 'node-3', state: 'lagging', reachable: false, lag: 42, consecutive_failures: 5, resyncs: 1 });
    expect(n3?.error).toMatch(/no answer within/);
    expect(snap.followers).toEqual({ healthy: 1, lagging: 1, desynced: 0, unknown: 0 });
    expect(snap.events[0]).toMatchObject({ kind: 'resync_succeeded', node: 'node-1' }); // newest first
  });

  it('reads a peer without /api/v1/cluster/self from its /_raft/health', async () => {
    const replica = followerReplica();
    const health = { node_id: 'node-3', address: 'c:3', state: 'Follower', role: 'follower', term: 4, commit_index: 118, last_applied: 118, last_log_index: 118, in_sync: false, status: 'catching up' };
    const view = new ClusterView({
      replica,
      rates: new RateSampler({ entries: () => 0, queries: () => 0 }),
      fetch: fakeFetch((url) => {
        if (url.startsWith('http://c:3/api/v1/cluster/self')) return new Response('not found', { status: 404 });
        if (url === 'http://c:3/_raft/health') return Response.json(health, { status: 503 });
        return timeout();
      }),
    });
    await view.refresh();
    const snap = view.snapshot();
    expect(snap.leader.reachable).toBe(false);
    expect(snap.nodes[0]).toMatchObject({ id: 'node-1', state: 'unreachable', reachable: false, lag: null });
    // Without the leader's view, a reachable follower's own in_sync decides.
    expect(snap.nodes[2]).toMatchObject({ id: 'node-3', reachable: true, state: 'lagging', applied_index: 118, version: null, uptime_s: null });
  });
});

describe('ClusterView with server.auth_token set', () => {
  it('sends the token to its peers\' /api/v1/cluster/self, which asks for it', async () => {
    const replica = followerReplica();
    const view = new ClusterView({
      replica,
      rates: new RateSampler({ entries: () => 0, queries: () => 0 }),
      authToken: 'read-token',
      fetch: async (input, init) => {
        const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        if (!url.startsWith('http://a:1/api/v1/cluster/self')) return timeout();
        const auth = new Headers(init?.headers).get('authorization');
        return auth === 'Bearer read-token' ? Response.json(leaderSelf()) : Response.json({ error: { code: 'unauthorized' } }, { status: 401 });
      },
    });
    await view.refresh();
    expect(view.snapshot().leader).toMatchObject({ id: 'node-1', reachable: true });
  });
});

describe('EventHub', () => {
  it('bounds its subscribers and stops pushing to those that left', () => {
    const replica = followerReplica();
    const view = new ClusterView({ replica, rates: new RateSampler({ entries: () => 0, queries: () => 0 }), fetch: fakeFetch(() => timeout()) });
    const hub = new EventHub(view, replica);
    const received: number[] = [];
    const subs = Array.from({ length: sse_subscribers_max }, (_, i) => hub.subscribe(() => received.push(i)));
    expect(subs.every((s) => s !== null)).toBe(true);
    expect(received).toHaveLength(sse_subscribers_max); // each gets the current snapshot at once
    expect(hub.subscribe(() => {})).toBeNull();
    for (const s of subs) s?.();
    expect(hub.size).toBe(0);
    expect(hub.subscribe(() => {})).not.toBeNull();
  });
});

describe('rates', () => {
  it('turns counters into per-second rates and sums node histories by second', () => {
    let now = 1_000_000;
    let entries = 0;
    const r = new RateSampler({ entries: () => entries, queries: () => 0 }, () => now);
    r.sample();
    entries = 10;
    now += 1000;
    r.sample();
    entries = 40;
    now += 2000; // a missed second: the gap is spread evenly
    r.sample();
    expect(r.history().write).toEqual([10, 15, 15]);
    expect(r.last()).toMatchObject({ write: 15 });
    const sum = sumHistories([{ start_s: 10, write: [], query: [1, 2, 3] }, { start_s: 11, write: [], query: [5, 5] }], 'query');
    expect(sum.query).toEqual([1, 7, 8]);
    expect(sum.start_s).toBe(10);
  });

  it('samples on a timer from start() until stop()', () => {
    const r = new RateSampler({ entries: () => 0, queries: () => 0 });
    expect(r.running).toBe(false);
    r.start();
    expect(r.running).toBe(true);
    r.stop();
    expect(r.running).toBe(false);
  });
});
