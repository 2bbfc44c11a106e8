import { describe, expect, it } from 'vitest';
import { parseAssembleRequest } from './assemble.ts';
import { InputError } from './errors.ts';
import { Glob, GlobError, PathMatcher } from './glob.ts';

describe('PathMatcher', () => {
  it('matches a slash-less pattern against the file name at any depth', () => {
    const m = new PathMatcher(['*.md']);
    expect(m.matches('README.md')).toBe(true);
    expect(m.matches('docs/guide/intro.md')).toBe(true);
    expect(m.matches('src/a.ts')).toBe(false);
  });

  it('treats ** as any depth and * as one segment', () => {
    expect(new PathMatcher(['src/**/*.ts']).matches('src/a/b/c.ts')).toBe(true);
    expect(new PathMatcher(['src/**/*.ts']).matches('src/c.ts')).toBe(true);
    expect(new PathMatcher(['src/*.ts']).matches('src/a/c.ts')).toBe(false);
    expect(new PathMatcher(['./src/*.{ts,js}']).matches('/src/x.js')).toBe(true);
  });

  it('handles classes and escapes regex characters', () => {
    expect(new PathMatcher(['file[0-9].txt']).matches('file7.txt')).toBe(true);
    expect(new PathMatcher(['a+b(1).md']).matches('a+b(1).md')).toBe(true);
    expect(new PathMatcher(['a.md']).matches('aXmd')).toBe(false);
  });
});

describe('Glob', () => {
  it('keeps the documented semantics', () => {
    const cases: [string, string, boolean][] = [
      ['**', 'a/b/c', true],
      ['**/x', 'x', true],
      ['a/**', 'a/b/c', true],
      ['a/**/b', 'a/b', true],
      ['a/**/b', 'a/x/y/b', true],
      ['a/**/b', 'ab', false],
      ['*', 'a/b', false],
      ['?', '/', false],
      ['??', 'ab', true],
      ['{a,b{c,d}}', 'bd', true],
      ['{a,b{c,d}}', 'b', false],
      ['{a,}x', 'x', true],
      ['a,b}', 'a,b}', true],
      ['[!a]', 'b', true],
      ['[^a]', 'a', false],
      ['[a-c-]', '-', true],
      ['x[y', 'x[y', true],
      ['a\\b', 'a\\b', true],
    ];
    for (const [pattern, path, want] of cases) expect(new Glob(pattern).matches(path), `${pattern} ~ ${path}`).toBe(want);
  });

  it('decides an exponential pattern for a backtracking RegExp in work linear in the path', () => {
    // RegExp took 3.6 s on the first pattern. Work is counted, not timed: the states each step of
    // the path visits, at most the automaton's size, so a path twice as long costs twice the work.
    const pattern = `${'**a'.repeat(12)}**b`;
    expect(new PathMatcher([pattern]).matches('a'.repeat(30))).toBe(false);
    expect(new PathMatcher([`${'*a'.repeat(100)}*b`]).matches('a'.repeat(1000))).toBe(false);
    expect(new PathMatcher([pattern]).matches(`${'a'.repeat(30)}b`)).toBe(true);
    const glob = new Glob(`${'*a'.repeat(100)}*b`);
    const work = (length: number): number => {
      expect(glob.matches('a'.repeat(length))).toBe(false);
      return glob.work;
    };
    const short = work(1000);
    const long = work(2000);
    expect(short).toBeGreaterThan(1000);
    expect(short).toBeLessThanOrEqual(1001 * glob.size);
    expect(long).toBeLessThanOrEqual(2001 * glob.size);
    expect(long / short).toBeLessThan(2.2);
  });

  it('refuses invalid patterns with a GlobError naming the pattern', () => {
    for (const bad of ['[z-a]', '{a,b', 'x{y', '[]', '[!]', '{a,{b}']) {
      expect(() => new PathMatcher([bad]), bad).toThrow(GlobError);
      expect(() => new PathMatcher([bad]), bad).toThrow(JSON.stringify(bad));
    }
  });
});

