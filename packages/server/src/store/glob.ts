// Path globs for include_patterns / exclude_patterns.
//   **   any characters, "/" included        *   any characters but "/"
//   ?    one character but "/"               {a,b}  either alternative (nestable)
//   [abc] [a-z] one character of a class     [!abc] [^abc]  one character not in it
//   (a class never matches "/", negated or not: "src[!.]*" stays in src's own segment)
//   "**/" matches zero or more whole segments ("src/**/*.ts" finds src/c.ts and src/a/b/c.ts).
// Every other character, "\" included, stands for itself; so do "," and "}" outside braces and a
// "[" with no closing "]". A pattern without "/" is matched against the last path segment as well
// as the whole path ("*.md" finds docs/intro.md). Leading "./" and "/" are ignored on both sides.
// Characters are UTF-16 code units, as they were when globs compiled to RegExp.
//
// Linear time: a pattern is parsed once into a small automaton (Thompson's construction: one
// state per literal, class or wildcard, epsilon edges for "*", "**" and braces) and a path is
// matched by carrying the set of live states along it, so matching costs O(states x path
// length) whatever the pattern. A backtracking RegExp took exponential time on "**a**a...**b".
// An invalid pattern (an empty class, a reversed range, an unclosed "{") is a GlobError; the
// request layer turns it into 400 invalid_pattern.

export class GlobError extends Error {
  override readonly name = 'GlobError';
  constructor(
    readonly pattern: string,
    reason: string,
  ) {
    super(`invalid pattern ${JSON.stringify(pattern)}: ${reason}`);
  }
}

type Pred = (code: number) => boolean;
const slash = 0x2f;

/**
 * A state: `test` (or, faster, the literal code unit `lit` >= 0) consumes one code unit and goes
 * to `out`; `eps` are epsilon edges. A star is one state that both loops to itself and has an
 * epsilon edge onward.
 */
interface State {
  test: Pred | null;
  lit: number;
  out: number;
  eps: number[];
}

type Node =
  | { kind: 'pred'; test: Pred; lit: number }
  | { kind: 'star'; test: Pred }
  | { kind: 'segments' }
  | { kind: 'alt'; options: Node[][] };

const anyButSlash: Pred = (c) => c !== slash;
const anything: Pred = () => true;

/** Parses `glob[from..]` up to (not including) a closing "}" at depth > 0 or the end. */
class Parser {
  i = 0;
  constructor(private readonly glob: string) {}

  sequence(depth: number): { nodes: Node[]; stop: 'end' | ',' | '}' } {
    const g = this.glob;
    const nodes: Node[] = [];
    while (this.i < g.length) {
      const c = g[this.i] as string;
      if (depth > 0 && (c === ',' || c === '}')) {
        this.i += 1;
        return { nodes, stop: c };
      }
      if (c === '*') {
        if (g[this.i + 1] === '*') {
          if (g[this.i + 2] === '/') {
            nodes.push({ kind: 'segments' });
            this.i += 3;
          } else {
            nodes.push({ kind: 'star', test: anything });
            this.i += 2;
          }
        } else {
          nodes.push({ kind: 'star', test: anyButSlash });
          this.i += 1;
        }
      } else if (c === '?') {
        nodes.push({ kind: 'pred', test: anyButSlash, lit: -1 });
        this.i += 1;
      } else if (c === '{') {
        this.i += 1;
        nodes.push(this.alternatives(depth + 1));
      } else if (c === '[' && g.indexOf(']', this.i + 1) !== -1) {
        nodes.push({ kind: 'pred', test: this.charClass(), lit: -1 });
      } else {
        const code = g.charCodeAt(this.i);
        nodes.push({ kind: 'pred', test: (x) => x === code, lit: code });
        this.i += 1;
      }
    }
    if (depth > 0) throw new GlobError(g, 'a "{" is not closed');
    return { nodes, stop: 'end' };
  }

  private alternatives(depth: number): Node {
    const options: Node[][] = [];
    for (;;) {
      const { nodes, stop } = this.sequence(depth);
      options.push(nodes);
      if (stop === '}') return { kind: 'alt', options };
      if (stop === 'end') throw new GlobError(this.glob, 'a "{" is not closed');
    }
  }

  /** At "[" with a "]" after it: the class up to the first "]". */
  private charClass(): Pred {
    const g = this.glob;
    const end = g.indexOf(']', this.i + 1);
    let body = g.slice(this.i + 1, end);
    this.i = end + 1;
    const negated = body.startsWith('!') || body.startsWith('^');
    if (negated) body = body.slice(1);
    if (body.length === 0) throw new GlobError(g, 'a class "[]" names no character');
    const ranges: [number, number][] = [];
    for (let k = 0; k < body.length; k++) {
      const lo = body.charCodeAt(k);
      if (body[k + 1] === '-' && k + 2 < body.length) {
        const hi = body.charCodeAt(k + 2);
        if (hi < lo) throw new GlobError(g, `the range ${body.slice(k, k + 3)} is reversed`);
        ranges.push([lo, hi]);
        k += 2;
      } else {
        ranges.push([lo, lo]);
      }
    }
    return (c) => c !== slash && ranges.some(([lo, hi]) => c >= lo && c <= hi) !== negated;
  }
}

