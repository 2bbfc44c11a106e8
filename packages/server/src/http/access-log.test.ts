import { Writable } from 'node:stream';
import { Hono } from 'hono';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { accessLog, request_id_chars_max } from './access-log.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function loggedApp(): { app: Hono; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done): void {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
      done();
    },
  });
  const app = new Hono();
  app.use(accessLog(pino({ level: 'debug' }, sink)));
  app.get('/api/v1/documents', (c) => c.json({ documents: [] }));
  app.get('/health', (c) => c.json({ status: 'healthy' }));
  return { app, lines };
}

async function idOf(app: Hono, given?: string): Promise<string | null> {
  const res = await app.request('/api/v1/documents', { headers: given === undefined ? {} : { 'x-request-id': given } });
  return res.headers.get('x-request-id');
}

describe('accessLog', () => {
  it('answers the request id the client sent when it is 1 to 128 characters of [A-Za-z0-9_.:=-]', async () => {
    const { app } = loggedApp();
    for (const id of ['abc-123', 'checkout.42:retry', 'under_score=', 'x'.repeat(request_id_chars_max)]) expect(await idOf(app, id)).toBe(id);
  });

  it('answers a new UUID when the client sent none, or one too long or with other characters', async () => {
    const { app } = loggedApp();
    for (const id of [undefined, '', 'x'.repeat(request_id_chars_max + 1), 'two words', '<script>', 'ünïcode', 'a/b']) expect(await idOf(app, id)).toMatch(UUID);
  });

  it('logs one line per request under the id it answered, polling routes at debug', async () => {
    const { app, lines } = loggedApp();
    const res = await app.request('/api/v1/documents', { headers: { 'x-request-id': 'req.1', 'x-workspace-id': 'ws-a' } });
    await app.request('/health');
    expect(res.status).toBe(200);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ req_id: 'req.1', method: 'GET', path: '/api/v1/documents', status: 200, workspace: 'ws-a', level: 30, msg: 'request' });
    expect(lines[1]).toMatchObject({ path: '/health', level: 20 });
    expect(lines[1]?.req_id).toMatch(UUID);
  });
});