describe('Glob classes, brackets and errors', () => {
  const cases: [string, string, boolean][] = [
    ['[ca]', 'a', true],
    ['[ca]', 'c', true],
    ['[ca]', 'b', false],
    ['[a-]', 'a', true],
    ['[a-]', '-', true],
    ['[a-]', 'b', false],
    ['[a-a]', 'a', true],
    ['[b-c]', 'a', false],
    ['[b-c]', 'b', true],
    ['[b-c]', 'c', true],
    ['[b-c]', 'd', false],
    ['[!b-c]', 'a', true],
    ['[!b-c]', 'c', false],
    // a class never matches "/", as "?" does not: negated, or naming it
    ['x[!a]y', 'x/y', false],
    ['x[^.]y', 'x/y', false],
    ['x[/]y', 'x/y', false],
    ['src[!.]*', 'src/a.ts', false],
    ['src[!.]*', 'srcs', true],
    ['[0-9a-f]', 'e', true],
    ['[0-9a-f]', 'g', false],
    ['][', '][', true],
    [']x[a]', ']xa', true],
    ['][a]', ']a', true],
    ['a', 'a\u0001', false],
    ['a', 'a\u0000', false],
    ['?', '\u0000', true],
  ];
  it.each(cases)('%j ~ %j is %s', (pattern, path, want) => {
    expect(new Glob(pattern).matches(path)).toBe(want);
  });

  it('explains each invalid pattern in a GlobError that keeps the pattern', () => {
    const reason = (pattern: string): string => {
      try {
        new Glob(pattern);
      } catch (err) {
        if (!(err instanceof GlobError)) throw err;
        expect(err.name).toBe('GlobError');
        expect(err.pattern).toBe(pattern);
        return err.message;
      }
      throw new Error(`expected a GlobError for ${pattern}`);
    };
    expect(reason('{a,b')).toBe('invalid pattern "{a,b": a "{" is not closed');
    expect(reason('x{y')).toBe('invalid pattern "x{y": a "{" is not closed');
    expect(reason('{a,{b}')).toBe('invalid pattern "{a,{b}": a "{" is not closed');
    expect(reason('a[]')).toBe('invalid pattern "a[]": a class "[]" names no character');
    expect(reason('[^]')).toBe('invalid pattern "[^]": a class "[]" names no character');
    expect(reason('[xz-a]')).toBe('invalid pattern "[xz-a]": the range z-a is reversed');
  });
});

describe('Glob epsilon edges', () => {
  it('matches through many empty alternatives, each state counted once per step', () => {
    const glob = new Glob('x{,}{,}{,}{,}{,}{,}y');
    expect(glob.matches('xy')).toBe(true);
    expect(glob.matches('x')).toBe(false);
    expect(glob.matches('xyy')).toBe(false);
    expect(new Glob('{,}{,}{,}{,}{,}{,}y').matches('y')).toBe(true);
  });

  it('keeps matching right when the per-step stamp wraps after 2^32 - 1 steps', () => {
    const glob = new Glob('x{,}{,}{,}{,}{,}{,}y');
    // The stamp would take 2^32 steps to wrap; start it just below.
    (glob as unknown as { stamp: number }).stamp = 0xffff_fffe;
    for (let i = 0; i < 3; i++) {
      expect(glob.matches('xy')).toBe(true);
      expect(glob.matches('xz')).toBe(false);
    }
  });
});

describe('PathMatcher normalisation', () => {
  it('ignores a leading "./" and any leading slashes, and nothing else', () => {
    expect(new PathMatcher(['src/*.ts']).matches('//src/a.ts')).toBe(true);
    expect(new PathMatcher(['//src/*.ts']).matches('./src/a.ts')).toBe(true);
    expect(new PathMatcher(['docs/./a.md']).matches('docs/a.md')).toBe(false);
    expect(new PathMatcher(['docs/a.md']).matches('docs/./a.md')).toBe(false);
    expect(new PathMatcher(['docs/./a.md']).matches('docs/./a.md')).toBe(true);
  });
});

describe('parseAssembleRequest patterns and query', () => {
  const limits = { patterns_max: 2, pattern_chars_max: 8, query_chars_max: 10 };
  const code = (body: object): string | undefined => {
    try {
      parseAssembleRequest({ query: 'q', ...body }, 10, limits);
      return undefined;
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      expect(err.status).toBe(400);
      return `${err.code}: ${err.message}`;
    }
  };

  it('refuses an invalid pattern with 400 invalid_pattern naming it', () => {
    expect(code({ include_patterns: ['*.md', '[z-a]'] })).toBe('invalid_pattern: include_patterns[1]: invalid pattern "[z-a]": the range z-a is reversed');
    expect(code({ exclude_patterns: ['{a,b'] })).toMatch(/^invalid_pattern: exclude_patterns\[0\]: invalid pattern "\{a,b"/);
  });

  it('refuses patterns and queries over the configured limits, naming the key and its value', () => {
    expect(code({ include_patterns: ['a', 'b', 'c'] })).toBe('too_many_patterns: include_patterns has 3 patterns; server.patterns_max is 2');
    expect(code({ include_patterns: ['a'.repeat(9)] })).toBe('pattern_too_long: include_patterns[0] has 9 characters; server.pattern_chars_max is 8');
    expect(code({ query: 'q'.repeat(11) })).toBe('query_too_long: query has 11 characters; server.query_chars_max is 10');
    expect(code({ include_patterns: ['a', 'b'], query: 'q'.repeat(10) })).toBeUndefined();
  });
});

describe('PathMatcher.matchesSliced', () => {
  it('answers as matches() and takes a turn before each pattern', async () => {
    const m = new PathMatcher(['*.ts', 'docs/**', '*.md']);
    let turns = 0;
    const turn = async (): Promise<void> => {
      turns += 1;
    };
    for (const p of ['a/b.md', 'docs/x/y', 'src/a.js', 'x.ts']) expect(await m.matchesSliced(p, turn), p).toBe(m.matches(p));
    expect(turns).toBe(3 + 2 + 3 + 1);
  });
});
