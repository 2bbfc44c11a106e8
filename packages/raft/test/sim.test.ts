// Runs the simulation over many seeds. A failure names its seed and step; replay it with
//   SIM_SEED=<seed> npx vitest run packages/raft/test/sim.test.ts        (prints the event trace)
// Longer runs: SIM_SEEDS=5000 SIM_STEPS=10000 SIM_SEED_BASE=100000 npx vitest run packages/raft/test/sim.test.ts
import { describe, expect, it } from 'vitest';
import { SimFailure, runSim } from './sim.ts';
import type { SimResult } from './sim.ts';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${raw}`);
  return n;
}

const replaySeed = process.env.SIM_SEED;
const seeds = envInt('SIM_SEEDS', 200);
const steps = envInt('SIM_STEPS', 2000);
const seedBase = envInt('SIM_SEED_BASE', 1);
/** Long runs get a deadline in proportion (about 50 us of budget per step), never below vitest's. */
const run_timeout_ms = Math.max(60_000, Math.ceil(seeds * steps * 0.05));

describe('simulation: leader + two followers under drops, delays, duplicates, reordering, crashes', () => {
  if (replaySeed !== undefined && replaySeed !== '') {
    it(`replays seed ${replaySeed}`, () => {
      const lines: string[] = [];
      try {
        runSim({ seed: Number(replaySeed), steps, trace: (line) => lines.push(line) });
      } finally {
        const tail = envInt('SIM_TRACE_LINES', 200);
        console.log(lines.slice(-tail).join('\n'));
      }
    }, run_timeout_ms);
    return;
  }

  it(`keeps every invariant over ${seeds} seeds x ${steps} steps and converges after healing`, () => {
    const totals: Record<string, number> = {};
    let ok = 0;
    for (let seed = seedBase; seed < seedBase + seeds; seed++) {
      let result: SimResult;
      try {
        result = runSim({ seed, steps });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        throw new Error(`${message}\nreplay: SIM_SEED=${seed} SIM_STEPS=${steps} npx vitest run packages/raft/test/sim.test.ts`, { cause: err });
      }
      ok++;
      for (const [k, v] of Object.entries(result.counts)) totals[k] = (totals[k] ?? 0) + v;
      totals.entries = (totals.entries ?? 0) + result.last_index;
    }
    expect(ok).toBe(seeds);
    console.log(`simulation: ${seeds} seeds x ${steps} steps from seed ${seedBase}: ${JSON.stringify(totals)}`);
    // The faults actually happened (a simulation that never crashes proves little). A short
    // custom run may not hit the rarer ones.
    if (seeds < 100) return;
    for (const key of ['follower_crashes', 'leader_crashes', 'partitions', 'snapshots_installed', 'duplicated', 'corrupted', 'invalid', 'stale_term', 'rejected', 'snapshots_ignored', 'timeouts', 'writes_acked']) {
      expect(totals[key], key).toBeGreaterThan(0);
    }
  }, run_timeout_ms);

  it('is deterministic: a seed replays to the same history', () => {
    const a = runSim({ seed: 4242, steps: 600 });
    const b = runSim({ seed: 4242, steps: 600 });
    expect(b).toEqual(a);
    expect(runSim({ seed: 4243, steps: 600 })).not.toEqual(a);
  });

  it('has checkers with teeth: a follower that resets its whole log on every snapshot is caught', () => {
    // Installing an older snapshot moves state back, and dropping the log suffix past the
    // snapshot can drop a write the leader already acknowledged with quorum.
    const failures: string[] = [];
    for (let seed = 1; seed <= 40 && failures.length === 0; seed++) {
      try {
        runSim({ seed, steps, snapshot_install: 'reset' });
      } catch (err) {
        expect(err).toBeInstanceOf(SimFailure);
        failures.push((err as Error).message);
      }
    }
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatch(/went back|acknowledged|thinks/);
  });
});
