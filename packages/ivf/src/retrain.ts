// Retraining from a copy of an index's vectors, and installing the result without routing every
// vector again. The daemon runs trainSnapshot() on a copy (off its event loop) and ships the
// centroids together with the list of every vector it saw; replicas then only route the vectors
// that were added or changed since the copy was taken.

import { Assigner } from './assigner.ts';
import { IvfError, assert } from './errors.ts';
import { VectorList } from './list-store.ts';
import { nlist_max, suggestNlist, train_iterations_default, train_iterations_max } from './params.ts';
import { hash32 } from './prng.ts';
import { trainCentroids } from './train.ts';
import type { Metric, TrainOptions } from './types.ts';
import { checkCentroids, checkId } from './validate.ts';

/**
 * A copy of an index's vectors (IvfIndex.exportVectors()): `data` holds the rows exactly as the
 * index stores them (normalised for cosine), row i belongs to ids[i].
 */
export interface VectorSnapshot {
  dim: number;
  metric: Metric;
  ids: string[];
  data: Float32Array;
}

/**
 * Where each vector of a snapshot goes under new centroids: lists[i] is the list of ids[i], and
 * fingerprints[i] the vectorFingerprint() of the row that was assigned, so an installer can tell
 * a vector replaced since the snapshot (it is routed again) from the one that was assigned.
 */
export interface Assignment {
  ids: string[];
  lists: Uint32Array;
  fingerprints: Uint32Array;
}

export interface RetrainResult {
  /** nlist * dim floats. */
  centroids: Float32Array;
  /** Parallel to the snapshot's ids. */
  lists: Uint32Array;
  fingerprints: Uint32Array;
}

/** Resolved training parameters for n vectors (throws the IvfError train() documents). */
export function trainPlanFor(n: number, opts: TrainOptions, defaultSeed: number): { nlist: number; seed: number; iterations: number } {
  if (n < 1) throw new IvfError('too_few_vectors', 'train needs at least one vector');
  const nlist = opts.nlist ?? suggestNlist(n);
  if (!Number.isInteger(nlist) || nlist < 1 || nlist > Math.min(n, nlist_max)) {
    throw new IvfError('bad_nlist', `nlist must be an integer in [1, ${Math.min(n, nlist_max)}] (at most the vector count), got ${nlist}`);
  }
  const seed = opts.seed ?? defaultSeed;
  if (!Number.isInteger(seed)) throw new IvfError('bad_option', `seed must be an integer, got ${seed}`);
  const iterations = opts.iterations ?? train_iterations_default;
  if (!Number.isInteger(iterations) || iterations < 0 || iterations > train_iterations_max) {
    throw new IvfError('bad_option', `iterations must be an integer in [0, ${train_iterations_max}], got ${iterations}`);
  }
  return { nlist, seed, iterations };
}

/**
 * 32-bit fingerprint of the row at data[off .. off+dim): a hash of the float bits, so equal rows
 * give equal fingerprints on every node (rows are stored as identical bytes everywhere).
 */
export function vectorFingerprint(data: Float32Array, off: number, dim: number): number {
  return fingerprintWords(wordsOf(data), off, dim);
}

/** The float bits of `data` as 32-bit words (same memory; Float32Array offsets are 4-byte aligned). */
export function wordsOf(data: Float32Array): Uint32Array {
  return new Uint32Array(data.buffer, data.byteOffset, data.length);
}

/** vectorFingerprint over a word view (wordsOf), without a view per row. */
export function fingerprintWords(words: Uint32Array, off: number, dim: number): number {
  let h = (0x811c9dc5 ^ dim) >>> 0;
  for (let i = off, end = off + dim; i < end; i++) h = Math.imul(h ^ words[i]!, 0x01000193);
  return hash32(h >>> 0, dim);
}

/**
 * Trains centroids over a snapshot exactly as IvfIndex.train() would over the same vectors (the
 * training sample depends only on the (id, vector) pairs and the seed), then assigns every row
 * with the same Assigner an index builds from those centroids. Pure and synchronous: run it in a
 * worker for large snapshots.
 */
