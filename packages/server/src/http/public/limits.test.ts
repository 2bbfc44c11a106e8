import { describe, expect, it } from 'vitest';
import { default_workspace_limits } from '../../limits/limits.ts';
import { openTestApi, testConfig } from './testing.ts';

const base = { ...default_workspace_limits };
const config = (): ReturnType<typeof testConfig> =>
  testConfig({
    resource_limits: {
      default: base,
      small: { ...base, max_concurrent_requests: 1, max_tokens_per_minute: 60, max_documents_per_query: 2, max_storage_mb: 2048 / (1024 * 1024) },
    },
  });
const small = { 'X-Workspace-ID': 'small' };
const other = { 'X-Workspace-ID': 'other' };

describe('per-workspace limits over HTTP', () => {
  it('answers 429 with Retry-After when the workspace queue is full, while another workspace is served', async () => {
    using api = openTestApi({ config: config() });
    let open = (): void => {};
    const held = new Promise<void>((r) => (open = r));
    const propose = api.replicator.propose.bind(api.replicator);
    api.replicator.propose = async (op) => {
      if (op.kind === 'put' && op.ws === 'small') await held;
      return propose(op);
    };
    // 1 running + 4 queued (queued_per_slot 4 x max_concurrent_requests 1) fill the workspace.
    const inFlight = Array.from({ length: 5 }, (_, i) => api.call('POST', '/api/v1/documents', { content: `held ${i}` }, small));
    await new Promise((r) => setTimeout(r, 50));
    const refused = await api.call('POST', '/api/v1/documents', { content: 'one too many' }, small);
    expect(refused.status).toBe(429);
    expect(refused.headers.get('Retry-After')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: { code: 'too_many_requests' } });
    expect((await api.call('POST', '/api/v1/documents', { content: 'unaffected' }, other)).status).toBe(201);
    const health = (await (await api.app.request('/health', { headers: small })).json()) as { workspaces: { workspaces: Record<string, { active_requests: number }> } };
    expect(health.workspaces.workspaces.small?.active_requests).toBe(1);
    open();
    expect((await Promise.all(inFlight)).map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
  });

  it('answers 429 once max_tokens_per_minute is assembled, while another workspace is served', async () => {
    using api = openTestApi({ config: config() });
    const body = { query: 'tokens budget', max_tokens: 40 };
    await api.call('POST', '/api/v1/documents', { content: 'tokens budget '.repeat(5) }, small);
    await api.call('POST', '/api/v1/documents', { content: 'tokens budget '.repeat(5) }, other);
    const statuses: number[] = [];
    let total = 0;
    for (let i = 0; i < 6; i++) {
      const res = await api.call('POST', '/api/v1/assemble', body, small);
      statuses.push(res.status);
      if (res.status === 200) total += ((await res.json()) as { total_tokens: number }).total_tokens;
      else expect(Number(res.headers.get('Retry-After'))).toBeGreaterThanOrEqual(1);
    }
    expect(statuses).toContain(429);
    expect(total).toBeLessThanOrEqual(60);
    const ok = await api.call('POST', '/api/v1/assemble', body, other);
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { total_tokens: number }).total_tokens).toBeGreaterThan(0);
  });

  it('caps k and max_documents at max_documents_per_query', async () => {
    using api = openTestApi({ config: config() });
    const docs = Array.from({ length: 5 }, (_, i) => ({ id: `d${i}`, content: `shared term variant ${i}` }));
    await api.call('POST', '/api/v1/documents/bulk', docs, other);
    const search = await api.call('POST', '/api/v1/search', { query: 'shared term', k: 10 }, other);
    expect(((await search.json()) as { results: unknown[] }).results).toHaveLength(5);
    // small's storage cap is 2 KiB: three short docs fit.
    await api.call('POST', '/api/v1/documents/bulk', docs.slice(0, 3), small);
    const capped = await api.call('POST', '/api/v1/search', { query: 'shared term', k: 10 }, small);
    expect(((await capped.json()) as { results: unknown[] }).results).toHaveLength(2);
    const assembled = await api.call('POST', '/api/v1/assemble', { query: 'shared term', max_documents: 10 }, small);
    expect(((await assembled.json()) as { documents: unknown[] }).documents.length).toBeLessThanOrEqual(2);
  });

  it('refuses writes over max_storage_mb with 507, while another workspace is served', async () => {
    using api = openTestApi({ config: config() });
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await api.call('POST', '/api/v1/documents', { content: `document ${i} `.repeat(10) }, small)).status);
    expect(statuses[0]).toBe(201);
    expect(statuses).toContain(507);
    expect(api.t.store.storageBytes('small')).toBeLessThanOrEqual(2048);
    const refused = await api.call('POST', '/api/v1/documents', { content: 'more' }, small);
    expect(await refused.json()).toMatchObject({ error: { code: 'storage_exceeded' } });
    // Rewriting a stored document adds nothing, so a client retry at the cap is still accepted.
    expect((await api.call('POST', '/api/v1/documents', { content: `document 0 `.repeat(10) }, small)).status).toBe(201);
    expect((await api.call('POST', '/api/v1/documents', { content: 'plenty of room' }, other)).status).toBe(201);
  });
});
