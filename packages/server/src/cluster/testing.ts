// For tests that start real nodes on ports picked in advance: checks that each url is answered by
// the node the test started (its id and cluster id), not by another process that took the port
// first (on a busy machine several suites pick free ports at once).

export interface ExpectedNode {
  id: string;
  url: string;
  /** Whether the test's process for this node is still running. */
  running: boolean;
}

/** A description of the first node that is not the expected one, or null when all are. */
export async function foreignNode(nodes: ExpectedNode[], clusterId: string, authToken = ''): Promise<string | null> {
  const headers: Record<string, string> = authToken === '' ? {} : { authorization: `Bearer ${authToken}` };
  for (const n of nodes) {
    if (!n.running) return `${n.id}: its process exited (port taken?)`;
    try {
      const res = await fetch(`${n.url}/api/v1/cluster/self`, { headers, signal: AbortSignal.timeout(3000) });
      const self = (await res.json()) as { node_id?: unknown; cluster_id?: unknown };
      if (self.node_id !== n.id || self.cluster_id !== clusterId) {
        return `${n.url} is answered by ${String(self.node_id)} of cluster ${String(self.cluster_id)}, not ${n.id} of ${clusterId}`;
      }
    } catch (err) {
      return `${n.url}: ${(err as Error).message}`;
    }
  }
  return null;
}

export interface StartedCluster {
  nodes: Array<{ id: string; url: string; process: { running: boolean } }>;
  config: { replication: { cluster_id: string } };
  stop(): Promise<void>;
}

/**
 * Starts a cluster with `start` and checks every node is its own; starts again (up to `attempts`)
 * when not. `authToken`: the cluster's server.auth_token, when it sets one.
 */
export async function startVerified<C extends StartedCluster>(start: () => Promise<C>, attempts = 3, authToken = ''): Promise<C> {
  for (let attempt = 1; ; attempt++) {
    const cluster = await start();
    const nodes = cluster.nodes.map((n) => ({ id: n.id, url: n.url, running: n.process.running }));
    const problem = await foreignNode(nodes, cluster.config.replication.cluster_id, authToken);
    if (problem === null) return cluster;
    await cluster.stop();
    if (attempt >= attempts) throw new Error(`the test cluster is not ours after ${attempts} starts: ${problem}`);
  }
}
