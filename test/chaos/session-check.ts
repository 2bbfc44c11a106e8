// Checks the follower reads of a history (gets with consistency "session" or "none"), which the
// linearizability check leaves out. See HISTORY.md for what each level promises. Pure.

import type { HistoryOp } from './history-format.ts';

export type SessionViolationKind = 'never_written' | 'stale' | 'monotonic';

export interface SessionReport {
  /** Follower reads that answered, by level. */
  checked: { session: number; none: number };
  counts: Record<SessionViolationKind, number>;
  /** The first `violations_shown_max` violations, readable. */
  violations: string[];
}

export const violations_shown_max = 20;

function effective(w: HistoryOp): boolean {
  return w.outcome === 'ok' && (w.f === 'put' || w.applied === true);
}

function show(op: HistoryOp): string {
  const what = op.f === 'get' ? `get -> ${JSON.stringify(op.value)}` : op.f === 'delete' ? 'delete' : `${op.f} ${JSON.stringify(op.value)}`;
  const at = op.index === undefined ? '' : op.f === 'get' ? ` (node had applied ${op.index})` : ` at index ${op.index}`;
  return `process ${op.process} ${what}${at} (line ${op.call_line})`;
}

function push<T>(m: Map<string, T[]>, key: string, item: T): void {
  const list = m.get(key);
  if (list) list.push(item);
  else m.set(key, [item]);
}

export function checkSessions(ops: HistoryOp[]): SessionReport {
  const report: SessionReport = { checked: { session: 0, none: 0 }, counts: { never_written: 0, stale: 0, monotonic: 0 }, violations: [] };
  const flag = (kind: SessionViolationKind, text: string): void => {
    report.counts[kind]++;
    if (report.violations.length < violations_shown_max) report.violations.push(`${kind}: ${text}`);
  };
  // Per key: the writer of each value (values are unique per write) and the writes with an index.
  const writers = new Map<string, Map<string, HistoryOp>>();
  const indexed = new Map<string, HistoryOp[]>();
  const unknownDeletes = new Map<string, HistoryOp[]>();
  for (const op of ops) {
    if (op.f === 'get' || op.outcome === 'fail') continue;
    if (op.f !== 'delete' && op.value !== null) {
      const byValue = writers.get(op.key) ?? new Map<string, HistoryOp>();
      writers.set(op.key, byValue);
      if (byValue.has(op.value)) throw new Error(`line ${op.call_line}: value ${JSON.stringify(op.value)} is written twice to ${op.key}`);
      byValue.set(op.value, op);
    }
    if (effective(op) && op.index !== undefined) push(indexed, op.key, op);
    if (op.f === 'delete' && (op.outcome === 'unknown' || (op.applied === true && op.index === undefined))) push(unknownDeletes, op.key, op);
  }
  // The highest writer index each process has read per key, from its completed session reads.
  const seen = new Map<string, { index: number; read: HistoryOp }>();
  const reads = ops.filter((op) => op.f === 'get' && op.outcome === 'ok' && op.consistency !== 'linearizable').sort((a, b) => a.call - b.call);
  for (const r of reads) {
    const session = r.consistency === 'session';
    report.checked[session ? 'session' : 'none']++;
    const where = `${show(r)} on ${r.key}${r.min_index === undefined ? '' : ` with min_index ${r.min_index}`}${r.served_by ? ` served by ${r.served_by}` : ''}`;
    let writer: HistoryOp | undefined;
    if (r.value !== null) {
      writer = writers.get(r.key)?.get(r.value);
      if (!writer || writer.call > r.ret || (writer.f === 'cas' && writer.outcome === 'ok' && writer.applied === false)) {
        flag('never_written', `${where}: no write of that value ${writer ? 'took effect before the read completed' : 'exists'}`);
        continue;
      }
    }
    if (!session) continue;
    const m = r.min_index;
    const known = indexed.get(r.key) ?? [];
    if (m !== undefined) {
      if (writer?.index !== undefined) {
        const wi = writer.index;
        const newer = known.filter((w) => w.index! > wi && w.index! <= m).sort((a, b) => b.index! - a.index!)[0];
        if (newer) flag('stale', `${where}: read the value of index ${wi}, but ${show(newer)} is at or below min_index`);
      } else if (r.value === null) {
        const last = known.filter((w) => w.index! <= m).sort((a, b) => b.index! - a.index!)[0];
        // Absent is also the state at a newer index than min_index when a delete landed there
        // (at most at the index the node had applied when it answered).
        const upper = r.index ?? Infinity;
        const fresher = known.some((w) => w.f === 'delete' && w.index! > m && w.index! <= upper);
        const excused = fresher || (unknownDeletes.get(r.key) ?? []).some((d) => d.call <= r.ret);
        if (last && last.f !== 'delete' && !excused) flag('stale', `${where}: read absent, but ${show(last)} is the last write at or below min_index`);
      }
    }
    if (writer?.index === undefined) continue;
    const pk = `${r.process}\u0000${r.key}`;
    const before = seen.get(pk);
    if (before && writer.index < before.index && r.call > before.read.ret) {
      flag('monotonic', `${where}: read the value of index ${writer.index} after ${show(before.read)} had read index ${before.index}`);
    }
    if (!before || writer.index > before.index) seen.set(pk, { index: writer.index, read: r });
  }
  return report;
}

export function sessionViolations(report: SessionReport): number {
  return report.counts.never_written + report.counts.stale + report.counts.monotonic;
}
