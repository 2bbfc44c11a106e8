// A linearizability checker: Wing & Gong's search with Lowe's memoisation, split per partition
// (per key). Pure: it takes operations and a model and returns a verdict; parsing files, clocks
// and printing are the caller's.
//
// The search walks a time-ordered list of call and return entries. Taking a call means choosing
// it as the next operation to take effect: the model must allow it from the current state, and
// the pair (set of operations taken so far, state) must not have been explored before. Both of
// its entries leave the list ("lift"). Reaching a return entry means the operation it closes has
// not taken effect yet although it has returned: the last choice is undone ("unlift") and the
// next call after it is tried. The history is linearizable when the list empties.
//
// An operation whose outcome is unknown (a crashed client, a timeout) has its return at
// +Infinity, after every other entry: it may take effect at any point after its call, or
// effectively never (last, after everything that was observed).

export type StateKey = string | number;

/** One operation of a history. `ret` is Infinity when the outcome is unknown. */
export interface Operation<I, O> {
  process: number;
  input: I;
  output: O;
  call: number;
  ret: number;
}

export interface Model<S, I, O> {
  init(): S;
  /** The state after `input` answered `output` from `state`, or undefined if not allowed. */
  step(state: S, input: I, output: O): S | undefined;
  /** Equal states must have equal keys; used for memoisation. */
  key(state: S): StateKey;
  /** Independent parts of the history (per key); the whole history if absent. */
  partition?(ops: Array<Operation<I, O>>): Array<Array<Operation<I, O>>>;
  /** A short text for reports, e.g. `cas [1 2] -> fail`. */
  describe?(input: I, output: O): string;
  /** A name for a partition in reports, e.g. its key. */
  partitionName?(ops: Array<Operation<I, O>>): string;
  /**
   * Operations of unknown outcome (ret Infinity) with the same key here are interchangeable: they
   * change every state alike. The search then takes them in call order only, since any
   * linearization can swap two of them (the earlier call is allowed wherever the later one is).
   * Without it, k such operations cost up to 2^k sets of taken operations.
   */
  symmetryKey?(input: I, output: O): string | undefined;
}

export interface Budget {
  /** Search steps per partition before giving up with "unknown". */
  steps_max: number;
  /** Wall-clock limit per partition; needs `now`. */
  time_ms_max?: number;
  /** Injected clock in milliseconds (the checker reads no clock of its own). */
  now?: () => number;
}

export const budget_default: Budget = { steps_max: 2_000_000 };

export interface CheckOptions {
  budget?: Budget;
  /**
   * Decide every partition even after one is found not linearizable. Without it the check stops
   * there (the history's verdict is settled) and the partitions still open report "unknown".
   */
  all_partitions?: boolean;
}

export type Verdict = 'linearizable' | 'not-linearizable' | 'unknown';

export interface Candidate<I, O> {
  op: Operation<I, O>;
  /** The model allowed it from the prefix's state (and the search failed further on). */
  allowed: boolean;
}

export interface PartitionResult<I, O> {
  name: string;
  verdict: Verdict;
  ops: number;
  steps: number;
  /** Why the verdict is unknown. */
  reason?: string;
  /** Which budget ran out, for "unknown". */
  exhausted?: 'steps' | 'time';
  /** The longest linearizable prefix found, in linearization order (for "not" and "unknown"). */
  prefix: Array<Operation<I, O>>;
  /** The operations that could be linearized next after that prefix, none of which led on. */
  next: Array<Candidate<I, O>>;
  /** The operation whose return closed the window: it had to take effect before it returned. */
  deadline?: Operation<I, O>;
}

export interface CheckResult<I, O> {
  verdict: Verdict;
  partitions: Array<PartitionResult<I, O>>;
}

const time_check_steps = 4096;
const round_steps_first = 20_000;
const round_steps_growth = 10;
const explain_prefix_max = 8;