export function trainSnapshot(snapshot: VectorSnapshot, opts: TrainOptions & { seed: number }): RetrainResult {
  const { dim, ids, data, metric } = snapshot;
  const n = ids.length;
  assert(data.length === n * dim, 'snapshot holds one row per id');
  const plan = trainPlanFor(n, opts, opts.seed);
  const spherical = metric === 'cosine';
  const list = new VectorList(dim, 0);
  list.data = data;
  list.norms = new Float32Array(n); // training reads rows and ids only
  list.tags = new Int32Array(n);
  list.ids = ids;
  list.count = n;
  const centroids = trainCentroids([list], dim, { ...plan, routing: { spherical } });
  assert(centroids.length === plan.nlist * dim, 'training returns nlist*dim floats');
  return { centroids, ...assignSnapshot(snapshot, centroids) };
}

/**
 * Assigns every row of a snapshot to centroids with the Assigner an index builds from them, and
 * fingerprints each row: the lists an index installing these centroids would route them to.
 */
export function assignSnapshot(snapshot: VectorSnapshot, centroids: Float32Array): { lists: Uint32Array; fingerprints: Uint32Array } {
  const { dim, ids, data, metric } = snapshot;
  const n = ids.length;
  assert(data.length === n * dim, 'snapshot holds one row per id');
  const nlist = checkCentroids(centroids, dim);
  const assigner = new Assigner(centroids.slice(), nlist, dim, metric === 'cosine');
  const lists = new Uint32Array(n);
  const fingerprints = new Uint32Array(n);
  const words = wordsOf(data);
  for (let i = 0; i < n; i++) {
    lists[i] = assigner.assign(data, i * dim);
    fingerprints[i] = fingerprintWords(words, i * dim, dim);
  }
  return { lists, fingerprints };
}

/** Checks an assignment against centroids of `dim`; returns nlist. Throws IvfError before any change. */
export function checkAssignment(centroids: Float32Array, dim: number, a: Assignment): number {
  const nlist = checkCentroids(centroids, dim);
  if (!Array.isArray(a.ids) || !(a.lists instanceof Uint32Array) || !(a.fingerprints instanceof Uint32Array)) {
    throw new IvfError('bad_option', 'assignment needs ids, lists (Uint32Array) and fingerprints (Uint32Array)');
  }
  if (a.lists.length !== a.ids.length || a.fingerprints.length !== a.ids.length) {
    throw new IvfError('bad_option', `assignment of ${a.ids.length} ids has ${a.lists.length} lists and ${a.fingerprints.length} fingerprints`);
  }
  for (let i = 0; i < a.ids.length; i++) {
    checkId(a.ids[i]!);
    if (a.lists[i]! >= nlist) throw new IvfError('bad_option', `assignment list ${a.lists[i]} of ${a.ids[i]} is out of range [0, ${nlist})`);
  }
  return nlist;
}

/**
 * One assignment from several rounds (the training copy, then the vectors written while it was
 * assigned, ...): an id takes its entry from the latest round that holds it. Entries keep their
 * round order, rounds in order.
 */
export function mergeAssignments(rounds: readonly Assignment[]): Assignment {
  const later = new Set<string>();
  const keep: Uint8Array[] = new Array<Uint8Array>(rounds.length);
  let total = 0;
  for (let r = rounds.length - 1; r >= 0; r--) {
    const { ids } = rounds[r]!;
    const k = new Uint8Array(ids.length);
    for (let i = 0; i < ids.length; i++) {
      if (later.has(ids[i]!)) continue;
      k[i] = 1;
      total++;
    }
    if (r > 0) for (const id of ids) later.add(id);
    keep[r] = k;
  }
  const ids = new Array<string>(total);
  const lists = new Uint32Array(total);
  const fingerprints = new Uint32Array(total);
  let o = 0;
  rounds.forEach((round, r) => {
    const k = keep[r]!;
    for (let i = 0; i < round.ids.length; i++) {
      if (k[i] === 0) continue;
      ids[o] = round.ids[i]!;
      lists[o] = round.lists[i]!;
      fingerprints[o] = round.fingerprints[i]!;
      o++;
    }
  });
  return { ids, lists, fingerprints };
}
