// A prepare pool worker thread (see prepare-pool.ts): runs prepareWork on one task.
import { prepareWork } from './prepare-work.ts';
import type { PrepareResult, PrepareTask } from './prepare-work.ts';

export default function prepareInWorker(task: PrepareTask): Promise<PrepareResult> {
  return prepareWork(task);
}
