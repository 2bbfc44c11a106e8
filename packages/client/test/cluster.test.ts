// @cairn/client against a real three-node cluster (cairn serve processes on loopback): every
// operation, conditional writes, and bulk loads during which a follower, then the leader, is
// killed -9: the load completes with every document present exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CairnClient, PreconditionFailedError } from '@cairn/client';
import type { DocumentInput, RetryEvent } from '@cairn/client';
import { startCluster } from '../../../test/helpers/cluster.ts';
import type { TestCluster } from '../../../test/helpers/cluster.ts';
import { waitFor } from '../../../test/helpers/wait.ts';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3 });
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
});

function client(workspace: string, endpoints: string[], extra: Partial<ConstructorParameters<typeof CairnClient>[0]> = {}): CairnClient {
  return new CairnClient({ endpoints, workspace, ...extra });
}

async function ids(c: CairnClient): Promise<string[]> {
  const out: string[] = [];
  for await (const d of c.list({ pageSize: 1000 })) out.push(d.id);
  return out;
}

describe('operations', () => {
  it('discovers the nodes from one of them', async () => {
    const c = client('ops', [cluster.node('node-2').url]);
    const nodes = await c.nodes();
    expect(nodes?.nodes.map((n) => n.id).sort()).toEqual(['node-1', 'node-2', 'node-3']);
    expect(c.endpoints().sort()).toEqual(cluster.nodes.map((n) => n.url).sort());
  });

  it('puts, gets, lists, searches, assembles and deletes, ids with / included', async () => {
    const c = client('ops', [cluster.node('node-3').url]);
    const put = await c.put({ id: 'notes/2024/plan.md', path: 'notes/2024/plan.md', content: 'The migration plan covers enforcement reviews' });
    expect(put.id).toBe('notes/2024/plan.md');
    expect(put.etag).toMatch(/^[0-9a-f]{32}$/);
    await c.put({ id: 'notes/other.md', content: 'Unrelated gardening notes' });

    const doc = await c.get('notes/2024/plan.md');
    expect(doc).toMatchObject({ id: 'notes/2024/plan.md', path: 'notes/2024/plan.md', etag: put.etag, workspace: 'ops' });
    expect(await c.get('notes/absent.md')).toBeNull();
    expect(await ids(c)).toEqual(['notes/2024/plan.md', 'notes/other.md']);

    const found = await c.search('enforcement reviews', { k: 5, mode: 'lexical' });
    expect(found.results[0]?.id).toBe('notes/2024/plan.md');
    const assembled = await c.assemble('migration enforcement', { max_tokens: 200 });
    expect(assembled.documents.map((d) => d.id)).toContain('notes/2024/plan.md');

    const health = await c.health();
    expect(health.status).toBe('healthy');
    expect(['node-1', 'node-2', 'node-3']).toContain(health.servedBy);

    expect(await c.delete('notes/other.md')).toMatchObject({ id: 'notes/other.md', deleted: true });
    expect(await c.delete('notes/other.md')).toEqual({ id: 'notes/other.md', deleted: false, index: null });
    expect(await ids(c)).toEqual(['notes/2024/plan.md']);
  });

  it('reads its writes on another node', async () => {
    const writer = client('ryw', [cluster.node('node-2').url], { discover: false });
    const reader = client('ryw', [cluster.node('node-3').url], { discover: false });
    for (let i = 0; i < 20; i++) {
      await writer.put({ id: `k${i}`, content: `value ${i}` });
      // The reader is another client: give it the writer's index, as one client does for itself.
      const seen = await fetch(`${cluster.node('node-3').url}/api/v1/documents/k${i}?min_index=${writer.index}`, { headers: { 'x-workspace-id': 'ryw' } });
      expect(seen.status).toBe(200);
    }
    const one = client('ryw', [cluster.node('node-2').url, cluster.node('node-3').url], { discover: false, affinity: 'ordered' });
    await one.put({ id: 'last', content: 'last value' });
    await cluster.node('node-2').kill9();
    // node-2 is gone: the read goes to node-3, carrying the write's index.
    expect((await one.get('last'))?.content).toBe('last value');
    expect(await reader.get('last')).not.toBeNull();
    await cluster.node('node-2').restart('in-sync');
  });
});