/**
 * Checks every partition of `ops` (see Model.partition) and combines the verdicts. Partitions are
 * searched in rounds of growing step budgets, so a partition that is quickly shown not
 * linearizable is found before an expensive one exhausts the whole budget.
 */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  ops: Array<Operation<I, O>>,
  options: CheckOptions = {},
): CheckResult<I, O> {
  const budget = options.budget ?? budget_default;
  const parts = model.partition ? model.partition(ops) : [ops];
  const results: Array<PartitionResult<I, O> | undefined> = parts.map(() => undefined);
  let open = parts.map((_, i) => i);
  let failed = false;
  let steps = Math.min(round_steps_first, budget.steps_max);
  for (;;) {
    for (const i of open) {
      const r = checkPartition(model, parts[i]!, { ...budget, steps_max: steps });
      results[i] = r;
      if (r.verdict === 'not-linearizable') failed = true;
    }
    open = open.filter((i) => results[i]!.exhausted === 'steps');
    if (open.length === 0 || steps === budget.steps_max) break;
    if (failed && options.all_partitions !== true) {
      for (const i of open) results[i]!.reason = 'not searched further: another partition is not linearizable';
      break;
    }
    steps = Math.min(steps * round_steps_growth, budget.steps_max);
  }
  const partitions = results.map((r) => r!);
  return { verdict: combineVerdicts(partitions.map((p) => p.verdict)), partitions };
}

export function combineVerdicts(verdicts: Verdict[]): Verdict {
  if (verdicts.includes('not-linearizable')) return 'not-linearizable';
  if (verdicts.includes('unknown')) return 'unknown';
  return 'linearizable';
}

/** Entries of the doubly linked list: 0 is the head; op i has call 2i+1 and return 2i+2. */
interface EntryList {
  next: Int32Array;
  prev: Int32Array;
  /** The entries in time order (without the head). */
  order: Int32Array;
}

function buildEntries<I, O>(ops: Array<Operation<I, O>>): EntryList {
  const n = ops.length;
  const order = new Int32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    if (!(op.call <= op.ret)) throw new Error(`operation ${i} returns (${op.ret}) before its call (${op.call})`);
    order[2 * i] = 2 * i + 1;
    order[2 * i + 1] = 2 * i + 2;
  }
  const time = (e: number): number => {
    const op = ops[(e - 1) >> 1]!;
    return e % 2 === 1 ? op.call : op.ret;
  };
  // Time order; at equal times calls come first (equal times count as overlapping).
  order.sort((a, b) => time(a) - time(b) || (b % 2) - (a % 2) || a - b);
  const next = new Int32Array(2 * n + 1).fill(-1);
  const prev = new Int32Array(2 * n + 1).fill(-1);
  let last = 0;
  for (const e of order) {
    next[last] = e;
    prev[e] = last;
    last = e;
  }
  return { next, prev, order };
}

/** Deterministic 32-bit values per operation for an incremental hash of the linearized set. */
function zobrist(n: number): { lo: Uint32Array; hi: Uint32Array } {
  const lo = new Uint32Array(n);
  const hi = new Uint32Array(n);
  let s = 0x9e3779b9;
  const rand = (): number => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  for (let i = 0; i < n; i++) {
    lo[i] = rand();
    hi[i] = rand() & 0x1fffff;
  }
  return { lo, hi };
}

interface CacheBucket {
  /** The operations taken, without the counted ones (see checkPartition). */
  bits: Uint32Array;
  /** Per state: how many of each class of counted operations were taken, for each visit. */
  states: Map<StateKey, Int32Array[]>;
}

