// POST /api/v1/search takes `granularity`: "passage" (the default) ranks documents by their
// passages and reports them; "document" ranks whole documents; anything else is a 400 naming it.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestApi } from './testing.ts';
import type { TestApi } from './testing.ts';

interface Hit { id: string; passages?: { n: number; start: number; end: number }[]; snippet?: string }

const filler = (i: number): string => `Section ${i} describes routine configuration of the cluster nodes and their ports in detail.`;

describe('granularity in a search body', () => {
  let api: TestApi;
  let longContent = '';
  beforeAll(async () => {
    api = openTestApi();
    // A long page where the query's words sit in one paragraph far from the start.
    const paragraphs = Array.from({ length: 60 }, (_, i) => filler(i));
    paragraphs.splice(45, 0, 'The quorum heartbeat watchdog restarts a stalled follower after three missed beats.');
    longContent = paragraphs.join('\n\n');
    expect((await api.call('POST', '/api/v1/documents', { id: 'long', path: 'ops/long.md', content: longContent })).status).toBe(201);
    expect((await api.call('POST', '/api/v1/documents', { id: 'short', path: 'ops/short.md', content: 'Ports of the nodes.' })).status).toBe(201);
  });
  afterAll(() => api[Symbol.dispose]());

  const search = async (body: Record<string, unknown>): Promise<Hit[]> => {
    const res = await api.call('POST', '/api/v1/search', { query: 'quorum heartbeat watchdog', mode: 'lexical', ...body });
    expect(res.status).toBe(200);
    return ((await res.json()) as { results: Hit[] }).results;
  };

  it('is "passage" by default: the hit reports the passage holding the words, deep in the page', async () => {
    for (const body of [{}, { granularity: 'passage' }, { granularity: null }]) {
      const [hit] = await search(body);
      expect(hit?.id).toBe('long');
      const best = hit?.passages?.[0];
      expect(best).toBeDefined();
      const text = longContent.slice(best?.start, best?.end);
      expect(text).toContain('quorum heartbeat watchdog');
      expect(best?.start).toBeGreaterThan(longContent.length / 2);
      expect(hit?.snippet).toContain('watchdog');
    }
  });

  it('takes "document": whole documents, without passages', async () => {
    const [hit] = await search({ granularity: 'document' });
    expect(hit?.id).toBe('long');
    expect(hit?.passages).toBeUndefined();
    expect(hit?.snippet).toBeUndefined();
  });

  it('refuses any other value with a 400 naming the field', async () => {
    for (const bad of ['paragraph', 'Document', '', 3, true, ['passage'], { v: 'passage' }]) {
      const res = await api.call('POST', '/api/v1/search', { query: 'quorum', granularity: bad });
      expect(res.status, JSON.stringify(bad)).toBe(400);
      const body = (await res.json()) as { error: { code: string; field?: string; message: string } };
      expect(body.error.field).toBe('granularity');
      expect(body.error.message).toMatch(/granularity/);
    }
  });
});
