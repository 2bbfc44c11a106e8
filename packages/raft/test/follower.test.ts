import { describe, expect, it } from 'vitest';
import { ENTRY_COMMAND, ENTRY_LEADER, MemoryLog, applyBound, compactionPoint, decideAppend, decideSnapshot, designationPayload, leaderRefusal, makeEntry, validateAppend } from '../src/index.ts';
import type { AppendDecision, Entry, FollowerView } from '../src/index.ts';
import { entries, logOf, request } from './helpers.ts';

function view(log: MemoryLog, current_term = 1, commit_index = 0): FollowerView {
  return { log, current_term, claimed_term: current_term, commit_index, leader_id: 'leader', designated: null };
}

function accepted(d: AppendDecision): Extract<AppendDecision, { kind: 'accept' }> {
  expect(d.kind).toBe('accept');
  return d as Extract<AppendDecision, { kind: 'accept' }>;
}

/** Performs an accepted decision on the log the way the daemon would (truncate, append). */
function persist(log: MemoryLog, d: AppendDecision): void {
  const a = accepted(d);
  if (a.truncate_from !== null) log.truncateFrom(a.truncate_from);
  log.append(a.append);
}

describe('decideAppend: continuity', () => {
  it('appends to an empty log and answers the last index sent as its match', () => {
    const d = accepted(decideAppend(view(new MemoryLog()), request({ prev_index: 0, prev_term: 0, entries: entries(0, [1, 1, 1]) })));
    expect(d.truncate_from).toBeNull();
    expect(d.append.map((e) => e.index)).toEqual([1, 2, 3]);
    expect(d.response).toEqual({ success: true, term: 1, match_index: 3, last_index: 3, claimed_term: 1 });
    expect(d.claim).toBeNull();
  });

  it('rejects a gap (prev beyond its last index) with its last index, persisting nothing', () => {
    const d = decideAppend(view(logOf([1, 1])), request({ prev_index: 5, prev_term: 1, entries: entries(5, [1]) }));
    expect(d).toEqual({ kind: 'reject', claim: null, response: { success: false, term: 1, match_index: 0, last_index: 2, reason: 'gap', claimed_term: 1 } });
  });

  it('rejects a mismatch at prev with last_index just before prev, so the leader steps back', () => {
    const d = decideAppend(view(logOf([1, 1, 2]), 3), request({ term: 3, prev_index: 3, prev_term: 3, entries: entries(3, [3]) }));
    expect(d).toEqual({ kind: 'reject', claim: null, response: { success: false, term: 3, match_index: 0, last_index: 2, reason: 'mismatch', claimed_term: 3 } });
  });

  it('accepts a duplicate delivery as a no-op with the same match', () => {
    const log = new MemoryLog();
    const req = request({ prev_index: 0, prev_term: 0, entries: entries(0, [1, 1]), leader_commit: 1 });
    persist(log, decideAppend(view(log), req));
    const again = accepted(decideAppend(view(log, 1, 1), req));
    expect(again.append).toEqual([]);
    expect(again.truncate_from).toBeNull();
    expect(again.response.match_index).toBe(2);
    expect(again.commit_to).toBe(1);
  });

  it('appends only the new tail of a request that overlaps what it holds', () => {
    const d = accepted(decideAppend(view(logOf([1, 1, 1, 1, 1])), request({ prev_index: 3, prev_term: 1, entries: entries(3, [1, 1, 1, 1]) })));
    expect(d.truncate_from).toBeNull();
    expect(d.append.map((e) => e.index)).toEqual([6, 7]);
    expect(d.response.match_index).toBe(7);
  });

  it('answers an older, shorter request with the match of that request, not its last index', () => {
    // A delayed request for [2,3] after the follower already holds 1..5: match 3, last 5.
    const d = accepted(decideAppend(view(logOf([1, 1, 1, 1, 1])), request({ prev_index: 1, prev_term: 1, entries: entries(1, [1, 1]) })));
    expect(d.append).toEqual([]);
    expect(d.response.match_index).toBe(3);
    expect(d.response.last_index).toBe(5);
  });

  it('truncates a conflicting uncommitted suffix and appends the leader entries', () => {
    const log = logOf([1, 1, 2, 2]);
    const d = accepted(decideAppend(view(log, 2, 2), request({ term: 3, prev_index: 2, prev_term: 1, entries: entries(2, [3, 3]) })));
    expect(d.truncate_from).toBe(3);
    expect(d.append.map((e) => [e.index, e.term])).toEqual([
      [3, 3],
      [4, 3],
    ]);
    expect(d.term).toBe(3);
    persist(log, d);
    expect([log.termAt(3), log.termAt(4), log.lastIndex()]).toEqual([3, 3, 4]);
  });

  it('truncates at the first conflict only, keeping the matching entries before it', () => {
    const d = accepted(decideAppend(view(logOf([1, 1, 1, 2, 2]), 2), request({ term: 3, prev_index: 1, prev_term: 1, entries: entries(1, [1, 1, 3]) })));
    expect(d.truncate_from).toBe(4);
    expect(d.append.map((e) => e.index)).toEqual([4]);
    expect(d.response.match_index).toBe(4);
  });

  it('never truncates an applied entry: a conflict there is answered diverged (only a snapshot repairs it)', () => {
    const log = logOf([1, 1, 2]);
    const d = decideAppend(view(log, 3, 3), request({ term: 3, prev_index: 2, prev_term: 1, entries: entries(2, [3]) }));
    expect(d).toMatchObject({ kind: 'reject', response: { success: false, reason: 'diverged', diverged_at: 3 } });
    expect(log.lastIndex()).toBe(3);
  });

  it('takes a same-term entry with other bytes as a conflict, not as already held', () => {
    const held = logOf([1, 1, 1]);
    const other = makeEntry(3, 1, ENTRY_COMMAND, new Uint8Array([42, 42]));
    // Not applied yet: truncated and replaced by the leader's entry.
    const d = accepted(decideAppend(view(held, 1, 2), request({ prev_index: 2, prev_term: 1, entries: [other] })));
    expect(d.truncate_from).toBe(3);
    expect(d.append).toEqual([other]);
    // Applied already: diverged.
    expect(decideAppend(view(held, 1, 3), request({ prev_index: 2, prev_term: 1, entries: [other] }))).toMatchObject({ kind: 'reject', response: { reason: 'diverged', diverged_at: 3 } });
  });

  it('answers diverged when its applied entry at prev_index has another term', () => {
    const d = decideAppend(view(logOf([1, 1, 1]), 2, 3), request({ term: 2, prev_index: 3, prev_term: 2, entries: [] }));
    expect(d).toMatchObject({ kind: 'reject', response: { reason: 'diverged', diverged_at: 3 } });
  });
});

