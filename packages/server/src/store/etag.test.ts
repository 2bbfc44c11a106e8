import { describe, expect, it } from 'vitest';
import { assertIfMatch, checkPrecondition, describeIfMatch, documentEtag, etag_chars_max, etag_hex_chars, if_match_etags_max, if_match_entry_pattern } from './etag.ts';

describe('documentEtag', () => {
  it('is the first 32 hex digits of sha256 over [content_hash, path, language, metadata] as JSON', () => {
    // Stored ETags must survive upgrades: these are sha256 of the JSON arrays, checked with sha256sum.
    const content_hash = 'a'.repeat(64);
    expect(documentEtag({ content_hash, path: 'src/a.ts', language: 'typescript', metadata: '{"k":"v"}' })).toBe('8ce221ed7102a6d7ee8f9a9ceea89df4');
    expect(documentEtag({ content_hash, path: null, language: null, metadata: null })).toBe('e1ddc719cc885b75fe9d2bdb4cb1cb6b');
    expect(etag_hex_chars).toBe(32);
  });
});

describe('checkPrecondition', () => {
  it('compares strongly: the unquoted tag matches, the same tag marked weak does not', () => {
    const etag = '8ce221ed7102a6d7ee8f9a9ceea89df4';
    expect(checkPrecondition('d', { if_match: [`W/"${etag}"`, etag] }, etag)).toBeNull();
    expect(checkPrecondition('d', { if_match: [`W/"${etag}"`] }, etag)).toEqual({ id: 'd', field: 'If-Match', current_etag: etag });
    expect(checkPrecondition('d', { if_match: [`"${etag}"`] }, etag)).toEqual({ id: 'd', field: 'If-Match', current_etag: etag });
  });

  it('fails an If-Match list on an absent document, and holds with no precondition', () => {
    expect(checkPrecondition('d', { if_match: ['e'] }, null)).toEqual({ id: 'd', field: 'If-Match', current_etag: null });
    expect(checkPrecondition('d', {}, null)).toBeNull();
    expect(checkPrecondition('d', {}, 'e')).toBeNull();
  });
});

describe('assertIfMatch', () => {
  const tags = (n: number): string[] => Array.from({ length: n }, (_, i) => `etag${i}`);

  it('accepts "*" and 1 to if_match_etags_max (16) entity tags', () => {
    expect(if_match_etags_max).toBe(16);
    expect(() => assertIfMatch('*', 'op.if_match')).not.toThrow();
    expect(() => assertIfMatch(tags(1), 'op.if_match')).not.toThrow();
    expect(() => assertIfMatch(tags(16), 'op.if_match')).not.toThrow();
  });

  it('refuses 17 tags, none, or something that is not a list, naming the field and the limit', () => {
    for (const v of [tags(17), [], 'etag0', null, { 0: 'etag0' }]) {
      expect(() => assertIfMatch(v, 'op.docs[].if_match'), JSON.stringify(v)).toThrow(new TypeError('op.docs[].if_match: not "*" or 1..16 entity tags'));
    }
  });

  it('accepts strong tags unquoted and weak tags as W/"..." of up to etag_chars_max (128) characters', () => {
    expect(etag_chars_max).toBe(128);
    for (const e of ['x', '!', '~'.repeat(128), 'W/"x"', `W/"${'a'.repeat(128)}"`, 'a/b#c']) {
      expect(if_match_entry_pattern.test(e), e).toBe(true);
      expect(() => assertIfMatch([e], 'op.if_match')).not.toThrow();
    }
  });

  it('refuses a malformed entry, quoting it in the message', () => {
    const bad: unknown[] = ['', '"x"', 'a b', 'a'.repeat(129), `W/"${'a'.repeat(129)}"`, 'W/""', 'W/"x', 'w/"x"', 'é', 5];
    for (const e of bad) {
      expect(() => assertIfMatch(['ok', e], 'op.if_match'), String(e)).toThrow(new TypeError(`op.if_match: malformed entity tag ${JSON.stringify(e)}`));
    }
  });
});

describe('describeIfMatch', () => {
  it('writes the list as a client would send it: strong tags quoted, weak ones as given, comma-separated', () => {
    expect(describeIfMatch('*')).toBe('*');
    expect(describeIfMatch(['abc'])).toBe('"abc"');
    expect(describeIfMatch(['abc', 'W/"def"', 'xW/'])).toBe('"abc", W/"def", "xW/"');
  });
});
