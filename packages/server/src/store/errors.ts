// Typed input errors. `prepare*` and the read helpers throw these for anything a client got
// wrong; the HTTP layer turns them into 4xx JSON `{error: {code, message, field?}}`.

export type InputErrorCode =
  | 'invalid_json'
  | 'invalid_type'
  | 'invalid_value'
  | 'missing_field'
  | 'too_large'
  | 'document_too_large'
  | 'metadata_too_large'
  | 'metadata_too_deep'
  | 'invalid_text'
  | 'dimension_mismatch'
  | 'empty_query'
  | 'invalid_workspace'
  | 'invalid_cursor'
  | 'not_found'
  | 'invalid_pattern'
  | 'too_many_patterns'
  | 'pattern_too_long'
  | 'query_too_long';

const too_large_codes: ReadonlySet<InputErrorCode> = new Set(['too_large', 'document_too_large', 'metadata_too_large']);

export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    readonly code: InputErrorCode,
    message: string,
    readonly field?: string,
    /** HTTP status the public API answers with. */
    readonly status: 400 | 404 | 413 | 422 = too_large_codes.has(code) ? 413 : code === 'not_found' ? 404 : 400,
  ) {
    super(message);
  }

  toJSON(): { code: string; message: string; field?: string } {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}
