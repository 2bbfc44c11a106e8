// What a node must have applied before it answers from its state: a read, and the checks a
// write makes against the state before it proposes (a delete's 404, a precondition decided on
// the leader). On the leader that is its read index; otherwise what the client asked for.
import { planted } from '../../testing/planted-defects.ts';
import type { PublicApiDeps } from './deps.ts';
import { ApiError } from './errors.ts';

/**
 * Holds until this node has applied the ?min_index= asked for (else 504 `min_index_timeout`) and,
 * on the leader, its read index (else 503 `leader_catching_up`), both within
 * server.read_wait_ms_max.
 */
export async function untilReadable(deps: Pick<PublicApiDeps, 'replicator' | 'config' | 'nodeId'>, asked: number | undefined): Promise<void> {
  const floor = deps.replicator.readIndex();
  const waitMs = deps.config.server.read_wait_ms_max;
  const wanted = Math.max(floor, asked !== undefined && !planted('ignore_min_index') ? asked : 0);
  if (deps.replicator.appliedIndex() >= wanted || (await deps.replicator.waitApplied(wanted, waitMs))) return;
  const applied = deps.replicator.appliedIndex();
  if (applied < floor) {
    throw new ApiError(503, 'leader_catching_up', `${deps.nodeId} leads from index ${floor} and had applied ${applied} after ${waitMs} ms: its reads wait for what earlier leaders committed`, undefined, 1);
  }
  throw new ApiError(504, 'min_index_timeout', `this node had not applied index ${wanted} after ${waitMs} ms (applied ${applied})`, 'min_index');
}
