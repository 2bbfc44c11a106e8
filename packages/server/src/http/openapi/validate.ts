// Checks a request against its schema (requests.ts) and answers a refusal in the product's error
// shape: {"error": {"code", "message", "field"}}, status 400, with the codes the store's own checks
// use for the same fault (missing_field, invalid_type, invalid_value, empty_query,
// query_too_long, too_many_patterns, pattern_too_long), so a client sees the same answer
// whichever check refused first.

import type { z } from '@hono/zod-openapi';
import { ApiError } from '../public/errors.ts';

type Issue = z.core.$ZodIssue;

/** `a.b[0].c` from an issue path; `root` when the fault is the value itself. */
export function fieldOf(path: readonly PropertyKey[], root: string): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out === '' ? root : out;
}

/** The name of the last named field of a path (`include_patterns` for include_patterns[3]). */
function lastName(path: readonly PropertyKey[]): string {
  for (let i = path.length - 1; i >= 0; i--) {
    const seg = path[i];
    if (typeof seg === 'string') return seg;
  }
  return '';
}

const query_fields = new Set(['query', 'q']);
const pattern_fields = new Set(['include_patterns', 'exclude_patterns']);

function describeType(expected: string): string {
  switch (expected) {
    case 'record':
    case 'object':
      return 'a JSON object';
    case 'array':
      return 'an array';
    case 'int':
      return 'an integer';
    default:
      return `a ${expected}`;
  }
}

/** The first issue as the API's error: code, message and field. */
export function issueError(issue: Issue, root: string): ApiError {
  const name = lastName(issue.path);
  const inArray = typeof issue.path[issue.path.length - 1] === 'number';
  // An array's element fault is named by the array, as the store names it (vector, include_patterns).
  const arrayField = fieldOf(inArray ? issue.path.slice(0, -1) : issue.path, root);
  const field = fieldOf(issue.path, root);
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined || (issue.input === null && !inArray)) return new ApiError(400, 'missing_field', `${field} is required`, field);
      if (pattern_fields.has(name)) return new ApiError(400, 'invalid_type', `${arrayField} must be an array of non-empty glob strings`, arrayField);
      if (inArray) return new ApiError(400, 'invalid_type', `${arrayField} must be an array of ${issue.expected}s`, arrayField);
      return new ApiError(400, 'invalid_type', `${field} must be ${describeType(issue.expected)}`, field);
    }
    case 'too_big': {
      const size = typeof issue.input === 'string' || Array.isArray(issue.input) ? issue.input.length : undefined;
      if (query_fields.has(name) && issue.origin === 'string') {
        return new ApiError(400, 'query_too_long', `${field} has ${size} characters; server.query_chars_max is ${String(issue.maximum)}`, field);
      }
      if (pattern_fields.has(name) && issue.origin === 'array') {
        return new ApiError(400, 'too_many_patterns', `${field} has ${size} patterns; server.patterns_max is ${String(issue.maximum)}`, field);
      }
      if (pattern_fields.has(name) && issue.origin === 'string') {
        return new ApiError(400, 'pattern_too_long', `${field} has ${size} characters; server.pattern_chars_max is ${String(issue.maximum)}`, field);
      }
      const unit = issue.origin === 'string' ? 'characters' : issue.origin === 'array' ? 'items' : '';
      return new ApiError(400, 'invalid_value', `${field} must have at most ${String(issue.maximum)} ${unit}`.trim(), field);
    }
    case 'too_small': {
      if (query_fields.has(name)) return new ApiError(400, 'empty_query', `${field} must not be empty`, field);
      if (pattern_fields.has(name)) return new ApiError(400, 'invalid_type', `${arrayField} must be an array of non-empty glob strings`, arrayField);
      if (issue.origin === 'string' || issue.origin === 'array') return new ApiError(400, 'invalid_value', `${field} must not be empty`, field);
      return new ApiError(400, 'invalid_value', `${field} must be at least ${String(issue.minimum)}`, field);
    }
    case 'invalid_format':
      if (query_fields.has(name)) return new ApiError(400, 'empty_query', `${field} must not be empty`, field);
      return new ApiError(400, 'invalid_value', `${field} is malformed`, field);
    case 'invalid_union':
      // The only unions in requests are counts.
      return new ApiError(400, 'invalid_value', `${field} must be a positive integer`, field);
    case 'invalid_value':
      return new ApiError(400, 'invalid_value', `${field} must be one of ${issue.values.map(String).join(', ')}`, field);
    default:
      return new ApiError(400, 'invalid_value', `${field}: ${issue.message}`, field);
  }
}

/**
 * `value` checked against `schema`; a refusal throws the first fault as an ApiError (400).
 * `root` names the value itself in the error (`body`, or a parameter's name).
 */
export function checkRequest<T>(schema: z.ZodType<T>, value: unknown, root = 'body'): T {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) throw new Error('invariant: a failed parse names an issue');
  throw issueError(issue, root);
}
