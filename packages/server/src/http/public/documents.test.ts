import { describe, expect, it } from 'vitest';
import type { Op } from '../../store/op.ts';
import { openTestApi } from './testing.ts';

describe('the documents API', () => {
  it('creates a document with 201 {id, index, etag} and answers the index, the ETag and the serving node in headers', async () => {
    using api = openTestApi();
    const res = await api.call('POST', '/api/v1/documents', { id: 'a', content: 'raft keeps a replicated log' });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ id: 'a', index: 1, etag: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(res.headers.get('ETag')).toMatch(/^"[0-9a-f]{32}"$/);
    expect(res.headers.get('X-Cairn-Index')).toBe('1');
    expect(res.headers.get('X-Served-By')).toBe('node-1');
  });

  it('derives the id from the content, and a retried write replaces instead of duplicating', async () => {
    using api = openTestApi();
    const first = (await (await api.call('POST', '/api/v1/documents', { content: 'same words' })).json()) as { id: string };
    const again = (await (await api.call('POST', '/api/v1/documents', { content: 'same words' })).json()) as { id: string };
    expect(again.id).toBe(first.id);
    const list = (await (await api.call('GET', '/api/v1/documents')).json()) as { documents: unknown[] };
    expect(list.documents).toHaveLength(1);
  });

  it('gets a document by id, and 404s an absent one', async () => {
    using api = openTestApi();
    await api.call('POST', '/api/v1/documents', { id: 'doc-1', content: 'hello', path: 'notes/hello.md', metadata: { k: 'v' } });
    const res = await api.call('GET', '/api/v1/documents/doc-1');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 'doc-1', content: 'hello', path: 'notes/hello.md', language: 'markdown', metadata: { k: 'v' }, tokens: 1 });
    const missing = await api.call('GET', '/api/v1/documents/nope');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found', field: 'id' } });
  });

  it('addresses an id holding "/" by its percent-encoded form', async () => {
    using api = openTestApi();
    expect((await api.call('POST', '/api/v1/documents', { id: 'docs/intro.md', content: 'a path as an id' })).status).toBe(201);
    const res = await api.call('GET', `/api/v1/documents/${encodeURIComponent('docs/intro.md')}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 'docs/intro.md', content: 'a path as an id' });
    expect((await api.call('DELETE', `/api/v1/documents/${encodeURIComponent('docs/intro.md')}`)).status).toBe(200);
    expect((await api.call('GET', `/api/v1/documents/${encodeURIComponent('docs/intro.md')}`)).status).toBe(404);
  });

  it('deletes a document, and 404s a delete of an absent one', async () => {
    using api = openTestApi();
    await api.call('POST', '/api/v1/documents', { id: 'gone', content: 'soon deleted' });
    const del = await api.call('DELETE', '/api/v1/documents/gone');
    expect(del.status).toBe(200);
    expect(await del.json()).toEqual({ id: 'gone', deleted: true, index: 2 });
    expect((await api.call('GET', '/api/v1/documents/gone')).status).toBe(404);
    expect((await api.call('DELETE', '/api/v1/documents/gone')).status).toBe(404);
  });

  it('ingests a bulk array as one log entry, reporting per-item errors and applying the rest', async () => {
    using api = openTestApi();
    const res = await api.call('POST', '/api/v1/documents/bulk', [{ id: 'x', content: 'one' }, { content: 42 }, { id: 'y', content: 'two' }]);
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({
      added: 2, ids: ['x', 'y'], etags: [expect.stringMatching(/^[0-9a-f]{32}$/), expect.stringMatching(/^[0-9a-f]{32}$/)], total: 3, index: 1,
      errors: [{ item: 1, error: { code: 'invalid_type', message: '[1].content must be a string', field: '[1].content' } }],
    });
    expect(api.replicator.proposed).toHaveLength(1);
  });

  it('answers 409 instead of 201 when a concurrent write set the new workspace to another dimension', async () => {
    using api = openTestApi();
    let open = (): void => {};
    api.replicator.gate = new Promise<void>((r) => (open = r));
    const first = api.call('POST', '/api/v1/documents', { id: 'a', content: 'three dims', vector: [1, 0, 0] });
    const second = api.call('POST', '/api/v1/documents', { id: 'b', content: 'embedded with 64 dims' });
    await new Promise((r) => setTimeout(r, 50));
    open();
    expect((await first).status).toBe(201);
    const refused = await second;
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ error: { code: 'dimension_conflict', field: 'vector' } });
    expect((await api.call('GET', '/api/v1/documents/b')).status).toBe(404);
  });

  it('lists documents in pages with an opaque cursor', async () => {
    using api = openTestApi();
    await api.call('POST', '/api/v1/documents/bulk', Array.from({ length: 5 }, (_, i) => ({ id: `d${i}`, content: `document number ${i}` })));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await api.call('GET', `/api/v1/documents?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      const page = (await res.json()) as { documents: { id: string }[]; next_cursor: string | null };
      seen.push(...page.documents.map((d) => d.id));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(seen).toEqual(['d0', 'd1', 'd2', 'd3', 'd4']);
  });

  it('passes the write concern from ?write_concern= or X-Write-Concern to the replicator', async () => {
    using api = openTestApi();
    const seen: (string | undefined)[] = [];
    const propose = api.replicator.propose.bind(api.replicator);
    api.replicator.propose = (op: Op, opts?: { writeConcern?: string }) => (seen.push(opts?.writeConcern), propose(op));
    await api.call('POST', '/api/v1/documents?write_concern=all', { content: 'a' });
    await api.call('POST', '/api/v1/documents', { content: 'b' }, { 'X-Write-Concern': 'leader' });
    expect(seen).toEqual(['all', 'leader']);
  });

  it('answers a replication failure with its status, body and Retry-After', async () => {
    using api = openTestApi();
    api.replicator.failWith = Object.assign(new Error('leader node-1 unreachable'), {
      status: 503, code: 'leader_unavailable', toJSON: () => ({ error: { code: 'leader_unavailable', message: 'leader node-1 unreachable', leader: 'node-1' } }),
    });
    const res = await api.call('POST', '/api/v1/documents', { content: 'x' });
    expect(res.status).toBe(503);
    expect(res.headers.get('Retry-After')).toBe('1');
    expect(await res.json()).toMatchObject({ error: { code: 'leader_unavailable', leader: 'node-1' } });
  });

  it('waits for ?min_index= on reads and answers 504 when it is not reached in time', async () => {
    using api = openTestApi();
    await api.call('POST', '/api/v1/documents', { id: 'a', content: 'x' });
    expect((await api.call('GET', '/api/v1/documents/a?min_index=1')).status).toBe(200);
    const late = await api.call('GET', '/api/v1/documents/a', undefined, { 'X-Min-Index': '99' });
    expect(late.status).toBe(504);
    expect(await late.json()).toMatchObject({ error: { code: 'min_index_timeout', field: 'min_index' } });
  });

  it('holds reads on a leader until it has applied its read index, writes not', async () => {
    using api = openTestApi();
    await api.call('POST', '/api/v1/documents', { id: 'a', content: 'x' });
    // A leader whose log ended at 3 when it took over and has applied 1: what it holds may be old.
    api.replicator.leaderReadIndex = 3;
    const held = api.call('GET', '/api/v1/documents/a');
    const search = api.call('POST', '/api/v1/search', { query: 'x' });
    await new Promise((r) => setTimeout(r, 20));
    api.replicator.index = 3;
    const res = await held;
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Cairn-Index')).toBe('3');
    expect((await search).status).toBe(200);
    // Not reached within read_wait_ms_max (200 ms here): 503 with Retry-After, not a stale answer.
    api.replicator.leaderReadIndex = 9;
    const late = await api.call('GET', '/api/v1/documents/a?min_index=2');
    expect(late.status).toBe(503);
    expect(late.headers.get('Retry-After')).toBe('1');
    expect(await late.json()).toMatchObject({ error: { code: 'leader_catching_up', message: expect.stringContaining('leads from index 9 and had applied 3') } });
    // A min_index beyond the read index is still the client's: 504 min_index_timeout.
    api.replicator.leaderReadIndex = 2;
    const beyond = await api.call('GET', '/api/v1/documents/a?min_index=7');
    expect(beyond.status).toBe(504);
    expect(await beyond.json()).toMatchObject({ error: { code: 'min_index_timeout' } });
    // A delete's 404 is answered from this node's state: it waits too, and is not answered stale.
    api.replicator.leaderReadIndex = 9;
    const gone = await api.call('DELETE', '/api/v1/documents/never-written');
    expect(gone.status).toBe(503);
    expect(await gone.json()).toMatchObject({ error: { code: 'leader_catching_up' } });
    api.replicator.leaderReadIndex = 3;
    expect((await api.call('DELETE', '/api/v1/documents/never-written')).status).toBe(404);
    // Writes do not wait for it: they go on to propose.
    api.replicator.leaderReadIndex = 9;
    expect((await api.call('POST', '/api/v1/documents', { id: 'b', content: 'y' })).status).toBe(201);
  });
});

