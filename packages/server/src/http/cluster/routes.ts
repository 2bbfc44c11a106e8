// /api/v1/cluster/*: the operator's view of the cluster, from any node.
//   GET self       this node's own facts (peers ask each other this; ?history=1 adds rates)
//   GET overview   nodes total/reachable, leader, term, commit index, rates, events
//   GET nodes      one row per node: id, address, role, state, reachable, applied index, lag, ...
//   GET history    the cluster's write and query rates per second over the last minutes
//   GET events     Server-Sent Events: a `snapshot` event every second and on change
import { Hono } from 'hono';
import type { ClusterView } from '../../cluster/cluster-view.ts';
import type { EventHub } from '../../cluster/event-hub.ts';
import { sumHistories } from '../../cluster/rates.ts';
import type { RateHistory } from '../../cluster/rates.ts';
import { streamSnapshots } from './sse.ts';

/** Peer answers younger than this are reused by the REST routes, ms. */
export const peer_reuse_ms = 500;

export function createClusterRoutes(view: ClusterView, hub: EventHub): Hono {
  const app = new Hono();

  app.get('/self', (c) => c.json(view.self(c.req.query('history') === '1')));

  app.get('/overview', async (c) => {
    await view.refresh(peer_reuse_ms);
    const { nodes, workspaces, ...overview } = view.snapshot();
    return c.json({ ...overview, nodes_reachable: nodes.filter((n) => n.reachable).map((n) => n.id), workspaces_listed: workspaces.length });
  });

  app.get('/nodes', async (c) => {
    await view.refresh(peer_reuse_ms);
    const snap = view.snapshot();
    return c.json({ observed_by: snap.observed_by, at: snap.at, leader: snap.leader.id, nodes: snap.nodes });
  });

  app.get('/history', async (c) => {
    await view.refresh(0, undefined, true);
    return c.json(clusterHistory(view));
  });

  app.get('/events', (c) => streamSnapshots(c, hub, 'snapshot', (s) => JSON.stringify(s)));

  return app;
}

/** Writes: the leader's applied rate (every node applies the same entries); queries: summed. */
export function clusterHistory(view: ClusterView): { write: RateHistory; query: RateHistory } {
  const own = view.self(true).history;
  const all = [own, ...view.peerHistories()].filter((h) => h !== undefined);
  const write = own ?? { start_s: 0, write: [], query: [] };
  return { write: { start_s: write.start_s, write: write.write, query: [] }, query: sumHistories(all, 'query') };
}
