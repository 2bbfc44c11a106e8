// Conditional writes on real processes: three `cairn serve` nodes. A conditional put sent to a
// follower is forwarded with its precondition and answered as the leader answers it (a 412 body
// reaches the client unchanged), and after a conditional write every node serves the same ETag,
// because the precondition is decided by apply in the log entry on every replica.
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { waitFor } from './helpers/wait.ts';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const ws = 'cas';

async function post(base: string, body: unknown, headers: Record<string, string> = {}, concern = 'all'): Promise<{ status: number; etag: string | null; index: string | null; body: Record<string, unknown> }> {
  const res = await fetch(`${base}/api/v1/documents?write_concern=${concern}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-workspace-id': ws, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, etag: res.headers.get('etag'), index: res.headers.get('x-cairn-index'), body: (await res.json()) as Record<string, unknown> };
}

async function etagOn(base: string, id: string, minIndex: string): Promise<string | null> {
  const res = await fetch(`${base}/api/v1/documents/${id}?min_index=${minIndex}`, { headers: { 'x-workspace-id': ws } });
  if (res.status === 404) return null;
  const body = (await res.json()) as { etag: string };
  expect(res.headers.get('etag')).toBe(`"${body.etag}"`);
  return body.etag;
}

async function sameEtagEverywhere(c: TestCluster, id: string, minIndex: string): Promise<string | null> {
  return waitFor(
    async () => {
      const all = await Promise.all(c.nodes.map((n) => etagOn(n.url, id, minIndex)));
      return all.every((e) => e === all[0]) ? { etag: all[0] ?? null } : undefined;
    },
    { what: `every node to serve one ETag for ${id}`, timeoutMs: 15_000 },
  ).then((r) => r.etag);
}

describe('conditional writes on three real nodes', () => {
  it('decides a conditional put sent to a follower as the leader would, and every node then serves the same ETag', async () => {
    cluster = await startCluster({ nodes: 3 });
    const follower = cluster.followers[0];
    if (follower === undefined) throw new Error('no follower');

    const created = await post(follower.url, { id: 'doc', content: 'version zero' }, { 'If-None-Match': '*' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const etag0 = created.body.etag as string;
    expect(created.etag).toBe(`"${etag0}"`);
    expect(await sameEtagEverywhere(cluster, 'doc', created.index ?? '0')).toBe(etag0);

    const updated = await post(follower.url, { id: 'doc', content: 'version one' }, { 'If-Match': `"${etag0}"` });
    expect(updated.status, JSON.stringify(updated.body)).toBe(201);
    const etag1 = updated.body.etag as string;
    expect(etag1).not.toBe(etag0);
    expect(await sameEtagEverywhere(cluster, 'doc', updated.index ?? '0')).toBe(etag1);

    // The same expected ETag again: the compare-and-set lost, through the follower and on the leader alike.
    const throughFollower = await post(follower.url, { id: 'doc', content: 'lost race' }, { 'If-Match': `"${etag0}"` });
    const onLeader = await post(cluster.leader.url, { id: 'doc', content: 'lost race' }, { 'If-Match': `"${etag0}"` });
    for (const r of [throughFollower, onLeader]) {
      expect(r.status, JSON.stringify(r.body)).toBe(412);
      expect(r.body).toEqual({ error: { code: 'precondition_failed', message: expect.stringContaining(etag1), field: 'If-Match' }, current_etag: etag1 });
      expect(Number(r.index)).toBeGreaterThan(Number(updated.index));
    }
    const recreate = await post(follower.url, { id: 'doc', content: 'again' }, { 'If-None-Match': '*' });
    expect(recreate.status).toBe(412);
    expect(recreate.body).toMatchObject({ error: { field: 'If-None-Match' }, current_etag: etag1 });
    expect(await sameEtagEverywhere(cluster, 'doc', onLeader.index ?? '0')).toBe(etag1);

    // A conditional delete through the follower: refused on a stale ETag, done on the current one.
    const del = (ifMatch: string): Promise<Response> =>
      fetch(`${follower.url}/api/v1/documents/doc?write_concern=all`, { method: 'DELETE', headers: { 'x-workspace-id': ws, 'if-match': ifMatch } });
    const staleDelete = await del(`"${etag0}"`);
    expect(staleDelete.status).toBe(412);
    expect(await staleDelete.json()).toMatchObject({ current_etag: etag1 });
    const deleted = await del(`"${etag1}"`);
    expect(deleted.status).toBe(200);
    expect(await sameEtagEverywhere(cluster, 'doc', deleted.headers.get('x-cairn-index') ?? '0')).toBeNull();

    // Write concern `leader` acknowledges before the entry is applied; a conditional write's answer
    // still waits for the apply that decides it, so it is a 201 or a 412, never an unknown outcome.
    for (const base of [cluster.leader.url, follower.url]) {
      const first = await post(base, { id: `fast-${base.slice(-5)}`, content: 'first' }, { 'If-None-Match': '*' }, 'leader');
      expect(first.status, JSON.stringify(first.body)).toBe(201);
      const again = await post(base, { id: `fast-${base.slice(-5)}`, content: 'second' }, { 'If-None-Match': '*' }, 'leader');
      expect(again.status, JSON.stringify(again.body)).toBe(412);
      expect(again.body).toMatchObject({ current_etag: first.body.etag });
      const swapped = await post(base, { id: `fast-${base.slice(-5)}`, content: 'third' }, { 'If-Match': `"${String(first.body.etag)}"` }, 'leader');
      expect(swapped.status, JSON.stringify(swapped.body)).toBe(201);
    }
  });
});
