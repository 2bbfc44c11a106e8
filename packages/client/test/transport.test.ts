// The client against stand-in servers on loopback that refuse, drop, or ask to wait: what it
// sends again, where, and what it refuses to send again.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CairnClient, OutcomeUnknownError, UnavailableError } from '@cairn/client';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Handler = (req: Seen, res: http.ServerResponse, n: number) => void;

interface Stand {
  url: string;
  seen: Seen[];
  close: () => Promise<void>;
}

const open: Stand[] = [];

async function stand(handler: Handler): Promise<Stand> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const s = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      seen.push(s);
      handler(s, res, seen.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const s: Stand = {
    url,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  open.push(s);
  return s;
}

/** A loopback URL nothing listens on. */
async function refusedUrl(): Promise<string> {
  const s = await stand(() => undefined);
  await s.close();
  return s.url;
}

function json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-served-by': 'stand', ...headers });
  res.end(JSON.stringify(body));
}

const created = (index: number) => (req: Seen, res: http.ServerResponse): void => {
  const doc = JSON.parse(req.body || '{}') as { id?: string };
  json(res, 201, { id: doc.id ?? 'x', index, etag: 'e1' }, { 'x-cairn-index': String(index), etag: '"e1"' });
};

const fast = { backoffMinMs: 5, backoffMaxMs: 20 };

afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

describe('failover', () => {
  it('moves on at once from a node that refuses the connection', async () => {
    const good = await stand(created(7));
    // A back-off of a minute: had the client waited before the next node, the test would time out.
    const slow = { backoffMinMs: 60_000, backoffMaxMs: 60_000 };
    const client = new CairnClient({ endpoints: [await refusedUrl(), good.url], workspace: 'w', discover: false, affinity: 'ordered', retry: slow });
    const r = await client.put({ id: 'a', content: 'x' });
    expect(r).toMatchObject({ id: 'a', index: 7, etag: 'e1', servedBy: 'stand' });
    expect(good.seen).toHaveLength(1);
  });

  it('waits the Retry-After of a 503 before trying again', async () => {
    const node = await stand((req, res, n) => {
      if (n === 1) json(res, 503, { error: { code: 'leader_unavailable', message: 'leader down' } }, { 'retry-after': '1' });
      else created(9)(req, res);
    });
    const client = new CairnClient({ endpoints: node.url, workspace: 'w', discover: false, retry: fast });
    const started = Date.now();
    await client.put({ id: 'a', content: 'x' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(node.seen).toHaveLength(2);
  });

  it('gives up after the bounded retries, naming every attempt', async () => {
    const client = new CairnClient({ endpoints: [await refusedUrl(), await refusedUrl()], workspace: 'w', discover: false, retry: { ...fast, retries: 3 } });
    const err = await client.get('a').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).attempts).toHaveLength(4);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
  });
});

