// Cairn's history.jsonl (described in HISTORY.md): parsing, pairing invokes with completions,
// and the document-register model the linearizability check runs on. Pure: text in, verdicts out.

import { checkOperations, explain, groupBy } from './linearizability.ts';
import type { Budget, Model, Operation, Verdict } from './linearizability.ts';

export type EventType = 'invoke' | 'ok' | 'fail' | 'info';
export type Fn = 'put' | 'get' | 'delete' | 'cas';
export type Consistency = 'linearizable' | 'session' | 'none';

export interface HistoryEvent {
  process: number;
  type: EventType;
  f: Fn;
  key: string;
  value?: string | null;
  expected?: string | null;
  applied?: boolean;
  consistency?: Consistency;
  node?: string;
  time_ns: number;
  index?: number;
  min_index?: number;
  served_by?: string;
  /** 1-based line in the file. */
  line: number;
}

/** An invoke with its completion. `ret` is Infinity when the outcome is unknown. */
export interface HistoryOp {
  process: number;
  f: Fn;
  key: string;
  /** The completion's level if it re-states one, else the invoke's. */
  consistency: Consistency;
  outcome: 'ok' | 'fail' | 'unknown';
  /** put/cas: the value written; get: the value returned (null = absent). */
  value: string | null;
  /** cas: the content expected (null = only if absent). */
  expected: string | null;
  /** cas/delete ok: whether it took effect. */
  applied: boolean | undefined;
  index: number | undefined;
  min_index: number | undefined;
  node: string | undefined;
  served_by: string | undefined;
  call: number;
  ret: number;
  call_line: number;
  ret_line: number | undefined;
}

const types = new Set<string>(['invoke', 'ok', 'fail', 'info']);
const fns = new Set<string>(['put', 'get', 'delete', 'cas']);
const levels = new Set<string>(['linearizable', 'session', 'none']);

/** One JSON object per line; blank lines (a trailing newline) are skipped. */
export function parseHistory(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  text.split('\n').forEach((raw, idx) => {
    const line = idx + 1;
    if (raw.trim() === '') return;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(raw) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`history line ${line}: not JSON (${(e as Error).message}): ${raw.slice(0, 120)}`);
    }
    const bad = (what: string): never => {
      throw new Error(`history line ${line}: ${what}: ${raw.slice(0, 120)}`);
    };
    if (typeof o !== 'object' || o === null || Array.isArray(o)) bad('not a JSON object');
    if (!Number.isInteger(o.process)) bad('"process" must be an integer');
    if (typeof o.type !== 'string' || !types.has(o.type)) bad('"type" must be invoke, ok, fail or info');
    if (typeof o.f !== 'string' || !fns.has(o.f)) bad('"f" must be put, get, delete or cas');
    if (typeof o.key !== 'string') bad('"key" must be a string');
    if (typeof o.time_ns !== 'number' || !Number.isFinite(o.time_ns)) bad('"time_ns" must be a number');
    for (const k of ['value', 'expected'] as const) {
      if (o[k] !== undefined && o[k] !== null && typeof o[k] !== 'string') bad(`"${k}" must be a string or null`);
    }
    if (o.applied !== undefined && typeof o.applied !== 'boolean') bad('"applied" must be a boolean');
    if (o.consistency !== undefined && (typeof o.consistency !== 'string' || !levels.has(o.consistency))) bad('"consistency" must be linearizable, session or none');
    for (const k of ['index', 'min_index'] as const) {
      if (o[k] !== undefined && o[k] !== null && !Number.isInteger(o[k])) bad(`"${k}" must be an integer`);
    }
    for (const k of ['node', 'served_by'] as const) {
      if (o[k] !== undefined && o[k] !== null && typeof o[k] !== 'string') bad(`"${k}" must be a string`);
    }
    const ev = { ...o, line } as unknown as HistoryEvent;
    if (o.index === null) delete ev.index;
    if (o.min_index === null) delete ev.min_index;
    events.push(ev);
  });
  return events;
}