describe('workspace resolution', () => {
  it('takes the header, then ?workspace=, then the /workspace/:id/ prefix, then workspace_path, else default', async () => {
    using api = openTestApi();
    await api.call('POST', '/api/v1/documents', { id: 'h', content: 'c' }, { 'X-Workspace-ID': 'from-header' });
    await api.call('POST', '/api/v1/documents?workspace=from-query', { id: 'q', content: 'c' });
    await api.call('POST', '/workspace/from-path/api/v1/documents', { id: 'p', content: 'c' });
    await api.call('POST', '/api/v1/documents', { id: 'b', content: 'c', workspace_path: '/projects/from-body/' });
    await api.call('POST', '/api/v1/documents', { id: 'd', content: 'c' });
    await api.call('POST', '/workspace/from-path/api/v1/documents', { id: 'hp', content: 'c' }, { 'X-Workspace-ID': 'from-header' });
    const stats = api.t.store.workspaceStats();
    expect(Object.fromEntries(Object.entries(stats).map(([ws, s]) => [ws, s.document_count]))).toEqual({
      'from-header': 2, 'from-query': 1, 'from-path': 1, 'from-body': 1, default: 1,
    });
    expect((await api.call('GET', '/workspace/from-path/api/v1/documents/p')).status).toBe(200);
    expect((await api.call('GET', '/api/v1/documents/p')).status).toBe(404);
  });
});