/** Whether `a` <= `b` in every class (or, `exact`, equal). */
function dominated(a: Int32Array, b: Int32Array, exact: boolean): boolean {
  for (let i = 0; i < a.length; i++) if (exact ? a[i] !== b[i] : a[i]! > b[i]!) return false;
  return true;
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Wing-Gong-Lowe on one partition. */
export function checkPartition<S, I, O>(
  model: Model<S, I, O>,
  ops: Array<Operation<I, O>>,
  budget: Budget = budget_default,
): PartitionResult<I, O> {
  if (!(budget.steps_max > 0)) throw new Error('budget.steps_max must be positive');
  if (budget.time_ms_max !== undefined && budget.now === undefined) throw new Error('budget.time_ms_max needs budget.now');
  const name = model.partitionName ? model.partitionName(ops) : 'all';
  const n = ops.length;
  const { next, prev, order } = buildEntries(ops);
  const z = zobrist(n);
  const bits = new Uint32Array(Math.ceil(n / 32));
  let hashLo = 0;
  let hashHi = 0;
  const cache = new Map<number, CacheBucket[]>();
  // The backtracking stack: the call entry taken and the state before it.
  const stackEntry = new Int32Array(n);
  const stackState: S[] = [];
  let depth = 0;
  let bestDepth = -1;
  let bestOps: number[] = [];
  let bestState: S = model.init();
  const started = budget.now?.() ?? 0;
  // For each unknown-outcome operation, the previous one (in call order) it is interchangeable with.
  const prevSame = new Int32Array(n).fill(-1);
  // Interchangeable operations are "counted": taken in call order, so which of them are taken is
  // given by how many of each class. The memo keeps those counts apart from the other operations'
  // set, and a visit whose counts are all at least those of an earlier visit with the same set and
  // state is not searched again: it has no choice the earlier one lacked (fewer taken leaves more).
  const classOf = new Int32Array(n).fill(-1);
  let classes = 0;
  if (model.symmetryKey) {
    const lastOf = new Map<string, number>();
    const classIds = new Map<string, number>();
    const byCall = ops.map((_, i) => i).filter((i) => ops[i]!.ret === Infinity).sort((a, b) => ops[a]!.call - ops[b]!.call || a - b);
    for (const i of byCall) {
      const k = model.symmetryKey(ops[i]!.input, ops[i]!.output);
      if (k === undefined) continue;
      const before = lastOf.get(k);
      if (before !== undefined) prevSame[i] = before;
      lastOf.set(k, i);
      let c = classIds.get(k);
      if (c === undefined) {
        c = classes++;
        classIds.set(k, c);
      }
      classOf[i] = c;
    }
  }
  const counts = new Int32Array(classes);
  const memoBits = new Uint32Array(Math.ceil(n / 32));
  const taken = (i: number): boolean => (bits[i >>> 5]! & (1 << (i & 31))) !== 0;
  // Operations with a known return not yet taken. While there are any, an unknown-outcome
  // operation that would leave the state as it is is not taken: taking it last instead is as good
  // (nothing after it is observed), and it spares the search a branch per such operation.
  let finiteLeft = ops.filter((op) => op.ret !== Infinity).length;

  const lift = (call: number): void => {
    next[prev[call]!] = next[call]!;
    if (next[call]! !== -1) prev[next[call]!] = prev[call]!;
    const ret = call + 1;
    next[prev[ret]!] = next[ret]!;
    if (next[ret]! !== -1) prev[next[ret]!] = prev[ret]!;
  };
  const unlift = (call: number): void => {
    const ret = call + 1;
    next[prev[ret]!] = ret;
    if (next[ret]! !== -1) prev[next[ret]!] = ret;
    next[prev[call]!] = call;
    if (next[call]! !== -1) prev[next[call]!] = call;
  };
  // Adds (bits, key) to the cache; false if it was there already. `finiteAfter`: operations with
  // a known return still to take. Once none is left, only counted operations remain and every one
  // must be taken, so fewer taken is no longer as good: visits must then match exactly.
  const remember = (key: StateKey, finiteAfter: number): boolean => {
    const h = hashHi * 0x100000000 + hashLo;
    let buckets = cache.get(h);
    if (buckets === undefined) {
      buckets = [];
      cache.set(h, buckets);
    }
    for (const b of buckets) {
      if (!sameBits(b.bits, memoBits)) continue;
      const visits = b.states.get(key);
      if (visits === undefined) {
        b.states.set(key, [counts.slice()]);
        return true;
      }
      for (const v of visits) if (dominated(v, counts, finiteAfter === 0)) return false;
      visits.push(counts.slice());
      return true;
    }
    buckets.push({ bits: memoBits.slice(), states: new Map([[key, [counts.slice()]]]) });
    return true;
  };
  const toggle = (i: number): void => {
    const wasTaken = taken(i);
    bits[i >>> 5]! ^= 1 << (i & 31);
    const c = classOf[i]!;
    if (c >= 0) {
      counts[c]! += wasTaken ? -1 : 1;
      return;
    }
    memoBits[i >>> 5]! ^= 1 << (i & 31);
    hashLo = (hashLo ^ z.lo[i]!) >>> 0;
    hashHi ^= z.hi[i]!;
  };

  let state = model.init();
  let entry = next[0]!;
  let steps = 0;
  let exhausted: 'steps' | 'time' | undefined;
  while (next[0]! !== -1) {
    steps++;
    if (steps > budget.steps_max) {
      exhausted = 'steps';
      break;
    }
    if (budget.now && budget.time_ms_max !== undefined && steps % time_check_steps === 0 && budget.now() - started > budget.time_ms_max) {
      exhausted = 'time';
      break;
    }
    if (entry % 2 === 1) {
      const i = (entry - 1) >> 1;
      const op = ops[i]!;
      const twin = prevSame[i]!;
      if (twin >= 0 && !taken(twin)) {
        // Not its turn yet (its class is taken in call order): passing it over is no search step.
        steps--;
        entry = next[entry]!;
        continue;
      }
      let after = model.step(state, op.input, op.output);
      if (after !== undefined && op.ret === Infinity && finiteLeft > 0 && model.key(after) === model.key(state)) after = undefined;
      if (after !== undefined) {
        toggle(i);
        if (remember(model.key(after), op.ret === Infinity ? finiteLeft : finiteLeft - 1)) {
          stackEntry[depth] = entry;
          stackState[depth] = state;
          depth++;
          state = after;
          lift(entry);
          if (op.ret !== Infinity) finiteLeft--;
          if (depth > bestDepth) {
            bestDepth = depth;
            bestOps = Array.from(stackEntry.subarray(0, depth), (e) => (e - 1) >> 1);
            bestState = state;
          }
          entry = next[0]!;
          continue;
        }
        toggle(i);
      }
      entry = next[entry]!;
      continue;
    }
    // A return entry: the operation it closes must have taken effect by now. Undo the last choice.
    if (depth === 0) break;
    depth--;
    entry = stackEntry[depth]!;
    state = stackState[depth]!;
    toggle((entry - 1) >> 1);
    unlift(entry);
    if (ops[(entry - 1) >> 1]!.ret !== Infinity) finiteLeft++;
    entry = next[entry]!;
  }
  const result: PartitionResult<I, O> = { name, verdict: 'linearizable', ops: n, steps: Math.min(steps, budget.steps_max), prefix: [], next: [] };
  if (next[0]! === -1) return result;
  if (exhausted === undefined) result.verdict = 'not-linearizable';
  else {
    result.verdict = 'unknown';
    result.exhausted = exhausted;
    result.reason = exhausted === 'steps' ? `budget exhausted (${budget.steps_max} steps)` : `budget exhausted (${budget.time_ms_max} ms)`;
  }
  if (bestDepth < 0) {
    bestOps = [];
    bestState = model.init();
  }
  result.prefix = bestOps.map((i) => ops[i]!);
  explainNext(model, ops, order, new Set(bestOps), bestState, result);
  return result;
}

/** After the longest prefix: the calls before the first remaining return, and that return. */
function explainNext<S, I, O>(
  model: Model<S, I, O>,
  ops: Array<Operation<I, O>>,
  order: Int32Array,
  taken: Set<number>,
  state: S,
  result: PartitionResult<I, O>,
): void {
  for (const e of order) {
    const i = (e - 1) >> 1;
    if (taken.has(i)) continue;
    const op = ops[i]!;
    if (e % 2 === 0) {
      result.deadline = op;
      return;
    }
    result.next.push({ op, allowed: model.step(state, op.input, op.output) !== undefined });
  }
}

/** Readable lines for a partition that is not linearizable or unknown. */
export function explain<S, I, O>(model: Model<S, I, O>, r: PartitionResult<I, O>): string[] {
  if (r.verdict === 'linearizable') return [`${r.name}: linearizable (${r.ops} ops, ${r.steps} steps)`];
  const show = (op: Operation<I, O>): string => {
    const what = model.describe ? model.describe(op.input, op.output) : JSON.stringify({ input: op.input, output: op.output });
    const ret = op.ret === Infinity ? 'unknown' : String(op.ret);
    return `process ${op.process} ${what} [${op.call}, ${ret}]`;
  };
  const lines = [
    `${r.name}: ${r.verdict === 'unknown' ? `unknown, ${r.reason ?? ''}` : 'NOT linearizable'} (${r.ops} ops, ${r.steps} steps)`,
    `  longest linearizable prefix: ${r.prefix.length} ops${r.prefix.length > explain_prefix_max ? ', the last ones:' : ':'}`,
  ];
  for (const op of r.prefix.slice(-explain_prefix_max)) lines.push(`    ${show(op)}`);
  lines.push('  none of these could be linearized next:');
  for (const c of r.next) lines.push(`    ${show(c.op)}${c.allowed ? ' (allowed here, but no linearization continues from it)' : ' (not allowed in this state)'}`);
  if (r.deadline) lines.push(`  before this one returned: ${show(r.deadline)}`);
  return lines;
}

// ---- The fixture models: Jepsen's etcd register and Porcupine's key-value test histories ----

export type RegisterInput = { f: 'read' } | { f: 'write'; value: number } | { f: 'cas'; from: number; to: number };
/** ok: answered; fail: a cas whose comparison failed; unknown: crashed or timed out. */
export interface RegisterOutput {
  kind: 'ok' | 'fail' | 'unknown';
  /** What a read returned (null = never written). */
  value: number | null;
}
export type RegisterState = number | null;

export const registerModel: Model<RegisterState, RegisterInput, RegisterOutput> = {
  init: () => null,
  key: (s) => (s === null ? 'nil' : s),
  step(state, input, output) {
    if (input.f === 'read') return output.kind === 'unknown' || output.value === state ? state : undefined;
    if (input.f === 'write') return input.value;
    const matches = state === input.from;
    if (output.kind === 'unknown') return matches ? input.to : state;
    if (output.kind === 'ok') return matches ? input.to : undefined;
    return matches ? undefined : state;
  },
  describe(input, output) {
    const what = input.f === 'read' ? 'read' : input.f === 'write' ? `write ${input.value}` : `cas [${input.from} ${input.to}]`;
    const res = output.kind !== 'ok' ? output.kind : input.f === 'read' ? String(output.value ?? 'nil') : 'ok';
    return `${what} -> ${res}`;
  },
};

const jepsenLine = /^INFO\s+jepsen\.util\s+-\s+(\d+)\t:(invoke|ok|fail|info)\t:(read|write|cas)\t(.*)$/;

/** Parses a Jepsen etcd log (see test/fixtures/linearizability/EXPECTED.md); time = line number. */
export function parseJepsenLog(text: string): Array<Operation<RegisterInput, RegisterOutput>> {
  const ops: Array<Operation<RegisterInput, RegisterOutput>> = [];
  const pending = new Map<number, Operation<RegisterInput, RegisterOutput>>();
  const dropped = new Set<Operation<RegisterInput, RegisterOutput>>();
  const lines = text.split('\n');
  const number = (s: string, line: number): number => {
    if (!/^\d+$/.test(s)) throw new Error(`line ${line}: expected a number, got ${JSON.stringify(s)}`);
    return Number(s);
  };
  lines.forEach((raw, idx) => {
    const line = idx + 1;
    const m = jepsenLine.exec(raw.trimEnd());
    if (!m) return; // nemesis, setup and blank lines
    const [, p, type, f, arg] = m as unknown as [string, string, string, string, string];
    const process = Number(p);
    if (type === 'invoke') {
      if (pending.has(process)) throw new Error(`line ${line}: process ${process} invokes while an operation is pending`);
      let input: RegisterInput;
      if (f === 'read') input = { f: 'read' };
      else if (f === 'write') input = { f: 'write', value: number(arg, line) };
      else {
        const cas = /^\[(\d+) (\d+)\]$/.exec(arg);
        if (!cas) throw new Error(`line ${line}: malformed cas ${JSON.stringify(arg)}`);
        input = { f: 'cas', from: Number(cas[1]), to: Number(cas[2]) };
      }
      const op = { process, input, output: { kind: 'unknown' as const, value: null }, call: line, ret: Infinity };
      pending.set(process, op);
      ops.push(op);
      return;
    }
    const op = pending.get(process);
    if (!op) throw new Error(`line ${line}: process ${process} completes with nothing pending`);
    pending.delete(process);
    if (type === 'info') return; // outcome unknown: the return stays at +Infinity
    if (type === 'fail' && f === 'read') {
      dropped.add(op); // a read that timed out observed nothing
      return;
    }
    op.ret = line;
    op.output = { kind: type === 'ok' ? 'ok' : 'fail', value: f === 'read' ? (arg === 'nil' ? null : number(arg, line)) : null };
  });
  // A read whose answer never came observed nothing and changed nothing.
  return ops.filter((op) => !dropped.has(op) && !(op.input.f === 'read' && op.output.kind === 'unknown'));
}

export interface KvInput {
  f: 'get' | 'put' | 'append';
  key: string;
  value: string;
}
export interface KvOutput {
  /** What a get returned; null when the outcome is unknown. */
  value: string | null;
}

export const kvModel: Model<string, KvInput, KvOutput> = {
  init: () => '',
  key: (s) => s,
  step(state, input, output) {
    if (input.f === 'get') return output.value === null || output.value === state ? state : undefined;
    return input.f === 'put' ? input.value : state + input.value;
  },
  partition: (ops) => groupBy(ops, (op) => op.input.key),
  partitionName: (ops) => `key ${JSON.stringify(ops[0]?.input.key ?? '')}`,
  describe: (input, output) =>
    input.f === 'get' ? `get -> ${JSON.stringify(output.value)}` : `${input.f} ${JSON.stringify(input.value)}`,
};

export function groupBy<T>(items: T[], keyOf: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    const g = groups.get(k);
    if (g) g.push(item);
    else groups.set(k, [item]);
  }
  return [...groups.values()];
}

