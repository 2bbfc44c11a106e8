// Property tests with a seeded generator (a failure prints its seed; rerun with that seed).
//   isolation: random writes over several workspaces that share ids; no read of one workspace
//              ever returns another workspace's document.
//   budget:    assembly never exceeds max_tokens by js-tiktoken's count of the context, nor
//              max_documents, and total_tokens is that count.

import { describe, expect, it } from 'vitest';
import type { DocumentStore } from './document-store.ts';
import { openTestStore, seededRandom } from './testing.ts';
import { countTokensExact } from './tokens.ts';

const vocabulary = (
  'raft log leader follower snapshot vector index cluster token budget query workspace apple river stone ' +
  'résumé naïve 東京 данные λόγος 😀 <|endoftext|> don\'t 12345 3.14 -- ## ``` \n\n'
).split(' ');

function text(rand: () => number, words: number): string {
  return Array.from({ length: words }, () => vocabulary[Math.floor(rand() * vocabulary.length)]).join(' ');
}

const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;

type Model = Map<string, Map<string, string>>; // ws -> id -> content

async function checkIsolation(store: DocumentStore, model: Model, rand: () => number, seed: number): Promise<void> {
  for (const [ws, docs] of model) {
    const why = `seed ${seed}, workspace ${ws}`;
    const ownContent = (id: string): string | undefined => docs.get(id);
    // list: exactly this workspace's ids
    const listed: string[] = [];
    let cursor: string | null = null;
    do {
      const page = store.list(ws, { limit: 7, cursor });
      listed.push(...page.documents.map((d) => d.id));
      expect(page.documents.every((d) => d.workspace === ws), why).toBe(true);
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(listed.sort(), why).toEqual([...docs.keys()].sort());
    // get: this workspace's content or null
    for (const id of ['d0', 'd1', 'd2', 'd3', 'd4', 'd5']) expect(store.get(ws, id)?.content ?? undefined, why).toBe(ownContent(id));
    // searches and assembly: every hit is this workspace's document with this workspace's content
    const query = text(rand, 3);
    for (const mode of ['lexical', 'vector', 'hybrid'] as const) {
      for (const r of await store.search(ws, { query, k: 20, mode })) {
        expect(ownContent(r.id), `${why}, ${mode}`).toBeDefined();
        expect(ownContent(r.id)?.startsWith(r.preview), `${why}, ${mode}`).toBe(true);
      }
    }
    const assembled = await store.assemble(ws, { query, max_tokens: 2000, max_documents: 20, include_patterns: [], exclude_patterns: [] });
    for (const d of assembled.documents) {
      const own = ownContent(d.id) ?? '';
      expect(d.passages?.length, why).toBeGreaterThan(0);
      for (const p of d.passages ?? []) expect(own.slice(p.start, p.end), `${why}, assemble`).toBe(d.content.includes(own.slice(p.start, p.end)) ? own.slice(p.start, p.end) : '<missing>');
    }
    const whole = await store.assemble(ws, { query, max_tokens: 2000, max_documents: 20, include_patterns: [], exclude_patterns: [], granularity: 'document' });
    for (const d of whole.documents) expect(ownContent(d.id)?.startsWith(d.content), `${why}, assemble by document`).toBe(true);
  }
}

describe('workspace isolation (property)', () => {
  it.each([1, 2, 3])('no read returns another workspace\'s document under random writes (seed %i)', async (seed) => {
    using t = openTestStore();
    const rand = seededRandom(seed);
    const workspaces = ['alpha', 'beta', 'gamma'];
    const model: Model = new Map(workspaces.map((ws) => [ws, new Map()]));
    for (let step = 0; step < 40; step++) {
      const ws = pick(rand, workspaces);
      const id = `d${Math.floor(rand() * 6)}`;
      const docs = model.get(ws) ?? new Map<string, string>();
      if (rand() < 0.25) {
        t.applyLogged(t.store.prepareDelete(ws, [id]));
        docs.delete(id);
      } else {
        const content = `${ws} ${text(rand, 4 + Math.floor(rand() * 20))}`;
        await t.put(ws, { id, content, path: `${ws}/${id}.md` });
        docs.set(id, content);
      }
      if (step % 10 === 9) await checkIsolation(t.store, model, rand, seed);
    }
  });
});

describe('assembly budget (property)', () => {
  it.each(['passage', 'document'] as const)('never exceeds max_tokens by js-tiktoken\'s count nor max_documents, and reports that count (granularity %s)', async (granularity) => {
    using t = openTestStore({ passage_tokens: 64 });
    const seed = 11;
    const rand = seededRandom(seed);
    const docs = Array.from({ length: 40 }, (_, i) => ({
      id: `doc-${i}`,
      content: text(rand, 5 + Math.floor(rand() * (i % 5 === 0 ? 600 : 80))),
      ...(rand() < 0.7 ? { path: `src/${i % 3 === 0 ? 'lib' : 'app'}/file-${i}.${i % 2 ? 'ts' : 'md'}` } : {}),
    }));
    docs.push({ id: 'dup', content: docs[1]?.content ?? '', path: 'src/dup.md' });
    const prepared = await t.store.preparePutMany('ws', docs);
    if (prepared.op) t.applyLogged(prepared.op);
    let included = 0;
    let truncated = 0;
    for (let i = 0; i < 60; i++) {
      const req = {
        query: text(rand, 1 + Math.floor(rand() * 6)),
        max_tokens: 1 + Math.floor(rand() ** 2 * 3000),
        max_documents: 1 + Math.floor(rand() * 15),
        include_patterns: rand() < 0.2 ? ['*.ts'] : [],
        exclude_patterns: rand() < 0.2 ? ['src/lib/**'] : [],
        granularity,
      };
      const r = await t.store.assemble('ws', req);
      const why = `seed ${seed}, case ${i}: ${JSON.stringify(req)}`;
      const tokens = countTokensExact(r.context);
      expect(tokens, why).toBeLessThanOrEqual(req.max_tokens);
      expect(r.total_tokens, why).toBe(tokens);
      expect(r.documents.length, why).toBeLessThanOrEqual(req.max_documents);
      const ids = r.documents.map((d) => d.id);
      expect(new Set(ids).size, why).toBe(ids.length);
      expect(ids.includes('dup') && ids.includes('doc-1'), `${why}: exact duplicates are dropped`).toBe(false);
      included += r.documents.length;
      truncated += r.documents.filter((d) => d.inclusion_reason.includes('truncated')).length;
      for (const d of r.documents) {
        const own = docs.find((x) => x.id === d.id)?.content ?? '';
        if (granularity === 'document') expect(r.context.includes(d.content), why).toBe(true);
        for (const p of d.passages ?? []) expect(r.context.includes(own.slice(p.start, p.end)), `${why}: passage ${p.n} of ${d.id} in the context`).toBe(true);
        if (req.include_patterns.length > 0) expect(d.path?.endsWith('.ts'), why).toBe(true);
        if (req.exclude_patterns.length > 0) expect(d.path?.startsWith('src/lib/'), why).not.toBe(true);
      }
    }
    // The property is not vacuous: documents were packed, some of them cut to fit.
    expect(included).toBeGreaterThan(60);
    // Whole documents are cut to fit; passages of 64 tokens mostly fit whole.
    if (granularity === 'document') expect(truncated).toBeGreaterThan(0);
  });
});
