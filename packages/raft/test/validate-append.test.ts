// validateAppend names what is wrong with an append request: the follower answers 400 with that
// message, and the operator reading a refused append in a log has nothing else to go on. Each
// field's check, with the message it gives, and the edges that are still valid.
import { describe, expect, it } from 'vitest';
import { ENTRY_COMMAND, makeEntry, validateAppend } from '../src/index.ts';
import type { AppendRequest, Entry } from '../src/index.ts';
import { entries, request } from './helpers.ts';

function withEntry(over: Partial<Entry> | null, base: Partial<AppendRequest> = {}): AppendRequest {
  const e = over === null ? (null as unknown as Entry) : { ...makeEntry(1, 1, ENTRY_COMMAND, new Uint8Array([1])), ...over };
  return request({ prev_index: 0, prev_term: 0, entries: [e], ...base });
}

describe('validateAppend', () => {
  it('takes a well-formed request, empty or not, at the start of the log or after it', () => {
    expect(validateAppend(request({ prev_index: 0, prev_term: 0, entries: [] }))).toBeNull();
    expect(validateAppend(request({ prev_index: 0, prev_term: 0, entries: entries(0, [1, 1]) }))).toBeNull();
    expect(validateAppend(request({ term: 3, prev_index: 5, prev_term: 2, entries: entries(5, [2, 3]), leader_commit: 6 }))).toBeNull();
    expect(validateAppend(request({ term: 2, prev_index: 5, prev_term: 0, entries: [] }))).toBeNull();
  });

  it.each<[string, Partial<AppendRequest>, string]>([
    ['term 0', { term: 0 }, 'term must be a positive integer'],
    ['a fractional term', { term: 1.5 }, 'term must be a positive integer'],
    ['a negative prev_index', { prev_index: -1 }, 'prev_index must be a non-negative integer'],
    ['a fractional prev_index', { prev_index: 0.5 }, 'prev_index must be a non-negative integer'],
    ['a negative prev_term', { prev_index: 3, prev_term: -1 }, 'prev_term must be a non-negative integer'],
    ['a fractional prev_term', { prev_index: 3, prev_term: 0.5 }, 'prev_term must be a non-negative integer'],
    ['a negative leader_commit', { leader_commit: -1 }, 'leader_commit must be a non-negative integer'],
    ['an unsafe leader_commit', { leader_commit: 2 ** 53 }, 'leader_commit must be a non-negative integer'],
    ['prev_term above term', { term: 2, prev_index: 4, prev_term: 3 }, 'prev_term is newer than term'],
    ['a prev_term at prev_index 0', { prev_index: 0, prev_term: 1 }, 'prev_term must be 0 at prev_index 0'],
    ['entries that are not an array', { entries: 'x' as unknown as Entry[] }, 'entries must be an array'],
  ])('refuses %s', (_what, over, message) => {
    expect(validateAppend(request({ prev_index: 0, prev_term: 0, entries: [], ...over }))).toBe(message);
  });

  it.each<[string, AppendRequest, string]>([
    ['an entry that is null', withEntry(null), 'entry is not an object'],
    ['an entry that is a number', request({ prev_index: 0, prev_term: 0, entries: [7 as unknown as Entry] }), 'entry is not an object'],
    ['an entry at the wrong index', withEntry({ index: 2 }), 'entry index 2 where 1 was expected'],
    ['an entry term above the request term', withEntry({ term: 2 }), 'entry 1 has an impossible term'],
    ['an entry term below prev_term', request({ term: 3, prev_index: 4, prev_term: 2, entries: entries(4, [1]) }), 'entry 5 has an impossible term'],
    ['an entry with no type', withEntry({ type: undefined as unknown as number }), 'entry 1 has no type'],
    ['an entry whose payload is not bytes', withEntry({ payload: [1] as unknown as Uint8Array }), 'entry 1 payload is not bytes'],
    ['an entry whose checksum does not match', withEntry({ checksum: 12345 }), 'entry 1 checksum mismatch'],
  ])('refuses %s', (_what, req, message) => {
    expect(validateAppend(req)).toBe(message);
  });

  it('checks every entry, not only the first', () => {
    const [a, b] = entries(0, [1, 1]) as [Entry, Entry];
    expect(validateAppend(request({ prev_index: 0, prev_term: 0, entries: [a, { ...b, checksum: b.checksum ^ 1 }] }))).toBe('entry 2 checksum mismatch');
    expect(validateAppend(request({ prev_index: 0, prev_term: 0, entries: [a, { ...b, index: 3 }] }))).toBe('entry index 3 where 2 was expected');
  });
});
