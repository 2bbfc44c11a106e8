// The chaos checkers fail on a broken product: a short chaos run on real processes with a defect
// planted in the nodes (test only, packages/server/src/testing/planted-defects.ts) must be reported
// as a violation by the check meant to see it. A follower that answers reads without waiting for
// ?min_index=, and a follower that applies deletes as no-ops, are both caught by the follower-read
// check of the shared-key history (stale reads). The two defects of the leader (an acknowledgement
// before the fsync, a compare-and-set checked on the leader only) take longer to show and are run
// with `npm run chaos -- --defect ...` (reports in test/chaos/reports/defects/).
import { describe, expect, it } from 'vitest';
import { reportText, runChaos } from './chaos/run.ts';

describe('chaos checkers catch planted defects', () => {
  for (const defect of ['ignore_min_index', 'skip_deletes'] as const) {
    it(`reports stale follower reads when ${defect} is planted`, async () => {
      const report = await runChaos({ seed: 4242, faults: 1, kinds: ['slow_link'], defect, settleWorkloadMs: 8_000, convergeTimeoutMs: 5_000 });
      const text = reportText(report);
      console.log(text);
      expect(report.planted_defect).toBe(defect);
      expect(report.checks.session.checked.session, text).toBeGreaterThan(20);
      expect(report.checks.session.stale, text).toBeGreaterThan(0);
      expect(report.pass, text).toBe(false);
    }, 240_000);
  }
});
