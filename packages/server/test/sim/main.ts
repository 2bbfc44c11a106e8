// Runs the simulation of the shipped drivers over many seeds from the command line:
//   npm run sim -- --seeds 200 --steps 2000 --seed-base 1
//   npm run sim -- --seed 123 --steps 2000 --trace [--trace-lines 500]     (one seed, its trace)
//   --no-leader-data-loss: the leader never loses its WAL or data directory (by default it may, and recovers)
//   --append-timeout-min MS: draw append_timeout_ms of at least MS
//   --off disk_full,cut,...: set these profile rates to 0; --set apply_ms_per_entry=2,...: to a value
//   --variant NAME: run with a planted defect (sim.ts, Variant), to find seeds that catch it
// Prints totals, each failure with its replay line, and the elapsed time. Exit code 1 on a failure.
import { runSim } from './sim.ts';
import type { SimOptions, Variant } from './sim.ts';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? undefined : process.argv[i + 1];
}

function intArg(name: string, fallback: number): number {
  const raw = arg(name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`--${name} must be an integer, got ${raw}`);
  return n;
}

const steps = intArg('steps', 2000);
const one = arg('seed');
const seedBase = one !== undefined ? intArg('seed', 1) : intArg('seed-base', 1);
const seeds = one !== undefined ? 1 : intArg('seeds', 200);
const trace = process.argv.includes('--trace');
const traceLines = intArg('trace-lines', 200);
const leaderDataLoss = !process.argv.includes('--no-leader-data-loss');
/** Profile rates to zero, e.g. --off disk_full,cut (to look past a known failure), or to a value: --set apply_ms_per_entry=2. */
const off = (arg('off') ?? '').split(',').filter((k) => k !== '');
const set = (arg('set') ?? '').split(',').filter((kv) => kv !== '').map((kv) => kv.split('=') as [string, string]);
const timeoutMin = arg('append-timeout-min') === undefined ? undefined : intArg('append-timeout-min', 0);
const variant = (arg('variant') ?? 'none') as Variant;

const started = performance.now();
const totals: Record<string, number> = {};
const failures: string[] = [];
for (let seed = seedBase; seed < seedBase + seeds; seed++) {
  const lines: string[] = [];
  const opts: SimOptions = { seed, steps, variant, leader_data_loss: leaderDataLoss, append_timeout_min_ms: timeoutMin, tune: off.length + set.length === 0 ? undefined : (p) => {
      const rates = p as unknown as Record<string, number>;
      for (const [k, v] of [...off.map((k) => [k, '0'] as [string, string]), ...set]) {
        if (typeof rates[k] !== 'number' || !Number.isFinite(Number(v))) throw new Error(`--off/--set ${k}: not a number of the profile`);
        rates[k] = Number(v);
      }
    }, trace: trace ? (line) => lines.push(line) : undefined };
  try {
    const r = await runSim(opts);
    for (const [k, v] of Object.entries(r.counts)) totals[k] = (totals[k] ?? 0) + v;
    totals.entries = (totals.entries ?? 0) + r.last_index;
    totals.sim_ms = (totals.sim_ms ?? 0) + r.now_ms;
    totals.heal_ms = (totals.heal_ms ?? 0) + r.heal_ms;
  } catch (err) {
    const message = (err as Error).message;
    failures.push(`${message}\n  replay: npm run sim -- --seed ${seed} --steps ${steps}${leaderDataLoss ? '' : ' --no-leader-data-loss'}${timeoutMin !== undefined ? ` --append-timeout-min ${timeoutMin}` : ''}${off.length > 0 ? ` --off ${off.join(',')}` : ''}${set.length > 0 ? ` --set ${set.map((kv) => kv.join('=')).join(',')}` : ''}${variant !== 'none' ? ` --variant ${variant}` : ''} --trace`);
    console.log(failures[failures.length - 1]);
  } finally {
    if (trace) console.log(lines.slice(-traceLines).join('\n'));
  }
}
const elapsed = (performance.now() - started) / 1000;
console.log(`simulation: ${seeds} seed(s) x ${steps} steps from seed ${seedBase}: ${seeds - failures.length} passed, ${failures.length} failed, ${elapsed.toFixed(1)} s`);
console.log(JSON.stringify(Object.fromEntries(Object.entries(totals).sort(([a], [b]) => a.localeCompare(b)))));
for (const f of failures) console.log(f);
process.exitCode = failures.length > 0 ? 1 : 0;