describe('decideAppend: a log that starts after a snapshot', () => {
  const snapLog = (): MemoryLog => logOf([1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2], { compactedTo: 10 });

  it('skips the prefix its snapshot covers and checks continuity at the snapshot boundary', () => {
    const log = snapLog();
    const d = accepted(decideAppend(view(log, 2, 10), request({ term: 2, prev_index: 5, prev_term: 1, entries: entries(5, [1, 2, 2, 2, 2, 2, 2, 2, 2]) })));
    expect(d.truncate_from).toBeNull();
    expect(d.append.map((e) => e.index)).toEqual([13, 14]);
    expect(d.response.match_index).toBe(14);
  });

  it('accepts a request wholly covered by its snapshot without touching the log', () => {
    const d = accepted(decideAppend(view(snapLog(), 2, 10), request({ term: 2, prev_index: 3, prev_term: 1, entries: entries(3, [1, 1, 1]), leader_commit: 12 })));
    expect(d.append).toEqual([]);
    expect(d.truncate_from).toBeNull();
    expect(d.response.match_index).toBe(6);
    expect(d.commit_to).toBe(10); // never below its own commit
  });

  it('accepts a heartbeat whose prev lies inside the snapshot', () => {
    const d = accepted(decideAppend(view(snapLog(), 2, 10), request({ term: 2, prev_index: 4, prev_term: 1, entries: [] })));
    expect(d.response.match_index).toBe(4);
    expect(d.commit_to).toBe(10);
  });

  it('rejects a term mismatch at the snapshot boundary with last_index at the snapshot', () => {
    const d = decideAppend(view(snapLog(), 2, 10), request({ term: 3, prev_index: 9, prev_term: 2, entries: entries(9, [3, 3]) }));
    expect(d.kind).toBe('reject');
    expect(d.kind === 'reject' && d.response.last_index).toBe(10);
  });
});

