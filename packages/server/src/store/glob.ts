// Path globs for include_patterns / exclude_patterns.
//   **   any characters, "/" included        *   any characters but "/"
//   ?    one character but "/"               {a,b}  either alternative      [abc]  a class
// A pattern without "/" is matched against the last path segment as well as the whole path
// ("*.md" finds docs/intro.md). Leading "./" and "/" are ignored on both sides.

const pattern_chars_max = 512;

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? `\\${c}` : c;
}

export function globToRegExp(glob: string): RegExp {
  if (glob.length > pattern_chars_max) throw new RangeError(`pattern longer than ${pattern_chars_max} characters`);
  let re = '';
  let depth = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i += 1;
        if (glob[i + 1] === '/') {
          i += 1;
          re += '(?:.*/)?';
        } else {
          re += '.*';
        }
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '{') {
      depth += 1;
      re += '(?:';
    } else if (c === '}' && depth > 0) {
      depth -= 1;
      re += ')';
    } else if (c === ',' && depth > 0) {
      re += '|';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end === -1) {
        re += '\\[';
      } else {
        const body = glob.slice(i + 1, end).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = end;
      }
    } else {
      re += escapeRe(c);
    }
  }
  while (depth-- > 0) re += ')';
  return new RegExp(`^${re}$`);
}

function normalise(p: string): string {
  return p.replace(/^\.\//, '').replace(/^\/+/, '');
}

export class PathMatcher {
  private readonly compiled: { re: RegExp; basename: boolean }[];

  constructor(patterns: string[]) {
    this.compiled = patterns.map((p) => {
      const n = normalise(p);
      return { re: globToRegExp(n), basename: !n.includes('/') };
    });
  }

  get empty(): boolean {
    return this.compiled.length === 0;
  }

  matches(path: string): boolean {
    const p = normalise(path);
    const base = p.slice(p.lastIndexOf('/') + 1);
    return this.compiled.some(({ re, basename }) => re.test(p) || (basename && re.test(base)));
  }
}
