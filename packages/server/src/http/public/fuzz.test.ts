// Property-based fuzz of the public API, in process (app.request, no socket): generated methods,
// paths, query strings, headers and bodies for every route (documents put / bulk / get / delete /
// list, search, assemble). For every request: the answer is JSON, its status is 2xx or 4xx (the
// one 5xx allowed is 504 min_index_timeout when a min_index beyond the applied index was asked),
// and a 4xx carries {error: {code, message}}. A document acknowledged with 201 reads back equal
// to what was sent (content byte for byte, path, language, metadata, ETag); a deleted one is gone.
// Afterwards the API still answers /health and takes a write.
//
// A fixed seed by default; replay or vary with CAIRN_FUZZ_SEED=<n>, more runs with
// CAIRN_FUZZ_RUNS=<n> (per property).
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestApi, testConfig } from './testing.ts';
import type { TestApi } from './testing.ts';

const seed = process.env['CAIRN_FUZZ_SEED'] !== undefined ? Number(process.env['CAIRN_FUZZ_SEED']) : 20_261_202;
const runs = Number(process.env['CAIRN_FUZZ_RUNS'] ?? 200);
console.log(`public API property fuzz: seed ${seed}, ${runs} runs per property (CAIRN_FUZZ_SEED / CAIRN_FUZZ_RUNS to change)`);

const WORKSPACES = ['fz-a', 'fz-b'];

interface Req {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string | Uint8Array | undefined;
}

interface Answer {
  status: number;
  text: string;
  json: unknown;
  contentType: string;
}

let api: TestApi;

async function send(r: Req): Promise<Answer> {
  const res = await api.app.request(`http://localhost${r.path}`, {
    method: r.method,
    headers: r.headers,
    ...(r.body === undefined ? {} : { body: r.body }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, contentType: res.headers.get('content-type') ?? '' };
}

const show = (r: Req): string => {
  const body = r.body === undefined ? '' : typeof r.body === 'string' ? r.body.slice(0, 300) : `<${r.body.length} bytes: ${Buffer.from(r.body.subarray(0, 40)).toString('hex')}...>`;
  return `${r.method} ${r.path.slice(0, 200)} ${JSON.stringify(r.headers).slice(0, 300)} ${body}`;
};

/** What is wrong with an answer, or undefined. */
function problem(r: Req, a: Answer): string | undefined {
  const minIndexAsked = /[?&]min_index=/.test(r.path) || r.headers['x-min-index'] !== undefined;
  // A HEAD answer has no body to carry the error code.
  const minIndexTimeout = a.status === 504 && minIndexAsked && (r.method === 'HEAD' || (a.json as { error?: { code?: unknown } } | undefined)?.error?.code === 'min_index_timeout');
  if (a.status >= 500 && !minIndexTimeout) {
    return `status ${a.status}: ${a.text.slice(0, 300)}`;
  }
  if (a.status < 200 || (a.status >= 300 && a.status < 400)) return `status ${a.status}`;
  if (r.method === 'HEAD') return /application\/json/.test(a.contentType) || a.status === 404 || a.status === 405 ? undefined : `HEAD answered ${a.contentType}`;
  if (!/application\/json/.test(a.contentType)) return `content type ${a.contentType}: ${a.text.slice(0, 200)}`;
  if (a.json === undefined) return `not JSON: ${a.text.slice(0, 200)}`;
  if (a.status >= 400) {
    const e = (a.json as { error?: { code?: unknown; message?: unknown } }).error;
    if (typeof e?.code !== 'string' || typeof e.message !== 'string') return `4xx without {error: {code, message}}: ${a.text.slice(0, 200)}`;
  }
  return undefined;
}

/** Statuses seen per property, printed after it (to see what the generators reach). */
const seen = new Map<string, Map<string, number>>();
let current = '';

async function sendChecked(r: Req): Promise<Answer> {
  const a = await send(r);
  const tally = seen.get(current) ?? new Map<string, number>();
  seen.set(current, tally);
  const code = a.status >= 400 ? `${a.status} ${String((a.json as { error?: { code?: unknown } } | undefined)?.error?.code)}` : String(a.status);
  tally.set(code, (tally.get(code) ?? 0) + 1);
  const p = problem(r, a);
  if (p !== undefined) throw new Error(`${p}\n  request: ${show(r)}`);
  return a;
}

// --- arbitraries -------------------------------------------------------------------------------

const ascii = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

/** Any bytes, percent-encoded (so invalid UTF-8, NUL, slashes and dots reach the router). */
const encodedBytes = fc.uint8Array({ maxLength: 40 }).map((b) => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join(''));
const encodedText = fc.string({ unit: 'binary', maxLength: 40 }).map((s) => {
  try {
    return encodeURIComponent(s);
  } catch {
    return encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '?'));
  }
});
const segment = fc.oneof(
  fc.constantFrom('seed-0', 'seed-1', '.', '..', '%2E', '%2e%2e', 'a%2Fb', '%00', '%ff%fe', '%ed%a0%80', 'x'.repeat(5000), ''),
  fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/),
  encodedBytes,
  encodedText,
);

const queryValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('10', 'quorum', 'leader', 'seed', 'topic', 'document', 'lexical', 'hybrid') },
  fc.constantFrom('', '0', '-1', '1', '5', '1e9', 'abc', '99999999999999999999', 'leader', 'quorum', 'all', 'most', '%ff', 'eyJ4IjoxfQ', 'fz-a', '..'),
  encodedBytes,
  encodedText,
);
const queryKey = fc.constantFrom('limit', 'cursor', 'q', 'write_concern', 'workspace', 'min_index', 'if_match', 'k', 'mode');
const query = fc.array(fc.tuple(queryKey, queryValue), { maxLength: 4 }).map((kv) => (kv.length === 0 ? '' : `?${kv.map(([k, v]) => `${k}=${v}`).join('&')}`));

const prefix = fc.oneof({ weight: 3, arbitrary: fc.constant('') }, { weight: 2, arbitrary: fc.constantFrom(...WORKSPACES).map((w) => `/workspace/${w}`) }, { weight: 1, arbitrary: segment.map((s) => `/workspace/${s}`) });
const route = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('/api/v1/documents', '/api/v1/documents/bulk', '/api/v1/documents/seed-0', '/api/v1/documents/search', '/api/v1/search', '/api/v1/assemble') },
  fc.constantFrom('/api/v1/documents', '/api/v1/documents/bulk', '/api/v1/documents/search', '/api/v1/search', '/api/v1/assemble', '/api/v1/context/assemble', '/health', '/api/v1/nothing', '/api/v2/documents', '/', '/api/v1/documents/'),
  segment.map((s) => `/api/v1/documents/${s}`),
  segment.map((s) => `/api/v1/${s}`),
);

const headerValue = fc.oneof(ascii(80), fc.constantFrom('', ' ', 'x'.repeat(4096)));
const headers = fc.record(
  {
    'content-type': fc.oneof(fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/vnd.x+json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/msgpack', ''), headerValue),
    'x-workspace-id': fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...WORKSPACES, 'default') }, { weight: 1, arbitrary: fc.constantFrom('', '../etc', 'a b', 'w'.repeat(65)) }, { weight: 1, arbitrary: headerValue }),
    'x-write-concern': fc.oneof(fc.constantFrom('leader', 'quorum', 'all', 'none', ''), headerValue),
    origin: fc.oneof({ weight: 2, arbitrary: fc.constant('http://localhost') }, fc.constantFrom('http://evil.example', 'http://localhost', 'null', ''), headerValue),
    'sec-fetch-site': fc.constantFrom('cross-site', 'same-origin', 'same-site', 'none'),
    'if-match': fc.oneof(fc.constantFrom('*', '"abc"', 'W/"abc"', '', '"a", "b"'), headerValue),
    'if-none-match': fc.oneof(fc.constantFrom('*', '"abc"', ''), headerValue),
    'x-min-index': fc.constantFrom('0', '1', '-1', 'abc', '99999999999999999999'),
    'x-resource-tier': fc.oneof(fc.constantFrom('high', 'medium', 'low', 'HIGH'), headerValue),
    authorization: fc.oneof(fc.constantFrom('Bearer x', 'Basic abc'), headerValue),
  },
  { requiredKeys: [] },
);

