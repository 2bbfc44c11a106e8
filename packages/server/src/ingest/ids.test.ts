import { describe, expect, it } from 'vitest';
import { document_id_chars_max, isValidDocumentId } from '../store/validate.ts';
import { documentId, pathProblem } from './ids.ts';

describe('documentId', () => {
  it('is the path itself when the path is a valid id, "/" included', () => {
    expect(documentId('docs/guide/intro.md')).toBe('docs/guide/intro.md');
    expect(documentId('a'.repeat(document_id_chars_max))).toBe('a'.repeat(document_id_chars_max));
  });

  it('derives a stable id of the path head and its hash for a path too long to be an id', () => {
    const path = `${'segment/'.repeat(40)}file.md`;
    const id = documentId(path);
    expect(id).toBe(documentId(path));
    expect(id.length).toBeLessThanOrEqual(document_id_chars_max);
    expect(isValidDocumentId(id)).toBe(true);
    expect(id).toMatch(/^segment\/segment\/.*~[0-9a-f]{32}$/);
    expect(documentId(`${path}x`)).not.toBe(id);
  });

  it('never cuts a surrogate pair and drops surrounding spaces', () => {
    const path = `${'😀'.repeat(200)}.md`;
    const id = documentId(path);
    expect(isValidDocumentId(id)).toBe(true);
    expect(documentId(' notes.md ')).toMatch(/^notes\.md~[0-9a-f]{32}$/);
  });
});

describe('pathProblem', () => {
  it('names what the store would refuse in a path', () => {
    expect(pathProblem('docs/a.md')).toBeNull();
    expect(pathProblem('x'.repeat(1025))).toMatch(/longer than 1024/);
    expect(pathProblem('a\nb')).toMatch(/control characters/);
  });
});