/** Pairs each invoke with the next completion of its process. */
export function pairOperations(events: HistoryEvent[]): HistoryOp[] {
  const ops: HistoryOp[] = [];
  const pending = new Map<number, HistoryOp>();
  for (const ev of events) {
    const where = `history line ${ev.line}`;
    if (ev.type === 'invoke') {
      const open = pending.get(ev.process);
      if (open) throw new Error(`${where}: process ${ev.process} invokes while its operation from line ${open.call_line} is pending`);
      if (ev.consistency === undefined) throw new Error(`${where}: an invoke needs "consistency"`);
      if ((ev.f === 'put' || ev.f === 'cas') && typeof ev.value !== 'string') throw new Error(`${where}: a ${ev.f} needs the string "value" it writes`);
      if (ev.f === 'cas' && ev.expected === undefined) throw new Error(`${where}: a cas needs "expected" (null = only if absent)`);
      const op: HistoryOp = {
        process: ev.process, f: ev.f, key: ev.key, consistency: ev.consistency, outcome: 'unknown',
        value: ev.f === 'get' || ev.f === 'delete' ? null : (ev.value ?? null), expected: ev.expected ?? null,
        applied: undefined, index: undefined, min_index: ev.min_index, node: ev.node, served_by: undefined,
        call: ev.time_ns, ret: Infinity, call_line: ev.line, ret_line: undefined,
      };
      pending.set(ev.process, op);
      ops.push(op);
      continue;
    }
    const op = pending.get(ev.process);
    if (!op) throw new Error(`${where}: process ${ev.process} completes (${ev.type}) with no operation pending`);
    if (op.f !== ev.f || op.key !== ev.key) throw new Error(`${where}: completion ${ev.f} ${ev.key} does not match the invoke on line ${op.call_line} (${op.f} ${op.key})`);
    if (ev.time_ns < op.call) throw new Error(`${where}: completes before its invoke on line ${op.call_line}`);
    pending.delete(ev.process);
    op.ret_line = ev.line;
    if (ev.consistency !== undefined) op.consistency = ev.consistency;
    if (ev.served_by !== undefined) op.served_by = ev.served_by;
    if (ev.type === 'info') continue;
    op.outcome = ev.type === 'ok' ? 'ok' : 'fail';
    op.ret = ev.time_ns;
    if (ev.type === 'fail') continue;
    op.index = ev.index;
    if (ev.f === 'get') op.value = ev.value === undefined ? bad(where, 'a get ok needs "value" (null = absent)') : ev.value;
    if (ev.f === 'cas' || ev.f === 'delete') op.applied = ev.applied ?? bad(where, `a ${ev.f} ok needs "applied"`);
  }
  return ops;
}

function bad(where: string, what: string): never {
  throw new Error(`${where}: ${what}`);
}

// ---- The document register: one value per key, null when absent ----

export interface DocInput {
  f: Fn;
  key: string;
  value: string | null;
  expected: string | null;
}
export interface DocOutput {
  kind: 'ok' | 'unknown';
  value: string | null;
  applied: boolean | undefined;
}
export type DocState = string | null;

/** The value an unknown-outcome write of a value no operation observes stands for (see linearizableOperations). */
export const unobserved = '\u0000(a value no operation observes)';

export const documentModel: Model<DocState, DocInput, DocOutput> = {
  init: () => null,
  // 0 stands for "absent": it cannot collide with a string value.
  key: (s) => s ?? 0,
  step(state, input, output) {
    const known = output.kind === 'ok';
    switch (input.f) {
      case 'get':
        return !known || output.value === state ? state : undefined;
      case 'put':
        return input.value;
      case 'delete':
        // A 200 says the document is gone (a concurrent delete may have removed it first); a 404
        // (applied:false) observed it absent.
        if (!known || output.applied === true) return null;
        return state === null ? null : undefined;
      case 'cas': {
        const matches = state === input.expected;
        if (!known) return matches ? input.value : state;
        if (output.applied === true) return matches ? input.value : undefined;
        return matches ? undefined : state;
      }
    }
  },
  partition: (ops) => groupBy(ops, (op) => op.input.key),
  symmetryKey(input, output) {
    if (output.kind !== 'unknown') return undefined;
    if (input.f === 'delete') return 'delete';
    if (input.value !== unobserved) return undefined;
    return input.f === 'put' ? 'put' : `cas\u0000${input.expected === null ? '\u0001' : input.expected}`;
  },
  partitionName: (ops) => ops[0]?.input.key ?? '',
  describe(input, output) {
    const res = output.kind === 'unknown' ? 'unknown' : input.f === 'get' ? JSON.stringify(output.value) : output.applied === false ? 'not applied' : 'ok';
    const what = input.f === 'get' ? 'get' : input.f === 'delete' ? 'delete' : input.f === 'put' ? `put ${JSON.stringify(input.value)}` : `cas ${JSON.stringify(input.expected)} -> ${JSON.stringify(input.value)}`;
    return `${what} -> ${res}`;
  },
};

