import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { HashingEmbedder } from '../embed/hashing.ts';
import { OverloadedError, PreparePool } from './prepare-pool.ts';
import { prepareWork } from './prepare-work.ts';
import { countTokens } from './tokens.ts';

const pool = new PreparePool({ threads_max: 1, queue_max: 1 });
afterAll(() => pool.close());

describe('PreparePool', () => {
  it('gives the same tokens, hash and vector bytes as preparing on the event loop', async () => {
    const content = `${'語'.repeat(40_000)} some prose after it, and ${'x'.repeat(100_000)}`;
    const task = { content, hashing_dim: 384, passage_tokens: 256 };
    const [inWorker, inline] = await Promise.all([pool.run(task), prepareWork(task)]);
    expect(inWorker.tokens).toBe(inline.tokens);
    expect(inWorker.tokens).toBe(countTokens(content));
    expect(inWorker.content_hash).toBe(inline.content_hash);
    expect(Buffer.from(inWorker.passages)).toEqual(Buffer.from(inline.passages));
    expect(inWorker.passages.byteLength).toBeGreaterThan(20);
    const [direct] = await new HashingEmbedder().embed([content]);
    expect(Buffer.from((inWorker.vector as Float32Array).buffer)).toEqual(Buffer.from((direct as Float32Array).buffer));
  });

  it('prepares a group of small contents in order, each as alone', async () => {
    const tasks = Array.from({ length: 30 }, (_, i) => ({ content: `note ${i} about ${'rivers '.repeat(i)}`, hashing_dim: i % 2 === 0 ? 64 : null, passage_tokens: 16 + i }));
    const grouped = await pool.runGroup(tasks);
    expect(grouped).toHaveLength(30);
    for (const [i, t] of tasks.entries()) {
      const alone = await prepareWork(t);
      expect(grouped[i]?.tokens).toBe(alone.tokens);
      expect(grouped[i]?.content_hash).toBe(alone.content_hash);
      expect(Buffer.from(grouped[i]?.passages ?? [])).toEqual(Buffer.from(alone.passages));
      expect(grouped[i]?.vector === null ? null : Buffer.from((grouped[i]?.vector as Float32Array).buffer)).toEqual(alone.vector === null ? null : Buffer.from(alone.vector.buffer));
    }
  });

  it('refuses a task with 503 overloaded when its threads and queue are full', async () => {
    const task = { content: 'q'.repeat(200_000), hashing_dim: null, passage_tokens: 256 };
    const running = pool.run(task);
    const queued = pool.run(task);
    await expect(pool.run(task)).rejects.toBeInstanceOf(OverloadedError);
    await expect(pool.run(task)).rejects.toMatchObject({ status: 503, code: 'overloaded', retry_after_s: 1, name: 'OverloadedError' });
    // refused by the pool's own count, before piscina's queue is asked
    await expect(pool.run(task)).rejects.toThrow(/^the prepare pool is full \(1 threads busy, 1 tasks queued\): retry later$/);
    expect(pool.pending).toBe(2);
    await Promise.all([running, queued]);
    expect(pool.pending).toBe(0);
    await expect(pool.run({ content: 'ok', hashing_dim: null, passage_tokens: 256 })).resolves.toMatchObject({ tokens: 1 });
  });
});

describe('PreparePool limits', () => {
  it('refuses a thread count below 1 or not whole, and a queue below 0 or not whole; takes a queue of 0', async () => {
    for (const threads_max of [0, -1, 1.5]) expect(() => new PreparePool({ threads_max })).toThrow(`threads_max: expected a positive integer, got ${threads_max}`);
    for (const queue_max of [-1, 0.5]) expect(() => new PreparePool({ queue_max })).toThrow(`queue_max: expected a non-negative integer, got ${queue_max}`);
    const unqueued = new PreparePool({ threads_max: 1, queue_max: 0 });
    try {
      expect([unqueued.threads_max, unqueued.queue_max]).toEqual([1, 0]);
      const task = { content: 'z'.repeat(100_000), hashing_dim: null, passage_tokens: 256 };
      const running = unqueued.run(task);
      await expect(unqueued.run(task)).rejects.toThrow('(1 threads busy, 0 tasks queued)');
      await expect(running).resolves.toMatchObject({ tokens: countTokens(task.content) });
    } finally {
      await unqueued.close();
    }
  });

  it('ends on a worker that answers a group with fewer results than tasks', async () => {
    // a worker thread of its own that answers every task with an empty list
    const dir = mkdtempSync(join(tmpdir(), 'cairn-prepare-'));
    const file = join(dir, 'short-worker.mjs');
    writeFileSync(file, 'export default () => [];\n');
    const short = new PreparePool({ threads_max: 1, queue_max: 1, filename: pathToFileURL(file).href });
    try {
      const tasks = [1, 2].map((i) => ({ content: `note ${i}`, hashing_dim: null, passage_tokens: 16 }));
      await expect(short.runGroup(tasks)).rejects.toThrow('invariant: 2 tasks prepared as 0');
      expect(short.pending).toBe(0);
    } finally {
      await short.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
