import { describe, expect, it } from 'vitest';
import { InputError } from './errors.ts';
import {
  assertDocumentId,
  assertNoPrecondition,
  assertValidText,
  assertWorkspaceId,
  checkDocumentLimits,
  document_id_chars_max,
  isPlainObject,
  isValidDocumentId,
  languageFromPath,
  language_chars_max,
  parseCount,
  parseDocumentInput,
  parseQuery,
  parseVector,
  path_chars_max,
  query_chars_max,
  vector_dim_max,
} from './validate.ts';
import type { DocumentLimits } from './validate.ts';

const limits: DocumentLimits = { document_bytes_max: 100, metadata_bytes_max: 64, metadata_depth_max: 4 };

/** The InputError `f` throws; fails the test if it returns or throws anything else. */
function thrown(f: () => unknown): InputError {
  try {
    f();
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError');
}

/** `code: message @ field`, the three things a client is told. */
function told(f: () => unknown): string {
  const err = thrown(f);
  return `${err.code}: ${err.message} @ ${err.field}`;
}

function nested(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < depth; i++) v = { a: v };
  return v;
}

describe('assertValidText', () => {
  it('names the field, the kind of code unit, its hex value and its offset', () => {
    expect(told(() => assertValidText('ab\ud800', 'path'))).toBe(
      'invalid_text: path is not valid Unicode text: an unpaired surrogate U+D800 at offset 2 (UTF-16 code units); it would be stored altered @ path',
    );
    expect(thrown(() => assertValidText('\udfff', 'id')).message).toContain('an unpaired surrogate U+DFFF at offset 0');
    expect(thrown(() => assertValidText('x\ufffe', 'content')).message).toContain('the noncharacter U+FFFE at offset 1');
    expect(thrown(() => assertValidText('\uffff', 'content')).message).toContain('the noncharacter U+FFFF at offset 0');
  });

  it('passes surrogate pairs and the characters just below the surrogates and the noncharacters', () => {
    for (const s of ['\u{1F600}', '\ud7ff', '\ue000', '\ufffd', '']) expect(() => assertValidText(s, 'f'), JSON.stringify(s)).not.toThrow();
  });
});

describe('assertWorkspaceId', () => {
  it('accepts 64 characters of the rule and refuses 65, quoting the rule and the value', () => {
    expect(() => assertWorkspaceId(`a${'b'.repeat(63)}`)).not.toThrow();
    expect(() => assertWorkspaceId('a.b_c-9')).not.toThrow();
    expect(told(() => assertWorkspaceId(`a${'b'.repeat(64)}`))).toBe(
      `invalid_workspace: workspace id must be a letter or digit followed by up to 63 letters, digits, ".", "_" or "-"; got "a${'b'.repeat(64)}" @ workspace`,
    );
  });

  it('quotes at most 80 characters of a long value', () => {
    const err = thrown(() => assertWorkspaceId('-'.repeat(200), 'ws'));
    expect(err.message.endsWith(`; got "${'-'.repeat(79)}`)).toBe(true);
    expect(err.field).toBe('ws');
  });

  it('refuses values that are not strings, also undefined', () => {
    expect(thrown(() => assertWorkspaceId(undefined)).message).toMatch(/; got undefined$/);
    expect(thrown(() => assertWorkspaceId(7)).message).toMatch(/; got 7$/);
    expect(thrown(() => assertWorkspaceId('_a')).code).toBe('invalid_workspace');
  });
});

