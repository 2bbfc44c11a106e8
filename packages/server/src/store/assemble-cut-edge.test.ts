// The smallest cut worth including, at both granularities: a document (or passage) that does not
// fit is cut to what is left of the budget only when that is at least min(truncated_tokens_min,
// max_tokens / 2) tokens. With one long document and nothing else taken, what is left is the
// budget less the piece's header, so the edge falls at max_tokens = twice the header's tokens.

import { describe, expect, it } from 'vitest';
import { truncated_tokens_min } from './assemble.ts';
import { assembleRequest, openTestStore } from './testing.ts';
import { countTokens } from './tokens.ts';

// one line of 300 words: one passage at 1,024 tokens a passage, far over every budget below
const content = Array.from({ length: 300 }, (_, i) => (i === 0 ? 'granite' : `word${i}`)).join(' ');

describe('the smallest cut worth including', () => {
  for (const [granularity, head] of [
    ['document', '--- a.md ---\n'],
    ['passage', '--- a.md (lines 1-1) ---\n'],
  ] as const) {
    it(`at granularity ${granularity}: includes a cut of max_tokens / 2 and none of less`, async () => {
      using t = openTestStore({ passage_tokens: 1024 });
      await t.put('ws', { id: 'a', path: 'a.md', content });
      const h = countTokens(head);
      expect(2 * h).toBeLessThan(2 * truncated_tokens_min);
      const at = async (max_tokens: number) => (await t.store.assemble('ws', assembleRequest({ query: 'granite', granularity, max_tokens }))).documents;
      // left: h tokens = max_tokens / 2, the smallest cut taken
      const edge = await at(2 * h);
      expect(edge).toHaveLength(1);
      expect(edge[0]!.tokens).toBeLessThanOrEqual(h);
      expect(edge[0]!.tokens).toBeGreaterThan(0);
      // left: h - 1 tokens, below max_tokens / 2 = h - 0.5
      expect(await at(2 * h - 1)).toEqual([]);
    });
  }
});
