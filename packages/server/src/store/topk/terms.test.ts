// terms.ts cuts text as passages_fts does: tokens as FTS5's unicode61 tokenizer with
// remove_diacritics 2 gives them, stems as its porter tokenizer gives them (checked against
// SQLite's own FTS5 through an fts5vocab table), and a row's terms weighted by column as bm25
// counts them.

import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { rowTerms, stem, tokens } from './terms.ts';

const db = new Database(':memory:');
db.exec(`
  CREATE VIRTUAL TABLE plain USING fts5(x, tokenize = 'unicode61 remove_diacritics 2');
  CREATE VIRTUAL TABLE plain_v USING fts5vocab(plain, 'instance');
  CREATE VIRTUAL TABLE porter USING fts5(x, tokenize = 'porter unicode61 remove_diacritics 2');
  CREATE VIRTUAL TABLE porter_v USING fts5vocab(porter, 'instance');
`);
afterAll(() => db.close());

/** The tokens FTS5 stores for `text`, in order. */
function fts(table: 'plain' | 'porter', text: string): string[] {
  db.exec(`DELETE FROM ${table}`);
  db.prepare(`INSERT INTO ${table}(x) VALUES (?)`).run(text);
  return (db.prepare(`SELECT term FROM ${table}_v ORDER BY "offset"`).all() as { term: string }[]).map((r) => r.term);
}

const stemmed = (text: string): string[] => tokens(text).map(stem);

describe('tokens', () => {
  it('cuts at anything but letters and digits, lower-cased, as FTS5 unicode61 does', () => {
    const text = 'The Leader, its 3 followers & x1_y2 -- README.md? (quorum)';
    expect(tokens(text)).toEqual(['the', 'leader', 'its', '3', 'followers', 'x1', 'y2', 'readme', 'md', 'quorum']);
    expect(tokens(text)).toEqual(fts('plain', text));
  });

  it('removes diacritics and lower-cases letters beyond ASCII, as FTS5 with remove_diacritics 2 does', () => {
    const text = 'Café NAÏVE Ångström señor — Straße Żółć';
    expect(tokens(text)).toEqual(['cafe', 'naive', 'angstrom', 'senor', 'straße', 'zołc']);
    expect(tokens(text)).toEqual(fts('plain', text));
  });

  it('keeps a letter with a combining accent as one token, and drops a mark standing alone', () => {
    expect(tokens('cafe\u0301 x')).toEqual(['cafe', 'x']);
    expect(tokens('x \u0301 y')).toEqual(['x', 'y']);
    expect(tokens('\u0301\u0308')).toEqual([]);
    expect(tokens('x \u0301 y')).toEqual(fts('plain', 'x \u0301 y'));
  });

  it('gives no tokens for empty text or separators alone', () => {
    expect(tokens('')).toEqual([]);
    expect(tokens(' -- ,; ')).toEqual([]);
    expect(tokens('¿¡ — «»')).toEqual([]);
  });
});

describe('stem', () => {
  it('stems as FTS5 porter does on inflected English words', () => {
    const text = 'running runs caresses ponies relational conditional generalization happiness hopeful indexes replicated as is';
    expect(stemmed(text)).toEqual(['run', 'run', 'caress', 'poni', 'relat', 'condit', 'gener', 'happi', 'hope', 'index', 'replic', 'as', 'is']);
    expect(stemmed(text)).toEqual(fts('porter', text));
  });

  it('stems a token of 64 bytes and leaves one of 65 as it is, as FTS5 porter does', () => {
    const ascii64 = `${'a'.repeat(57)}running`;
    const ascii65 = `${'a'.repeat(58)}running`;
    expect(ascii64).toHaveLength(64);
    expect(stem(ascii64)).toBe(`${'a'.repeat(57)}run`);
    expect(stem(ascii65)).toBe(ascii65);
    expect(stemmed(`${ascii64} ${ascii65}`)).toEqual(fts('porter', `${ascii64} ${ascii65}`));
  });

  it('counts the limit in UTF-8 bytes, not characters', () => {
    // 36 characters each: 28 or 29 two-byte letters before the ASCII ones
    const bytes64 = `${'ж'.repeat(28)}arunning`;
    const bytes65 = `${'ж'.repeat(29)}running`;
    expect([bytes64.length, Buffer.byteLength(bytes64)]).toEqual([36, 64]);
    expect([bytes65.length, Buffer.byteLength(bytes65)]).toEqual([36, 65]);
    expect(stem(bytes64)).toBe(`${'ж'.repeat(28)}arun`);
    expect(stem(bytes65)).toBe(bytes65);
    expect(stemmed(`${bytes64} ${bytes65}`)).toEqual(fts('porter', `${bytes64} ${bytes65}`));
  });

  it('gives the same stem when asked again', () => {
    expect(stem('replicas')).toBe('replica');
    expect(stem('replicas')).toBe('replica');
  });
});

describe('rowTerms', () => {
  it('sums column weights per term and counts every token in the length', () => {
    const row = rowTerms([{ text: 'run running leader', weight: 1 }, { text: 'ops/runs.md', weight: 0.5 }], { stem: true });
    expect(row.length).toBe(6);
    expect([...row.terms]).toEqual([['run', 2.5], ['leader', 1], ['op', 0.5], ['md', 0.5]]);
  });

  it('keeps tokens unstemmed unless asked to stem', () => {
    const row = rowTerms([{ text: 'Run running', weight: 2 }]);
    expect([...row.terms]).toEqual([['run', 2], ['running', 2]]);
    expect(row.length).toBe(2);
  });

  it('skips a null column (a passage without a path)', () => {
    const row = rowTerms([{ text: 'quorum', weight: 1 }, { text: null, weight: 0.5 }], { stem: true });
    expect([...row.terms]).toEqual([['quorum', 1]]);
    expect(row.length).toBe(1);
  });

  it('gives no terms and length 0 for text without tokens', () => {
    const row = rowTerms([{ text: '', weight: 1 }, { text: ' -- ', weight: 0.5 }], { stem: true });
    expect(row.terms.size).toBe(0);
    expect(row.length).toBe(0);
  });

  it('refuses a column weight that is not positive', () => {
    expect(() => rowTerms([{ text: 'x', weight: 0 }])).toThrow('invariant: column weight 0');
    expect(() => rowTerms([{ text: 'x', weight: -1 }])).toThrow('invariant: column weight -1');
    expect(() => rowTerms([{ text: 'x', weight: Number.NaN }])).toThrow('invariant: column weight NaN');
    expect(rowTerms([{ text: 'x', weight: Number.MIN_VALUE }]).terms.get('x')).toBe(Number.MIN_VALUE);
  });
});
