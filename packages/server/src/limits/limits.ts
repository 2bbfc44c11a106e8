// Per-workspace resource limits: config.resource_limits[ws], else resource_limits.default, else
// the built-in defaults below; a partially given block is completed from the next level.

import type { CairnConfig, WorkspaceLimits } from '../config/types.ts';

export const default_workspace_limits: Readonly<WorkspaceLimits> = Object.freeze({
  max_concurrent_requests: 16,
  max_tokens_per_minute: 200_000,
  max_documents_per_query: 50,
  max_storage_mb: 1024,
  max_memory_mb: 512,
  priority: 5,
});

/** Scheduling priority of a request from its X-Resource-Tier header (1..10, higher first). */
export const tier_priority: Readonly<Record<string, number>> = Object.freeze({ high: 8, medium: 5, low: 2 });

export function limitsFor(config: Pick<CairnConfig, 'resource_limits'>, ws: string): WorkspaceLimits {
  const own: Partial<WorkspaceLimits> = config.resource_limits[ws] ?? {};
  const dflt: Partial<WorkspaceLimits> = config.resource_limits.default ?? {};
  const pick = <K extends keyof WorkspaceLimits>(k: K): WorkspaceLimits[K] => own[k] ?? dflt[k] ?? default_workspace_limits[k];
  return {
    max_concurrent_requests: pick('max_concurrent_requests'),
    max_tokens_per_minute: pick('max_tokens_per_minute'),
    max_documents_per_query: pick('max_documents_per_query'),
    max_storage_mb: pick('max_storage_mb'),
    max_memory_mb: pick('max_memory_mb'),
    priority: pick('priority'),
  };
}
