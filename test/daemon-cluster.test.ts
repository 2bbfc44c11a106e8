// The public API on a real three-node cluster: writes through a follower, read-your-writes,
// min_index reads, and what clients see when the leader is gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3, configOverrides: { server: { read_wait_ms_max: 1500 } } });
}, 60_000);

afterAll(async () => {
  await cluster.stop();
});

const ws = { 'x-workspace-id': 'daemon', 'content-type': 'application/json' };

async function search(url: string, query: string, mode = 'hybrid', minIndex?: number): Promise<Array<{ id: string }>> {
  const res = await fetch(`${url}/api/v1/search${minIndex === undefined ? '' : `?min_index=${minIndex}`}`, { method: 'POST', headers: ws, body: JSON.stringify({ query, k: 5, mode }) });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { results: Array<{ id: string }> };
  return body.results;
}

describe('the daemon on three real nodes', () => {
  it('a document written to a follower is found by search on that follower at once, and on every node afterwards; a deletion reaches every node', async () => {
    const follower = cluster.node('node-3');
    const res = await fetch(`${follower.url}/api/v1/documents`, {
      method: 'POST',
      headers: ws,
      body: JSON.stringify({ id: 'volcano', content: 'Basaltic lava flows from shield volcanoes cool into columnar joints.' }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-served-by')).toBe('node-3');
    const index = Number(res.headers.get('x-cairn-index'));
    expect(index).toBeGreaterThan(0);
    expect(((await res.json()) as { index: number }).index).toBe(index);

    // Read-your-writes on the node that took the write, with no min_index.
    expect((await search(follower.url, 'columnar joints basaltic lava', 'lexical')).map((r) => r.id)).toContain('volcano');
    for (const node of cluster.nodes) {
      const hits = await search(node.url, 'shield volcanoes lava', 'hybrid', index);
      expect(hits[0]?.id, node.id).toBe('volcano');
    }

    const del = await fetch(`${cluster.node('node-2').url}/api/v1/documents/volcano`, { method: 'DELETE', headers: ws });
    expect(del.status).toBe(200);
    const delIndex = Number(del.headers.get('x-cairn-index'));
    for (const node of cluster.nodes) {
      const get = await fetch(`${node.url}/api/v1/documents/volcano?min_index=${delIndex}`, { headers: ws });
      expect(get.status, node.id).toBe(404);
      expect(await search(node.url, 'columnar joints basaltic lava', 'lexical', delIndex)).toEqual([]);
    }
  });

  it('a read asking for an index this node has not reached waits, then answers 504', async () => {
    const res = await fetch(`${cluster.node('node-2').url}/api/v1/documents/anything?min_index=99999999`, { headers: ws });
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ error: { code: expect.any(String) } });
  });

  it('without the leader, writes fail fast with 503, Retry-After and the leader named; reads go on', async () => {
    const follower = cluster.node('node-2');
    const put = await fetch(`${follower.url}/api/v1/documents`, { method: 'POST', headers: ws, body: JSON.stringify({ id: 'kept', content: 'written before the leader stops' }) });
    expect(put.status).toBe(201);
    await cluster.leader.stop();
    const started = Date.now();
    const res = await fetch(`${follower.url}/api/v1/documents`, { method: 'POST', headers: ws, body: JSON.stringify({ id: 'lost', content: 'no leader to take this' }) });
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(res.headers.get('retry-after')).not.toBeNull();
    expect(await res.json()).toMatchObject({ error: { code: 'leader_unavailable', leader: 'node-1' } });
    const read = await fetch(`${follower.url}/api/v1/documents/kept`, { headers: ws });
    expect(read.status).toBe(200);
    await cluster.leader.restart('in-sync');
  }, 60_000);
});
