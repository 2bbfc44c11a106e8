import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createDrain } from './drain.ts';

/** An app whose /slow answers when `release` is called, and /fast at once. */
function appWith(deadline_ms: number) {
  const drain = createDrain({ node_id: 'node-2', deadline_ms, retry_after_s: 1 });
  const app = new Hono();
  app.use(drain.middleware);
  let release: () => void = () => undefined;
  let entered: () => void = () => undefined;
  const inSlow = new Promise<void>((resolve) => (entered = resolve));
  app.post('/slow', async (c) => {
    entered();
    await new Promise<void>((resolve) => (release = resolve));
    return c.json({ ok: true }, 201);
  });
  app.get('/fast', (c) => c.json({ ok: true }));
  return { drain, app, inSlow, release: () => release() };
}

describe('drain', () => {
  it('passes requests through untouched until it begins', async () => {
    const { app, drain } = appWith(1_000);
    const res = await app.request('/fast');
    expect(res.status).toBe(200);
    expect(res.headers.get('connection')).toBeNull();
    expect(drain.draining).toBe(false);
    expect(drain.signal.aborted).toBe(false);
  });

  it('answers a request that arrives once it began 503 stopping (not taken) with Retry-After and Connection: close', async () => {
    const { app, drain } = appWith(1_000);
    drain.begin();
    const res = await app.request('/fast');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.json()).toEqual({ error: { code: 'stopping', message: 'node-2 is stopping and did not take this request; retry it, another node answers' } });
    expect(drain.signal.aborted).toBe(true);
    await drain.settled();
  });

  it("lets a request in flight at begin() give its own answer, with Connection: close, and settles after it", async () => {
    const { app, drain, inSlow, release } = appWith(60_000);
    const pending = app.request('/slow', { method: 'POST' });
    await inSlow;
    expect(drain.inFlight()).toBe(1);
    drain.begin();
    let settled = false;
    const done = drain.settled().then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    release();
    const res = await pending;
    expect(res.status).toBe(201);
    expect(res.headers.get('connection')).toBe('close');
    await done;
    expect(drain.inFlight()).toBe(0);
  });

  it('answers a request still in flight at the deadline 503 shutting_down saying it may still apply', async () => {
    const { app, drain, inSlow, release } = appWith(20);
    const pending = app.request('/slow', { method: 'POST' });
    await inSlow;
    drain.begin();
    const res = await pending;
    expect(res.status).toBe(503);
    expect(res.headers.get('connection')).toBe('close');
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('shutting_down');
    expect(body.error.message).toContain('may still apply');
    await drain.settled();
    expect(drain.inFlight()).toBe(0);
    release();
  });

  it('refuses a deadline that is not positive, and settled() before begin()', () => {
    expect(() => createDrain({ node_id: 'n', deadline_ms: 0, retry_after_s: 1 })).toThrow(/deadline_ms must be positive/);
    expect(() => createDrain({ node_id: 'n', deadline_ms: 10, retry_after_s: 1 }).settled()).toThrow(/before begin/);
  });
});
