// Availability per fault kind, from the writes of the fresh-id workload: of the writes started
// while a fault lasted, how many were acknowledged; and the time from the heal (or the restart)
// to the first acknowledged write started after it, through nginx, directly to the leader, and
// through a follower (which forwards to the leader).

import type { FaultRecord } from './faults.ts';
import type { WriteOp } from './history.ts';

export interface AvailabilityRow {
  kind: string;
  /** Faults of this kind that were injected. */
  faults: number;
  ok: Record<Way, { attempted: number; ok: number }>;
  /** ms from heal to the first acknowledged write started after it: median and worst over the faults. */
  recovery_ms: Record<Way, { median: number | null; max: number | null }>;
}

export const WAYS = ['nginx', 'leader', 'follower'] as const;
export type Way = (typeof WAYS)[number];

function way(w: WriteOp): Way {
  return w.via === 'nginx' ? 'nginx' : w.via === (w.leader_at_start ?? 'node-1') ? 'leader' : 'follower';
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
}

/** The first acknowledged write started at or after `from` (ms), as ms after `from`; null if none. */
function firstAck(writes: readonly WriteOp[], from: number): number | null {
  let best: number | null = null;
  for (const w of writes) {
    if (w.outcome !== 'ok' || w.started_ms < from) continue;
    const after = w.ended_ms - from;
    if (best === null || after < best) best = after;
  }
  return best;
}

export function availability(faults: readonly FaultRecord[], writes: readonly WriteOp[]): AvailabilityRow[] {
  const byWay = Object.fromEntries(WAYS.map((x) => [x, writes.filter((w) => way(w) === x)])) as Record<Way, WriteOp[]>;
  const rows = new Map<string, { row: AvailabilityRow; rec: Record<Way, number[]> }>();
  for (const f of faults) {
    if (f.skipped !== undefined) continue;
    let entry = rows.get(f.kind);
    if (entry === undefined) {
      entry = {
        row: {
          kind: f.kind, faults: 0,
          ok: Object.fromEntries(WAYS.map((x) => [x, { attempted: 0, ok: 0 }])) as AvailabilityRow['ok'],
          recovery_ms: Object.fromEntries(WAYS.map((x) => [x, { median: null, max: null }])) as AvailabilityRow['recovery_ms'],
        },
        rec: { nginx: [], leader: [], follower: [] },
      };
      rows.set(f.kind, entry);
    }
    entry.row.faults++;
    const end = f.started_ms + f.held_ms;
    for (const x of WAYS) {
      const tally = entry.row.ok[x];
      for (const w of byWay[x]) {
        if (w.started_ms < f.started_ms || w.started_ms > end) continue;
        tally.attempted++;
        if (w.outcome === 'ok') tally.ok++;
      }
      const first = firstAck(byWay[x], end);
      if (first !== null) entry.rec[x].push(first);
    }
  }
  return [...rows.values()].map(({ row, rec }) => {
    for (const x of WAYS) row.recovery_ms[x] = { median: median(rec[x]), max: rec[x].length === 0 ? null : Math.max(...rec[x]) };
    return row;
  });
}

export function availabilityText(rows: readonly AvailabilityRow[]): string[] {
  const pct = (t: { attempted: number; ok: number }): string => (t.attempted === 0 ? '-' : `${t.ok}/${t.attempted} ${Math.round((100 * t.ok) / t.attempted)}%`);
  const ms = (x: { median: number | null; max: number | null }): string => (x.median === null ? '-' : `${x.median}/${x.max}`);
  const head = `${'fault'.padEnd(24)} ${'n'.padStart(3)}  ${WAYS.map((x) => `ok during, ${x}`.padEnd(22)).join(' ')} ${WAYS.map((x) => `heal->ack ${x}`.padEnd(20)).join(' ')}`;
  const lines = rows.map((r) => `${r.kind.padEnd(24)} ${String(r.faults).padStart(3)}  ${WAYS.map((x) => pct(r.ok[x]).padEnd(22)).join(' ')} ${WAYS.map((x) => ms(r.recovery_ms[x]).padEnd(20)).join(' ')}`);
  return [head, ...lines, '(heal->ack: ms from the end of the fault to the first acknowledged write started after it, median/max over the faults)'];
}
