// A prepare pool worker thread (see prepare-pool.ts): runs prepareWork on one task, or on each
// of a group of small ones in order.
import { prepareWork } from './prepare-work.ts';
import type { PrepareResult, PrepareTask } from './prepare-work.ts';

export default async function prepareInWorker(task: PrepareTask | PrepareTask[]): Promise<PrepareResult | PrepareResult[]> {
  if (!Array.isArray(task)) return prepareWork(task);
  const out: PrepareResult[] = [];
  for (const t of task) out.push(await prepareWork(t));
  return out;
}
