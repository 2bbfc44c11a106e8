// Retrieval on text no one here wrote, queried from deep inside long documents (issue 16, item 4).
//
// The corpus is the documentation the npm packages of package-lock.json ship (READMEs and docs,
// 8-400 KiB each; test/helpers/deep-queries.ts), so after `npm ci` it is the same set on every
// machine. Each query is a sentence of 8-30 words past the first 40 % of one document, found in no
// other. Through the store (a state.db on disk, its search and assemble):
//   - passage: a top-3 hit of search (granularity "passage") is the document and one of the
//     passages it reports holds (part of) the sentence, for >= 90 % of queries, hybrid and lexical;
//   - assemble: assemble with max_tokens 1000 includes the sentence, for >= 90 %;
//   - document: search with granularity "document" finds the document in its top 3 no less often
//     than the floors below.
// Then a few of the queries go over HTTP to a real node holding the same documents.
// Prints its figures (RANKING.md, "Deep retrieval check", quotes them).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashingEmbedder } from '../packages/server/src/embed/hashing.ts';
import type { SearchResult } from '../packages/server/src/store/document-store.ts';
import type { SearchMode } from '../packages/server/src/store/search.ts';
import { openTestStore } from '../packages/server/src/store/testing.ts';
import type { TestStore } from '../packages/server/src/store/testing.ts';
import { REPO_ROOT, startNode } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { assembledHolds, deepQueries, documentFound, lockedCorpus, passageFound, squash } from './helpers/deep-queries.ts';
import type { CorpusDocument, DeepQuery, LockedCorpus } from './helpers/deep-queries.ts';

const ws = 'deep-docs';
const queries_per_doc = 3;
const top_n = 3;
const assemble_tokens = 1000;
const assemble_documents = 10;
const passage_rate_min = 0.9;
const assemble_rate_min = 0.9;
/**
 * Whole-document search (granularity "document"), the document in the top 3: measured on this
 * corpus at ab1e34a: lexical 225 of 234 queries (96.2 %), hybrid 228 (97.4 %). The floors sit about
 * 3 points under (218 and 220 of 234): one query is 0.43 points, so seven or eight queries that
 * change places with a near-duplicate (two versions of one package's README), a change of
 * tie-breaking or an index that finds the top k by another path do not fail the suite, while a
 * ranking that got worse does: whole-document search that reads only the query's first eight words finds 86.8 % (lexical)
 * and 89.3 % (hybrid), its first four 64.5 %.
 */
const document_rate_min: Record<'hybrid' | 'lexical', number> = { lexical: 0.93, hybrid: 0.94 };
/** Queries sent over HTTP to the node: evenly spaced over the list. */
const http_queries = 12;
const put_chunk_bytes_max = 256 * 1024;

interface Tally {
  hits: number;
  of: number;
  misses: string[];
}

function tally(): Tally {
  return { hits: 0, of: 0, misses: [] };
}

function count(t: Tally, ok: boolean, q: DeepQuery): void {
  t.of += 1;
  if (ok) t.hits += 1;
  else t.misses.push(`${q.doc} @${q.start}: ${q.sentence}`);
}

function rate(t: Tally): number {
  return t.of === 0 ? 0 : t.hits / t.of;
}

/** The first misses, for a failure's output. */
function misses(t: Tally): string {
  return [...t.misses.slice(0, 20), ...(t.misses.length > 20 ? [`... and ${t.misses.length - 20} more`] : [])].join('\n');
}

function figure(name: string, t: Tally): string {
  return `${name}: ${t.hits} of ${t.of} (${(100 * rate(t)).toFixed(1)} %)`;
}

