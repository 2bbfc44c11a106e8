// npm run lincheck -- <history.jsonl[.gz]>...
// Checks recorded histories (format: HISTORY.md): linearizability per key, then the follower
// reads. Exits 1 on any violation, 2 if a key could not be decided within the budget, else 0.

import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { checkCairnHistory, historyBudget, pairOperations, parseHistory } from './history-format.ts';
import { checkSessions, sessionViolations } from './session-check.ts';

const undecided_keys_shown_max = 20;

function main(files: string[]): number {
  if (files.length === 0) {
    console.error('usage: npm run lincheck -- <history.jsonl[.gz]>...');
    return 2;
  }
  let violated = false;
  let undecided = false;
  for (const file of files) {
    const started = performance.now();
    const raw = readFileSync(file);
    const text = (file.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
    const events = parseHistory(text);
    const lin = checkCairnHistory(events, historyBudget());
    const sessions = checkSessions(pairOperations(events));
    const ms = Math.round(performance.now() - started);
    const t = lin.totals;
    console.log(`${file}: ${events.length} events`);
    console.log(`  linearizability: ${t.keys} keys, ${t.ops} ops: ${t.linearizable} linearizable, ${t.not_linearizable} NOT linearizable, ${t.unknown} unknown`);
    for (const k of lin.keys.filter((k) => k.verdict === 'not-linearizable')) for (const line of k.explanation) console.log(`    ${line}`);
    for (const k of lin.keys.filter((k) => k.verdict === 'unknown').slice(0, undecided_keys_shown_max)) console.log(`    ${k.explanation[0] ?? k.key}`);
    const n = sessionViolations(sessions);
    const c = sessions.counts;
    console.log(`  follower reads: ${sessions.checked.session} session, ${sessions.checked.none} none: ${n} violations (never written ${c.never_written}, stale ${c.stale}, non-monotonic ${c.monotonic})`);
    for (const v of sessions.violations) console.log(`    ${v}`);
    if (n > sessions.violations.length) console.log(`    ... and ${n - sessions.violations.length} more`);
    console.log(`  checked in ${ms} ms`);
    if (t.not_linearizable > 0 || n > 0) violated = true;
    if (t.unknown > 0) undecided = true;
  }
  return violated ? 1 : undecided ? 2 : 0;
}

process.exitCode = main(process.argv.slice(2));
