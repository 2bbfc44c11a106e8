// What the rendered nginx.conf passes on to another node and what it never sends twice, on the
// machine's nginx in front of three stand-in nodes on loopback that count every request they
// receive and answer as each case tells them: 200, their own 502/503/504, a connection reset
// after reading the request, or nothing at all (not listening). A read whose node fails goes to
// the next node; a write that a node received reaches no other node, whatever that node answers;
// a write that no node received (connection refused) goes to the next node; a node that answers
// again gets requests again within a second.

import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../packages/server/src/config/validate.ts';
import type { CairnConfig } from '../packages/server/src/config/types.ts';
import { clusterYaml } from './helpers/cluster.ts';
import { startNginx } from './helpers/nginx.ts';
import type { TestNginx } from './helpers/nginx.ts';
import { freePort, freePorts } from './helpers/ports.ts';
import { waitFor } from './helpers/wait.ts';

/** How a stand-in answers one request. */
type Behaviour = 'ok' | 502 | 503 | 504 | 'reset';

class StandIn {
  readonly received: Array<{ method: string; url: string }> = [];
  behaviour: (req: IncomingMessage) => Behaviour = () => 'ok';
  private server: Server | undefined;

  constructor(
    readonly id: string,
    readonly port: number,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async up(): Promise<void> {
    if (this.server !== undefined) return;
    const server = createServer((req, res) => this.answer(req, res));
    // Longer than nginx keeps an idle upstream connection, as the nodes' (node.ts).
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.server = server;
  }

  /** Stops listening and drops every connection: the next connect is refused. */
  async down(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  private answer(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.received.push({ method: req.method ?? '', url: req.url ?? '' });
      const behaviour = this.behaviour(req);
      if (behaviour === 'reset') {
        req.socket.destroy();
        return;
      }
      const status = behaviour === 'ok' ? 200 : behaviour;
      res.writeHead(status, { 'Content-Type': 'application/json', 'X-Served-By': this.id });
      res.end(JSON.stringify({ id: this.id, status, method: req.method, url: req.url, bytes: Buffer.concat(chunks).length }));
    });
  }
}

const dir = mkdtempSync(join(tmpdir(), 'cairn-retries-'));
let nodes: StandIn[] = [];
let config: CairnConfig;
let lb: TestNginx;

interface Answer {
  status: number;
  node: string | null;
  upstreams: string[];
  body: Record<string, unknown>;
}