describe('conditional writes', () => {
  it('creates only when absent, replaces only the ETag it read, deletes only that ETag', async () => {
    const c = client('cas', [cluster.node('node-2').url]);
    const first = await c.put({ id: 'c/1', content: 'one' }, { ifNoneMatch: '*' });
    const again = await c.put({ id: 'c/1', content: 'uno' }, { ifNoneMatch: '*' }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(PreconditionFailedError);
    expect((again as PreconditionFailedError).currentEtag).toBe(first.etag);

    const second = await c.put({ id: 'c/1', content: 'two' }, { ifMatch: first.etag });
    const stale = await c.put({ id: 'c/1', content: 'three' }, { ifMatch: first.etag }).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(PreconditionFailedError);
    expect((stale as PreconditionFailedError).currentEtag).toBe(second.etag);
    expect((await c.get('c/1'))?.content).toBe('two');

    const wrongDelete = await c.delete('c/1', { ifMatch: first.etag }).catch((e: unknown) => e);
    expect(wrongDelete).toBeInstanceOf(PreconditionFailedError);
    expect(await c.delete('c/1', { ifMatch: second.etag })).toMatchObject({ deleted: true });
    expect(await c.get('c/1')).toBeNull();
  });
});

/** 2,000 documents with ids and 1,000 whose ids the server derives from their content. */
function corpus(tag: string): DocumentInput[] {
  const docs: DocumentInput[] = [];
  for (let i = 0; i < 2000; i++) docs.push({ id: `${tag}/doc-${String(i).padStart(4, '0')}`, path: `${tag}/doc-${i}.md`, content: `document ${i} of ${tag}: ${'lorem ipsum '.repeat(20)}` });
  for (let i = 0; i < 1000; i++) docs.push({ content: `unnamed ${i} of ${tag}: ${'dolor sit amet '.repeat(15)}` });
  return docs;
}

async function contentsOn(url: string, workspace: string, minIndex: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let cursor: string | null = null;
  do {
    const q: string = `limit=1000&min_index=${minIndex}${cursor === null ? '' : `&cursor=${cursor}`}`;
    // 504 min_index_timeout: the node had not applied minIndex within read_wait_ms_max (a busy
    // machine); asked again until it has.
    const answer = await waitFor(
      async () => {
        const res = await fetch(`${url}/api/v1/documents?${q}`, { headers: { 'x-workspace-id': workspace } });
        const body = (await res.json()) as { documents: Array<{ id: string; content_hash: string }>; next_cursor: string | null; error?: { code: string } };
        return res.status === 504 && body.error?.code === 'min_index_timeout' ? undefined : { status: res.status, body };
      },
      { what: `${url} to list ${workspace} at min_index ${minIndex}`, timeoutMs: 60_000 },
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const page = answer.body;
    for (const d of page.documents) counts.set(d.content_hash, (counts.get(d.content_hash) ?? 0) + 1);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return counts;
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Buffer.from(digest).toString('hex');
}

async function expectEveryDocumentOnce(docs: DocumentInput[], url: string, workspace: string, minIndex: number): Promise<void> {
  const counts = await contentsOn(url, workspace, minIndex);
  const expected = await Promise.all(docs.map((d) => sha256(d.content)));
  expect(counts.size).toBe(docs.length);
  for (const h of expected) expect(counts.get(h)).toBe(1);
}

describe('bulk load while a node is killed', () => {
  it('completes with every document once when the follower it writes to is killed -9', async () => {
    const docs = corpus('f');
    const retries: RetryEvent[] = [];
    const c = client('bulk-f', [cluster.node('node-2').url, cluster.node('node-3').url], { affinity: 'ordered', onRetry: (e) => retries.push(e) });
    // Set inside the progress callback (an object, so that TypeScript does not narrow it to null).
    const fault: { killed: Promise<void> | null } = { killed: null };
    let killedAt = -1;
    const result = await c.bulk(docs, {
      documentsMax: 100,
      onProgress: (p) => {
        if (fault.killed === null && p.done >= 900) {
          expect(p.servedBy).toBe('node-2');
          killedAt = p.done;
          // A moment later, so that the next chunk is in flight when node-2 dies.
          fault.killed = new Promise((resolve) => setTimeout(resolve, 30)).then(() => cluster.node('node-2').kill9());
        }
      },
    });
    await fault.killed;
    expect(killedAt).toBeGreaterThan(0);
    expect(killedAt).toBeLessThan(docs.length);
    expect(retries.length).toBeGreaterThan(0);
    expect(result).toMatchObject({ added: docs.length, total: docs.length, errors: [] });
    expect(new Set(result.ids).size).toBe(docs.length);
    await expectEveryDocumentOnce(docs, cluster.node('node-3').url, 'bulk-f', c.index);
    await expectEveryDocumentOnce(docs, cluster.node('node-1').url, 'bulk-f', c.index);
    await cluster.node('node-2').restart('in-sync');
    await expectEveryDocumentOnce(docs, cluster.node('node-2').url, 'bulk-f', c.index);
  }, 120_000);

  it('completes with every document once when the leader is killed -9 and comes back', async () => {
    const docs = corpus('l');
    const retries: RetryEvent[] = [];
    const c = client('bulk-l', [cluster.node('node-2').url, cluster.node('node-3').url], {
      discover: false,
      affinity: 'ordered',
      retry: { retries: 40 },
      onRetry: (e) => retries.push(e),
    });
    const fault: { outage: Promise<void> | null } = { outage: null };
    const result = await c.bulk(docs, {
      documentsMax: 100,
      onProgress: (p) => {
        if (fault.outage === null && p.done >= 900) {
          fault.outage = (async () => {
            await cluster.node('node-1').kill9();
            await waitFor(() => retries.some((r) => /leader_unavailable/.test(r.reason)), { what: 'a write refused while the leader is down', timeoutMs: 20_000 });
            await cluster.node('node-1').restart('answering');
          })();
        }
      },
    });
    await fault.outage;
    expect(retries.some((r) => /503 leader_unavailable/.test(r.reason))).toBe(true);
    expect(result).toMatchObject({ added: docs.length, total: docs.length, errors: [] });
    for (const n of cluster.nodes) await expectEveryDocumentOnce(docs, n.url, 'bulk-l', c.index);
  }, 180_000);
});
