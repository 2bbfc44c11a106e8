// The client's pure parts: when it retries, how it cuts a bulk load, how it orders endpoints.
import { describe, expect, it } from 'vitest';
import { chunkBody, chunkDocuments, splitChunk, utf8Bytes } from '../src/bulk.ts';
import type { Chunk, ChunkEvent } from '../src/bulk.ts';
import { Endpoints, normaliseUrl } from '../src/endpoints.ts';
import { backoffMs, classifyFetchError, decide, parseRetryAfter } from '../src/retry.ts';
import type { Failure } from '../src/retry.ts';
import { formatIfMatch, documentPath } from '../src/client.ts';
import type { DocumentInput } from '../src/types.ts';

const connect: Failure = { type: 'connect', code: 'ECONNREFUSED' };
const lost: Failure = { type: 'lost', code: 'ECONNRESET' };
const http = (status: number, code: string | null = null): Failure => ({ type: 'http', status, code, retryAfterMs: null });

describe('decide', () => {
  it('retries anything that never connected', () => {
    for (const kind of ['read', 'idempotent', 'conditional'] as const) expect(decide(kind, connect)).toBe('retry');
  });

  it('retries reads and idempotent writes whose answer was lost, and calls a lost conditional write unknown', () => {
    expect(decide('read', lost)).toBe('retry');
    expect(decide('idempotent', lost)).toBe('retry');
    expect(decide('conditional', lost)).toBe('unknown');
  });

  it('retries 429, 502, 503 and 504 for reads and idempotent writes', () => {
    for (const status of [429, 502, 503, 504]) {
      expect(decide('read', http(status))).toBe('retry');
      expect(decide('idempotent', http(status, 'not_replicated'))).toBe('retry');
    }
  });

  it('retries a conditional write only on answers that say it was not written', () => {
    expect(decide('conditional', http(429))).toBe('retry');
    for (const code of ['overloaded', 'recovering', 'log_sync_failed', 'stopping']) expect(decide('conditional', http(503, code))).toBe('retry');
    for (const code of ['not_replicated', 'shutting_down', 'leader_unavailable', 'outcome_pending', 'outcome_unknown']) {
      expect(decide('conditional', http(503, code))).toBe('unknown');
    }
    expect(decide('conditional', http(502))).toBe('unknown');
    expect(decide('conditional', http(504))).toBe('unknown');
  });

  it('fails at once on other statuses', () => {
    for (const status of [400, 401, 404, 409, 413, 415, 500, 507]) {
      expect(decide('read', http(status))).toBe('fail');
      expect(decide('conditional', http(status))).toBe('fail');
    }
  });
});

describe('classifyFetchError', () => {
  const fetchFailed = (cause: unknown): Error => Object.assign(new TypeError('fetch failed'), { cause });

  it('tells a refused connection (not sent) from a reset one (maybe received)', () => {
    expect(classifyFetchError(fetchFailed({ code: 'ECONNREFUSED' }))).toEqual({ type: 'connect', code: 'ECONNREFUSED' });
    expect(classifyFetchError(fetchFailed({ code: 'UND_ERR_SOCKET' }))).toEqual({ type: 'lost', code: 'UND_ERR_SOCKET' });
    expect(classifyFetchError(fetchFailed({ errors: [{ code: 'ECONNREFUSED' }] }))).toEqual({ type: 'connect', code: 'ECONNREFUSED' });
  });

  it('counts a timeout as a lost answer', () => {
    expect(classifyFetchError(Object.assign(new Error('timed out'), { name: 'TimeoutError' }))).toEqual({ type: 'lost', code: 'timeout' });
  });
});

describe('backoff', () => {
  const bounds = { backoffMinMs: 100, backoffMaxMs: 2000, retryAfterMaxMs: 10_000 };

  it('doubles from the minimum up to the maximum, with jitter down to half', () => {
    expect(backoffMs(1, null, bounds, 0.999)).toBe(100);
    expect(backoffMs(2, null, bounds, 0.999)).toBe(200);
    expect(backoffMs(3, null, bounds, 0)).toBe(200);
    expect(backoffMs(20, null, bounds, 0.999)).toBe(1999);
    expect(backoffMs(20, null, bounds, 0)).toBe(1000);
  });

  it('waits at least the Retry-After, capped', () => {
    expect(backoffMs(1, 2000, bounds, 0)).toBe(2000);
    expect(backoffMs(1, 60_000, bounds, 0)).toBe(10_000);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('2', 0)).toBe(2000);
    expect(parseRetryAfter(new Date(5000).toUTCString(), 2000)).toBe(3000);
    expect(parseRetryAfter(null, 0)).toBeNull();
    expect(parseRetryAfter('soon', 0)).toBeNull();
  });
});

async function collect(docs: DocumentInput[], documentsMax: number, bodyBytesMax: number): Promise<ChunkEvent[]> {
  const out: ChunkEvent[] = [];
  for await (const ev of chunkDocuments(docs, { documentsMax, bodyBytesMax })) out.push(ev);
  return out;
}