describe('document ids', () => {
  it(`accepts ${document_id_chars_max} characters and refuses one more`, () => {
    expect(document_id_chars_max).toBe(256);
    const at = 'i'.repeat(256);
    expect(isValidDocumentId(at)).toBe(true);
    expect(() => assertDocumentId(at)).not.toThrow();
    expect(isValidDocumentId(`${at}i`)).toBe(false);
    expect(told(() => assertDocumentId(`${at}i`))).toBe('invalid_value: id must be 1..256 characters without control characters or surrounding spaces @ id');
  });

  it('refuses the empty id, control characters and surrounding spaces', () => {
    for (const id of ['', ' a', 'a ', '\ta', 'a\u0000b', 'a\u001fb', 'a\u007fb']) {
      expect(isValidDocumentId(id), JSON.stringify(id)).toBe(false);
      expect(thrown(() => assertDocumentId(id, '[2].id')).message, JSON.stringify(id)).toBe(
        '[2].id must be 1..256 characters without control characters or surrounding spaces',
      );
    }
    expect(isValidDocumentId('a b')).toBe(true);
  });

  it('refuses an id that is not valid text, wherever the bad code unit is', () => {
    expect(isValidDocumentId('\ud800a')).toBe(false);
    expect(isValidDocumentId('a\ud800')).toBe(false);
    expect(isValidDocumentId('a\u{1F600}')).toBe(true);
    expect(thrown(() => assertDocumentId('\ud800a')).code).toBe('invalid_text');
  });

  it.each(['.', '..'])('refuses %j saying no URL can address it', (id) => {
    expect(isValidDocumentId(id)).toBe(false);
    expect(told(() => assertDocumentId(id))).toBe(
      'invalid_value: id must not be "." or "..": no URL can address such a document (/documents/.. is /documents) @ id',
    );
  });

  it('refuses a non-string id naming the field, "id" by default', () => {
    expect(told(() => assertDocumentId(5))).toBe('invalid_type: id must be a string @ id');
    expect(told(() => assertDocumentId(null, '[0].id'))).toBe('invalid_type: [0].id must be a string @ [0].id');
  });
});

