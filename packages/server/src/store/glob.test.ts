import { describe, expect, it } from 'vitest';
import { PathMatcher } from './glob.ts';

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
