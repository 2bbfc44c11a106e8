// A leader creates no entry in a new term until a follower holds the term durably (the term
// claim, packages/raft/DESIGN.md): so the loss of the leader's storage cannot lose which terms
// were used. Real node processes: the leader restarts while both followers are down, takes no
// write of any concern (not even its term's NOOP enters its log), and takes them once one
// follower is back and has recorded the term.
import { afterEach, describe, expect, it } from 'vitest';
import { startCluster } from './helpers/cluster.ts';
import type { TestCluster, TestNode } from './helpers/cluster.ts';
import { waitFor } from './helpers/wait.ts';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const WS = 'term-claim';
const SECRET = 'term-claim-cluster-secret';

function write(node: TestNode, id: string): Promise<Response> {
  return fetch(`${node.url}/api/v1/documents?write_concern=leader`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-workspace-id': WS },
    body: JSON.stringify({ id, content: `document ${id}` }),
    signal: AbortSignal.timeout(60_000),
  });
}

interface Position {
  last_index: number;
  last_term: number;
  term: number;
}

async function position(node: TestNode): Promise<Position> {
  const res = await fetch(`${node.url}/_raft/log-position`, { headers: { 'x-cairn-secret': SECRET }, signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(200);
  return (await res.json()) as Position;
}

describe('the term claim', () => {
  it('a leader restarted while both followers are down writes nothing in its new term until one of them has recorded it', async () => {
    const c = await startCluster({ nodes: 3, configOverrides: { replication: { secret: SECRET, commit_timeout_ms: 2000 } } });
    cluster = c;
    const leader = c.leader;
    const [near, far] = c.followers as [TestNode, TestNode];
    expect((await write(leader, 'before')).status).toBe(201);
    const before = await position(leader);

    await near.kill9();
    await far.kill9();
    await leader.kill9();
    await leader.restart('answering');

    // Even a `leader`-concern write, which needs no follower's copy, waits: the term is not open.
    const refused = await write(leader, 'alone');
    const body = (await refused.json()) as { error?: { code?: string; message?: string } };
    expect(refused.status, JSON.stringify(body)).toBe(503);
    expect(body.error?.code).toBe('term_not_open');
    const alone = await position(leader);
    expect(alone.last_index).toBe(before.last_index);
    expect(alone.last_term).toBe(before.last_term);

    // One follower is back: it records the leader's term (its log-position reports it), the
    // leader opens the term, and writes go in.
    await near.restart('answering');
    const taken = await waitFor(
      async () => {
        const res = await write(leader, 'after');
        return res.status === 201 ? ((await res.json()) as { index: number }) : undefined;
      },
      { what: 'a write to be taken once a follower is back', timeoutMs: 60_000 },
    );
    expect(taken.index).toBeGreaterThan(before.last_index + 1);
    const opened = await position(leader);
    expect(opened.last_term).toBeGreaterThan(before.last_term);
    const claimed = await position(near);
    expect(claimed.term).toBeGreaterThanOrEqual(opened.last_term);
    await far.restart('answering');
  }, 240_000);
});