describe('decideAppend: commit', () => {
  it('commits up to the leader commit when it holds that much', () => {
    const d = accepted(decideAppend(view(logOf([1, 1, 1, 1])), request({ prev_index: 4, prev_term: 1, entries: [], leader_commit: 3 })));
    expect(d.commit_to).toBe(3);
  });

  it('never commits past what this request proved matching, even if the leader commit is higher', () => {
    // It holds 1..5, but this (delayed) request only proves 1..2 match the leader.
    const d = accepted(decideAppend(view(logOf([1, 1, 1, 1, 1])), request({ prev_index: 1, prev_term: 1, entries: entries(1, [1]), leader_commit: 5 })));
    expect(d.commit_to).toBe(2);
  });

  it('never moves commit back', () => {
    const d = accepted(decideAppend(view(logOf([1, 1, 1, 1]), 1, 4), request({ prev_index: 2, prev_term: 1, entries: [], leader_commit: 1 })));
    expect(d.commit_to).toBe(4);
  });

  it('persists the request term once the log proves it: an entry of that term, or prev_term', () => {
    const withEntry = accepted(decideAppend(view(logOf([1]), 1), request({ term: 4, prev_index: 1, prev_term: 1, entries: entries(1, [4]) })));
    expect(withEntry.term).toBe(4);
    const atPrev = accepted(decideAppend(view(logOf([1, 4]), 1), request({ term: 4, prev_index: 2, prev_term: 4, entries: [] })));
    expect(atPrev.term).toBe(4);
  });

  it('keeps its term for a higher-term append that carries no entry of that term (a heartbeat proves nothing)', () => {
    const d = accepted(decideAppend(view(logOf([1]), 1), request({ term: 1001, prev_index: 1, prev_term: 1, entries: [] })));
    expect(d.term).toBe(1);
    expect(d.response.term).toBe(1001);
  });

  it('refuses appends from any node but the configured leader with 409 wrong_leader', () => {
    const d = decideAppend(view(logOf([1])), request({ leader_id: 'node-9', prev_index: 1, prev_term: 1, entries: [] }));
    expect(d).toMatchObject({ kind: 'invalid', status: 409, code: 'wrong_leader' });
  });
});

