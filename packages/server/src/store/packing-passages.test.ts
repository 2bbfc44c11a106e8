// Assembly by passages. The case of issue 16: long reference pages, one of which holds the one
// paragraph the query is about deep inside. Packing whole documents spends the budget on the
// first pages and a cut of the next one and leaves the paragraph out; packing passages brings
// it, under a header naming the page and its lines. Also: several passages of one document,
// adjacent ones merged under one header; near-duplicate documents still filtered.

import { describe, expect, it } from 'vitest';
import { parseAssembleRequest } from './assemble.ts';
import type { AssembleRequest } from './assemble.ts';
import { InputError } from './errors.ts';
import { openTestStore } from './testing.ts';
import { countTokens } from './tokens.ts';

const filler = 'granite basalt quartz feldspar mica obsidian pumice slate marble gneiss schist shale'.split(' ');

/** A long page of filler paragraphs about rocks, `sections` sections of `paragraphs` paragraphs. */
function page(seed: number, sections: number, insert?: { at: number; text: string }): string {
  const out: string[] = [];
  let k = seed;
  for (let s = 0; s < sections; s++) {
    out.push(`## Section ${s + 1}`);
    for (let p = 0; p < 3; p++) {
      if (insert !== undefined && insert.at === s * 3 + p) out.push(insert.text);
      else out.push(Array.from({ length: 60 }, () => filler[(k = (k * 7 + 3) % filler.length)]).join(' ') + '.');
    }
  }
  return out.join('\n\n') + '\n';
}

const paragraph = 'Zircon crystals survive the weathering of granite, and their uranium lead ratios date the rock they formed in.';

function request(query: string, max_tokens: number, granularity: 'passage' | 'document'): AssembleRequest {
  return { query, max_tokens, max_documents: 5, include_patterns: [], exclude_patterns: [], granularity };
}

describe('assembly by passages', () => {
  it('brings the paragraph a long page holds deep inside, where packing whole pages left it out', async () => {
    using t = openTestStore();
    // Pages that mention the query's common words often rank above the one page holding the
    // paragraph: whole, they fill the budget first.
    for (let i = 0; i < 30; i++) {
      await t.put('ws', { id: `page-${i}`, path: `pages/page-${i}.md`, content: page(i + 1, 8).replace(/granite/g, 'granite weathering') });
    }
    const target = page(99, 8, { at: 17, text: paragraph });
    await t.put('ws', { id: 'target', path: 'pages/target.md', content: target });
    const query = 'zircon uranium lead dating of granite weathering';
    const at = target.indexOf(paragraph);
    const line = target.slice(0, at).split('\n').length;

    const whole = await t.store.assemble('ws', request(query, 1000, 'document'));
    expect(whole.context).not.toContain(paragraph);

    const r = await t.store.assemble('ws', request(query, 1000, 'passage'));
    expect(r.total_tokens).toBeLessThanOrEqual(1000);
    expect(r.context).toContain(paragraph);
    const d = r.documents.find((x) => x.id === 'target');
    expect(d?.passages?.some((p) => p.start <= at && p.end >= at + paragraph.length)).toBe(true);
    const p = d?.passages?.find((x) => x.start <= at && x.end >= at + paragraph.length);
    expect(r.context).toContain(`--- pages/target.md (lines ${p?.line_start}-`);
    expect(p?.line_start).toBeLessThanOrEqual(line);
    expect(p?.line_end).toBeGreaterThanOrEqual(line);
    expect(d?.inclusion_reason).toMatch(new RegExp(`^passages? ${(p?.n ?? 0) + 1}[ ,-]`));
    expect(r.documents[0]?.id).toBe('target');
    expect(r.documents.some((x) => /truncated/.test(x.inclusion_reason))).toBe(false);
  });

  it('takes several passages of one document, merging adjacent ones under one header', async () => {
    using t = openTestStore({ passage_tokens: 64 });
    const sections = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'].map((n) => `## ${n}\n\n${`Notes on ${n} with filler words about nothing much at all. `.repeat(4)}\n`);
    // Sections 1 and 2 (adjacent) and 5 talk about the query; the others do not.
    sections[1] = `## beta\n\n${'The heron nests by the reed marsh. '.repeat(5)}\n`;
    sections[2] = `## gamma\n\n${'A heron hunts in the reed marsh at dawn. '.repeat(5)}\n`;
    sections[5] = `## zeta\n\n${'Reed marsh heron colonies are counted each spring. '.repeat(4)}\n`;
    const content = sections.join('\n');
    await t.put('ws', { id: 'birds', path: 'birds.md', content });
    await t.put('ws', { id: 'other', path: 'other.md', content: 'Nothing about the subject here at all, only stones.' });
    const r = await t.store.assemble('ws', request('heron reed marsh', 2000, 'passage'));
    const d = r.documents.find((x) => x.id === 'birds');
    const ns = (d?.passages ?? []).map((p) => p.n);
    expect(ns.length).toBeGreaterThanOrEqual(3);
    for (const s of [1, 2, 5]) expect(r.context).toContain(sections[s]?.trim().split('\n')[2]?.slice(0, 30));
    // One header per run of adjacent passages: fewer headers than passages when two are adjacent.
    const headers = r.context.match(/^--- birds\.md/gm) ?? [];
    const runs = ns.filter((n, i) => i === 0 || n !== (ns[i - 1] ?? -2) + 1).length;
    expect(headers).toHaveLength(runs);
    expect(runs).toBeLessThan(ns.length);
    expect(r.total_tokens).toBe(countTokens(r.context));
  });

  it('gives a whole short document under its plain header, and skips a document with the same text', async () => {
    using t = openTestStore();
    await t.put('ws', { id: 'a', path: 'docs/a.md', content: 'AI enforcement patterns keep agents inside their policy.' });
    await t.put('ws', { id: 'b', path: 'docs/b.md', content: 'AI enforcement patterns keep agents inside their policy.' });
    const r = await t.store.assemble('ws', request('AI enforcement patterns', 4000, 'passage'));
    expect(r.documents).toHaveLength(1);
    expect(r.context).toBe(`--- docs/a.md ---\nAI enforcement patterns keep agents inside their policy.`);
    expect(r.documents[0]).toMatchObject({ id: 'a', content: 'AI enforcement patterns keep agents inside their policy.' });
  });
});

describe('granularity in an assemble body', () => {
  const limits = { patterns_max: 64, pattern_chars_max: 512, query_chars_max: 8192 };
  it('is "passage" by default, takes "document", and refuses anything else naming the field', () => {
    expect(parseAssembleRequest({ query: 'q' }, 50, limits).granularity).toBe('passage');
    expect(parseAssembleRequest({ query: 'q', granularity: 'document' }, 50, limits).granularity).toBe('document');
    for (const bad of ['paragraph', 7, true, ['passage'], '']) {
      let err: unknown;
      try {
        parseAssembleRequest({ query: 'q', granularity: bad }, 50, limits);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(bad)).toBeInstanceOf(InputError);
      expect((err as InputError).toJSON()).toMatchObject({ code: 'invalid_value', field: 'granularity' });
    }
  });
});