/** JSON text nested `depth` deep (built as text: JSON.stringify recurses). */
const deepText = fc.tuple(fc.integer({ min: 10, max: 10_000 }), fc.constantFrom('array', 'object', 'metadata', 'content')).map(([depth, kind]) => {
  if (kind === 'array') return `${'['.repeat(depth)}${']'.repeat(depth)}`;
  if (kind === 'object') return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  if (kind === 'metadata') return `{"id":"deep","content":"x","metadata":${'{"a":'.repeat(depth)}{}${'}'.repeat(depth)}}`;
  return `{"id":"deep","content":${'['.repeat(depth)}${']'.repeat(depth)}}`;
});

/** Numbers JSON can carry that JavaScript handles badly. */
const hugeNumberText = fc.constantFrom('1e400', '-1e400', '123456789012345678901234567890', '-0', '1e-400', '9007199254740993', '0.1e1', '5e-324');

const hostileScalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(-1, 0, 1.5, 2 ** 53 + 2, -(2 ** 60), Number.MAX_VALUE, null, true, false, '', ' ', '\ud800', 'a\udc00b', '\u0000', '\uffff', '.', '..', [], {}, [1, 'a'], { a: { b: [{}] } }),
  fc.integer(),
  fc.double(),
  fc.string({ unit: 'binary', maxLength: 64 }),
);

const run = fc.tuple(fc.constantFrom('x', 'a1', '漢', '🙂', '\u0301', '=', '/'), fc.integer({ min: 1, max: 300_000 })).map(([c, n]) => c.repeat(Math.ceil(n / c.length)));
const contentArb = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 300 }) },
  { weight: 1, arbitrary: run },
  { weight: 1, arbitrary: fc.constantFrom('x', ' x ', 'line\r\nbreak', 'tab\tx', 'nul\u0000x', 'bom\ufeffx', 'é', 'e\u0301', '\u2028\u2029', 'a'.repeat(64 * 1024)) },
);
const idArb = fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$/), fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), fc.constantFrom('.', '..', 'a/b', 'x'.repeat(300), ' x', 'é', '\ud800'));
const metadataArb = fc.dictionary(fc.string({ unit: 'binary', maxLength: 12 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 });

const vectorArb = fc.oneof(fc.array(fc.double({ noNaN: true, min: -1, max: 1 }), { minLength: 64, maxLength: 64 }), fc.constant(Array.from({ length: 64 }, (_, i) => (i + 1) / 64)));

/** A well-formed document (the server may still refuse some: a lone surrogate, a control character, a blank content). */
const wellFormedDoc = fc.record(
  {
    id: fc.oneof({ weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$/) }, { weight: 1, arbitrary: idArb }),
    content: contentArb,
    path: fc.oneof(fc.stringMatching(/^[a-z0-9][a-z0-9/._-]{0,60}$/), fc.string({ unit: 'grapheme', maxLength: 60 })),
    language: fc.constantFrom('en', 'de', 'ts', 'markdown'),
    metadata: metadataArb,
    vector: vectorArb,
  },
  { requiredKeys: ['content'] },
);

const document_fields = ['id', 'content', 'path', 'language', 'metadata', 'vector', 'workspace_path', 'if_match', 'if_none_match', 'documents'] as const;

