// The chaos checkers must not be vacuous: against stand-in nodes that lost a write, hold a write
// nobody attempted, or hold a different entry at one index, they report exactly that. The writes a
// deleted leader WAL may take are only those acknowledged by the leader alone, before its kill,
// above what the followers held; the CI schedule holds every fault kind twice.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { checkData, compareLogs } from './chaos/checker.ts';
import { FAULT_KINDS, planFaults } from './chaos/faults.ts';
import type { FaultRecord } from './chaos/faults.ts';
import { History } from './chaos/history.ts';
import type { WriteOp } from './chaos/history.ts';
import { Prng } from './chaos/prng.ts';
import { leaderOnlyWrites } from './chaos/run.ts';

interface FakeNode {
  ids: string[];
  log: Array<[number, number, number]>;
}

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

async function fake(node: FakeNode): Promise<string> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('content-type', 'application/json');
    if (url.pathname === '/api/v1/documents') {
      res.end(JSON.stringify({ documents: node.ids.map((id) => ({ id })), next_cursor: null }));
      return;
    }
    if (url.pathname === '/_raft/checksum') {
      const from = Number(url.searchParams.get('log_from') ?? '0');
      const to = Number(url.searchParams.get('log_to') ?? '0');
      const first = node.log[0]?.[0] ?? 0;
      const last = node.log.at(-1)?.[0] ?? 0;
      const body: Record<string, unknown> = { node_id: 'x', applied_index: last, state_checksum: 's', log_first_index: first, last_log_index: last };
      if (to > 0) body['log'] = node.log.filter(([i]) => i >= from && i <= to);
      res.end(JSON.stringify(body));
      return;
    }
    res.statusCode = 404;
    res.end('{}');
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function write(id: string, outcome: WriteOp['outcome'], more: Partial<WriteOp> = {}): WriteOp {
  return { kind: 'write', client: 0, via: 'node-1', workspace: 'ws', id, concern: 'quorum', outcome, status: 201, index: 1, error: undefined, started_ms: 0, ended_ms: 0, ...more };
}

describe('chaos checkers', () => {
  it('count a lost acknowledged write, an unattempted document and a failed write that was applied', async () => {
    const history = new History();
    for (const op of [write('a', 'ok'), write('b', 'ok'), write('c', 'failed'), write('d', 'unknown')]) history.add(op);
    const urls = new Map([
      ['node-1', await fake({ ids: ['a', 'b', 'c', 'd'], log: [] })],
      ['node-2', await fake({ ids: ['a', 'zz'], log: [] })],
    ]);
    const result = await checkData(urls, ['ws'], history);
    expect(result).toMatchObject({ lost: 1, unexpected: 1, failed_but_present: 1, unknown_applied: 1 });
    expect(result.examples.join('\n')).toContain('lost ws/b');
  });

  it('finds two nodes holding different entries at one index, over the range both hold', async () => {
    const urls = new Map([
      ['node-1', await fake({ ids: [], log: [[1, 1, 10], [2, 1, 20], [3, 2, 30], [4, 2, 40]] })],
      ['node-2', await fake({ ids: [], log: [[2, 1, 20], [3, 2, 31], [4, 2, 40], [5, 2, 50]] })],
    ]);
    const result = await compareLogs(urls);
    expect(result.range).toEqual([2, 4]);
    expect(result.compared).toBe(3);
    expect(result.divergent).toBe(1);
    expect(result.examples[0]).toContain('index 3');
  });

  it('excuse only leader-concern writes acknowledged before a deleted leader WAL, above what the followers held', async () => {
    const history = new History();
    const ops = [
      write('held', 'ok', { concern: 'leader', index: 10, started_ms: 100 }),
      write('only-leader', 'ok', { concern: 'leader', index: 12, started_ms: 100 }),
      write('quorum-above', 'ok', { concern: 'quorum', index: 13, started_ms: 100 }),
      write('after-kill', 'ok', { concern: 'leader', index: 14, started_ms: 600 }),
      write('refused', 'unknown', { concern: 'leader', index: undefined, status: 507, error: 'disk_full', started_ms: 100 }),
    ];
    for (const op of ops) history.add(op);
    const fault: FaultRecord = { n: 1, kind: 'lose_wal', target: 'node-1', started_ms: 0, held_ms: 0, detail: '', leader_wal_lost: { killed_ms: 500, followers_last_index: 11 } };
    const excused = leaderOnlyWrites(history, [fault]);
    expect([...excused]).toEqual(['ws/only-leader']);
    // No follower answered: nothing is known to be elsewhere, so nothing is excused.
    expect(leaderOnlyWrites(history, [{ ...fault, leader_wal_lost: { killed_ms: 500, followers_last_index: null } }]).size).toBe(0);
    // A quorum write above the followers' logs is lost, not excused; the excused one is counted apart.
    const urls = new Map([['node-1', await fake({ ids: ['held', 'after-kill'], log: [] })]]);
    const result = await checkData(urls, ['ws'], history, excused);
    expect(result).toMatchObject({ lost: 1, excused: 1, excused_missing: 1, unknown_applied: 0 });
    expect(result.examples.join('\n')).toContain('lost ws/quorum-above');
    expect(result.unknown_by_error).toEqual({ '507 disk_full': { writes: 1, applied: 0 } });
  });

  it('plan every fault kind twice in a schedule of two rounds, whatever the seed', () => {
    for (const seed of [1, 2, 3, 2311, 7100]) {
      const plan = planFaults(new Prng(seed), 2 * FAULT_KINDS.length);
      for (const kind of FAULT_KINDS) expect(plan.filter((k) => k === kind), `seed ${seed} ${kind}`).toHaveLength(2);
    }
    expect(new Set(planFaults(new Prng(9), 6, ['lose_wal', 'disk_full']))).toEqual(new Set(['lose_wal', 'disk_full']));
  });
});
