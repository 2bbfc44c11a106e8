// npm run chaos -- [--faults N] [--seed S] [--out DIR] [--keep] [--kinds lose_wal,disk_full,...]
//                  [--defect ack_before_fsync|ignore_min_index|cas_on_leader_only|skip_deletes] [--settle-ms MS]
// Runs one chaos schedule, prints the text report, writes <out>/chaos-seed<S>-faults<N>.{json,txt}
// and exits 1 when a check failed.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FAULT_KINDS } from './faults.ts';
import type { FaultKind } from './faults.ts';
import { reportText, runChaos } from './run.ts';
import { PLANTED_DEFECTS } from '../../packages/server/src/testing/planted-defects.ts';
import type { PlantedDefect } from '../../packages/server/src/testing/planted-defects.ts';

const { values } = parseArgs({
  options: {
    faults: { type: 'string', default: '20' },
    seed: { type: 'string' },
    out: { type: 'string', default: join(import.meta.dirname, 'reports') },
    keep: { type: 'boolean', default: false },
    writers: { type: 'string', default: '2' },
    kinds: { type: 'string' },
    defect: { type: 'string' },
    'settle-ms': { type: 'string' },
  },
});

const faults = Number(values.faults);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isSafeInteger(faults) || faults < 1) throw new Error(`--faults: expected a positive integer, got ${values.faults}`);
if (!Number.isSafeInteger(seed)) throw new Error(`--seed: expected an integer, got ${values.seed}`);
const kinds = values.kinds?.split(',').map((k) => k.trim()) as FaultKind[] | undefined;
for (const k of kinds ?? []) if (!FAULT_KINDS.includes(k)) throw new Error(`--kinds: unknown kind ${k} (kinds: ${FAULT_KINDS.join(', ')})`);

const defect = values.defect as PlantedDefect | undefined;
if (defect !== undefined && !PLANTED_DEFECTS.includes(defect)) throw new Error(`--defect: unknown defect ${defect} (defects: ${PLANTED_DEFECTS.join(', ')})`);
const settleMs = values['settle-ms'] === undefined ? undefined : Number(values['settle-ms']);
if (settleMs !== undefined && !(Number.isSafeInteger(settleMs) && settleMs >= 0)) throw new Error(`--settle-ms: expected a non-negative integer, got ${values['settle-ms']}`);
const replay = `--seed ${seed} --faults ${faults}${kinds === undefined ? '' : ` --kinds ${kinds.join(',')}`}${defect === undefined ? '' : ` --defect ${defect}`}${settleMs === undefined ? '' : ` --settle-ms ${settleMs}`}`;
console.log(`chaos: seed ${seed}, ${faults} faults (replay with ${replay})`);
mkdirSync(values.out, { recursive: true });
const base = join(values.out, `chaos-seed${seed}-faults${faults}${kinds === undefined ? '' : `-${kinds.join('+')}`}${defect === undefined ? '' : `-defect-${defect}`}`);
const report = await runChaos({
  historyFile: `${base}.history.jsonl`,
  defect,
  settleWorkloadMs: settleMs,
  seed,
  faults,
  kinds,
  keepDir: values.keep,
  writersPerTarget: Number(values.writers),
  log: (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`),
});
const text = reportText(report);
console.log(`\n${text}`);
writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(`${base}.txt`, `${text}\n`);
console.log(`report: ${base}.json, ${base}.txt, history ${base}.history.jsonl`);
process.exitCode = report.pass ? 0 : 1;