describe('parseDocumentInput fields', () => {
  const parse = (raw: unknown, prefix?: string) => parseDocumentInput(raw, prefix, limits);

  it('refuses a body that is not an object, naming the body or its bulk position', () => {
    expect(told(() => parseDocumentInput(null))).toBe('invalid_type: body must be a JSON object @ body');
    expect(told(() => parse(['content']))).toBe('invalid_type: body must be a JSON object @ body');
    expect(told(() => parse('x', '[3].'))).toBe('invalid_type: [3] must be a JSON object @ [3]');
  });

  it('names fields without a prefix by default', () => {
    expect(told(() => parseDocumentInput({ content: 5 }))).toBe('invalid_type: content must be a string @ content');
  });

  it('requires content: missing or null is missing_field, another type invalid_type, blank invalid_value', () => {
    expect(told(() => parse({}, '[1].'))).toBe('missing_field: [1].content is required @ [1].content');
    expect(told(() => parse({ content: null }))).toBe('missing_field: content is required @ content');
    expect(told(() => parse({ content: ['x'] }, '[1].'))).toBe('invalid_type: [1].content must be a string @ [1].content');
    expect(told(() => parse({ content: ' \n\t ' }, '[1].'))).toBe('invalid_value: [1].content must not be empty @ [1].content');
    expect(parse({ content: ' x ' }).content).toBe(' x ');
  });

  it('accepts content of exactly document_bytes_max bytes and refuses one byte more', () => {
    expect(parse({ content: 'a'.repeat(100) }).content).toHaveLength(100);
    expect(parse({ content: `${'é'.repeat(49)}ab` }).content).toHaveLength(51); // 100 bytes
    expect(told(() => parse({ content: 'a'.repeat(101) }, '[0].'))).toBe(
      'document_too_large: [0].content is larger than document_bytes_max (100 bytes of UTF-8) @ [0].content',
    );
    expect(thrown(() => parse({ content: `${'é'.repeat(50)}a` })).code).toBe('document_too_large'); // 101 bytes
  });

  it('takes null id, path, language, metadata and vector as absent', () => {
    expect(parse({ content: 'x', id: null, path: null, language: null, metadata: null, vector: null })).toEqual({
      id: null, content: 'x', path: null, language: null, metadata: null, vector: null,
    });
  });

  it('returns every field as given', () => {
    const doc = parse({ content: 'x', id: 'd1', path: 'a/b.md', language: 'markdown', metadata: { b: 1, a: 'z' }, vector: [1, 0.5] });
    expect(doc).toEqual({ id: 'd1', content: 'x', path: 'a/b.md', language: 'markdown', metadata: '{"a":"z","b":1}', vector: new Float32Array([1, 0.5]) });
  });

  it(`accepts a path of ${path_chars_max} characters and refuses one more`, () => {
    expect(path_chars_max).toBe(1024);
    expect(parse({ content: 'x', path: 'p'.repeat(1024) }).path).toHaveLength(1024);
    expect(told(() => parse({ content: 'x', path: 'p'.repeat(1025) }, '[4].'))).toBe('invalid_value: [4].path is longer than 1024 characters @ [4].path');
  });

  it(`accepts a language of ${language_chars_max} characters and refuses one more`, () => {
    expect(language_chars_max).toBe(64);
    expect(parse({ content: 'x', language: 'l'.repeat(64) }).language).toHaveLength(64);
    expect(told(() => parse({ content: 'x', language: 'l'.repeat(65) }))).toBe('invalid_value: language is longer than 64 characters @ language');
  });

  it('refuses a path or language that is not a string or holds control characters', () => {
    expect(told(() => parse({ content: 'x', path: 3 }, '[4].'))).toBe('invalid_type: [4].path must be a string @ [4].path');
    expect(told(() => parse({ content: 'x', path: 'a\nb.md' }, '[4].'))).toBe('invalid_value: [4].path contains control characters @ [4].path');
    expect(told(() => parse({ content: 'x', language: 'ts\u007f' }))).toBe('invalid_value: language contains control characters @ language');
  });

  it('refuses metadata that is not a plain object, arrays included', () => {
    for (const metadata of [[1], 'm', 3, true]) {
      expect(told(() => parse({ content: 'x', metadata }, '[5].')), JSON.stringify(metadata)).toBe(
        'invalid_type: [5].metadata must be a JSON object @ [5].metadata',
      );
    }
  });

  it('accepts canonical metadata of exactly metadata_bytes_max bytes and refuses one byte more', () => {
    // {"k":"…"} is 8 bytes around the value.
    expect(parse({ content: 'x', metadata: { k: 'v'.repeat(56) } }).metadata).toHaveLength(64);
    expect(told(() => parse({ content: 'x', metadata: { k: 'v'.repeat(57) } }, '[2].'))).toBe(
      'metadata_too_large: [2].metadata is larger than metadata_bytes_max (64 bytes of canonical JSON) @ [2].metadata',
    );
  });

  it('counts metadata depth in objects and arrays only, not in the scalars inside them', () => {
    const flat: DocumentLimits = { ...limits, metadata_depth_max: 1 };
    expect(parseDocumentInput({ content: 'x', metadata: { n: 1, z: null, t: true, s: 's' } }, '', flat).metadata).toBe('{"n":1,"s":"s","t":true,"z":null}');
    expect(parseDocumentInput({ content: 'x', metadata: { a: [1, null, 's'] } }, '', { ...limits, metadata_depth_max: 2 }).metadata).toBe('{"a":[1,null,"s"]}');
    expect(told(() => parseDocumentInput({ content: 'x', metadata: { a: [] } }, '[1].', flat))).toBe(
      'metadata_too_deep: [1].metadata is nested deeper than metadata_depth_max (1 levels of objects and arrays), at [1].metadata.a @ [1].metadata',
    );
  });

  it('names where in metadata a bad value sits: dotted keys, quoted keys, array indexes', () => {
    const at = (metadata: Record<string, unknown>): string | undefined => thrown(() => parse({ content: 'x', metadata })).field;
    expect(at({ a_1: { B: '\ud800' } })).toBe('metadata.a_1.B');
    expect(at({ '1a': '\ud800' })).toBe('metadata["1a"]');
    expect(at({ 'a-b': '\ud800' })).toBe('metadata["a-b"]');
    expect(at({ a: [0, ['\ud800']] })).toBe('metadata.a[1][0]');
  });

  it('refuses a vector that is not an array naming the field', () => {
    expect(told(() => parse({ content: 'x', vector: 'v' }, '[0].'))).toBe('invalid_type: [0].vector must be an array of numbers @ [0].vector');
  });
});

