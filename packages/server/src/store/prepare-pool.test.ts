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
    await expect(pool.run(task)).rejects.toMatchObject({ status: 503, code: 'overloaded', retry_after_s: 1 });
    expect(pool.pending).toBe(2);
    await Promise.all([running, queued]);
    expect(pool.pending).toBe(0);
    await expect(pool.run({ content: 'ok', hashing_dim: null, passage_tokens: 256 })).resolves.toMatchObject({ tokens: 1 });
  });
});