describe('decideAppend: bad input is refused and nothing is persisted', () => {
  const log = (): MemoryLog => logOf([1, 1]);

  it('refuses an older term with 409', () => {
    const d = decideAppend(view(log(), 3), request({ term: 2, prev_index: 2, prev_term: 1, entries: [] }));
    expect(d).toMatchObject({ kind: 'invalid', status: 409 });
  });

  const bad: [string, () => ReturnType<typeof request>][] = [
    ['a wrong checksum', () => request({ prev_index: 2, prev_term: 1, entries: [{ ...(entries(2, [1])[0] as Entry), checksum: 1 }] })],
    [
      'a payload that does not match its checksum',
      () => {
        const e = entries(2, [1], 4)[0] as Entry;
        return request({ prev_index: 2, prev_term: 1, entries: [{ ...e, payload: new Uint8Array([9, 9, 9, 9]) }] });
      },
    ],
    ['non-contiguous indexes', () => request({ prev_index: 2, prev_term: 1, entries: [...entries(2, [1]), ...entries(4, [1])] })],
    ['a first entry not right after prev', () => request({ prev_index: 2, prev_term: 1, entries: entries(3, [1]) })],
    ['an entry term above the request term', () => request({ term: 1, prev_index: 2, prev_term: 1, entries: entries(2, [2]) })],
    ['entry terms going down', () => request({ term: 3, prev_index: 2, prev_term: 1, entries: entries(2, [3, 2]) })],
    ['an entry term below prev_term', () => request({ term: 3, prev_index: 2, prev_term: 2, entries: entries(2, [1]) })],
    ['prev_term above the request term', () => request({ term: 1, prev_index: 2, prev_term: 2, entries: [] })],
    ['a missing payload', () => request({ prev_index: 2, prev_term: 1, entries: [{ ...(entries(2, [1])[0] as Entry), payload: undefined as unknown as Uint8Array }] })],
    ['a payload that is not bytes', () => request({ prev_index: 2, prev_term: 1, entries: [{ ...(entries(2, [1])[0] as Entry), payload: [3] as unknown as Uint8Array }] })],
    ['a missing type', () => request({ prev_index: 2, prev_term: 1, entries: [{ ...(entries(2, [1])[0] as Entry), type: undefined as unknown as number }] })],
    ['an entry that is not an object', () => request({ prev_index: 2, prev_term: 1, entries: [null as unknown as Entry] })],
    ['entries that are not an array', () => request({ prev_index: 2, prev_term: 1, entries: {} as unknown as Entry[] })],
    ['term 0', () => request({ term: 0, prev_index: 0, prev_term: 0, entries: [] })],
    ['a fractional term', () => request({ term: 1.5, prev_index: 2, prev_term: 1, entries: [] })],
    ['a negative prev_index', () => request({ prev_index: -1, prev_term: 0, entries: [] })],
    ['a term for index 0 (which has none)', () => request({ prev_index: 0, prev_term: 1, entries: entries(0, [1]) })],
    ['a negative leader_commit', () => request({ prev_index: 2, prev_term: 1, entries: [], leader_commit: -1 })],
    ['an unsafe integer index', () => request({ prev_index: 2 ** 60, prev_term: 1, entries: [] })],
  ];

  for (const [what, make] of bad) {
    it(`answers 400 for ${what}`, () => {
      const req = make();
      expect(validateAppend(req)).not.toBeNull();
      const d = decideAppend(view(log()), req);
      expect(d).toMatchObject({ kind: 'invalid', status: 400 });
    });
  }

  it('checks shape before term: a malformed request from an old term is a 400, not a 409', () => {
    const d = decideAppend(view(log(), 5), request({ term: 2, prev_index: 2, prev_term: 1, entries: [{ ...(entries(2, [1])[0] as Entry), checksum: 0 }] }));
    expect(d).toMatchObject({ kind: 'invalid', status: 400 });
  });

  it('accepts an intact entry built by makeEntry (the checksum covers index, term, type, payload)', () => {
    const e = makeEntry(3, 1, 0, new Uint8Array(0));
    expect(validateAppend(request({ prev_index: 2, prev_term: 1, entries: [e] }))).toBeNull();
    expect(validateAppend(request({ prev_index: 2, prev_term: 1, entries: [{ ...e, type: 1 }] }))).toMatch(/checksum/);
  });
});

describe('decideSnapshot', () => {
  const offer = (over: Partial<Parameters<typeof decideSnapshot>[1]> = {}): Parameters<typeof decideSnapshot>[1] => ({ index: 5, term: 1, leader_term: 2, repair: false, ...over });

  it('refuses a snapshot from an older term', () => {
    expect(decideSnapshot(view(logOf([1, 1]), 3, 2), offer({ leader_term: 2 }))).toMatchObject({ kind: 'refuse', status: 409, code: 'stale_term' });
  });

  it('ignores a snapshot older than the applied state (a delayed transfer would move it back)', () => {
    expect(decideSnapshot(view(logOf(new Array<number>(8).fill(1)), 2, 8), offer({ index: 5 }))).toMatchObject({ kind: 'ignore' });
  });

  it('ignores one at its applied index when the log matches there', () => {
    expect(decideSnapshot(view(logOf([1, 1, 1, 1, 1]), 2, 5), offer({ index: 5 }))).toMatchObject({ kind: 'ignore' });
  });

  it('keeps the log after the snapshot index when it holds that index with the same term, and its commit', () => {
    expect(decideSnapshot(view(logOf([1, 1, 1, 1, 1, 1, 1]), 2, 2), offer({ index: 5 }), 6)).toEqual({ kind: 'install', keep_log: true, commit_to: 6 });
  });

  it('resets the log when it does not hold the snapshot index, or holds it with another term', () => {
    expect(decideSnapshot(view(logOf([1, 1]), 2, 2), offer({ index: 5 }))).toEqual({ kind: 'install', keep_log: false, commit_to: 5 });
    expect(decideSnapshot(view(logOf([1, 1, 1, 1, 2, 2]), 2, 2), offer({ index: 5, term: 1 }))).toEqual({ kind: 'install', keep_log: false, commit_to: 5 });
  });

  it('ignores a late or repeated copy of a snapshot it installed, a repair included (it would move the state back past a later install)', () => {
    expect(decideSnapshot(view(logOf(new Array<number>(8).fill(1)), 2, 8), offer({ index: 5, repair: true, installed_before: true }), 8)).toMatchObject({ kind: 'ignore' });
    expect(decideSnapshot(view(logOf([1, 1]), 2, 2), offer({ index: 5, installed_before: true }))).toMatchObject({ kind: 'ignore' });
    expect(decideSnapshot(view(logOf([1, 1]), 2, 2), offer({ index: 5, installed_before: false }))).toMatchObject({ kind: 'install' });
  });

  it('installs a repair whatever its index; keeps the matching log after it but commits only the snapshot index', () => {
    expect(decideSnapshot(view(logOf(new Array<number>(8).fill(1)), 2, 8), offer({ index: 5, repair: true }), 8)).toEqual({ kind: 'install', keep_log: true, commit_to: 5 });
  });
});

