// Assembly's packing loop at the budget's edge. The loop decides per document whether it fits
// whole (header + content <= what is left) or is cut to what is left; the final count after the
// loop only drops trailing pieces when BPE merges across pieces make the whole longer than the sum.
// A budget check in the loop that is off by one token would take a document one token too long,
// and the final trim would then drop it: these tests pin the loop's decision at the exact edge.

import { describe, expect, it } from 'vitest';
import type { AssembleRequest } from './assemble.ts';
import { openTestStore } from './testing.ts';
import type { TestStore } from './testing.ts';
import { countTokens } from './tokens.ts';

const words = 'granite basalt quartz feldspar mica obsidian pumice slate marble gneiss schist shale'.split(' ');
const content = Array.from({ length: 240 }, (_, i) => words[i % words.length]).join(' ');

function request(max_tokens: number): AssembleRequest {
  return { query: 'granite obsidian', max_tokens, max_documents: 5, include_patterns: [], exclude_patterns: [], granularity: 'document' };
}

/** One document at path rocks.md; returns the tokens of its piece (header + content) as assembly counts them. */
async function oneDocument(t: TestStore): Promise<{ header: number; tokens: number }> {
  await t.put('ws', { id: 'rocks', path: 'rocks.md', content });
  const tokens = t.store.get('ws', 'rocks')?.tokens ?? 0;
  expect(tokens).toBe(countTokens(content));
  expect(tokens).toBeGreaterThan(200);
  return { header: countTokens('--- rocks.md ---\n'), tokens };
}

describe('assembly packing of whole documents at the budget edge', () => {
  it('takes a document whole when header and content are exactly the budget', async () => {
    using t = openTestStore();
    const { header, tokens } = await oneDocument(t);
    const r = await t.store.assemble('ws', request(header + tokens));
    expect(r.documents).toHaveLength(1);
    expect(r.documents[0]).toMatchObject({ id: 'rocks', content, tokens });
    expect(r.documents[0]?.inclusion_reason).not.toMatch(/truncated/);
    expect(r.total_tokens).toBe(header + tokens);
  });

  it('cuts a document one token over the budget to what is left, instead of dropping it', async () => {
    using t = openTestStore();
    const { header, tokens } = await oneDocument(t);
    const budget = header + tokens - 1;
    const r = await t.store.assemble('ws', request(budget));
    expect(r.documents).toHaveLength(1);
    const d = r.documents[0];
    expect(d?.id).toBe('rocks');
    expect(d?.inclusion_reason).toMatch(new RegExp(`truncated to \\d+ of ${tokens} tokens`));
    expect(d?.tokens).toBeLessThanOrEqual(tokens - 1);
    expect(d?.tokens).toBeGreaterThanOrEqual(tokens - 3);
    expect(content.startsWith(d?.content ?? 'x')).toBe(true);
    expect(r.total_tokens).toBeLessThanOrEqual(budget);
    expect(r.total_tokens).toBe(countTokens(r.context));
  });

  it('packs a second document whole when it fits exactly in what the first left, and cuts it when it is one token over', async () => {
    using t = openTestStore();
    const { header, tokens } = await oneDocument(t);
    const second = 'granite quartz '.repeat(60).trim();
    await t.put('ws', { id: 'pebble', path: 'pebble.md', content: second });
    const cost: Record<string, number> = { rocks: header + tokens, pebble: countTokens('--- pebble.md ---\n') + countTokens(second) };
    // Their order as assembly ranks them with room for both; the second is the one cut below.
    const ranked = (await t.store.assemble('ws', request(100_000))).documents.map((d) => d.id);
    expect([...ranked].sort()).toEqual(['pebble', 'rocks']);
    const exact = (cost[ranked[0] ?? ''] ?? 0) + countTokens('\n\n') + (cost[ranked[1] ?? ''] ?? 0);
    const whole = await t.store.assemble('ws', request(exact));
    expect(whole.documents.map((d) => d.id)).toEqual(ranked);
    expect(whole.documents.map((d) => d.inclusion_reason).join(' ')).not.toMatch(/truncated/);
    expect(whole.total_tokens).toBe(exact);

    const over = await t.store.assemble('ws', request(exact - 1));
    expect(over.documents.map((d) => d.id)).toEqual(ranked);
    expect(over.documents[0]?.inclusion_reason).not.toMatch(/truncated/);
    expect(over.documents[1]?.inclusion_reason).toMatch(/truncated/);
    expect(over.total_tokens).toBeLessThanOrEqual(exact - 1);
  });
});