async function call(workspace: string, method: string, path: string, body?: unknown): Promise<Answer> {
  const response = await fetch(`${lb.url}${path}`, {
    method,
    headers: { 'X-Workspace-ID': workspace, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  // $upstream_addr: "A, B" when nginx passed the request on from A to B.
  const upstreams = (response.headers.get('x-cairn-upstream') ?? '').split(/\s*,\s*|\s+:\s+/).filter((s) => s !== '');
  return { status: response.status, node: response.headers.get('x-served-by'), upstreams, body: parsed };
}

function standIn(id: string): StandIn {
  const node = nodes.find((n) => n.id === id);
  if (node === undefined) throw new Error(`no stand-in ${id}`);
  return node;
}

function receipts(): Record<string, number> {
  return Object.fromEntries(nodes.map((n) => [n.id, n.received.length]));
}

function total(): number {
  return nodes.reduce((sum, n) => sum + n.received.length, 0);
}

function clearReceipts(): void {
  for (const node of nodes) node.received.length = 0;
}

/** A workspace that nginx hashes to the given node (all nodes healthy). */
const workspaceOf = new Map<string, string>();

/**
 * Waits until nginx sends `workspace`'s reads and writes to its own node again: a node that
 * failed is skipped until the second in which it failed is over.
 */
async function takenBack(workspace: string, node: string): Promise<void> {
  for (const n of nodes) n.behaviour = () => 'ok';
  await waitFor(async () => (await call(workspace, 'GET', '/api/v1/documents/probe')).node === node, { what: `reads of ${workspace} back on ${node}`, timeoutMs: 5_000 });
  await waitFor(async () => (await call(workspace, 'POST', '/api/v1/documents', { id: 'probe', content: 'probe' })).node === node, {
    what: `writes of ${workspace} back on ${node}`,
    timeoutMs: 5_000,
  });
  clearReceipts();
}

beforeAll(async () => {
  const ports = await freePorts(3);
  nodes = ports.map((port, i) => new StandIn(`node-${i + 1}`, port));
  for (const node of nodes) await node.up();
  const result = validateConfig(clusterYaml(ports, dir), { anyNode: true });
  if (result.config === undefined) throw new Error(result.errors.join('\n'));
  config = result.config;
  lb = await startNginx(config, await freePort());
  for (let i = 0; workspaceOf.size < nodes.length && i < 500; i++) {
    const answer = await call(`ws-${i}`, 'GET', '/api/v1/documents/x');
    if (answer.node !== null && !workspaceOf.has(answer.node)) workspaceOf.set(answer.node, `ws-${i}`);
  }
  expect([...workspaceOf.keys()].sort()).toEqual(['node-1', 'node-2', 'node-3']);
});

afterAll(async () => {
  await lb?.stop();
  for (const node of nodes) await node.down();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  for (const node of nodes) await node.up();
  for (const [node, workspace] of workspaceOf) await takenBack(workspace, node);
});

const victim = 'node-2';
const ws = (): string => workspaceOf.get(victim) as string;

describe('nginx passes a read on to the next node', () => {
  it('sends the reads and writes of one workspace to the same node', async () => {
    for (const [node, workspace] of workspaceOf) {
      const answers = [
        await call(workspace, 'GET', '/api/v1/documents?limit=1'),
        await call(workspace, 'POST', '/api/v1/search', { query: 'q' }),
        await call(workspace, 'POST', `/workspace/${workspace}/api/v1/assemble`, { query: 'q' }),
        await call(workspace, 'POST', '/api/v1/documents', { id: 'd', content: 'c' }),
        await call(workspace, 'DELETE', '/api/v1/documents/d'),
        await call(workspace, 'GET', '/health'),
      ];
      expect(answers.map((a) => a.node)).toEqual(answers.map(() => node));
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    }
  });

  it.each([502, 503, 504] as const)('when its node answers a GET with %i', async (status) => {
    standIn(victim).behaviour = () => status;
    const answer = await call(ws(), 'GET', '/api/v1/documents/d1');
    expect(answer.status).toBe(200);
    expect(answer.node).not.toBe(victim);
    expect(standIn(victim).received).toHaveLength(1);
    expect(total()).toBe(2);
    expect(answer.upstreams[0]).toBe(standIn(victim).address);
  });

  it.each(['/api/v1/search', '/api/v1/assemble', '/api/v1/context/assemble', `/workspace/WS/api/v1/assemble`])(
    'when its node answers the read-only POST %s with 503',
    async (path) => {
      standIn(victim).behaviour = () => 503;
      const answer = await call(ws(), 'POST', path.replace('WS', ws()), { query: 'enforcement patterns' });
      expect(answer.status).toBe(200);
      expect(answer.node).not.toBe(victim);
      expect(answer.body['bytes']).toBeGreaterThan(10);
      expect(receipts()[victim]).toBe(1);
      expect(total()).toBe(2);
    },
  );

  it('when its node resets the connection after reading the request', async () => {
    standIn(victim).behaviour = () => 'reset';
    const answer = await call(ws(), 'GET', '/api/v1/documents?limit=5');
    expect(answer.status).toBe(200);
    expect(answer.node).not.toBe(victim);
    expect(total()).toBe(2);
  });

  it('when its node is down, and to the same next node every time', async () => {
    await standIn(victim).down();
    const served = new Set<string | null>();
    for (let i = 0; i < 10; i++) {
      const answer = await call(ws(), 'GET', `/api/v1/documents/d${i}`);
      expect(answer.status).toBe(200);
      served.add(answer.node);
    }
    expect(served.size).toBe(1);
    expect(served.has(victim)).toBe(false);
  });

  it('but passes a status route on only when its node does not answer: its 503 is the answer', async () => {
    standIn(victim).behaviour = () => 503;
    const health = await call(ws(), 'GET', '/health');
    expect(health.status).toBe(503);
    expect(health.node).toBe(victim);
    expect(total()).toBe(1);
    standIn('node-1').behaviour = () => 503;
    const raft = await call(ws(), 'GET', '/_raft/health');
    expect(raft.status).toBe(503);
    expect(raft.node).toBe('node-1');
    expect(total()).toBe(2);
  });
});

describe('nginx never sends a write to a second node once one received it', () => {
  const writes: Array<[string, string, unknown]> = [
    ['POST', '/api/v1/documents', { id: 'w1', content: 'a write' }],
    ['POST', '/api/v1/documents/bulk', [{ id: 'w2', content: 'a bulk write' }]],
    ['DELETE', '/api/v1/documents/w1', undefined],
    ['DELETE', '/workspace/WS/api/v1/documents/w%2F1?if_match=x', undefined],
    ['PUT', '/api/v1/documents/w1', { content: 'not a route, and still sent once' }],
  ];

  for (const [method, path, body] of writes) {
    it.each([502, 503, 504] as const)(`${method} ${path} answered %i by its node: the answer passes through`, async (status) => {
      for (const node of nodes) node.behaviour = () => status;
      const answer = await call(ws(), method, path.replace('WS', ws()), body);
      expect(receipts()).toEqual({ ...Object.fromEntries(nodes.map((n) => [n.id, 0])), [victim]: 1 });
      expect(answer.status).toBe(status);
      // The node's own answer, not nginx's.
      expect(answer.body['id']).toBe(victim);
      expect(standIn(victim).received[0]).toEqual({ method, url: path.replace('WS', ws()) });
    });

    it(`${method} ${path} whose node resets the connection after reading it: nginx's 502`, async () => {
      for (const node of nodes) node.behaviour = () => 'reset';
      const answer = await call(ws(), method, path.replace('WS', ws()), body);
      expect(receipts()).toEqual({ ...Object.fromEntries(nodes.map((n) => [n.id, 0])), [victim]: 1 });
      expect(answer.status).toBe(502);
      expect(answer.body).toMatchObject({ error: { code: 'no_upstream' } });
    });

    if (method === 'POST') {
      it(`${method} ${path} whose node is down: sent to the next node, once`, async () => {
        await standIn(victim).down();
        const answer = await call(ws(), method, path, body);
        expect(answer.status).toBe(200);
        expect(answer.node).not.toBe(victim);
        expect(total()).toBe(1);
        expect(standIn(answer.node as string).received[0]).toEqual({ method, url: path });
      });
    } else {
      it(`${method} ${path} whose node is down: nginx's 502, and the client's retry goes to the next node`, async () => {
        await standIn(victim).down();
        const answer = await call(ws(), method, path.replace('WS', ws()), body);
        expect(answer.status).toBe(502);
        expect(answer.body).toMatchObject({ error: { code: 'no_upstream' } });
        expect(total()).toBe(0);
        // The failed attempt marked the node failed; a node that fails again on the next
        // second's first attempt is marked again, so the client retries until another node has it.
        const retried = await waitFor(
          async () => {
            const again = await call(ws(), method, path.replace('WS', ws()), body);
            return again.status === 200 ? again : undefined;
          },
          { what: `${method} retried on another node`, timeoutMs: 5_000, intervalMs: 10 },
        );
        expect(retried.node).not.toBe(victim);
        expect(total()).toBe(1);
      });
    }
  }
});

describe('nginx takes a node back', () => {
  it('within a second of it answering again, for reads and writes', async () => {
    await standIn(victim).down();
    // nginx learns that the node is down from requests that fail on it.
    for (let i = 0; i < 3; i++) {
      expect((await call(ws(), 'GET', '/api/v1/documents/x')).status).toBe(200);
      expect((await call(ws(), 'POST', '/api/v1/documents', { id: 'x', content: 'x' })).status).toBe(200);
    }
    await standIn(victim).up();
    const upAt = Date.now();
    const back = async (method: string, body?: unknown): Promise<number> => {
      await waitFor(async () => (await call(ws(), method, '/api/v1/documents', body)).node === victim, {
        what: `${method} back on ${victim}`,
        timeoutMs: 10_000,
        intervalMs: 20,
      });
      return Date.now() - upAt;
    };
    const [readMs, writeMs] = await Promise.all([back('GET'), back('POST', { id: 'y', content: 'y' })]);
    // nginx skips a failed node for the rest of the second it failed in: at most 1 s, plus polling.
    expect(readMs).toBeLessThan(1_500);
    expect(writeMs).toBeLessThan(1_500);
  });

  it('and answers in JSON while no node answers', async () => {
    for (const node of nodes) await node.down();
    const read = await call(ws(), 'GET', '/api/v1/documents/x');
    expect(read.status).toBe(502);
    expect(read.body).toMatchObject({ error: { code: 'no_upstream' } });
    const write = await call(ws(), 'POST', '/api/v1/documents', { id: 'x', content: 'x' });
    expect(write.status).toBe(502);
    expect(write.body).toMatchObject({ error: { code: 'no_upstream' } });
    for (const node of nodes) await node.up();
  });
});
