// The seed of a randomised test (chaos, fuzz), chosen once per run: CAIRN_<NAME>_SEED when set
// (a replay), else a random one. It is in the test's name, in its failure messages, and written
// to test-artifacts/<name>-seed.txt (git-ignored; a CI job keeps the folder) with the command that
// replays it, before the test runs: a run that times out or is killed still leaves it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './cluster.ts';

export const ARTIFACTS_DIR = join(REPO_ROOT, 'test-artifacts');

/** The seed for `name` (env `variable` when set: it must be an integer), recorded with its replay command. */
export function runSeed(name: string, variable: string, replay: (seed: number) => string): number {
  const raw = process.env[variable];
  const seed = raw !== undefined && raw !== '' ? Number(raw) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isSafeInteger(seed)) throw new Error(`${variable} must be an integer, got ${raw}`);
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  writeFileSync(join(ARTIFACTS_DIR, `${name}-seed.txt`), `${name} seed ${seed}\nreplay: ${replay(seed)}\n`);
  return seed;
}