describe('applyBound and compactionPoint', () => {
  it('applies only what is committed and durable', () => {
    expect(applyBound(10, 7)).toBe(7);
    expect(applyBound(5, 7)).toBe(5);
  });

  it('compacts only applied entries, keeps retain entries, and on the leader what a follower needs', () => {
    expect(compactionPoint({ applied: 50, last: 100, retain: 10 })).toBe(50);
    expect(compactionPoint({ applied: 100, last: 100, retain: 10 })).toBe(90);
    expect(compactionPoint({ applied: 100, last: 100, retain: 0, needed: 40 })).toBe(39);
  });
});

describe('decideAppend: a leader that took over', () => {
  const designation = (prev: number, term: number, id: string): Entry => makeEntry(prev + 1, term, ENTRY_LEADER, designationPayload(id));

  it('refuses another node in the terms it has seen, or without a designation, and takes the designated one in a newer term', () => {
    const v = view(logOf([1, 1, 2]), 2);
    expect(decideAppend(v, request({ term: 2, leader_id: 'other', prev_index: 3, prev_term: 2, entries: [] }))).toMatchObject({ kind: 'invalid', status: 409, code: 'wrong_leader' });
    expect(leaderRefusal(v, 'leader', 2)).toBeNull();
    expect(leaderRefusal(v, 'other', 2)).toContain('the leader leader');
    expect(leaderRefusal(v, 'other', 3)).toContain('not designated');
    expect(decideAppend(v, request({ term: 3, leader_id: 'other', prev_index: 3, prev_term: 2, entries: entries(3, [3]) }))).toMatchObject({ kind: 'invalid', code: 'wrong_leader' });
    expect(leaderRefusal({ ...v, designated: 'other' }, 'other', 3)).toBeNull();
    expect(leaderRefusal({ ...v, designated: 'third' }, 'other', 3)).toContain('names third');
    expect(leaderRefusal(v, 'other', 3, [designation(3, 2, 'other')])).toBeNull();
  });

  it('records a designation it appends, and the new leader only with the newer term its entries prove', () => {
    const log = logOf([1, 1, 2]);
    const d = accepted(decideAppend(view(log, 2), request({ term: 2, prev_index: 3, prev_term: 2, entries: [designation(3, 2, 'other')] })));
    expect(d.designate).toBe('other');
    expect(d.leader).toBeNull();
    persist(log, d);
    const designated = { ...view(log, 2), designated: 'other' };
    // A probe of the new leader: its term is not proven by anything the follower holds.
    const probe = accepted(decideAppend(designated, request({ term: 3, leader_id: 'other', prev_index: 4, prev_term: 2, entries: [] })));
    expect(probe.leader).toBeNull();
    expect(probe.term).toBe(2);
    // Its first entry (the NOOP of its term) proves the term: the leader changes with it.
    const first = accepted(decideAppend(designated, request({ term: 3, leader_id: 'other', prev_index: 4, prev_term: 2, entries: entries(4, [3]) })));
    expect(first.leader).toBe('other');
    expect(first.term).toBe(3);
    expect(first.designate).toBeNull();
  });
});
