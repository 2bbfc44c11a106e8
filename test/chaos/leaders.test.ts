// The chaos run's leader view and its one-leader-per-term checks, against stand-in nodes whose
// /_raft/health answers are scripted: the leader is the node that says it leads in the highest
// term; a term claimed by two nodes, writes acknowledged by two nodes in one term, and a write
// acknowledged by an old leader after a newer one was seen leading are each reported; a clean
// handover (node-1 in term 1, node-2 in term 2, each acknowledging in its own term) is not.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { WriteOp } from './history.ts';
import { LeaderWatch } from './leaders.ts';

interface Scripted {
  term: number;
  leading: boolean;
}

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A stand-in node answering /_raft/health with what `state` holds at the time of the request. */
async function standIn(id: string, state: Scripted): Promise<string> {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url !== '/_raft/health') {
      res.statusCode = 404;
      res.end('{}');
      return;
    }
    res.end(JSON.stringify({ node_id: id, term: state.term, leading: state.leading, role: state.leading ? 'leader' : 'follower' }));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function cluster(): Promise<{ watch: LeaderWatch; nodes: Record<string, Scripted> }> {
  const nodes: Record<string, Scripted> = {
    'node-1': { term: 1, leading: true },
    'node-2': { term: 1, leading: false },
    'node-3': { term: 1, leading: false },
  };
  const urls = new Map<string, string>();
  for (const [id, s] of Object.entries(nodes)) urls.set(id, await standIn(id, s));
  return { watch: new LeaderWatch(urls, 'node-1'), nodes };
}

let seq = 0;
/** A write acknowledged by `node` itself, between two rounds of the watch. */
async function ackedBy(watch: LeaderWatch, node: string, forwardedTo?: string): Promise<WriteOp> {
  await watch.round();
  const started = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 2));
  const w: WriteOp = {
    kind: 'write', client: 0, via: node, workspace: 'w', id: `d${seq++}`, concern: 'quorum', outcome: 'ok', status: 201, index: seq, error: undefined,
    started_ms: started, ended_ms: Date.now(), served_by: node, ...(forwardedTo === undefined ? {} : { forwarded_to: forwardedTo }),
  };
  await new Promise((resolve) => setTimeout(resolve, 2));
  await watch.round();
  return w;
}

describe('LeaderWatch', () => {
  it('follows a clean handover and finds nothing wrong', async () => {
    const { watch, nodes } = await cluster();
    const writes = [await ackedBy(watch, 'node-1'), await ackedBy(watch, 'node-2', 'node-1')];
    expect(watch.leaderId).toBe('node-1');
    // The handover: node-1 follows from term 2, node-2 leads in term 2.
    watch.changeBegins();
    Object.assign(nodes['node-1'] as Scripted, { term: 2, leading: false });
    Object.assign(nodes['node-2'] as Scripted, { term: 2, leading: true });
    expect(await watch.current()).toBe('node-2');
    watch.changeSettled();
    writes.push(await ackedBy(watch, 'node-2'), await ackedBy(watch, 'node-1', 'node-2'));
    const c = watch.check(writes);
    expect(c.leaders_by_term).toEqual({ 1: ['node-1'], 2: ['node-2'] });
    expect(c.shared_terms).toBe(0);
    expect(c.acks_pinned).toBe(2);
    expect(c.acks_shared_terms).toBe(0);
    expect(c.acks_after_superseded).toBe(0);
    // A read sent before the change settled is not a leader read; one sent after is.
    const now = Date.now();
    expect(watch.leaderThroughout('node-2', now - 60_000, now)).toBe(false);
    expect(watch.leaderThroughout('node-2', now + 1, now + 2)).toBe(true);
    expect(watch.leaderThroughout('node-1', now + 1, now + 2)).toBe(false);
    // Before the change: node-1's read was a leader read, node-2's not.
    const first = watch.changes[0]?.at_ms ?? 0;
    expect(watch.leaderThroughout('node-1', first - 60_000, first - 59_000)).toBe(true);
    expect(watch.leaderThroughout('node-2', first - 60_000, first - 59_000)).toBe(false);
    expect(watch.leaderThroughout(undefined, now + 1, now + 2)).toBe(false);
  });

  it('turns a read that looked like a leader read into a follower read once a change it overlapped is seen', async () => {
    const { watch, nodes } = await cluster();
    await watch.round();
    // node-1 hands over and node-2 leads (takes writes) before the poller asks again; a read on
    // node-1 sent and answered in between looks, as it completes, like a leader read.
    Object.assign(nodes['node-1'] as Scripted, { term: 2, leading: false });
    Object.assign(nodes['node-2'] as Scripted, { term: 2, leading: true });
    const sent = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 2));
    const done = Date.now();
    expect(watch.leaderThroughout('node-1', sent, done)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 2));
    expect(await watch.current()).toBe('node-2');
    // After the round that saw node-2 lead: the window reaches back to node-1's last claim.
    expect(watch.leaderThroughout('node-1', sent, done)).toBe(false);
    expect(watch.leaderThroughout('node-2', sent, done)).toBe(false);
    const later = Date.now() + 1;
    expect(watch.leaderThroughout('node-2', later, later + 1)).toBe(true);
  });

  it('takes the node leading in the highest term when two say they lead', async () => {
    const { watch, nodes } = await cluster();
    Object.assign(nodes['node-3'] as Scripted, { term: 3, leading: true });
    expect(await watch.current()).toBe('node-3');
    expect(watch.leaderTerm).toBe(3);
  });

  it('reports two nodes saying they lead in one term', async () => {
    const { watch, nodes } = await cluster();
    await watch.round();
    Object.assign(nodes['node-2'] as Scripted, { term: 1, leading: true });
    await watch.round();
    const c = watch.check([]);
    expect(c.shared_terms).toBe(1);
    expect(c.examples.join('\n')).toContain('term 1: node-1 and node-2 each said it leads');
  });

  it('reports writes acknowledged by two nodes in one term, and by a superseded leader', async () => {
    const { watch, nodes } = await cluster();
    const one = await ackedBy(watch, 'node-1');
    // node-2 acknowledges in term 1 as well, without saying it leads: the acknowledgements share a term.
    const two = await ackedBy(watch, 'node-2');
    expect(watch.check([one, two]).acks_shared_terms).toBe(1);
    // node-2 leads in term 2; node-1 stays in term 1 and goes on acknowledging (no fence).
    Object.assign(nodes['node-1'] as Scripted, { term: 1, leading: false });
    Object.assign(nodes['node-2'] as Scripted, { term: 2, leading: true });
    await watch.round();
    await new Promise((resolve) => setTimeout(resolve, 2));
    const stale = await ackedBy(watch, 'node-1');
    const c = watch.check([one, stale]);
    expect(c.acks_shared_terms).toBe(0);
    expect(c.acks_after_superseded).toBe(1);
    expect(c.examples.join('\n')).toMatch(/acknowledged by node-1 in term 1 .* after node-2 was seen leading in term 2/);
    // Forwarded writes are the leader's acknowledgements, not the forwarding node's.
    expect(watch.check([await ackedBy(watch, 'node-1', 'node-2')]).acks_pinned).toBe(0);
  });

  it('leaves a write unpinned when the node reported another term after it', async () => {
    const { watch, nodes } = await cluster();
    await watch.round();
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 2));
    Object.assign(nodes['node-1'] as Scripted, { term: 2 });
    const ended = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 2));
    await watch.round();
    expect(watch.pinnedTerm('node-1', started, ended)).toBeUndefined();
  });
});
