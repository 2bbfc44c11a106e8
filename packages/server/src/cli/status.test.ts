import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { fetchStatus, formatTable, rowsFromRaftHealth } from './status.ts';

describe('cairn status table', () => {
  it('reads the rows of a leader\'s /_raft/health when the cluster API is missing', () => {
    const rows = rowsFromRaftHealth({
      node_id: 'node-1', address: 'h1:8080', role: 'leader', last_applied: 150, in_sync: true,
      follower_details: [
        { node_id: 'node-2', address: 'h2:8080', health: 'healthy', last_replicated_index: 150, lag: 0, last_latency_ms: 2, consecutive_failures: 0 },
        { node_id: 'node-3', address: 'h3:8080', health: 'desynced', last_replicated_index: 9, lag: 141, last_latency_ms: null, consecutive_failures: 7 },
      ],
    });
    expect(rows.map((r) => [r.id, r.role, r.state, r.reachable, r.lag])).toEqual([
      ['node-1', 'leader', 'leader', true, 0],
      ['node-2', 'follower', 'healthy', true, 0],
      ['node-3', 'follower', 'desynced', false, 141],
    ]);
    const table = formatTable(rows).split('\n');
    expect(table).toHaveLength(3 + 4); // rows, header, three rules
    expect(new Set(table.map((l) => l.length)).size).toBe(1); // aligned
    expect(table[3]).toMatch(/^\| node-1 \| h1:8080 \| leader +\| leader +\| yes +\| 150 +\| 0 +\|/);
  });
});

describe('cairn status against a node without the cluster API', () => {
  it('falls back to /_raft/health (503 still carries the body), and refuses what is not a Cairn node', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/_raft/health') {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ node_id: 'node-2', address: 'h2:8080', role: 'follower', last_applied: 7, in_sync: false }));
        return;
      }
      res.writeHead(404).end('not found');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const got = await fetchStatus(`http://127.0.0.1:${port}`, 2000);
      expect(got.source).toBe(`http://127.0.0.1:${port}/_raft/health`);
      expect(got.rows).toEqual([expect.objectContaining({ id: 'node-2', role: 'follower', state: 'lagging', applied_index: 7, reachable: true })]);
      await expect(fetchStatus(`http://127.0.0.1:${port}/elsewhere`, 2000)).rejects.toThrow(/does not look like a Cairn node/);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('cairn status against a node with server.auth_token set', () => {
  it('sends --token to /api/v1/cluster/nodes; without it the node is read from /_raft/health', async () => {
    const server = createServer((req, res) => {
      if (req.url === '/api/v1/cluster/nodes' && req.headers.authorization === 'Bearer read-token') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ observed_by: 'node-1', nodes: [{ id: 'node-1', address: 'h1:8080', role: 'leader', state: 'leader', reachable: true, applied_index: 3, lag: 0, last_latency_ms: null, version: '0.1.0', uptime_s: 5 }] }));
        return;
      }
      if (req.url === '/_raft/health') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ node_id: 'node-1', address: 'h1:8080', role: 'leader', last_applied: 3, in_sync: true, follower_details: [] }));
        return;
      }
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"code":"unauthorized"}}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const withToken = await fetchStatus(`http://127.0.0.1:${port}`, 2000, 'read-token');
      expect(withToken.source).toBe(`http://127.0.0.1:${port}/api/v1/cluster/nodes`);
      expect(withToken.rows[0]).toMatchObject({ id: 'node-1', version: '0.1.0' });
      const without = await fetchStatus(`http://127.0.0.1:${port}`, 2000);
      expect(without.source).toBe(`http://127.0.0.1:${port}/_raft/health`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
