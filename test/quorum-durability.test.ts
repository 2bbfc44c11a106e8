// A quorum acknowledgement is a promise that the write survives the loss of any one node, the
// leader's disk included. Other kill -9 tests restart the leader on its own disk, which alone holds
// every acknowledged write, so a leader that acknowledged quorum writes before any follower held
// them would pass them. Here the leader's data directory is destroyed right after the
// acknowledgement, while only one follower can have the write, and the write must then be read
// from the followers (and from the leader once it recovered from them). Real node processes.
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster } from './helpers/cluster.ts';
import type { TestCluster, TestNode } from './helpers/cluster.ts';
import { waitFor } from './helpers/wait.ts';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const WS = 'quorum-durability';

function write(node: TestNode, id: string, content: string): Promise<Response> {
  return fetch(`${node.url}/api/v1/documents?write_concern=quorum`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-workspace-id': WS },
    body: JSON.stringify({ id, content }),
    signal: AbortSignal.timeout(60_000),
  });
}

async function acknowledged(res: Response): Promise<number> {
  const body = (await res.json()) as { index?: number };
  expect(res.status, JSON.stringify(body)).toBe(201);
  expect(typeof body.index).toBe('number');
  return body.index as number;
}

/** The document as `node` serves it once it applied `minIndex`; the status when it does not have it. */
async function read(node: TestNode, id: string, minIndex: number): Promise<{ status: number; content?: string }> {
  const res = await fetch(`${node.url}/api/v1/documents/${id}?min_index=${minIndex}`, {
    headers: { 'x-workspace-id': WS },
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { content?: string };
  return { status: res.status, content: body.content };
}

describe('a quorum-acknowledged write survives the loss of the leader\'s disk', () => {
  it('is read from the followers after the leader is killed -9 and its data directory removed right after the acknowledgement', async () => {
    // A follower restart takes seconds on a busy machine: the write waits for it, not the default 5 s.
    const c = await startCluster({ nodes: 3, configOverrides: { replication: { commit_timeout_ms: 60_000 } } });
    cluster = c;
    const leader = c.leader;
    const [near, far] = c.followers as [TestNode, TestNode];
    const before = await acknowledged(await write(leader, 'before', 'written while every node was up'));

    // Both followers are down (killed, not stopped: a stopped process would still read what the
    // leader sent it once it runs again). A quorum write can be acknowledged only once one is back.
    await near.kill9();
    await far.kill9();
    const pending = write(leader, 'promised', 'acknowledged by a quorum');
    const early = await Promise.race([pending.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 1500))]);
    // Only `near` comes back before the acknowledgement (unless the leader did not wait for anyone).
    if (!early) await near.restart('answering');
    const index = await acknowledged(await pending);
    expect(index).toBeGreaterThan(before);

    // At once: the leader's disk is gone, `far` never saw the write, `near` holds it in its log
    // (maybe not yet applied: the commit that covers it may not have reached it).
    await leader.kill9();
    rmSync(c.dataDir(leader.id), { recursive: true, force: true });
    if (early) await near.restart('answering');
    await far.restart('answering');

    // The leader starts empty, recovers the log from the followers, and everyone applies it.
    await leader.restart('answering');
    for (const node of [near, far, leader]) {
      const got = await waitFor(
        async () => {
          const r = await read(node, 'promised', index);
          return r.status === 200 || r.status === 404 ? r : undefined;
        },
        { what: `${node.id} to answer for the write at index ${index}`, timeoutMs: 45_000, intervalMs: 200 },
      );
      expect(got, `${node.id}\n${c.logs(20)}`).toEqual({ status: 200, content: 'acknowledged by a quorum' });
    }
  }, 120_000);
});
