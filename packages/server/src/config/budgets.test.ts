import { describe, expect, it } from 'vitest';
import { forwardTimeoutMs, leaderWriteMs, proxyReadTimeoutS } from './budgets.ts';
import { loadConfig } from './load.ts';

describe('the hop budgets of a write', () => {
  const config = loadConfig({ env: {}, anyNode: true });

  it('has each hop wait longer than the one behind it', () => {
    expect(leaderWriteMs(config)).toBe(config.embedding.timeout_ms + config.replication.commit_timeout_ms);
    expect(forwardTimeoutMs(config)).toBeGreaterThan(leaderWriteMs(config));
    expect(proxyReadTimeoutS(config) * 1000).toBeGreaterThan(forwardTimeoutMs(config) + config.server.read_wait_ms_max);
  });

  it('follows the configuration', () => {
    const slow = { ...config, replication: { ...config.replication, commit_timeout_ms: 60_000 }, embedding: { ...config.embedding, timeout_ms: 1_000 } };
    expect(forwardTimeoutMs(slow)).toBe(66_000);
    expect(proxyReadTimeoutS(slow)).toBe(Math.ceil((66_000 + config.server.read_wait_ms_max + 5_000) / 1000));
  });
});
