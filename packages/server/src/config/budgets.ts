// How long each hop of a write may take, derived once from the configuration so the hops agree:
// the leader answers within leaderWriteMs, a follower forwarding to it waits longer than that,
// and nginx in front of the follower waits longer again (the follower also waits for its own
// apply after the leader's answer). A hop that gave up before the one behind it would answer
// "unreachable" for a leader that was only busy.

import type { CairnConfig } from './types.ts';

/** Slack each hop adds over the one behind it, for its own network and event-loop delays. */
export const hop_slack_ms = 5_000;

type Budgeted = Pick<CairnConfig, 'replication' | 'server' | 'embedding'>;

/** The slowest legitimate write answer of a leader: its embedding call, then its commit wait. */
export function leaderWriteMs(config: Budgeted): number {
  return config.embedding.timeout_ms + config.replication.commit_timeout_ms;
}

/** How long a follower waits for the leader's answer to a forwarded write. */
export function forwardTimeoutMs(config: Budgeted): number {
  return leaderWriteMs(config) + hop_slack_ms;
}

/** nginx's proxy_read_timeout, in seconds: a forwarded write, then the follower's apply wait. */
export function proxyReadTimeoutS(config: Budgeted): number {
  return Math.ceil((forwardTimeoutMs(config) + config.server.read_wait_ms_max + hop_slack_ms) / 1000);
}
