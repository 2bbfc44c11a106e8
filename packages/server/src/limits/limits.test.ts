import { describe, expect, it } from 'vitest';
import { limitsFor, default_workspace_limits } from './limits.ts';
import { SlidingWindow } from './sliding-window.ts';
import { LimitError, WorkspaceLimiter } from './workspace-limiter.ts';

const base = { ...default_workspace_limits };

describe('limitsFor', () => {
  it('takes the workspace block, then default, then the built-in values', () => {
    const config = { resource_limits: { default: { ...base, max_concurrent_requests: 3 }, hot: { ...base, max_tokens_per_minute: 9 } } };
    expect(limitsFor(config, 'hot').max_tokens_per_minute).toBe(9);
    expect(limitsFor(config, 'other').max_concurrent_requests).toBe(3);
    expect(limitsFor({ resource_limits: {} }, 'x')).toEqual(default_workspace_limits);
  });
});

describe('SlidingWindow', () => {
  it('forgets what was counted more than a minute ago', () => {
    let now = 1_000_000;
    const w = new SlidingWindow(60, () => now);
    w.add(10);
    now += 30_000;
    w.add(5);
    expect(w.total()).toBe(15);
    expect(w.secondsUntilRelief()).toBe(30);
    now += 31_000;
    expect(w.total()).toBe(5);
    now += 60_000;
    expect(w.total()).toBe(0);
  });
});

describe('WorkspaceLimiter', () => {
  function gate(): { wait: Promise<void>; open: () => void } {
    let open = (): void => {};
    const wait = new Promise<void>((r) => (open = r));
    return { wait, open };
  }

  it('refuses with 429 once the running and queued slots of a workspace are full, and not another workspace', async () => {
    const limiter = new WorkspaceLimiter({ limits: (ws) => ({ ...base, max_concurrent_requests: ws === 'small' ? 1 : 10 }), queued_per_slot: 1 });
    const g = gate();
    const running = [limiter.run('small', 5, () => g.wait), limiter.run('small', 5, () => g.wait)];
    expect(limiter.active('small')).toBe(1);
    expect(limiter.queued('small')).toBe(1);
    await expect(limiter.run('small', 5, async () => 1)).rejects.toMatchObject({ status: 429, retry_after_s: 1 });
    await expect(limiter.run('big', 5, async () => 'ok')).resolves.toBe('ok');
    g.open();
    await Promise.all(running);
    await expect(limiter.run('small', 5, async () => 'again')).resolves.toBe('again');
  });

  it('runs queued requests in priority order', async () => {
    const limiter = new WorkspaceLimiter({ limits: () => ({ ...base, max_concurrent_requests: 1 }) });
    const g = gate();
    const order: number[] = [];
    const first = limiter.run('w', 5, () => g.wait);
    const later = [2, 9, 5].map((p) => limiter.run('w', p, async () => void order.push(p)));
    g.open();
    await Promise.all([first, ...later]);
    expect(order).toEqual([9, 5, 2]);
  });

  it('grants tokens up to max_tokens_per_minute, gives back unused ones, then refuses with 429', () => {
    let now = 0;
    const limiter = new WorkspaceLimiter({ limits: () => ({ ...base, max_tokens_per_minute: 100 }), clock: () => now });
    const a = limiter.reserveTokens('w', 80);
    expect(a.granted).toBe(80);
    a.settle(30);
    expect(limiter.tokensUsed('w')).toBe(30);
    expect(limiter.reserveTokens('w', 500).granted).toBe(70);
    const err = (() => { try { limiter.reserveTokens('w', 1); } catch (e) { return e; } return null; })();
    expect(err).toBeInstanceOf(LimitError);
    expect(err).toMatchObject({ status: 429, code: 'token_rate_exceeded' });
    expect(limiter.reserveTokens('other', 10).granted).toBe(10);
    now += 61_000;
    expect(limiter.reserveTokens('w', 10).granted).toBe(10);
  });

  it('refuses a write over max_storage_mb with 507', () => {
    const limiter = new WorkspaceLimiter({ limits: () => ({ ...base, max_storage_mb: 1 }) });
    expect(() => limiter.checkStorage('w', 1024 * 1024 - 10, 10)).not.toThrow();
    expect(() => limiter.checkStorage('w', 1024 * 1024 - 10, 11)).toThrow(expect.objectContaining({ status: 507 }));
  });
});