/** A well-formed document with one field (present or not) of a wrong type or a hostile value. */
const oneWrongField = fc.tuple(wellFormedDoc, fc.constantFrom(...document_fields), hostileScalar).map(([d, key, v]) => ({ ...d, [key]: v }));

/** Any subset of the fields, each of any type. */
const anyFields = fc.record(
  {
    id: fc.oneof(idArb, hostileScalar),
    content: fc.oneof(contentArb, hostileScalar),
    path: fc.oneof(fc.string({ unit: 'binary', maxLength: 60 }), hostileScalar),
    language: hostileScalar,
    metadata: fc.oneof(metadataArb, hostileScalar),
    vector: fc.oneof(fc.array(fc.double(), { maxLength: 80 }), hostileScalar),
    workspace_path: fc.oneof(fc.constantFrom('/p/fz-a', '/p/a b', '', '/'), hostileScalar),
    if_match: fc.oneof(fc.constantFrom('*', '"abc"'), hostileScalar),
    if_none_match: fc.constantFrom('*', '"abc"'),
  },
  { requiredKeys: [] },
);

const documentArb: fc.Arbitrary<Record<string, unknown>> = fc.oneof({ weight: 4, arbitrary: wellFormedDoc }, { weight: 3, arbitrary: oneWrongField }, { weight: 1, arbitrary: anyFields });

const searchBody = fc.record(
  {
    query: fc.oneof(fc.string({ unit: 'binary', maxLength: 100 }), run, hostileScalar),
    k: fc.oneof(fc.integer({ min: -5, max: 2000 }), hostileScalar),
    mode: fc.oneof(fc.constantFrom('lexical', 'vector', 'hybrid', 'fuzzy'), hostileScalar),
    vector: fc.oneof(fc.array(fc.double({ noNaN: true }), { maxLength: 80 }), hostileScalar),
  },
  { requiredKeys: [] },
);

const pattern = fc.oneof(
  fc.constantFrom('**', '**/*.md', '*.ts', '[z-a]', '[]', '{a,b', '{a,{b,{c}}}', '\\', '[!a]', `${'**a'.repeat(12)}**b`, '(a+)+$', '**/'.repeat(2000), 'a'.repeat(300)),
  fc.string({ unit: fc.constantFrom('*', 'a', '/', '?', '[', ']', '{', '}', ',', '!', '-', '\\', 'b'), maxLength: 60 }),
  hostileScalar,
);
const assembleBody = fc.record(
  {
    query: fc.oneof(fc.string({ unit: 'binary', maxLength: 100 }), hostileScalar),
    max_tokens: fc.oneof(fc.integer({ min: -5, max: 1_000_000 }), hostileScalar),
    max_documents: fc.oneof(fc.integer({ min: -5, max: 2000 }), hostileScalar),
    include_patterns: fc.oneof(fc.array(pattern, { maxLength: 70 }), hostileScalar),
    exclude_patterns: fc.oneof(fc.array(pattern, { maxLength: 5 }), hostileScalar),
    workspace_path: fc.oneof(fc.constantFrom('/p/fz-a', '/p/a b', '', '/'), hostileScalar),
  },
  { requiredKeys: [] },
);

