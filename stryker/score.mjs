// Mutation scores from the committed incremental results (stryker/incremental-<name>.json, the
// mutation-testing-report-schema that StrykerJS writes at the end of each run), per file and per
// folder. A folder run in parts (store-text, store-topk, store-data, store-rank) is summed over its parts.
//
//   node stryker/score.mjs              every folder with results
//   node stryker/score.mjs store raft   those folders
//   node stryker/score.mjs --survivors store-text   also list each file's surviving mutants
//
// Score as StrykerJS counts it: killed and timed out over killed, timed out, survived and not
// covered; mutants that did not compile or broke the run are not counted.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const survivors = args.includes('--survivors');
const names = args.filter((a) => !a.startsWith('--'));

const available = readdirSync(here)
  .map((f) => /^incremental-(.+)\.json$/.exec(f)?.[1])
  .filter((n) => n !== undefined);
const folderOf = (name) => name.replace(/-(text|topk|core|data|rank)(-[a-z]+)?$/, '');
const chosen = names.length === 0 ? available : available.filter((n) => names.includes(n) || names.includes(folderOf(n)));
if (chosen.length === 0) {
  console.error(`no results for ${names.join(', ')} (have: ${available.join(', ')})`);
  process.exit(1);
}

const empty = () => ({ killed: 0, survived: 0, noCoverage: 0, invalid: 0 });
const add = (t, status) => {
  if (status === 'Killed' || status === 'Timeout') t.killed++;
  else if (status === 'Survived') t.survived++;
  else if (status === 'NoCoverage') t.noCoverage++;
  else t.invalid++;
};
const score = (t) => {
  const valid = t.killed + t.survived + t.noCoverage;
  return valid === 0 ? 'n/a' : `${((100 * t.killed) / valid).toFixed(2)} %`;
};
const row = (label, t) =>
  `${label.padEnd(58)} ${score(t).padStart(8)}  killed ${t.killed}, survived ${t.survived}, not covered ${t.noCoverage}, invalid ${t.invalid}`;

const folders = new Map();
// A folder's whole run (incremental-store.json) and its parts' runs cover the same files: each
// file is counted once, from the last result read, the parts' (read after the whole's).
chosen.sort((a, b) => (folderOf(a) === a ? -1 : 0) - (folderOf(b) === b ? -1 : 0) || (a < b ? -1 : 1));
for (const name of chosen) {
  const file = join(here, `incremental-${name}.json`);
  if (!existsSync(file)) continue;
  const report = JSON.parse(readFileSync(file, 'utf8'));
  const folder = folderOf(name);
  const perFile = folders.get(folder) ?? new Map();
  folders.set(folder, perFile);
  for (const [path, { mutants }] of Object.entries(report.files)) {
    const t = { ...empty(), left: [] };
    perFile.set(path, t);
    for (const m of mutants) {
      add(t, m.status);
      if (m.status === 'Survived' || m.status === 'NoCoverage') t.left.push(m);
    }
  }
}

for (const [folder, perFile] of folders) {
  const total = empty();
  console.log(`\n${folder}`);
  for (const [path, t] of [...perFile].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const k of Object.keys(total)) total[k] += t[k];
    console.log(row(`  ${path}`, t));
    if (survivors) {
      for (const m of t.left.sort((a, b) => a.location.start.line - b.location.start.line)) {
        const what = m.replacement === undefined ? '' : `: ${JSON.stringify(m.replacement).slice(0, 60)}`;
        console.log(`      ${m.location.start.line}:${m.location.start.column} ${m.mutatorName} ${m.status}${what}`);
      }
    }
  }
  console.log(row(`  ${folder} (all)`, total));
}
