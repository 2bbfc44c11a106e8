import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbedder } from './index.ts';
import { OpenAIEmbedder } from './openai.ts';
import { EmbeddingError } from './types.ts';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

describe('OpenAIEmbedder against a local /v1/embeddings server', () => {
  let server: Server;
  let url = '';
  let handler: Handler = () => {};
  const seen: { auth: string | undefined; body: unknown }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => handler(req, body, res));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const make = (over: Partial<ConstructorParameters<typeof OpenAIEmbedder>[0]> = {}): OpenAIEmbedder =>
    new OpenAIEmbedder({ url, model: 'test-model', api_key: 'k-123', dim: 3, timeout_ms: 10_000, ...over });

  it('posts {model, input} with the bearer key and returns the vectors in input order', async () => {
    handler = (req, body, res) => {
      seen.push({ auth: req.headers.authorization, body: JSON.parse(body) });
      expect(req.url).toBe('/v1/embeddings');
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ data: [{ index: 1, embedding: [0, 1, 0] }, { index: 0, embedding: [1, 0, 0] }] }));
    };
    const out = await make().embed(['a', 'b']);
    expect(out.map((v) => Array.from(v))).toEqual([[1, 0, 0], [0, 1, 0]]);
    expect(seen.at(-1)).toEqual({ auth: 'Bearer k-123', body: { model: 'test-model', input: ['a', 'b'] } });
  });

  it('rejects with an EmbeddingError naming the HTTP status on failure', async () => {
    handler = (_req, _body, res) => {
      res.statusCode = 500;
      res.end('model not loaded');
    };
    await expect(make().embed(['a'])).rejects.toThrow(EmbeddingError);
    await expect(make().embed(['a'])).rejects.toThrow(/HTTP 500: model not loaded/);
  });

  it('rejects when the server answers a vector of another dimension', async () => {
    handler = (_req, _body, res) => res.end(JSON.stringify({ data: [{ index: 0, embedding: [1, 2] }] }));
    await expect(make().embed(['a'])).rejects.toThrow(/dimension 2, configured embedding.dim is 3/);
  });

  it('rejects after timeout_ms when the server does not answer', async () => {
    handler = () => {};
    await expect(make({ timeout_ms: 100 }).embed(['a'])).rejects.toThrow(/timed out after 100 ms/);
  });

  it('is what createEmbedder builds for provider "openai"', () => {
    const e = createEmbedder({ provider: 'openai', dim: 3, url, model: 'm', api_key: '', timeout_ms: 100 });
    expect(e.name).toBe('openai:m');
    expect(createEmbedder({ provider: 'hashing', dim: 128, url: '', model: '', api_key: '', timeout_ms: 1 }).dim).toBe(128);
  });
});