const bodyArb: fc.Arbitrary<string | Uint8Array | undefined> = fc.oneof(
  { weight: 3, arbitrary: documentArb.map((d) => JSON.stringify(d)) },
  { weight: 2, arbitrary: fc.array(documentArb, { maxLength: 8 }).map((d) => JSON.stringify(d)) },
  { weight: 1, arbitrary: fc.array(documentArb, { maxLength: 3 }).map((d) => JSON.stringify({ documents: d })) },
  { weight: 2, arbitrary: searchBody.map((b) => JSON.stringify(b)) },
  { weight: 2, arbitrary: assembleBody.map((b) => JSON.stringify(b)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: deepText },
  { weight: 1, arbitrary: hugeNumberText.map((n) => `{"id":"n","content":"x","k":${n},"max_tokens":${n},"metadata":{"n":${n}}}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, '', '{', '{"id":"\\ud800","content":"x"}', 'null', '[]', '{}', '"x"', '1') },
);

const anyRequest: fc.Arbitrary<Req> = fc
  .record({
    method: fc.constantFrom('GET', 'GET', 'POST', 'POST', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS'),
    prefix,
    route,
    query,
    headers,
    body: bodyArb,
  })
  .map(({ method, prefix: p, route: r, query: q, headers: h, body }) => ({
    method,
    path: `${r.startsWith('/api') ? p : ''}${r}${q}`,
    headers: h,
    body: method === 'GET' || method === 'HEAD' ? undefined : body,
  }));

// --- properties --------------------------------------------------------------------------------

const params = { seed, numRuns: runs, endOnFailure: true } as const;
/** Per property: 120 s, or more for more runs (up to ~100 ms a bulk run on a loaded 2-core machine). */
const timeout_ms = Math.max(120_000, runs * 100);

function wsHeaders(ws: string): Record<string, string> {
  return { 'content-type': 'application/json', 'x-workspace-id': ws };
}

/** The document as the server received it (a JSON round trip: -0 becomes 0, undefined fields drop). */
function asSent(d: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(d)) as Record<string, unknown>;
}

async function readBack(ws: string, id: string): Promise<Answer> {
  return sendChecked({ method: 'GET', path: `/api/v1/documents/${encodeURIComponent(id)}`, headers: { 'x-workspace-id': ws }, body: undefined });
}

function expectStored(read: Answer, sent: Record<string, unknown>, etag: unknown, what: string): void {
  expect(read.status, what).toBe(200);
  const got = read.json as Record<string, unknown>;
  expect(Buffer.from(String(got['content'])).equals(Buffer.from(String(sent['content']))), `${what}: content differs`).toBe(true);
  expect(got['content'], what).toBe(sent['content']);
  if (typeof sent['path'] === 'string') expect(got['path'], what).toBe(sent['path']);
  if (typeof sent['language'] === 'string') expect(got['language'], what).toBe(sent['language']);
  if (sent['metadata'] !== undefined && sent['metadata'] !== null) expect(got['metadata'], what).toEqual(sent['metadata']);
  if (etag !== undefined) expect(got['etag'], what).toBe(etag);
}

describe(`the public API under generated requests (seed ${seed})`, () => {
  beforeAll(async () => {
    api = openTestApi({ config: testConfig({ server: { read_wait_ms_max: 20 } }) });
    for (const [i, ws] of WORKSPACES.entries()) {
      for (const j of [0, 1]) {
        const res = await api.call('POST', '/api/v1/documents', { id: `seed-${j}`, path: `docs/${'a'.repeat(30)}`, content: `seed document ${i}-${j} about a topic` }, { 'x-workspace-id': ws });
        expect(res.status).toBe(201);
      }
    }
  });
  beforeEach((ctx) => {
    current = ctx.task.name;
  });
  afterEach(() => {
    const tally = [...(seen.get(current) ?? [])].sort((a, b) => b[1] - a[1]);
    console.log(`${current}: ${tally.map(([k, n]) => `${k} x${n}`).join(', ')}`);
  });
  afterAll(() => api[Symbol.dispose]());

  it('answers any request on any route with JSON and 2xx or 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(anyRequest, async (r) => {
        await sendChecked(r);
      }),
      params,
    );
  }, timeout_ms);

  it('reads back every document a 201 acknowledged, byte for byte, and forgets a deleted one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...WORKSPACES), documentArb, fc.boolean(), async (ws, doc, remove) => {
        const sent = asSent(doc);
        const put = await sendChecked({ method: 'POST', path: '/api/v1/documents', headers: wsHeaders(ws), body: JSON.stringify(doc) });
        if (put.status !== 201) return;
        const { id, etag } = put.json as { id: string; etag: string };
        if (typeof sent['id'] === 'string') expect(id).toBe(sent['id']);
        expectStored(await readBack(ws, id), sent, etag, `document ${JSON.stringify(id).slice(0, 80)}`);
        if (!remove) return;
        const del = await sendChecked({ method: 'DELETE', path: `/api/v1/documents/${encodeURIComponent(id)}`, headers: { 'x-workspace-id': ws }, body: undefined });
        expect(del.status).toBe(200);
        expect((await readBack(ws, id)).status).toBe(404);
      }),
      params,
    );
  }, timeout_ms);

  it('reads back every document of an acknowledged bulk write as the last item sent with its id', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...WORKSPACES), fc.array(documentArb, { minLength: 1, maxLength: 8 }), async (ws, docs) => {
        const put = await sendChecked({ method: 'POST', path: '/api/v1/documents/bulk', headers: wsHeaders(ws), body: JSON.stringify(docs) });
        if (put.status !== 201) return;
        const res = put.json as { ids: string[]; etags: Array<string | null>; errors: Array<{ item: number }> };
        const refused = new Set(res.errors.map((e) => e.item));
        const sent = docs.map((d) => asSent(d));
        for (const [i, id] of res.ids.entries()) {
          const last = sent.findLastIndex((d, j) => !refused.has(j) && d['id'] === id);
          const read = await readBack(ws, id);
          // A document without an id got one from the server: it is then one of the unnamed items.
          if (last < 0) {
            expect(read.status).toBe(200);
            continue;
          }
          expectStored(read, sent[last] as Record<string, unknown>, res.etags[i] ?? undefined, `bulk item ${last} ${JSON.stringify(id).slice(0, 80)}`);
        }
      }),
      params,
    );
  }, timeout_ms);

  it('lists, searches and assembles generated queries with JSON and 2xx or 4xx', async () => {
    const reads = fc.oneof(
      fc.tuple(fc.constantFrom(...WORKSPACES), query).map(([ws, q]): Req => ({ method: 'GET', path: `/api/v1/documents${q}`, headers: { 'x-workspace-id': ws }, body: undefined })),
      fc.tuple(fc.constantFrom(...WORKSPACES), query).map(([ws, q]): Req => ({ method: 'GET', path: `/api/v1/documents/search${q}`, headers: { 'x-workspace-id': ws }, body: undefined })),
      fc.tuple(fc.constantFrom(...WORKSPACES), searchBody).map(([ws, b]): Req => ({ method: 'POST', path: '/api/v1/search', headers: wsHeaders(ws), body: JSON.stringify(b) })),
      fc.tuple(fc.constantFrom(...WORKSPACES), assembleBody).map(([ws, b]): Req => ({ method: 'POST', path: '/api/v1/assemble', headers: wsHeaders(ws), body: JSON.stringify(b) })),
    );
    await fc.assert(
      fc.asyncProperty(reads, async (r) => {
        const a = await sendChecked(r);
        if (a.status === 200 && r.path.endsWith('/assemble')) expect(Array.isArray((a.json as { documents?: unknown }).documents)).toBe(true);
      }),
      params,
    );
  }, timeout_ms);

  it('still answers /health and takes a write afterwards', async () => {
    expect((await sendChecked({ method: 'GET', path: '/health', headers: {}, body: undefined })).status).toBe(200);
    const put = await sendChecked({ method: 'POST', path: '/api/v1/documents', headers: wsHeaders('fz-a'), body: JSON.stringify({ id: 'after-fuzz', content: 'still writing' }) });
    expect(put.status).toBe(201);
    expectStored(await readBack('fz-a', 'after-fuzz'), { content: 'still writing' }, undefined, 'after-fuzz');
    expect(typeof api.t.store.checksum()).toBe('string');
  });
});