/**
 * The operations the linearizability check covers: every write that did not fail (a write with
 * consistency "none" as if its outcome were unknown: its acknowledgement does not bound when it
 * becomes visible) and the linearizable gets that answered.
 */
export function linearizableOperations(ops: HistoryOp[]): Array<Operation<DocInput, DocOutput>> {
  const out: Array<Operation<DocInput, DocOutput>> = [];
  const checked = ops.filter((op) => op.outcome !== 'fail' && !(op.f === 'get' && (op.consistency !== 'linearizable' || op.outcome !== 'ok')));
  // Values the check can see: returned by a get, or expected by a cas. Any other value written is
  // told apart from the rest by nothing, so an unknown-outcome write of one writes `unobserved`
  // (the same for all of them): an exact abstraction that makes such writes interchangeable.
  const seen = new Set<string>();
  for (const op of checked) {
    const v = op.f === 'get' ? op.value : op.f === 'cas' ? op.expected : null;
    if (v !== null) seen.add(v);
  }
  // When a value was observed for certain (a get returned it, a cas that took effect expected
  // it), the one write of it took effect before that observation: an unknown-outcome write of an
  // observed value gets the earliest such return as its own (values are unique per write, so no
  // linearization is lost; without it every such write stays open to the end of the history).
  const observedBy = new Map<string, number>();
  for (const op of checked) {
    if (op.outcome !== 'ok') continue;
    const v = op.f === 'get' ? op.value : op.f === 'cas' && op.applied === true ? op.expected : null;
    if (v !== null && op.ret < (observedBy.get(v) ?? Infinity)) observedBy.set(v, op.ret);
  }
  for (const op of checked) {
    const unknown = op.outcome === 'unknown' || (op.f !== 'get' && op.consistency === 'none');
    const writes = op.f === 'put' || op.f === 'cas';
    const value = unknown && writes && op.value !== null && !seen.has(op.value) ? unobserved : op.value;
    const seenAt = unknown && writes && op.value !== null ? observedBy.get(op.value) : undefined;
    out.push({
      process: op.process,
      input: { f: op.f, key: op.key, value, expected: op.expected },
      output: unknown ? { kind: 'unknown', value: null, applied: undefined } : { kind: 'ok', value: op.value, applied: op.applied },
      call: op.call,
      // An observation before the write was even invoked leaves no linearization either way.
      ret: unknown ? (seenAt === undefined ? Infinity : Math.max(op.call, seenAt)) : op.ret,
    });
  }
  return out;
}

export interface KeyVerdict {
  key: string;
  verdict: Verdict;
  ops: number;
  steps: number;
  /** Readable lines for a key that is not linearizable or unknown. */
  explanation: string[];
}

export interface LinearizabilityReport {
  verdict: Verdict;
  keys: KeyVerdict[];
  totals: { keys: number; ops: number; linearizable: number; not_linearizable: number; unknown: number };
}

/** The search budget per key of a Cairn history: the chaos run and lincheck use the same. */
export function historyBudget(): Budget {
  return { steps_max: 50_000_000, time_ms_max: 60_000, now: () => performance.now() };
}

/** Checks every key of a Cairn history (all keys are decided, each within `budget`). */
export function checkCairnHistory(events: HistoryEvent[], budget?: Budget): LinearizabilityReport {
  const ops = linearizableOperations(pairOperations(events));
  const result = checkOperations(documentModel, ops, { all_partitions: true, ...(budget ? { budget } : {}) });
  const keys = result.partitions.map((p) => ({
    key: p.name, verdict: p.verdict, ops: p.ops, steps: p.steps,
    explanation: p.verdict === 'linearizable' ? [] : explain(documentModel, p),
  }));
  const count = (v: Verdict): number => keys.filter((k) => k.verdict === v).length;
  return {
    verdict: result.verdict,
    keys,
    totals: { keys: keys.length, ops: ops.length, linearizable: count('linearizable'), not_linearizable: count('not-linearizable'), unknown: count('unknown') },
  };
}
