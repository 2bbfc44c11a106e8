import { describe, expect, it } from 'vitest';
import { InputError } from './errors.ts';
import { canonicalJson, invalidTextOffset, parseDocumentInput } from './validate.ts';
import type { DocumentLimits } from './validate.ts';

const limits: DocumentLimits = { document_bytes_max: 100, metadata_bytes_max: 64, metadata_depth_max: 4 };

function refusal(raw: unknown, l: DocumentLimits = limits, prefix = ''): InputError {
  try {
    parseDocumentInput(raw, prefix, l);
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('expected an InputError');
}

function nested(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < depth; i++) v = { a: v };
  return v;
}

/** The recursive definition canonicalJson replaced, for comparison on shallow values. */
function canonicalRecursive(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalRecursive).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonicalRecursive(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

describe('invalidTextOffset', () => {
  it('finds unpaired surrogates and U+FFFE/U+FFFF, and passes pairs', () => {
    expect(invalidTextOffset('plain ascii')).toBe(-1);
    expect(invalidTextOffset('emoji \u{1F600} ok')).toBe(-1);
    expect(invalidTextOffset('ab\ud800')).toBe(2);
    expect(invalidTextOffset('\udc00x')).toBe(0);
    expect(invalidTextOffset('x\ud800\ud800\udc00')).toBe(1);
    expect(invalidTextOffset('\u{1F600}\ufffe')).toBe(2);
    expect(invalidTextOffset('\uffff')).toBe(0);
  });
});

describe('parseDocumentInput', () => {
  it.each([
    ['content', { content: 'ok \ud800 then' }, 'content', 3],
    ['id', { id: 'a\udfff', content: 'x' }, 'id', 1],
    ['path', { path: '\ud800.md', content: 'x' }, 'path', 0],
    ['language', { language: 'ts\uffff', content: 'x' }, 'language', 2],
    ['a metadata value', { content: 'x', metadata: { tags: ['ok', 'b\ud801'] } }, 'metadata.tags[1]', 1],
    ['a metadata key', { content: 'x', metadata: { ['k\udc00']: 1 } }, 'metadata["k\\udc00"] (key)', 1],
  ])('refuses a lone surrogate or noncharacter in %s with invalid_text naming the field and offset', (_what, raw, field, offset) => {
    const err = refusal(raw);
    expect(err.code).toBe('invalid_text');
    expect(err.status).toBe(400);
    expect(err.field).toBe(field);
    expect(err.message).toContain(`offset ${offset}`);
  });

  it('names the bulk position of a bad field', () => {
    expect(refusal({ content: 'x\ud800' }, limits, '[3].').field).toBe('[3].content');
  });

  it.each(['.', '..'])('refuses the id %j, which no URL path can address', (id) => {
    const err = refusal({ id, content: 'x' });
    expect(err.code).toBe('invalid_value');
    expect(err.field).toBe('id');
  });

  it('accepts ids with dots that are not dot segments', () => {
    expect(parseDocumentInput({ id: '...', content: 'x' }, '', limits).id).toBe('...');
    expect(parseDocumentInput({ id: '.env', content: 'x' }, '', limits).id).toBe('.env');
  });

  it('refuses content over document_bytes_max with 413 document_too_large naming the key and value', () => {
    const err = refusal({ content: 'é'.repeat(51) }); // 102 bytes, 51 characters
    expect(err.code).toBe('document_too_large');
    expect(err.status).toBe(413);
    expect(err.message).toContain('document_bytes_max (100');
    expect(parseDocumentInput({ content: 'é'.repeat(50) }, '', limits).content).toHaveLength(50);
  });

  it('refuses metadata deeper than metadata_depth_max with 400 metadata_too_deep', () => {
    expect(parseDocumentInput({ content: 'x', metadata: nested(4) }, '', limits).metadata).toBe('{"a":{"a":{"a":{}}}}');
    const err = refusal({ content: 'x', metadata: nested(5) });
    expect(err.code).toBe('metadata_too_deep');
    expect(err.status).toBe(400);
    expect(err.field).toBe('metadata');
    expect(err.message).toContain('metadata_depth_max (4');
    expect(refusal({ content: 'x', metadata: { a: [[[[1]]]] } }).code).toBe('metadata_too_deep');
  });

  it('refuses metadata nested 100,000 deep without overflowing the stack', () => {
    expect(refusal({ content: 'x', metadata: nested(100_000) }, { ...limits, metadata_depth_max: 1_000 }).code).toBe('metadata_too_deep');
  });

  it('refuses canonical metadata over metadata_bytes_max with 413 metadata_too_large', () => {
    const err = refusal({ content: 'x', metadata: { k: 'v'.repeat(60) } });
    expect(err.code).toBe('metadata_too_large');
    expect(err.status).toBe(413);
    expect(err.message).toContain('metadata_bytes_max (64');
  });

  it('uses the config defaults when no limits are given', () => {
    expect(() => parseDocumentInput({ content: 'x', metadata: nested(32) })).not.toThrow();
    expect(() => parseDocumentInput({ content: 'x', metadata: nested(33) })).toThrow(/metadata_depth_max \(32/);
  });
});

describe('canonicalJson', () => {
  it('equals the recursive definition', () => {
    const values: unknown[] = [
      null, 1, 'a"b', true, [], {}, [1, [2, [3]], { b: 1, a: 2 }], { z: { y: [null, 'x', { d: undefined, c: 1 }] }, a: [] },
      { u: undefined }, [undefined, 1], { 'k\u{1F600}': 'é' },
    ];
    for (const v of values) expect(canonicalJson(v)).toBe(canonicalRecursive(v));
  });

  it('serializes 50,000 levels of nesting without a stack overflow', () => {
    const text = canonicalJson(nested(50_000));
    expect(text.length).toBe(50_000 * 6 - 4);
  });
});