describe('chunkDocuments', () => {
  it('keeps every chunk within the document count', async () => {
    const docs = Array.from({ length: 25 }, (_, i) => ({ id: `d${i}`, content: 'x' }));
    const chunks = (await collect(docs, 10, 1 << 20)).map((e) => ('chunk' in e ? e.chunk.items.length : -1));
    expect(chunks).toEqual([10, 10, 5]);
  });

  it('keeps every body within the byte limit, counting UTF-8', async () => {
    const docs = Array.from({ length: 40 }, (_, i) => ({ id: `d${i}`, content: 'é€😀'.repeat(50 + i) }));
    const limit = 4096;
    const events = await collect(docs, 1000, limit);
    const chunks = events.flatMap((e) => ('chunk' in e ? [e.chunk] : []));
    expect(chunks.flatMap((c) => c.items)).toEqual(docs.map((_, i) => i));
    for (const c of chunks) {
      const body = chunkBody(c);
      expect(new TextEncoder().encode(body).length).toBe(c.bytes);
      expect(c.bytes).toBeLessThanOrEqual(limit);
    }
    expect(chunks.length).toBeGreaterThan(5);
  });

  it('gives a document too large for any body as its own event and goes on', async () => {
    const docs = [{ id: 'a', content: 'a' }, { id: 'big', content: 'x'.repeat(5000) }, { id: 'c', content: 'c' }];
    const events = await collect(docs, 1000, 1000);
    expect(events).toEqual([
      { tooLarge: { item: 1, bytes: utf8Bytes(JSON.stringify(docs[1])) } },
      { chunk: { items: [0, 2], json: [JSON.stringify(docs[0]), JSON.stringify(docs[2])], bytes: chunkBody({ items: [], json: [JSON.stringify(docs[0]), JSON.stringify(docs[2])], bytes: 0 }).length } },
    ]);
  });

  it('splits a chunk into halves whose sizes are exact', () => {
    const json = ['{"a":1}', '{"b":22}', '{"c":333}'];
    const c: Chunk = { items: [4, 5, 6], json, bytes: chunkBody({ items: [], json, bytes: 0 }).length };
    const [x, y] = splitChunk(c);
    expect(x.items).toEqual([4, 5]);
    expect(y.items).toEqual([6]);
    expect(x.bytes).toBe(chunkBody(x).length);
    expect(y.bytes).toBe(chunkBody(y).length);
  });
});

describe('Endpoints', () => {
  it('normalises URLs', () => {
    expect(normaliseUrl('127.0.0.1:8080/')).toBe('http://127.0.0.1:8080');
    expect(normaliseUrl('https://cairn.example/base/')).toBe('https://cairn.example/base');
  });

  it('ranks the same endpoints the same way for one workspace, whatever order they are given in', () => {
    const urls = ['http://a:1', 'http://b:1', 'http://c:1'];
    const one = new Endpoints(urls, 'ws-1', 'workspace').order().map((e) => e.url);
    const two = new Endpoints([...urls].reverse(), 'ws-1', 'workspace').order().map((e) => e.url);
    expect(one).toEqual(two);
    const firsts = new Set(Array.from({ length: 40 }, (_, i) => new Endpoints(urls, `ws-${i}`, 'workspace').order()[0]?.url));
    expect(firsts.size).toBe(3);
  });

  it('tries a URL that failed to connect last until its mark expires', () => {
    let now = 0;
    const eps = new Endpoints(['http://a:1', 'http://b:1'], 'w', 'ordered', () => now);
    const a = eps.order()[0];
    expect(a?.url).toBe('http://a:1');
    if (a !== undefined) eps.markDown(a);
    expect(eps.order().map((e) => e.url)).toEqual(['http://b:1', 'http://a:1']);
    now = 10_000;
    expect(eps.order().map((e) => e.url)).toEqual(['http://a:1', 'http://b:1']);
  });

  it('puts discovered nodes after the configured URLs, and names a configured node', () => {
    const eps = new Endpoints(['http://127.0.0.1:8000', 'http://127.0.0.1:8080'], 'w', 'ordered');
    eps.addDiscovered([{ id: 'node-1', address: '127.0.0.1:8080' }, { id: 'node-2', address: '127.0.0.1:8081' }], 'http:');
    const order = eps.order();
    expect(order.map((e) => e.url)).toEqual(['http://127.0.0.1:8000', 'http://127.0.0.1:8080', 'http://127.0.0.1:8081']);
    expect(order.map((e) => e.id)).toEqual([null, 'node-1', 'node-2']);
  });
});

describe('request details', () => {
  it('addresses ids with / as %2F and refuses ids no URL can address', () => {
    expect(documentPath('docs/a b.md')).toBe('/api/v1/documents/docs%2Fa%20b.md');
    expect(() => documentPath('..')).toThrow(/no URL can address/);
  });

  it('quotes ETags in If-Match', () => {
    expect(formatIfMatch('abc')).toBe('"abc"');
    expect(formatIfMatch(['a', '"b"'])).toBe('"a", "b"');
    expect(formatIfMatch('*')).toBe('*');
  });
});
