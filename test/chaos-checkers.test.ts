// The chaos checkers must not be vacuous: against stand-in nodes that lost a write, hold a write
// nobody attempted, or hold a different entry at one index, they report exactly that.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { checkData, compareLogs } from './chaos/checker.ts';
import { History } from './chaos/history.ts';
import type { WriteOp } from './chaos/history.ts';

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

function write(id: string, outcome: WriteOp['outcome']): WriteOp {
  return { kind: 'write', client: 0, via: 'node-1', workspace: 'ws', id, concern: 'quorum', outcome, status: 201, index: 1, error: undefined, started_ms: 0, ended_ms: 0 };
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
});
