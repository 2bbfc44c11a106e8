import { describe, expect, it } from 'vitest';

describe('@cairn/client in the repository', () => {
  it('resolves to the TypeScript sources', async () => {
    const url = import.meta.resolve('@cairn/client');
    const mod = await import('@cairn/client');
    expect(typeof mod.CairnClient).toBe('function');
    expect(url).toMatch(/packages\/client\/src\/index\.ts$/);
  });
});
