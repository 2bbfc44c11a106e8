// Assembly at the passage level (assemble-passages.ts) on a real store: the passages a document
// is made of, adjacent ones merged into one piece under one header with their line range, a
// document taken whole under a plain header, and the reason that lists them.

import { describe, expect, it } from 'vitest';
import type { AssembleRequest } from './assemble.ts';
import { assembleRequest, openTestStore } from './testing.ts';

const request = (over: Partial<AssembleRequest> = {}): AssembleRequest => assembleRequest({ query: 'granite', granularity: 'passage', ...over });

/** Ten paragraphs of one passage each (at 16 tokens a passage); `granite` in those given. */
const paragraphs = (withGranite: number[]): string =>
  Array.from({ length: 10 }, (_, i) => `${withGranite.includes(i) ? 'granite' : 'replica'} ${i} ` + 'leader '.repeat(8).trim()).join('\n\n');

describe('assemble, granularity passage: pieces and reasons', () => {
  it('merges adjacent passages into one piece under their line range, and lists the runs in the reason', async () => {
    using t = openTestStore({ passage_tokens: 16 });
    const content = paragraphs([1, 2, 5]);
    await t.put('ws', { id: 'a', content, path: 'docs/a.md' });
    const r = await t.store.assemble('ws', request());
    expect(r.documents).toHaveLength(1);
    const d = r.documents[0]!;
    expect((d.passages ?? []).map((p) => p.n)).toEqual([1, 2, 5]);
    for (const p of (d.passages ?? [])) expect(p.end - p.start).toBeGreaterThan(0);
    expect(d.inclusion_reason.startsWith('passages 2-3, 6 of 10 (lines ')).toBe(true);
    expect(d.inclusion_reason).toContain('best passage #1');
    const headers = r.context.match(/^--- .* ---$/gm) ?? [];
    expect(headers).toHaveLength(2);
    const [p1, p2, p5] = (d.passages ?? []);
    expect(headers[0]).toBe(`--- docs/a.md (lines ${p1!.line_start}-${p2!.line_end}) ---`);
    expect(headers[1]).toBe(`--- docs/a.md (lines ${p5!.line_start}-${p5!.line_end}) ---`);
    // each passage's text is the document's at its offsets, and the pieces hold them in order
    const texts = (d.passages ?? []).map((p) => content.slice(p.start, p.end));
    expect(r.context).toContain(texts[0]! + texts[1]!);
    expect(d.content).toBe(`${texts[0]}${texts[1]}\n\n${texts[2]}`);
    expect(d.tokens).toBe((d.passages ?? []).reduce((n, p) => n + p.tokens, 0));
    expect(p1!.line_start).toBe(3);
    expect(p5!.line_start).toBe(11);
  });

  it('takes a one-passage document whole, under a plain header', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'b', content: 'granite quarry notes', path: 'b.md' });
    const r = await t.store.assemble('ws', request());
    expect(r.context).toBe('--- b.md ---\ngranite quarry notes');
    expect(r.documents[0]?.inclusion_reason.startsWith('passage 1 of 1 (lines 1-1), best passage #1')).toBe(true);
    expect(r.documents[0]?.passages).toEqual([{ n: 0, start: 0, end: 20, line_start: 1, line_end: 1, tokens: r.documents[0]!.tokens }]);
  });

  it('gives a document\'s passages in text order whatever their rank, and a header with lines when the last passage is left out', async () => {
    using t = openTestStore({ passage_tokens: 16 });
    const filler = 'leader '.repeat(8).trim();
    const content = Array.from({ length: 10 }, (_, i) => (i === 5 ? `granite granite granite 5 ${'leader '.repeat(6).trim()}` : `${i === 0 ? 'granite' : 'replica'} ${i} ${filler}`)).join('\n\n');
    await t.put('ws', { id: 'a', content, path: 'a.md' });
    const r = await t.store.assemble('ws', request());
    const d = r.documents[0]!;
    expect((d.passages ?? []).map((p) => p.n)).toEqual([0, 5]);
    expect(d.inclusion_reason).toMatch(/^passages 1, 6 of 10 \(lines 1-\d+, 11-\d+\), best passage #1/);
    expect(r.context).toMatch(/^--- a\.md \(lines 1-\d+\) ---\ngranite 0/);
  });

  it('takes a passage text two documents share only once', async () => {
    using t = openTestStore({ passage_tokens: 16 });
    const doc = (word: string): string => Array.from({ length: 6 }, (_, i) => (i === 3 ? `granite shared boilerplate ${'leader '.repeat(7).trim()}` : `${word} ${i} ${'leader '.repeat(8).trim()}`)).join('\n\n');
    await t.put('ws', { id: 'a', content: doc('alpha'), path: 'a.md' });
    await t.put('ws', { id: 'b', content: doc('beta'), path: 'b.md' });
    const r = await t.store.assemble('ws', request({ query: 'granite alpha beta' }));
    expect(r.context.match(/granite shared boilerplate/g)).toHaveLength(1);
    expect(r.documents.map((d) => d.id).sort()).toEqual(['a', 'b']);
  });

  it('cuts the best passage that does not fit to what is left, ends its line range where the cut text ends, and says so', async () => {
    // one passage of 40 lines of 3 words (about 120 tokens at 256 a passage), granite on its first line
    using t = openTestStore({ passage_tokens: 256 });
    const content = Array.from({ length: 40 }, (_, i) => `${i === 0 ? 'granite' : 'replica'} line ${i}`).join('\n');
    await t.put('ws', { id: 'a', content, path: 'a.md' });
    const r = await t.store.assemble('ws', request({ max_tokens: 60 }));
    expect(r.documents).toHaveLength(1);
    const d = r.documents[0]!;
    const p = d.passages![0]!;
    expect(p.truncated_from).toBeGreaterThan(60);
    expect(p.tokens).toBeLessThan(60);
    expect(p.tokens).toBe(d.tokens);
    expect(r.total_tokens).toBeLessThanOrEqual(60);
    // the cut text is a prefix of the passage, and its last line is the range's end
    const text = content.slice(p.start, p.end);
    expect(content.startsWith(text)).toBe(true);
    expect(p.end - p.start).toBeLessThan(content.length);
    const lastLine = text.replace(/\n$/, '').split('\n').length;
    expect([p.line_start, p.line_end]).toEqual([1, lastLine]);
    expect(lastLine).toBeLessThan(40);
    // not taken whole: a header with the lines
    expect(r.context).toBe(`--- a.md (lines 1-${lastLine}) ---\n${text}`);
    expect(d.inclusion_reason.startsWith(`passage 1 of 1 (lines 1-${lastLine}), best passage #1, fused rank #1`)).toBe(true);
    expect(d.inclusion_reason.endsWith(`, passage 1 truncated to ${p.tokens} of ${p.truncated_from} tokens`)).toBe(true);
  });
});