describe('a write whose answer was lost', () => {
  const dropAfterReading: Handler = (_req, res) => res.socket?.destroy();

  it('is sent again when it is a put by id (same id, same content)', async () => {
    const dropper = await stand(dropAfterReading);
    const good = await stand(created(3));
    const client = new CairnClient({ endpoints: [dropper.url, good.url], workspace: 'w', discover: false, affinity: 'ordered', retry: fast });
    await client.put({ id: 'a', content: 'x' });
    expect(dropper.seen).toHaveLength(1);
    expect(good.seen).toHaveLength(1);
    expect(good.seen[0]?.headers['x-request-id']).toBe(dropper.seen[0]?.headers['x-request-id']);
  });

  it('is not sent again when it is conditional: the unknown outcome is the error', async () => {
    const dropper = await stand(dropAfterReading);
    const good = await stand(created(3));
    const client = new CairnClient({ endpoints: [dropper.url, good.url], workspace: 'w', discover: false, affinity: 'ordered', retry: fast });
    const err = await client.put({ id: 'a', content: 'x' }, { ifMatch: 'e0' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OutcomeUnknownError);
    expect((err as OutcomeUnknownError).code).toBe('outcome_unknown');
    expect((err as Error).message).toMatch(/put "a" \(if-match: "e0"\): the outcome is unknown/);
    expect(dropper.seen).toHaveLength(1);
    expect(dropper.seen[0]?.headers['if-match']).toBe('"e0"');
    expect(good.seen).toHaveLength(0);
  });

  it('is sent again when conditional but refused before it reached the log (503 overloaded)', async () => {
    const node = await stand((req, res, n) => {
      if (n === 1) json(res, 503, { error: { code: 'overloaded', message: 'queue full' } });
      else created(4)(req, res);
    });
    const client = new CairnClient({ endpoints: node.url, workspace: 'w', discover: false, retry: fast });
    await client.put({ id: 'a', content: 'x' }, { ifNoneMatch: '*' });
    expect(node.seen.map((s) => s.headers['if-none-match'])).toEqual(['*', '*']);
  });
});

describe('read your writes', () => {
  it('sends the index of its newest write with every read', async () => {
    const node = await stand((req, res) => {
      if (req.method === 'POST') created(42)(req, res);
      else json(res, 200, { id: 'a', content: 'x', etag: 'e1' });
    });
    const client = new CairnClient({ endpoints: node.url, workspace: 'w', discover: false });
    await client.get('a');
    await client.put({ id: 'a', content: 'x' });
    await client.get('a');
    expect(node.seen.map((s) => s.headers['x-min-index'])).toEqual([undefined, undefined, '42']);
    expect(client.index).toBe(42);
  });
});

describe('discovery', () => {
  it('adds the nodes /api/v1/cluster/nodes lists, and fails over to them', async () => {
    const node = await stand(created(5));
    const front = await stand((req, res) => {
      if (req.url === '/api/v1/cluster/nodes') {
        json(res, 200, { observed_by: 'n1', at: '', leader: 'n1', nodes: [{ id: 'n1', address: new URL(node.url).host, role: 'leader', reachable: true, state: 'leader' }] });
      } else res.socket?.destroy();
    });
    const client = new CairnClient({ endpoints: front.url, workspace: 'w', retry: fast });
    await client.put({ id: 'a', content: 'x' });
    expect(client.endpoints()).toContain(node.url);
    expect(node.seen).toHaveLength(1);
  });
});

describe('bulk', () => {
  it('halves chunks a server with lower limits refuses, and numbers items as given', async () => {
    const node = await stand((req, res) => {
      const docs = JSON.parse(req.body) as Array<{ id: string; content: string }>;
      if (docs.length > 3) {
        json(res, 413, { error: { code: 'too_many_documents', message: 'bulk_documents_max is 3' } });
        return;
      }
      const ok = docs.filter((d) => d.content !== 'bad');
      const errors = docs.flatMap((d, i) => (d.content === 'bad' ? [{ item: i, error: { code: 'invalid_value', message: 'bad' } }] : []));
      json(res, 201, { added: ok.length, ids: ok.map((d) => d.id), etags: ok.map(() => 'e'), errors, total: docs.length, index: 10 }, { 'x-cairn-index': '10' });
    });
    const client = new CairnClient({ endpoints: node.url, workspace: 'w', discover: false });
    const docs = Array.from({ length: 10 }, (_, i) => ({ id: `d${i}`, content: i === 6 ? 'bad' : `c${i}` }));
    const progress: number[] = [];
    const r = await client.bulk(docs, { documentsMax: 8, onProgress: (p) => progress.push(p.done) });
    expect(r.added).toBe(9);
    expect(r.ids).toEqual(docs.filter((_, i) => i !== 6).map((d) => d.id));
    expect(r.errors).toEqual([{ item: 6, error: { code: 'invalid_value', message: 'bad' } }]);
    expect(progress[progress.length - 1]).toBe(10);
  });
});
