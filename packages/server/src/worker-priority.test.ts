// Worker threads below the event loop's priority, seen from /proc: the nice value of each thread
// of this process (field 19 of /proc/self/task/<tid>/stat), on the real prepare pool and
// retrain worker.
import fs from 'node:fs';
import type { VectorSnapshot } from '@cairn/ivf';
import { describe, expect, it } from 'vitest';
import { startRetrainJob } from './retrain/job.ts';
import { PreparePool } from './store/prepare-pool.ts';
import { lowerThisThread, worker_nice_increment } from './worker-priority.ts';

/** Nice value by thread id, for every thread of this process. */
function threadNices(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // after "pid (comm) ": state is field 3, nice field 19
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), Number(fields[16]));
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

const lowered = (): number[] => [...threadNices()].filter(([, nice]) => nice === worker_nice_increment).map(([tid]) => tid);

describe.runIf(process.platform === 'linux')('worker threads run below the main thread', () => {
  it('changes nothing on the main thread', () => {
    expect(threadNices().get(process.pid)).toBe(0);
    expect(lowerThisThread()).toBe(0);
    expect(threadNices().get(process.pid)).toBe(0);
  });

  it('runs the prepare pool threads 10 below the main thread, and at its level when told 0', async () => {
    expect(lowered()).toEqual([]);
    const pool = new PreparePool({ threads_max: 2, queue_max: 4 });
    const level = new PreparePool({ threads_max: 1, queue_max: 1, nice_increment: 0 });
    try {
      const task = { content: 'words '.repeat(200), hashing_dim: 64, passage_tokens: 64 };
      await Promise.all([pool.run(task), pool.run(task)]);
      const low = lowered();
      expect(low.length).toBe(2);
      expect(low).not.toContain(process.pid);
      expect(threadNices().get(process.pid)).toBe(0);
      await level.run(task);
      // one more thread, at the main thread's level
      expect(lowered()).toEqual(low);
    } finally {
      await pool.close();
      await level.close();
    }
    expect(lowered()).toEqual([]);
  });

  it('runs the retrain worker 10 below the main thread', async () => {
    const job = startRetrainJob();
    try {
      const dim = 4;
      const n = 64;
      const data = Float32Array.from({ length: n * dim }, (_, i) => Math.sin(i));
      const snapshot: VectorSnapshot = { dim, metric: 'cosine', ids: Array.from({ length: n }, (_, i) => `v${i}`), data };
      await job.train(snapshot, 7);
      expect(lowered().length).toBe(1);
    } finally {
      await job.terminate();
    }
    expect(lowered()).toEqual([]);
  });
});
