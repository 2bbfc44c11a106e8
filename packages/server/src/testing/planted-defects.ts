// Planted defects: deliberate violations of the product's promises that the chaos run starts a
// node with, to show that its checkers report each as a violation. Test-only: a node refuses to
// start with one unless its environment also says it runs under a test (CAIRN_ALLOW_PLANTED_DEFECTS=1),
// and every start with one logs it at error level.
//
//   CAIRN_PLANTED_DEFECTS=ack_before_fsync,...   (per node process; comma-separated)
//
// ack_before_fsync     the leader acknowledges a write as soon as it is written to its log: before
//                      the fsync, before any follower holds it, before it is applied
// ignore_min_index     a node answers reads at once, without waiting for ?min_index=
// cas_on_leader_only   the leader checks If-Match / If-None-Match against its own state when it
//                      prepares the write and logs it unconditionally (check and write are two steps)
// skip_deletes         this node applies delete entries as no-ops

export const PLANTED_DEFECTS = ['ack_before_fsync', 'ignore_min_index', 'cas_on_leader_only', 'skip_deletes'] as const;
export type PlantedDefect = (typeof PLANTED_DEFECTS)[number];

export const planted_defects_env = 'CAIRN_PLANTED_DEFECTS';
export const allow_planted_defects_env = 'CAIRN_ALLOW_PLANTED_DEFECTS';

/** The defects `env` asks for; throws when one is unknown or the environment is not a test's. */
export function parsePlantedDefects(env: NodeJS.ProcessEnv): ReadonlySet<PlantedDefect> {
  const raw = env[planted_defects_env]?.trim() ?? '';
  if (raw === '') return new Set();
  const names = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  for (const n of names) {
    if (!(PLANTED_DEFECTS as readonly string[]).includes(n)) {
      throw new Error(`${planted_defects_env}: unknown defect ${JSON.stringify(n)} (known: ${PLANTED_DEFECTS.join(', ')})`);
    }
  }
  if (env[allow_planted_defects_env] !== '1') {
    throw new Error(`${planted_defects_env} is set (${names.join(', ')}): planted defects break the product's guarantees and are refused outside tests`);
  }
  return new Set(names as PlantedDefect[]);
}

let active: ReadonlySet<PlantedDefect> | undefined;

/** Whether this process runs with `defect` planted (read from process.env once). */
export function planted(defect: PlantedDefect): boolean {
  active ??= parsePlantedDefects(process.env);
  return active.has(defect);
}

/** The planted defects of this process (read from process.env once); throws as parsePlantedDefects. */
export function plantedDefects(): ReadonlySet<PlantedDefect> {
  active ??= parsePlantedDefects(process.env);
  return active;
}
