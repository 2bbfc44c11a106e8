// Document ids and paths of ingested files.
//
// A file's document path is its path relative to the ingested root (with "/" separators, after an
// optional --prefix). Its id is that path whenever the path is a valid id (ids may hold "/": URLs
// address them as %2F), so ids read like paths and round-trip. A path that is not a valid id (over
// document_id_chars_max characters, or with surrounding spaces) gets a derived id instead: the
// path's head, "~", and 32 hex digits of the sha256 of the whole path. Both rules are functions
// of the path alone, so every run gives a file the same id.

import { createHash } from 'node:crypto';
import { document_id_chars_max, invalidTextOffset, isValidDocumentId, path_chars_max } from '../store/validate.ts';

export const derived_id_hash_hex_chars = 32;

export function documentId(path: string): string {
  if (isValidDocumentId(path)) return path;
  const hash = createHash('sha256').update(path, 'utf8').digest('hex').slice(0, derived_id_hash_hex_chars);
  const room = document_id_chars_max - 1 - derived_id_hash_hex_chars;
  // Whole code points only: cutting a surrogate pair would leave invalid text.
  let head = '';
  for (const ch of path.trim()) {
    if (head.length + ch.length > room) break;
    head += ch;
  }
  head = head.trimEnd();
  const id = `${head}~${hash}`;
  if (!isValidDocumentId(id)) throw new Error(`invariant: derived id ${JSON.stringify(id)} of ${JSON.stringify(path)} is not a valid id`);
  return id;
}

/** Why the server would refuse `path` as a document path, or null when it takes it. */
export function pathProblem(path: string): string | null {
  if (path.length > path_chars_max) return `its path is longer than ${path_chars_max} characters`;
  if (/[\u0000-\u001f\u007f]/.test(path)) return 'its path contains control characters';
  if (invalidTextOffset(path) >= 0) return 'its path is not valid Unicode text';
  return null;
}
