import { describe, expect, it } from 'vitest';
import { formatTable, rowsFromRaftHealth } from './status.ts';

describe('cairn status table', () => {
  it('reads the rows of a leader\'s /_raft/health when the cluster API is missing', () => {
    const rows = rowsFromRaftHealth({
      node_id: 'node-1', address: 'h1:8080', role: 'leader', last_applied: 150, in_sync: true,
      follower_details: [
        { node_id: 'node-2', address: 'h2:8080', health: 'healthy', last_replicated_index: 150, lag: 0, last_latency_ms: 2, consecutive_failures: 0 },
        { node_id: 'node-3', address: 'h3:8080', health: 'desynced', last_replicated_index: 9, lag: 141, last_latency_ms: null, consecutive_failures: 7 },
      ],
    });
    expect(rows.map((r) => [r.id, r.role, r.state, r.reachable, r.lag])).toEqual([
      ['node-1', 'leader', 'leader', true, 0],
      ['node-2', 'follower', 'healthy', true, 0],
      ['node-3', 'follower', 'desynced', false, 141],
    ]);
    const table = formatTable(rows).split('\n');
    expect(table).toHaveLength(3 + 4); // rows, header, three rules
    expect(new Set(table.map((l) => l.length)).size).toBe(1); // aligned
    expect(table[3]).toMatch(/^\| node-1 \| h1:8080 \| leader +\| leader +\| yes +\| 150 +\| 0 +\|/);
  });
});