/** A compiled glob: match(path) in O(states x path length). */
export class Glob {
  private readonly states: State[] = [];
  private readonly start: number;
  private readonly accept: number;
  /** Per-state stamp of the last step that added it (dedupes the live set without clearing). */
  private readonly seen: Uint32Array;
  private stamp = 0;
  /** States the last matches() stepped over, summed over the path: at most its length times `size`. */
  work = 0;
  /** Scratch space of matches(), one slot per state: the live sets of two steps and a stack. */
  private readonly liveA: Int32Array;
  private readonly liveB: Int32Array;
  private readonly stack: Int32Array;

  constructor(readonly pattern: string) {
    const { nodes } = new Parser(pattern).sequence(0);
    this.accept = this.add({ test: null, lit: -1, out: -1, eps: [] });
    this.start = this.build(nodes, this.accept);
    this.seen = new Uint32Array(this.states.length);
    this.liveA = new Int32Array(this.states.length);
    this.liveB = new Int32Array(this.states.length);
    this.stack = new Int32Array(this.states.length);
  }

  private add(s: State): number {
    this.states.push(s);
    return this.states.length - 1;
  }

  /** States for `nodes` followed by `next`, built right to left; returns the entry state. */
  private build(nodes: Node[], next: number): number {
    let at = next;
    for (let k = nodes.length - 1; k >= 0; k--) at = this.buildNode(nodes[k] as Node, at);
    return at;
  }

  private buildNode(node: Node, next: number): number {
    switch (node.kind) {
      case 'pred':
        return this.add({ test: node.test, lit: node.lit, out: next, eps: [] });
      case 'star':
        return this.loop(node.test, next);
      case 'segments': {
        // (?:.*/)? : skip, or anything then "/".
        const afterSlash = this.add({ test: (c) => c === slash, lit: slash, out: next, eps: [] });
        return this.add({ test: null, lit: -1, out: -1, eps: [next, this.loop(anything, afterSlash)] });
      }
      case 'alt':
        return this.add({ test: null, lit: -1, out: -1, eps: node.options.map((o) => this.build(o, next)) });
    }
  }

  /** Zero or more code units passing `test`, then `next`. */
  private loop(test: Pred, next: number): number {
    return this.add({ test, lit: -1, out: this.states.length, eps: [next] });
  }

  /**
   * Adds `s` and every state reachable from it by epsilon edges to `into` (from `n` on), marking
   * them with the current stamp; returns the new length. Only consuming states and the accepting
   * state are kept: they are all a step needs.
   */
  private close(s: number, into: Int32Array, n: number): number {
    const stack = this.stack;
    if (this.seen[s] === this.stamp) return n;
    this.seen[s] = this.stamp;
    let top = 0;
    stack[top++] = s;
    while (top > 0) {
      const t = stack[--top] as number;
      const state = this.states[t] as State;
      if (state.test !== null || t === this.accept) into[n++] = t;
      for (const e of state.eps) {
        if (this.seen[e] === this.stamp) continue;
        this.seen[e] = this.stamp;
        stack[top++] = e;
      }
    }
    return n;
  }

  private nextStamp(): void {
    this.stamp += 1;
    if (this.stamp === 0xffffffff) {
      this.seen.fill(0);
      this.stamp = 1;
    }
  }

  /** States of the automaton: a step of matches() visits each at most once. */
  get size(): number {
    return this.states.length;
  }

  /** Whether the whole of `path` matches. */
  matches(path: string): boolean {
    let live = this.liveA;
    let next = this.liveB;
    this.nextStamp();
    let n = this.close(this.start, live, 0);
    this.work = n;
    for (let i = 0; i < path.length && n > 0; i++) {
      const c = path.charCodeAt(i);
      this.work += n;
      this.nextStamp();
      let m = 0;
      for (let k = 0; k < n; k++) {
        const state = this.states[live[k] as number] as State;
        if (state.lit >= 0 ? state.lit === c : state.test !== null && state.test(c)) m = this.close(state.out, next, m);
      }
      [live, next] = [next, live];
      n = m;
    }
    for (let k = 0; k < n; k++) if (live[k] === this.accept) return true;
    return false;
  }
}

function normalise(p: string): string {
  return p.replace(/^\.\//, '').replace(/^\/+/, '');
}

export class PathMatcher {
  private readonly compiled: { glob: Glob; basename: boolean }[];

  /** Throws GlobError on an invalid pattern. Pattern count and length are the caller's limits. */
  constructor(patterns: string[]) {
    this.compiled = patterns.map((p) => {
      const n = normalise(p);
      return { glob: new Glob(n), basename: !n.includes('/') };
    });
  }

  get empty(): boolean {
    return this.compiled.length === 0;
  }

  matches(path: string): boolean {
    const p = normalise(path);
    const base = p.slice(p.lastIndexOf('/') + 1);
    return this.compiled.some(({ glob, basename }) => glob.matches(p) || (basename && glob.matches(base)));
  }

  /**
   * matches() with `turn` awaited before each pattern: with many long patterns one path can cost
   * tens of ms (64 patterns of 512 characters over a 1024-character path), so the caller gives the
   * event loop a turn in between.
   */
  async matchesSliced(path: string, turn: () => Promise<void>): Promise<boolean> {
    const p = normalise(path);
    const base = p.slice(p.lastIndexOf('/') + 1);
    for (const { glob, basename } of this.compiled) {
      await turn();
      if (glob.matches(p) || (basename && glob.matches(base))) return true;
    }
    return false;
  }
}
