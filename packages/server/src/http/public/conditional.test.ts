import { describe, expect, it } from 'vitest';
import { passages_op_version } from '../../store/op.ts';
import { parseIfMatch } from './precondition.ts';
import { openTestApi } from './testing.ts';
import type { TestApi } from './testing.ts';

interface Written {
  id: string;
  index: number;
  etag: string;
}

interface Failed {
  error: { code: string; message: string; field: string };
  current_etag: string | null;
}

async function put(api: TestApi, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<{ res: Response; body: unknown }> {
  const res = await api.call('POST', '/api/v1/documents', body, headers);
  return { res, body: await res.json() };
}

async function etagOf(api: TestApi, id: string): Promise<string | null> {
  const res = await api.call('GET', `/api/v1/documents/${id}`);
  if (res.status === 404) return null;
  const doc = (await res.json()) as { etag: string };
  expect(res.headers.get('ETag')).toBe(`"${doc.etag}"`);
  return doc.etag;
}

describe('ETags', () => {
  it('answers the same ETag on a put and a get, stable for the same content and metadata', async () => {
    using api = openTestApi();
    const created = await put(api, { id: 'd', content: 'words', path: 'a.md', metadata: { b: 1, a: 2 } });
    const { etag } = created.body as Written;
    expect(created.res.headers.get('ETag')).toBe(`"${etag}"`);
    expect(await etagOf(api, 'd')).toBe(etag);
    const again = await put(api, { id: 'd', content: 'words', path: 'a.md', metadata: { a: 2, b: 1 } });
    expect((again.body as Written).etag).toBe(etag);
  });

  it('changes the ETag when the content, path, language or metadata changes', async () => {
    using api = openTestApi();
    const base = { id: 'd', content: 'words', path: 'a.md', language: 'markdown', metadata: { k: 1 } };
    const seen = new Set<string>();
    for (const body of [base, { ...base, content: 'other words' }, { ...base, path: 'b.md' }, { ...base, language: 'text' }, { ...base, metadata: { k: 2 } }]) {
      seen.add(((await put(api, body)).body as Written).etag);
    }
    expect(seen.size).toBe(5);
  });

  it('answers bulk writes with etags parallel to ids, each the one a get then answers', async () => {
    using api = openTestApi();
    const res = await api.call('POST', '/api/v1/documents/bulk', [{ id: 'x', content: 'one' }, { content: 7 }, { id: 'y', content: 'two' }]);
    const body = (await res.json()) as { ids: string[]; etags: string[] };
    expect(body.ids).toEqual(['x', 'y']);
    expect(body.etags).toEqual([await etagOf(api, 'x'), await etagOf(api, 'y')]);
  });
});

describe('conditional puts', () => {
  it('applies with a matching If-Match: 201 with the new ETag, as one conditional log entry', async () => {
    using api = openTestApi();
    const { etag } = (await put(api, { id: 'd', content: 'v0' })).body as Written;
    const { res, body } = await put(api, { id: 'd', content: 'v1' }, { 'If-Match': `"${etag}"` });
    expect(res.status).toBe(201);
    const next = body as Written;
    expect(next.etag).not.toBe(etag);
    expect(await etagOf(api, 'd')).toBe(next.etag);
    expect(api.replicator.proposed.map((op) => [op.v, op.kind === 'put' && op.rid !== undefined])).toEqual([[passages_op_version, false], [passages_op_version, true]]);
  });

  it('answers 412 with the current ETag and the index of the entry on a mismatch, leaving the document as it was', async () => {
    using api = openTestApi();
    const { etag } = (await put(api, { id: 'd', content: 'v0' })).body as Written;
    const stale = '0'.repeat(32);
    const { res, body } = await put(api, { id: 'd', content: 'v1' }, { 'If-Match': `"${stale}"` });
    expect(res.status).toBe(412);
    expect(res.headers.get('X-Cairn-Index')).toBe('2');
    const failed = body as Failed;
    expect(failed).toEqual({ error: { code: 'precondition_failed', message: expect.any(String), field: 'If-Match' }, current_etag: etag });
    expect(failed.error.message).toContain(stale);
    expect(failed.error.message).toContain(etag);
    expect(((await (await api.call('GET', '/api/v1/documents/d')).json()) as { content: string }).content).toBe('v0');
  });

  it('accepts unquoted tags, a list of several and * in If-Match; a weak tag never matches', async () => {
    using api = openTestApi();
    let { etag } = (await put(api, { id: 'd', content: 'v0' })).body as Written;
    for (const header of [(e: string) => e, (e: string) => `"aaaa", "${e}"`]) {
      const r = await put(api, { id: 'd', content: `after ${header(etag)}` }, { 'If-Match': header(etag) });
      expect(r.res.status, header(etag)).toBe(201);
      etag = (r.body as Written).etag;
    }
    expect((await put(api, { id: 'd', content: 'star' }, { 'If-Match': '*' })).res.status).toBe(201);
    const current = await etagOf(api, 'd');
    expect((await put(api, { id: 'd', content: 'weak' }, { 'If-Match': `W/"${current}"` })).res.status).toBe(412);
    expect((await put(api, { id: 'absent', content: 'star' }, { 'If-Match': '*' })).body).toMatchObject({ current_etag: null, error: { field: 'If-Match' } });
    expect(await etagOf(api, 'absent')).toBeNull();
  });

  it('creates with If-None-Match: * only when absent', async () => {
    using api = openTestApi();
    const created = await put(api, { id: 'n', content: 'first' }, { 'If-None-Match': '*' });
    expect(created.res.status).toBe(201);
    const again = await put(api, { id: 'n', content: 'second' }, { 'If-None-Match': '*' });
    expect(again.res.status).toBe(412);
    expect(again.body).toMatchObject({ error: { code: 'precondition_failed', field: 'If-None-Match' }, current_etag: (created.body as Written).etag });
    expect(((await (await api.call('GET', '/api/v1/documents/n')).json()) as { content: string }).content).toBe('first');
  });

  it('takes the body fields if_match and if_none_match for clients that cannot set headers', async () => {
    using api = openTestApi();
    expect((await put(api, { id: 'b', content: 'new', if_none_match: '*' })).res.status).toBe(201);
    const etag = (await etagOf(api, 'b')) ?? '';
    expect((await put(api, { id: 'b', content: 'stale', if_match: '"ffff"' })).res.status).toBe(412);
    const ok = await put(api, { id: 'b', content: 'fresh', if_match: etag });
    expect(ok.res.status).toBe(201);
    expect((await put(api, { id: 'b', content: 'same both ways', if_match: `"${(ok.body as Written).etag}"` }, { 'If-Match': (ok.body as Written).etag })).res.status).toBe(201);
  });

  it('answers 400 naming the field for conflicting or malformed preconditions, proposing nothing', async () => {
    using api = openTestApi();
    await put(api, { id: 'd', content: 'v0' });
    const proposed = api.replicator.proposed.length;
    const cases: [Record<string, unknown>, Record<string, string>, string][] = [
      [{ if_match: '"a"' }, { 'If-Match': '"b"' }, 'if_match'],
      [{}, { 'If-None-Match': '"abc"' }, 'If-None-Match'],
      [{ if_none_match: 'abc' }, {}, 'if_none_match'],
      [{}, { 'If-Match': '"a' }, 'If-Match'],
      [{}, { 'If-Match': '""' }, 'If-Match'],
      [{ if_match: 5 }, {}, 'if_match'],
      [{}, { 'If-Match': '"a"', 'If-None-Match': '*' }, 'If-None-Match'],
    ];
    for (const [extra, headers, field] of cases) {
      const { res, body } = await put(api, { id: 'd', content: 'v1', ...extra }, headers);
      expect(res.status, JSON.stringify([extra, headers])).toBe(400);
      expect(body, JSON.stringify([extra, headers])).toMatchObject({ error: { field } });
    }
    expect(api.replicator.proposed).toHaveLength(proposed);
  });

  it('refuses preconditions on bulk items as those items\' errors, and on the bulk request as a 400', async () => {
    using api = openTestApi();
    const res = await api.call('POST', '/api/v1/documents/bulk', [{ id: 'x', content: 'one', if_match: '*' }, { id: 'y', content: 'two' }]);
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({
      ids: ['y'], errors: [{ item: 0, error: { code: 'invalid_value', field: '[0].if_match' } }],
    });
    const withHeader = await api.call('POST', '/api/v1/documents/bulk', [{ id: 'z', content: 'three' }], { 'If-Match': '*' });
    expect(withHeader.status).toBe(400);
    expect(await withHeader.json()).toMatchObject({ error: { field: 'If-Match' } });
  });
});

describe('conditional deletes', () => {
  it('answers 412 and keeps the document on an If-Match mismatch, and deletes on a match', async () => {
    using api = openTestApi();
    const { etag } = (await put(api, { id: 'd', content: 'v0' })).body as Written;
    const refused = await api.call('DELETE', '/api/v1/documents/d', undefined, { 'If-Match': '"0000"' });
    expect(refused.status).toBe(412);
    expect(await refused.json()).toMatchObject({ error: { code: 'precondition_failed', field: 'If-Match' }, current_etag: etag });
    expect(await etagOf(api, 'd')).toBe(etag);
    const done = await api.call('DELETE', '/api/v1/documents/d', undefined, { 'If-Match': `"${etag}"` });
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ id: 'd', deleted: true, index: 3 });
    expect(await etagOf(api, 'd')).toBeNull();
  });

  it('takes ?if_match=, and answers 412 with current_etag null for an absent document', async () => {
    using api = openTestApi();
    const { etag } = (await put(api, { id: 'd', content: 'v0' })).body as Written;
    expect((await api.call('DELETE', `/api/v1/documents/d?if_match=${encodeURIComponent(`"${etag}"`)}`)).status).toBe(200);
    const absent = await api.call('DELETE', '/api/v1/documents/d?if_match=*');
    expect(absent.status).toBe(412);
    expect(absent.headers.get('X-Cairn-Index')).toBe('3');
    expect(await absent.json()).toMatchObject({ error: { field: 'If-Match' }, current_etag: null });
  });

  it('keeps a delete without a precondition as it was: 404 when absent, checked before proposing', async () => {
    using api = openTestApi();
    expect((await api.call('DELETE', '/api/v1/documents/none')).status).toBe(404);
    expect(api.replicator.proposed).toHaveLength(0);
    expect((await api.call('DELETE', '/api/v1/documents/none', undefined, { 'If-None-Match': '*' })).status).toBe(400);
  });
});

describe('parseIfMatch', () => {
  it('reads *, quoted, bare and weak tags and lists of them', () => {
    expect(parseIfMatch(' * ', 'If-Match')).toBe('*');
    expect(parseIfMatch('"a1", b2 ,W/"c3"', 'If-Match')).toEqual(['a1', 'b2', 'W/"c3"']);
    expect(parseIfMatch('"a,b"', 'If-Match')).toEqual(['a,b']);
    expect(parseIfMatch('a, , b', 'If-Match')).toEqual(['a', 'b']);
  });

  it('refuses malformed, empty, too long and too many tags', () => {
    for (const raw of ['', '"a', 'a b', '""', `"${'x'.repeat(129)}"`, Array.from({ length: 17 }, (_, i) => `"e${i}"`).join(',')]) {
      expect(() => parseIfMatch(raw, 'If-Match'), raw).toThrow(/If-Match must be/);
    }
  });
});