describe('parseVector', () => {
  it(`accepts 1 and ${vector_dim_max} numbers and refuses 0 and one more`, () => {
    expect(vector_dim_max).toBe(4096);
    expect(parseVector([2], 'v')).toEqual(new Float32Array([2]));
    expect(parseVector(new Array<number>(4096).fill(1), 'v')).toHaveLength(4096);
    expect(told(() => parseVector([], 'v'))).toBe('invalid_value: v must have 1..4096 numbers @ v');
    expect(told(() => parseVector(new Array<number>(4097).fill(1), 'v'))).toBe('invalid_value: v must have 1..4096 numbers @ v');
  });

  it('refuses non-finite numbers, other types, values beyond float32 and the zero vector', () => {
    expect(told(() => parseVector([1, Number.NaN], 'vector'))).toBe('invalid_type: vector[1] must be a finite number @ vector');
    expect(told(() => parseVector([Infinity], 'vector'))).toBe('invalid_type: vector[0] must be a finite number @ vector');
    expect(told(() => parseVector([1, '2'], 'vector'))).toBe('invalid_type: vector[1] must be a finite number @ vector');
    expect(told(() => parseVector([1, 1e39], 'vector'))).toBe('invalid_value: vector[1] is out of float32 range @ vector');
    expect(parseVector([3.4e38], 'vector')[0]).toBeCloseTo(3.4e38, -34);
    expect(told(() => parseVector([0, -0, 0], 'vector'))).toBe('invalid_value: vector must not be all zeros @ vector');
    expect(told(() => parseVector({ length: 1 }, 'vector'))).toBe('invalid_type: vector must be an array of numbers @ vector');
  });
});

describe('parseQuery', () => {
  it(`accepts ${query_chars_max} characters by default and refuses one more`, () => {
    expect(query_chars_max).toBe(8192);
    expect(parseQuery('q'.repeat(8192))).toHaveLength(8192);
    expect(told(() => parseQuery('q'.repeat(8193)))).toBe('too_large: query is longer than 8192 characters @ query');
  });

  it('takes a smaller limit and field name from the caller', () => {
    expect(parseQuery(' ab ', 'q', 4)).toBe(' ab ');
    expect(told(() => parseQuery('abcde', 'q', 4))).toBe('too_large: q is longer than 4 characters @ q');
  });

  it('refuses a missing, non-string or blank query', () => {
    expect(told(() => parseQuery(undefined))).toBe('missing_field: query is required @ query');
    expect(told(() => parseQuery(null, 'q'))).toBe('missing_field: q is required @ q');
    expect(told(() => parseQuery(3))).toBe('invalid_type: query must be a string @ query');
    expect(told(() => parseQuery(' \t\n'))).toBe('empty_query: query must not be empty @ query');
  });
});

describe('parseCount', () => {
  it('gives the default, capped at the maximum, when the value is absent or empty', () => {
    for (const v of [undefined, null, '']) {
      expect(parseCount(v, 'k', 10, 50)).toBe(10);
      expect(parseCount(v, 'k', 10, 5)).toBe(5);
    }
  });

  it('takes positive integers and decimal digit strings, capped at the maximum', () => {
    expect(parseCount(1, 'k', 10, 50)).toBe(1);
    expect(parseCount('1', 'k', 10, 50)).toBe(1);
    expect(parseCount('12', 'k', 10, 50)).toBe(12);
    expect(parseCount(50, 'k', 10, 50)).toBe(50);
    expect(parseCount(51, 'k', 10, 50)).toBe(50);
    expect(parseCount('900', 'k', 10, 50)).toBe(50);
  });

  it('refuses zero, negatives, fractions and anything but digits', () => {
    for (const v of [0, '0', -1, '-1', 1.5, '1.5', ' 7', '7 ', '7a', 'a7', '1e2', [7], true, Number.NaN]) {
      expect(told(() => parseCount(v, 'limit', 10, 50)), JSON.stringify(v)).toBe('invalid_value: limit must be a positive integer @ limit');
    }
  });
});