const ednLine = /^\{:process (\d+), :type :(invoke|ok|fail|info), :f :(get|put|append), :key "([^"]*)", :value (nil|"[^"]*")\}$/;

/** Parses Porcupine's key-value histories (one EDN map per line); time = line number. */
export function parseKvLog(text: string): Array<Operation<KvInput, KvOutput>> {
  const ops: Array<Operation<KvInput, KvOutput>> = [];
  const pending = new Map<number, Operation<KvInput, KvOutput>>();
  const failed = new Set<Operation<KvInput, KvOutput>>();
  text.split('\n').forEach((raw, idx) => {
    const line = idx + 1;
    if (raw.trim() === '') return;
    const m = ednLine.exec(raw.trim());
    if (!m) throw new Error(`line ${line}: not a key-value event: ${raw.slice(0, 80)}`);
    const [, p, type, f, key, v] = m as unknown as [string, string, string, KvInput['f'], string, string];
    const process = Number(p);
    const value = v === 'nil' ? null : v.slice(1, -1);
    if (type === 'invoke') {
      if (pending.has(process)) throw new Error(`line ${line}: process ${process} invokes while an operation is pending`);
      const op = { process, input: { f, key, value: value ?? '' }, output: { value: null }, call: line, ret: Infinity };
      pending.set(process, op);
      ops.push(op);
      return;
    }
    const op = pending.get(process);
    if (!op) throw new Error(`line ${line}: process ${process} completes with nothing pending`);
    pending.delete(process);
    if (type === 'info') return;
    if (type === 'fail') {
      failed.add(op);
      return;
    }
    op.ret = line;
    op.output = { value: f === 'get' ? (value ?? '') : null };
  });
  return ops.filter((op) => !failed.has(op) && !(op.input.f === 'get' && op.ret === Infinity));
}
