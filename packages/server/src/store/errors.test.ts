import { describe, expect, it } from 'vitest';
import { InputError } from './errors.ts';

describe('InputError', () => {
  it('is an Error named InputError carrying its code, message and field', () => {
    const e = new InputError('invalid_value', 'mode must be one of fts, vector', 'mode');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('InputError');
    expect(String(e)).toBe('InputError: mode must be one of fts, vector');
    expect([e.code, e.message, e.field]).toEqual(['invalid_value', 'mode must be one of fts, vector', 'mode']);
  });

  it('answers 413 for the too-large codes, 404 for not_found and 400 for the rest', () => {
    expect(new InputError('too_large', 'm').status).toBe(413);
    expect(new InputError('document_too_large', 'm').status).toBe(413);
    expect(new InputError('metadata_too_large', 'm').status).toBe(413);
    expect(new InputError('not_found', 'm').status).toBe(404);
    for (const code of ['invalid_json', 'invalid_value', 'missing_field', 'metadata_too_deep', 'query_too_long', 'too_many_patterns'] as const) {
      expect(new InputError(code, 'm').status, code).toBe(400);
    }
  });

  it('answers the status it was given over the code\'s own', () => {
    expect(new InputError('invalid_value', 'm', 'f', 422).status).toBe(422);
    expect(new InputError('not_found', 'm', undefined, 400).status).toBe(400);
  });

  it('serializes as {code, message}, with field only when it has one', () => {
    const plain = new InputError('empty_query', 'query is empty');
    expect(plain.toJSON()).toStrictEqual({ code: 'empty_query', message: 'query is empty' });
    expect(JSON.stringify({ error: plain })).toBe('{"error":{"code":"empty_query","message":"query is empty"}}');
    const withField = new InputError('missing_field', 'content is required', 'content');
    expect(withField.toJSON()).toStrictEqual({ code: 'missing_field', message: 'content is required', field: 'content' });
  });
});