describe('retrieval from deep inside the documentation of the locked npm packages', () => {
  let corpus: LockedCorpus;
  let queries: DeepQuery[] = [];
  let shared = 0;
  let t: TestStore;
  const figures: string[] = [];

  beforeAll(async () => {
    corpus = lockedCorpus(REPO_ROOT);
    ({ queries, shared_skipped: shared } = deepQueries(corpus.docs, queries_per_doc));
    t = openTestStore({ embedder: new HashingEmbedder({ dim: 384 }) });
    for (let i = 0; i < corpus.docs.length; i += 20) {
      const prepared = await t.store.preparePutMany(ws, corpus.docs.slice(i, i + 20).map((d) => ({ id: d.path, path: d.path, content: d.content })));
      expect(prepared.errors).toEqual([]);
      if (prepared.op !== null) t.applyLogged(prepared.op);
    }
    t.applyLogged(t.store.prepareRetrain(ws));
  }, 120_000);

  afterAll(() => {
    t?.close();
    console.log(['deep retrieval check:', ...figures].join('\n  '));
  });

  it('has every locked package installed, about 90 long documents and a query from most of them', () => {
    const withQueries = new Set(queries.map((q) => q.doc)).size;
    figures.unshift(`${corpus.packages} locked packages, ${corpus.files} Markdown files of 8-400 KiB, ${corpus.docs.length} distinct documents, ${queries.length} queries from ${withQueries} of them (${shared} picked sentences skipped: found in another document too)`);
    expect(corpus.missing).toEqual([]);
    expect(t.store.workspaceStats()[ws]?.document_count).toBe(corpus.docs.length);
    expect(corpus.docs.length).toBeGreaterThanOrEqual(60);
    expect(queries.length).toBeGreaterThanOrEqual(150);
    for (const q of queries) {
      const doc = corpus.docs.find((d) => d.path === q.doc) as CorpusDocument;
      expect(q.start).toBeGreaterThanOrEqual(doc.content.length * 0.4);
      expect(squash(doc.content.slice(q.start, q.end))).toBe(q.sentence);
    }
  });

  it.each<SearchMode>(['hybrid', 'lexical'])('reports the passage holding the sentence in a top-3 hit for at least 90 percent of queries (%s, granularity passage)', async (mode) => {
    const passage = tally();
    const document = tally();
    for (const q of queries) {
      const results = await t.store.search(ws, { query: q.sentence, k: top_n, mode, granularity: 'passage' });
      count(passage, passageFound(results, q, top_n), q);
      count(document, documentFound(results, q, top_n), q);
    }
    figures.push(figure(`search ${mode}, granularity passage: the sentence's passage in a top-3 hit`, passage), figure(`search ${mode}, granularity passage: the document in the top 3`, document));
    if (rate(passage) < passage_rate_min) console.log(misses(passage));
    expect(rate(passage)).toBeGreaterThanOrEqual(passage_rate_min);
  });

  it('assembles under 1,000 tokens a context holding the sentence for at least 90 percent of queries', async () => {
    const held = tally();
    for (const q of queries) {
      const r = await t.store.assemble(ws, { query: q.sentence, max_tokens: assemble_tokens, max_documents: assemble_documents, include_patterns: [], exclude_patterns: [] });
      expect(r.total_tokens).toBeLessThanOrEqual(assemble_tokens);
      count(held, assembledHolds(r.documents, q), q);
    }
    figures.push(figure(`assemble max_tokens ${assemble_tokens}: the sentence in the context`, held));
    if (rate(held) < assemble_rate_min) console.log(misses(held));
    expect(rate(held)).toBeGreaterThanOrEqual(assemble_rate_min);
  });

  it.each<'hybrid' | 'lexical'>(['hybrid', 'lexical'])('finds the document in the top 3 by whole documents no less often than before passages (%s, granularity document)', async (mode) => {
    const document = tally();
    for (const q of queries) count(document, documentFound(await t.store.search(ws, { query: q.sentence, k: top_n, mode, granularity: 'document' }), q, top_n), q);
    figures.push(figure(`search ${mode}, granularity document: the document in the top 3 (floor ${(100 * document_rate_min[mode]).toFixed(1)} %)`, document));
    expect(rate(document)).toBeGreaterThanOrEqual(document_rate_min[mode]);
  });

  describe('over HTTP on a real node', () => {
    let node: TestCluster;
    const post = async (path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
      const res = await fetch(`${node.leader.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-workspace-id': ws }, body: JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };

    beforeAll(async () => {
      node = await startNode({ startTimeoutMs: 60_000 });
      let chunk: { id: string; path: string; content: string }[] = [];
      let bytes = 0;
      const send = async (): Promise<void> => {
        if (chunk.length === 0) return;
        const r = await post('/api/v1/documents/bulk', chunk);
        expect(r.status, JSON.stringify(r.json).slice(0, 400)).toBe(201);
        expect(r.json['errors']).toEqual([]);
        chunk = [];
        bytes = 0;
      };
      for (const d of corpus.docs) {
        if (bytes + d.content.length > put_chunk_bytes_max) await send();
        chunk.push({ id: d.path, path: d.path, content: d.content });
        bytes += d.content.length;
      }
      await send();
    }, 120_000);

    afterAll(async () => {
      await node?.stop();
    });

    it('answers search (both granularities) and assemble as the store does, with the sentence', async () => {
      const step = queries.length / http_queries;
      const picked = Array.from({ length: http_queries }, (_, i) => queries[Math.floor(i * step)] as DeepQuery);
      const passage = tally();
      const document = tally();
      const held = tally();
      for (const q of picked) {
        // Lexical ranking depends only on the stored passages and text: the node's must equal the store's.
        const http = await post('/api/v1/search', { query: q.sentence, k: top_n, mode: 'lexical', granularity: 'passage' });
        expect(http.status).toBe(200);
        const results = http.json['results'] as SearchResult[];
        const local = await t.store.search(ws, { query: q.sentence, k: top_n, mode: 'lexical', granularity: 'passage' });
        expect(results.map((r) => [r.id, r.passages?.map((p) => p.n)])).toEqual(local.map((r) => [r.id, r.passages?.map((p) => p.n)]));
        count(passage, passageFound(results, q, top_n), q);

        const whole = await post('/api/v1/search', { query: q.sentence, k: top_n, mode: 'lexical', granularity: 'document' });
        expect(whole.status).toBe(200);
        const wholeResults = whole.json['results'] as SearchResult[];
        expect(wholeResults.every((r) => r.passages === undefined)).toBe(true);
        expect(wholeResults.map((r) => r.id)).toEqual((await t.store.search(ws, { query: q.sentence, k: top_n, mode: 'lexical', granularity: 'document' })).map((r) => r.id));
        count(document, documentFound(wholeResults, q, top_n), q);

        const assembled = await post('/api/v1/assemble', { query: q.sentence, max_tokens: assemble_tokens, max_documents: assemble_documents });
        expect(assembled.status).toBe(200);
        expect(assembled.json['total_tokens']).toBeLessThanOrEqual(assemble_tokens);
        count(held, assembledHolds(assembled.json['documents'] as { id: string; content: string }[], q), q);
      }
      figures.push(`over HTTP (${http_queries} queries): ${figure('lexical passage', passage)}; ${figure('lexical document', document)}; ${figure('assemble', held)}`);
      expect(rate(passage)).toBeGreaterThanOrEqual(passage_rate_min);
      expect(rate(held)).toBeGreaterThanOrEqual(assemble_rate_min);
    });
  });
});
