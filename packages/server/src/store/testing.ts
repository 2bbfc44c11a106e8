// Test helpers: a real SQLite file in a temporary folder, a store over it, a seeded PRNG and
// "propose" that applies an op in a transaction the way the node does.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Database as Db } from 'better-sqlite3';
import { HashingEmbedder } from '../embed/hashing.ts';
import type { Embedder } from '../embed/types.ts';
import { DocumentStore } from './document-store.ts';
import { decodeOp, encodeOp } from './op.ts';
import type { Op } from './op.ts';
import type { AssembleRequest } from './assemble.ts';

export interface TestStore {
  db: Db;
  store: DocumentStore;
  dir: string;
  /** Applies op (after a msgpack round trip, as it would cross the log) in one transaction. */
  applyLogged(op: Op): void;
  /** Prepare-and-apply one document. */
  put(ws: string, doc: Record<string, unknown>): Promise<string>;
  close(): void;
  [Symbol.dispose](): void;
}

export function openTestStore(opts: { embedder?: Embedder; clock?: () => number; file?: string; passage_tokens?: number } = {}): TestStore {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-store-'));
  const db = new Database(opts.file ?? join(dir, 'state.db'));
  db.pragma('journal_mode = WAL');
  const store = new DocumentStore(db, {
    embedder: opts.embedder ?? new HashingEmbedder({ dim: 64 }), clock: opts.clock ?? fixedClock(),
    ...(opts.passage_tokens === undefined ? {} : { passage_tokens: opts.passage_tokens }),
  });
  const applyLogged = (op: Op): void => {
    const wire = decodeOp(encodeOp(op));
    db.transaction(() => store.apply(wire))();
  };
  const close = (): void => {
    store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return {
    db, store, dir, applyLogged, close, [Symbol.dispose]: close,
    put: async (ws, doc) => {
      const op = await store.preparePut(ws, doc);
      applyLogged(op);
      return op.docs[0]?.id ?? '';
    },
  };
}

/** A clock that starts at a fixed instant and advances 1 ms per read. */
export function fixedClock(start = 1_700_000_000_000): () => number {
  let t = start;
  return () => t++;
}

/** mulberry32: a small seeded PRNG, [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * True inside `npm run mutate` (CAIRN_MUTATION_RUN=1): the few tests that take a minute or more
 * under StrykerJS's instrumentation (the retrieval check over installed READMEs, the 1 MiB term-id
 * chunks) are skipped there; each has a faster test of the same code that runs in both.
 */
export const mutationRun = process.env.CAIRN_MUTATION_RUN === '1';

/**
 * A property test's number of runs: `n`, or `n` times CAIRN_PROPERTY_RUNS (a fraction, at least 5
 * runs) when that is set. `npm run mutate` sets 0.2, since each surviving mutant reruns every
 * property test that covers it; the suite runs them all.
 */
export function propertyRuns(n: number): number {
  const scale = Number(process.env.CAIRN_PROPERTY_RUNS ?? '1');
  if (!Number.isFinite(scale) || scale <= 0 || scale >= 1) return n;
  return Math.max(5, Math.ceil(n * scale));
}

/** An assemble request with no filters, 4,000 tokens and 10 documents, changed by `over`. */
export function assembleRequest(over: Partial<AssembleRequest> & Pick<AssembleRequest, 'query' | 'granularity'>): AssembleRequest {
  return { max_tokens: 4000, max_documents: 10, include_patterns: [], exclude_patterns: [], ...over };
}
