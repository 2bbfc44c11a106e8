// Field specs and the checks behind them. Every value read from cluster.yaml, the environment or
// a flag goes through one of these, so a bad value is reported the same way wherever it came
// from: `<key path>: expected <what>, got <value>`. Strings that look like numbers or booleans
// are accepted for numeric and boolean fields, because environment variables and flags are text.

export type FieldSpec =
  | { kind: 'int'; min: number; max: number }
  | { kind: 'number'; min: number; max: number; min_exclusive?: boolean }
  | { kind: 'bool' }
  | { kind: 'string'; non_empty?: boolean; pattern?: RegExp; pattern_text?: string }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'strings' };

export type FieldValue = number | boolean | string | string[];

/** Collects problems; `origin` maps a key path to where its value came from (env/flag). */
export class Problems {
  readonly errors: string[] = [];
  constructor(private readonly origins: ReadonlyMap<string, string> = new Map()) {}

  add(path: string, message: string): void {
    const origin = this.origins.get(path);
    this.errors.push(`${path}: ${message}${origin === undefined ? '' : ` (from ${origin})`}`);
  }
}

export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return typeof value === 'object' ? 'a mapping' : typeof value;
}

export function describe(spec: FieldSpec): string {
  switch (spec.kind) {
    case 'int':
      return `an integer from ${spec.min} to ${spec.max}`;
    case 'number':
      return spec.min_exclusive === true
        ? `a number above ${spec.min} and at most ${spec.max}`
        : `a number from ${spec.min} to ${spec.max}`;
    case 'bool':
      return 'true or false';
    case 'string':
      if (spec.pattern_text !== undefined) return spec.pattern_text;
      return spec.non_empty === true ? 'a non-empty string' : 'a string';
    case 'enum':
      return `one of ${spec.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'strings':
      return 'a list of strings';
  }
}

const TRUE_WORDS = new Set(['true', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'off', '0']);

/** Checks one value against its spec; returns undefined (and records a problem) when bad. */
export function checkField(value: unknown, spec: FieldSpec, path: string, problems: Problems): FieldValue | undefined {
  const bad = (): undefined => {
    problems.add(path, `expected ${describe(spec)}, got ${show(value)}`);
    return undefined;
  };
  switch (spec.kind) {
    case 'int':
    case 'number': {
      let n: number;
      if (typeof value === 'number') n = value;
      else if (typeof value === 'string' && value.trim() !== '' && /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(value.trim())) {
        n = Number(value.trim());
      } else return bad();
      if (!Number.isFinite(n)) return bad();
      if (spec.kind === 'int' && !Number.isInteger(n)) return bad();
      if (n > spec.max) return bad();
      if (spec.kind === 'number' && spec.min_exclusive === true ? n <= spec.min : n < spec.min) return bad();
      return n;
    }
    case 'bool': {
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string') {
        const word = value.trim().toLowerCase();
        if (TRUE_WORDS.has(word)) return true;
        if (FALSE_WORDS.has(word)) return false;
      }
      return bad();
    }
    case 'string': {
      // YAML turns `8080` into a number; a string field takes its text.
      const text = typeof value === 'number' ? String(value) : value;
      if (typeof text !== 'string') return bad();
      if (spec.non_empty === true && text.trim() === '') return bad();
      if (spec.pattern !== undefined && !spec.pattern.test(text)) return bad();
      return text;
    }
    case 'enum': {
      if (typeof value !== 'string' || !spec.values.includes(value.trim())) return bad();
      return value.trim();
    }
    case 'strings': {
      // Env and flags give "a,b,c".
      if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
      if (!Array.isArray(value)) return bad();
      const out: string[] = [];
      for (const [i, item] of value.entries()) {
        if (typeof item !== 'string' && typeof item !== 'number') {
          problems.add(`${path}[${i}]`, `expected a string, got ${show(item)}`);
          continue;
        }
        out.push(String(item));
      }
      return out;
    }
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A closest known key, for "did you mean" hints on typos. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j] as number;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, previous + cost);
      previous = saved;
    }
  }
  return row[b.length] as number;
}

/** Reports keys of `section` that `known` does not list. */
export function checkKnownKeys(section: Record<string, unknown>, known: readonly string[], path: string, problems: Problems): void {
  for (const key of Object.keys(section)) {
    if (known.includes(key)) continue;
    const hint = closest(key, known);
    const where = path === '' ? key : `${path}.${key}`;
    problems.add(where, `unknown key${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; known keys: ${known.join(', ')}`);
  }
}
