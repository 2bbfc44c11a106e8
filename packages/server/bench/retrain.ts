// Retraining off the event loop, measured on real stores: a leader DocumentStore with N documents
// of the built-in hashing embedding (dim 384 by default) on a SQLite file, and a follower built
// from a copy of that file. The leader runs what the node's Retrainer runs (trainWorkspace: copy,
// train in a worker thread, assign the vectors written meanwhile) while writes keep being applied
// (20 documents every 100 ms, a replaced and a deleted one now and then), then both stores apply
// the centroids op. Prints the copy time, training time in the worker, the op's size, the apply time on
// each store, the event loop's worst stall on the leader (perf_hooks.monitorEventLoopDelay) during
// training and during the apply, and whether both stores end with the same checksum.
//
//   node --import tsx packages/server/bench/retrain.ts [--n 100000] [--dim 384] [--json FILE] [--v1]
//
// --v1 also applies the same centroids as an old-shape op (no assignment: every vector routed at
// apply time) on a second copy, for comparison (minutes at 100k).
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { HashingEmbedder } from '../src/embed/hashing.ts';
import { startRetrainJob } from '../src/retrain/job.ts';
import { trainWorkspace } from '../src/retrain/retrainer.ts';
import { DocumentStore } from '../src/store/document-store.ts';
import { decodeOp, encodeOp, op_version, vectorToBytes } from '../src/store/op.ts';
import type { Op, PutOp } from '../src/store/op.ts';
import { seededRandom } from '../src/store/testing.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}
const n = Number(arg('n', '100000'));
const dim = Number(arg('dim', '384'));
const jsonOut = arg('json', '');
const withV1 = process.argv.includes('--v1');
const ws = 'bench';

const vocabulary = Array.from({ length: 5000 }, (_, i) => `w${(i * 2654435761) % 99991}x${i % 37}`);
const rand = seededRandom(11);
const embedder = new HashingEmbedder({ dim });
let clock = 1_700_000_000_000;

function text(): string {
  const topic = Math.floor(rand() * 50);
  return Array.from({ length: 40 }, () => vocabulary[(topic * 97 + Math.floor(rand() * rand() * 800)) % vocabulary.length]).join(' ');
}

async function putOp(ids: string[]): Promise<PutOp> {
  const contents = ids.map(() => text());
  const vectors = await embedder.embed(contents);
  return {
    kind: 'put', v: op_version, ws, ts: clock++,
    docs: ids.map((id, i) => ({
      id, content: contents[i]!, path: null, language: null, metadata: null, tokens: 60,
      content_hash: createHash('sha256').update(contents[i]!).digest('hex'), bytes: Buffer.byteLength(contents[i]!), vector: vectorToBytes(vectors[i]!),
    })),
  };
}

function open(file: string): { db: Database.Database; store: DocumentStore; apply(bytes: Uint8Array): number } {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const store = new DocumentStore(db, { embedder });
  return {
    db, store,
    apply(bytes: Uint8Array): number {
      const t = performance.now();
      db.transaction(() => store.apply(decodeOp(bytes)))();
      return performance.now() - t;
    },
  };
}

const ms = (x: number): number => Math.round(x);
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

const dir = mkdtempSync(join(tmpdir(), 'cairn-retrain-bench-'));
try {
  const out: Record<string, unknown> = { n, dim, load_start: load() };
  const leader = open(join(dir, 'leader.db'));
  let t = performance.now();
  for (let i = 0; i < n; i += 1000) {
    const op = await putOp(Array.from({ length: Math.min(1000, n - i) }, (_, j) => `doc-${i + j}`));
    leader.apply(encodeOp(op));
  }
  out.build_s = +((performance.now() - t) / 1000).toFixed(1);
  console.log(`built ${n} x ${dim} in ${out.build_s} s (load ${load()})`);
  leader.db.exec(`VACUUM INTO '${join(dir, 'follower.db')}'`);
  if (withV1) leader.db.exec(`VACUUM INTO '${join(dir, 'follower-v1.db')}'`);
  const follower = open(join(dir, 'follower.db'));
  t = performance.now();
  follower.store.retrainCandidates(); // loads the follower's index from the tables
  out.follower_index_load_ms = ms(performance.now() - t);

  // --- the leader: copy, train in a worker while writes are applied (what the node's Retrainer runs) ---
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  await new Promise((r) => setTimeout(r, 50));
  /** Every entry the leader applies from the copy on, in its order (the follower replays it). */
  const during: Uint8Array[] = [];
  let writeApplyMax = 0;
  let writes = 0;
  let stop = false;
  const writer = async (): Promise<void> => {
    while (!stop) {
      const ids = Array.from({ length: 20 }, (_, j) => `late-${writes + j}`);
      if (writes % 100 === 0) ids.push(`doc-${writes}`); // a replaced vector
      const bytes = encodeOp(await putOp(ids));
      writes += 20;
      during.push(bytes);
      writeApplyMax = Math.max(writeApplyMax, leader.apply(bytes));
      if (writes % 200 === 0) {
        const del = encodeOp(leader.store.prepareDelete(ws, [`doc-${writes + 1}`]));
        during.push(del);
        leader.apply(del);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const started = performance.now();
  const job = startRetrainJob();
  let writing: Promise<void> = Promise.resolve();
  const { op, stats } = await trainWorkspace(leader.store, ws, job, { onStart: () => { writing = writer(); } });
  const trainedAt = performance.now();
  await job.terminate();
  if (op === null) throw new Error('nothing to train');
  Object.assign(out, {
    copy_ms: ms(stats.copy_ms), train_worker_ms: ms(stats.train_ms), train_wall_ms: ms(trainedAt - started), rounds: stats.rounds,
    op_ids: stats.assigned, unassigned: stats.unassigned, nlist: stats.nlist,
  });
  out.leader_stall_max_during_training_ms = ms(h.max / 1e6);
  h.reset();

  // --- the op: encode, apply on the leader (writes still arriving) ---
  const t2 = performance.now();
  const bytes = encodeOp(op);
  out.encode_ms = ms(performance.now() - t2);
  out.op_bytes = bytes.byteLength;
  await new Promise((r) => setTimeout(r, 20));
  during.push(bytes);
  out.apply_leader_ms = ms(leader.apply(bytes));
  await new Promise((r) => setTimeout(r, 20));
  out.leader_stall_max_apply_ms = ms(h.max / 1e6);
  out.retrain_total_ms = ms(performance.now() - started);
  h.disable();
  stop = true;
  await writing;
  out.writes_during_retrain = writes;
  out.write_apply_max_ms = ms(writeApplyMax);

  // --- a follower: the same entries in the leader's order ---
  for (const w of during) {
    if (w === bytes) out.apply_follower_ms = ms(follower.apply(w));
    else follower.apply(w);
  }
  out.checksums_equal = follower.store.checksum() === leader.store.checksum();
  out.retrain_due_after = leader.store.retrainCandidates();

  if (withV1) {
    const old = open(join(dir, 'follower-v1.db'));
    old.store.retrainCandidates();
    const v1: Op = { kind: 'centroids', v: op_version, ws, ts: op.ts, dim: op.dim, centroids: op.centroids };
    for (const w of during) {
      if (w === bytes) out.apply_v1_follower_ms = ms(old.apply(encodeOp(v1)));
      else old.apply(w);
    }
    old.db.close();
  }
  out.load_end = load();
  console.log(JSON.stringify(out, null, 2));
  if (jsonOut !== '') writeFileSync(jsonOut, JSON.stringify(out, null, 2));
  leader.db.close();
  follower.db.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