describe('isPlainObject', () => {
  it('is true for objects only: not arrays, null or scalars', () => {
    expect(isPlainObject({})).toBe(true);
    for (const v of [[], null, 'o', 1, undefined]) expect(isPlainObject(v), JSON.stringify(v)).toBe(false);
  });
});

describe('assertNoPrecondition', () => {
  it('refuses if_match and if_none_match in a bulk item, naming the item', () => {
    expect(told(() => assertNoPrecondition({ content: 'x', if_match: '"e"' }, '[2].'))).toBe(
      'invalid_value: [2].if_match: bulk items take no precondition; send a conditional write alone to POST /api/v1/documents @ [2].if_match',
    );
    expect(thrown(() => assertNoPrecondition({ content: 'x', if_none_match: '*' }, '[0].')).field).toBe('[0].if_none_match');
  });

  it('passes items without a precondition and leaves non-objects to parseDocumentInput', () => {
    for (const raw of [{ content: 'x' }, { content: 'x', if_match: undefined }, null, 'x', ['if_match']]) {
      expect(() => assertNoPrecondition(raw, '[0].'), JSON.stringify(raw)).not.toThrow();
    }
  });
});

describe('checkDocumentLimits', () => {
  it('accepts content of exactly document_bytes_max bytes and refuses one byte more', () => {
    expect(() => checkDocumentLimits({ content: 'a'.repeat(100) }, '', limits)).not.toThrow();
    expect(() => checkDocumentLimits({ content: `${'é'.repeat(49)}ab` }, '', limits)).not.toThrow();
    expect(told(() => checkDocumentLimits({ content: 'a'.repeat(101) }, '[7].', limits))).toBe(
      'document_too_large: [7].content is larger than document_bytes_max (100 bytes of UTF-8) @ [7].content',
    );
    expect(thrown(() => checkDocumentLimits({ content: `${'é'.repeat(50)}a` }, '', limits)).status).toBe(413);
  });

  it('accepts metadata of exactly metadata_bytes_max canonical bytes and refuses one byte more', () => {
    expect(() => checkDocumentLimits({ metadata: { k: 'v'.repeat(56) } }, '', limits)).not.toThrow();
    expect(told(() => checkDocumentLimits({ metadata: { k: 'v'.repeat(57) } }, '[7].', limits))).toBe(
      'metadata_too_large: [7].metadata is larger than metadata_bytes_max (64 bytes of canonical JSON) @ [7].metadata',
    );
  });

  it('refuses metadata deeper than metadata_depth_max naming the item', () => {
    expect(() => checkDocumentLimits({ metadata: nested(4) }, '', limits)).not.toThrow();
    expect(told(() => checkDocumentLimits({ metadata: nested(5) }, '[7].', limits))).toBe(
      'metadata_too_deep: [7].metadata is nested deeper than metadata_depth_max (4 levels of objects and arrays), at [7].metadata.a.a.a.a @ [7].metadata',
    );
  });

  it('leaves wrong types and non-objects to parseDocumentInput', () => {
    for (const raw of [null, 'x', [{ content: 'a'.repeat(101) }], { content: 5, metadata: 'm' }, { metadata: [[[[[[1]]]]]] }]) {
      expect(() => checkDocumentLimits(raw, '', limits), JSON.stringify(raw)).not.toThrow();
    }
  });
});

describe('languageFromPath', () => {
  it('reads the language from the last extension, in any case', () => {
    expect(languageFromPath('src/a.test.ts')).toBe('typescript');
    expect(languageFromPath('notes.ts.md')).toBe('markdown');
    expect(languageFromPath('README.MD')).toBe('markdown');
    expect(languageFromPath('lib/x.rs')).toBe('rust');
  });

  it('is null without a path, an extension or a known one', () => {
    expect(languageFromPath(null)).toBeNull();
    expect(languageFromPath('Makefile')).toBeNull();
    expect(languageFromPath('a.md.bak')).toBeNull();
    expect(languageFromPath('a.')).toBeNull();
  });
});
