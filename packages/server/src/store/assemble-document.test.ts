// Assembly at the document level (assemble.ts, granularity "document") on a real store: why each
// document was taken, the path filters, duplicates dropped by content and by vector, the one
// truncated document; and the parsing of an assemble body's patterns and limits.

import { describe, expect, it } from 'vitest';
import { parseAssembleRequest } from './assemble.ts';
import type { AssembleRequest } from './assemble.ts';
import { InputError } from './errors.ts';
import { assembleRequest, openTestStore } from './testing.ts';

const limits = { patterns_max: 3, pattern_chars_max: 12, query_chars_max: 100 };

function refused(body: unknown, cap = 50): InputError {
  try {
    parseAssembleRequest(body, cap, limits);
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
}

describe('parseAssembleRequest', () => {
  it('takes patterns up to the limits and gives the defaults', () => {
    const r = parseAssembleRequest({ query: 'q', include_patterns: ['docs/**', 'a'.repeat(12)], exclude_patterns: null }, 50, limits);
    expect(r).toEqual({ query: 'q', max_tokens: 4000, max_documents: 10, include_patterns: ['docs/**', 'a'.repeat(12)], exclude_patterns: [], granularity: 'passage' });
  });

  it('refuses patterns that are not non-empty strings, too many, too long or invalid, naming the field', () => {
    for (const bad of ['docs/**', [''], ['ok', 3], [null]]) {
      const e = refused({ query: 'q', include_patterns: bad });
      expect(e.code).toBe('invalid_type');
      expect(e.message).toBe('include_patterns must be an array of non-empty glob strings');
      expect(e.field).toBe('include_patterns');
    }
    const many = refused({ query: 'q', exclude_patterns: ['a', 'b', 'c', 'd'] });
    expect(many).toMatchObject({ code: 'too_many_patterns', field: 'exclude_patterns', message: 'exclude_patterns has 4 patterns; server.patterns_max is 3' });
    const long = refused({ query: 'q', exclude_patterns: ['ok', 'b'.repeat(13)] });
    expect(long).toMatchObject({ code: 'pattern_too_long', field: 'exclude_patterns[1]', message: 'exclude_patterns[1] has 13 characters; server.pattern_chars_max is 12' });
    const invalid = refused({ query: 'q', include_patterns: ['ok', '[z-a]'] });
    expect(invalid.code).toBe('invalid_pattern');
    expect(invalid.field).toBe('include_patterns[1]');
    expect(invalid.message.startsWith('include_patterns[1]: ')).toBe(true);
  });

  it('caps max_documents at the workspace\'s max_documents_per_query and at 1000', () => {
    expect(parseAssembleRequest({ query: 'q', max_documents: 7 }, 7, limits).max_documents).toBe(7);
    expect(parseAssembleRequest({ query: 'q', max_documents: 8 }, 7, limits).max_documents).toBe(7);
    expect(parseAssembleRequest({ query: 'q' }, 4, limits).max_documents).toBe(4);
    expect(parseAssembleRequest({ query: 'q', max_documents: 5000 }, 5000, limits).max_documents).toBe(1000);
    expect(refused({ query: 'q'.repeat(101) })).toMatchObject({ code: 'query_too_long', field: 'query' });
    expect(refused([])).toMatchObject({ code: 'invalid_type', field: 'body' });
  });
});

const request = (over: Partial<AssembleRequest> = {}): AssembleRequest => assembleRequest({ query: 'granite quarry', granularity: 'document', ...over });

describe('assemble, granularity document', () => {
  it('says why each document was taken: its fused, lexical and vector ranks with the cosine', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'a', content: 'granite quarry granite quarry granite', path: 'docs/a.md' });
    await t.put('ws', { id: 'b', content: 'the quarry road', path: 'docs/b.md' });
    const r = await t.store.assemble('ws', request());
    expect(r.documents.map((d) => d.id)).toEqual(['a', 'b']);
    expect(r.documents[0]?.inclusion_reason).toMatch(/^fused rank #1, lexical #1, vector #\d+ \(cosine \d\.\d\d\)$/);
    expect(r.documents[1]?.inclusion_reason).toMatch(/^fused rank #2, lexical #2(, vector #\d+ \(cosine -?\d\.\d\d\))?$/);
    expect(r.context).toBe('--- docs/a.md ---\ngranite quarry granite quarry granite\n\n--- docs/b.md ---\nthe quarry road');
    expect(r.processing_time_ms).toBeGreaterThanOrEqual(0);
    expect(r.processing_time_ms).toBeLessThan(60_000);
    expect(Number.isInteger(r.processing_time_ms * 1000) || String(r.processing_time_ms).split('.')[1]!.length <= 3).toBe(true);
  });

  it('keeps only the paths included, drops those excluded, and the id stands in for a missing path', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'a', content: 'granite quarry one', path: 'docs/a.md' });
    await t.put('ws', { id: 'b', content: 'granite quarry two', path: 'ops/b.md' });
    await t.put('ws', { id: 'c', content: 'granite quarry three' });
    const ids = async (over: Partial<AssembleRequest>): Promise<string[]> => (await t.store.assemble('ws', request(over))).documents.map((d) => d.id).sort();
    expect(await ids({})).toEqual(['a', 'b', 'c']);
    expect(await ids({ include_patterns: ['docs/**'] })).toEqual(['a']);
    expect(await ids({ exclude_patterns: ['docs/**'] })).toEqual(['b', 'c']);
    expect(await ids({ include_patterns: ['**'], exclude_patterns: ['ops/**'] })).toEqual(['a', 'c']);
    expect(await ids({ include_patterns: ['c'] })).toEqual(['c']);
    const r = await t.store.assemble('ws', request({ include_patterns: ['c'] }));
    expect(r.context.startsWith('--- c ---\n')).toBe(true);
  });

  it('drops a document whose content another taken one has, and stops at max_documents', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'a', content: 'granite quarry granite', path: 'a.md' });
    await t.put('ws', { id: 'copy', content: 'granite quarry granite', path: 'copy.md' });
    await t.put('ws', { id: 'b', content: 'granite quarry and a road', path: 'b.md' });
    await t.put('ws', { id: 'c', content: 'a quarry of granite by the sea', path: 'c.md' });
    const all = await t.store.assemble('ws', request());
    const ids = all.documents.map((d) => d.id);
    expect(ids.filter((id) => id === 'a' || id === 'copy')).toHaveLength(1);
    expect(ids).toHaveLength(3);
    const two = await t.store.assemble('ws', request({ max_documents: 2 }));
    expect(two.documents.map((d) => d.id)).toEqual(ids.slice(0, 2));
  });

  it('drops a copy by its content even when its vector differs', async () => {
    using t = openTestStore();
    const axis = (i: number): number[] => Array.from({ length: 64 }, (_, j) => (j === i ? 1 : 0));
    await t.put('ws', { id: 'a', content: 'granite quarry granite', path: 'a.md', vector: axis(0) });
    await t.put('ws', { id: 'copy', content: 'granite quarry granite', path: 'copy.md', vector: axis(1) });
    await t.put('ws', { id: 'b', content: 'granite quarry and a road', path: 'b.md', vector: axis(2) });
    const ids = (await t.store.assemble('ws', request())).documents.map((d) => d.id);
    expect(ids.filter((id) => id === 'a' || id === 'copy')).toHaveLength(1);
    expect(ids).toContain('b');
  });

  it('truncates one document to what is left of the budget, and no second', async () => {
    using t = openTestStore();
    const long = (w: string): string => Array.from({ length: 400 }, (_, i) => `${w} granite quarry ${i}`).join(' ');
    await t.put('ws', { id: 'a', content: long('alpha'), path: 'a.md' });
    await t.put('ws', { id: 'b', content: long('beta'), path: 'b.md' });
    const r = await t.store.assemble('ws', request({ max_tokens: 300 }));
    expect(r.documents).toHaveLength(1);
    const d = r.documents[0]!;
    expect(d.inclusion_reason).toMatch(new RegExp(`, truncated to ${d.tokens} of \\d+ tokens$`));
    expect(d.tokens).toBeLessThan(300);
    expect(d.tokens).toBeGreaterThan(250);
    expect(r.total_tokens).toBeLessThanOrEqual(300);
    // too little left for even one: nothing is cut to a stub
    const tiny = await t.store.assemble('ws', request({ max_tokens: 20 }));
    expect(tiny.documents.map((x) => x.tokens).every((n) => n >= 10)).toBe(true);
  });
});
