// PassageIndexes: one TopKIndex per workspace over its passages (row id = passages.rowid), the
// text and path stemmed as passages_fts's porter tokenizer cuts them (terms.ts), so that its
// answers are the bm25 ranking of passages_fts within the workspace (see "Differences" below).
//
// Built from state.db when the store opens, in slices of about `slice_ms` of CPU each with the
// event loop free between them (the time is checked after each passage: a long document's
// passages span slices, its row and remaining passages read again in the next, since an apply may
// have replaced or deleted it in between; then the lists' spare room is trimmed, a few lists a
// slice), and only while the writing connection holds no open apply batch
// (a batch left open across turns is not visible to the reading connection; reading then could
// put back a passage the batch removed). Kept current by apply (Applier: put on each passage
// inserted, remove on each passage deleted), in the same turn as the statements. A put during the
// build of a row the build reaches later is put again with the same text; a row deleted before
// the build reaches it is never read. After a snapshot install or a failed apply the store is
// built again over the database, and with it this index.
//
// Until the build has finished (ready()), and while an apply batch is open, PassageSearcher
// answers from passages_fts as before.
//
// Differences from passages_fts: bm25's row count and mean length are the workspace's here, the
// whole table's (every workspace) in FTS5; the two agree for a state holding one workspace. The
// stemmer agrees with FTS5's on ASCII tokens (terms.ts). Not persisted.

import type { Database, Statement } from 'better-sqlite3';
import { TopKIndex } from './index.ts';
import type { TopKHit } from './index.ts';
import { rowTerms } from './terms.ts';

/** CPU per build slice before the event loop gets a turn. */
export const slice_ms = 4;
/** Documents read per page of the build. */
const page_documents = 8;
/** Lists trimmed at a time once the build has read every passage (the time is checked between). */
const trim_lists = 64;
export const content_weight = 1;
export const path_weight = 0.5;

interface DocumentRow {
  r: number;
  workspace: string;
  id: string;
  content: string;
  path: string | null;
}

export interface PassageIndexBuild {
  documents: number;
  passages: number;
  postings: number;
  /** Wall time from the start of the build to ready. */
  ms: number;
  /** The longest slice (event loop held), ms. */
  slice_max_ms: number;
  slices: number;
  /** The most CPU one slice used (this process, all its threads), ms: wall time less waiting for a core. */
  slice_max_cpu_ms: number;
  /** Slices that took more than 20 ms (a garbage collection falling into one, a busy machine). */
  slices_over_20ms: number;
  /** The longest slice: when it started (performance.now()), whether it read passages or trimmed lists, the passages it put. */
  slice_max_at: { started_ms: number; phase: 'read' | 'trim'; passages: number };
}

export class PassageIndexes {
  private readonly byWs = new Map<string, TopKIndex>();
  private built = false;
  private stopped = false;
  private postingsAdded = 0;
  /** Why the build stopped before it finished, if it did. */
  failure: string | null = null;
  /** The build's figures once it finished. */
  lastBuild: PassageIndexBuild | null = null;

  /** The terms of one passage, as passages_fts indexes it (content 1, path 0.5). */
  static terms(text: string, path: string | null): ReturnType<typeof rowTerms> {
    return rowTerms([{ text, weight: content_weight }, { text: path, weight: path_weight }], { stem: true });
  }

  /** True once built from the database (until then searches use passages_fts). */
  ready(): boolean {
    return this.built && !this.stopped;
  }

  /** A passage written by apply (or read by the build). */
  put(ws: string, row: number, text: string, path: string | null): void {
    if (this.stopped) return;
    let index = this.byWs.get(ws);
    if (index === undefined) {
      index = new TopKIndex();
      this.byWs.set(ws, index);
    }
    const terms = PassageIndexes.terms(text, path);
    index.put(row, terms);
    this.postingsAdded += terms.terms.size;
  }

  /** A passage deleted by apply. */
  remove(ws: string, row: number): void {
    if (this.stopped) return;
    this.byWs.get(ws)?.remove(row);
  }

  /** The best `depth` passages of the workspace for the (stemmed) query terms. */
  search(ws: string, terms: readonly string[], depth: number): TopKHit[] {
    const index = this.byWs.get(ws);
    return index === undefined ? [] : index.search(terms, depth);
  }

  /** The scores of these passages for the terms (those that match). */
  scoreRows(ws: string, terms: readonly string[], rows: readonly number[]): TopKHit[] {
    const index = this.byWs.get(ws);
    return index === undefined ? [] : index.scoreRows(terms, rows);
  }

  /** Bytes reserved by the posting lists of every workspace (typed arrays). */
  postingBytes(): number {
    let n = 0;
    for (const index of this.byWs.values()) n += index.postingBytes();
    return n;
  }

  /** Bytes reserved by every typed array of every workspace's index (lists, row tables, term ids). */
  bytesHeld(): number {
    let n = 0;
    for (const index of this.byWs.values()) n += index.bytesHeld();
    return n;
  }

  /** Passages held in a workspace. */
  size(ws: string): number {
    return this.byWs.get(ws)?.size ?? 0;
  }

  /** Stops a build under way and forgets everything. */
  stop(): void {
    this.stopped = true;
    this.byWs.clear();
  }

  /**
   * Builds the index from the database in slices (see the header). `writerBusy` says whether an
   * apply batch is open on the writing connection; `idle` resolves when none is.
   */
  async build(db: Database, writerBusy: () => boolean, idle: () => Promise<void>, opts: { slice_ms?: number } = {}): Promise<PassageIndexBuild> {
    const sliceMs = opts.slice_ms ?? slice_ms;
    if (!(sliceMs >= 0)) throw new Error(`invariant: slice_ms ${sliceMs}`);
    const started = performance.now();
    const docsPage: Statement = db.prepare('SELECT rowid AS r, workspace, id, content, path FROM documents WHERE rowid > ? ORDER BY rowid LIMIT ?');
    const docAt: Statement = db.prepare('SELECT rowid AS r, workspace, id, content, path FROM documents WHERE rowid = ?');
    const passagesFrom: Statement = db.prepare('SELECT rowid AS r, n, start, "end" AS e FROM passages WHERE workspace = ? AND doc_id = ? AND n > ? ORDER BY n');
    let after = 0;
    let documents = 0;
    let passages = 0;
    let sliceMax = 0;
    let slices = 0;
    let slow = 0;
    let sliceMaxCpu = 0;
    let sliceMaxAt: PassageIndexBuild['slice_max_at'] = { started_ms: 0, phase: 'read', passages: 0 };
    const postingsBefore = this.postingsAdded;
    let read = true;
    /** A document whose passages after `n` are still to be read (its row read again then: it may have changed between slices). */
    let pending: { r: number; n: number } | null = null;
    let trimQueue: string[] = [];
    let trimFrom = 0;
    /** Puts the document's passages after `fromN` until the slice's time is up; false when it stopped inside the document. */
    const readDocument = (d: DocumentRow, fromN: number, t0: number): boolean => {
      for (const p of passagesFrom.all(d.workspace, d.id, fromN) as { r: number; n: number; start: number; e: number }[]) {
        this.put(d.workspace, p.r, d.content.slice(p.start, p.e), d.path);
        passages += 1;
        if (performance.now() - t0 >= sliceMs) {
          pending = { r: d.r, n: p.n };
          after = d.r;
          return false;
        }
      }
      documents += 1;
      after = d.r;
      return true;
    };
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.stopped) break;
      if (writerBusy()) {
        await idle();
        continue;
      }
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const passagesBefore = passages;
      const phase = read ? 'read' : 'trim';
      let done = false;
      try {
        // at least one passage or trim step a slice, however short the slice
        let first = true;
        if (pending !== null) {
          const { r, n } = pending as { r: number; n: number };
          pending = null;
          const d = docAt.get(r) as DocumentRow | undefined;
          // deleted since: its passages left the index with it
          if (d !== undefined) readDocument(d, n, t0);
          first = false;
        }
        while (read && pending === null && (first || performance.now() - t0 < sliceMs)) {
          first = false;
          const page = docsPage.all(after, page_documents) as DocumentRow[];
          if (page.length === 0) {
            read = false;
            trimQueue = [...this.byWs.keys()];
            break;
          }
          for (const d of page) {
            if (!readDocument(d, -1, t0) || performance.now() - t0 >= sliceMs) break;
          }
        }
        // Then the room the lists reserved beyond their postings is given back, a few lists at a time.
        first = true;
        while (!read && (first || performance.now() - t0 < sliceMs)) {
          first = false;
          const ws = trimQueue[0];
          if (ws === undefined) {
            done = true;
            break;
          }
          const index = this.byWs.get(ws);
          trimFrom = index === undefined ? Infinity : index.trim(trimFrom, trim_lists);
          if (index === undefined || trimFrom >= index.termsHeld) {
            trimQueue.shift();
            trimFrom = 0;
          }
        }
      } catch (err) {
        // The database closed under the build (the store replaced), or a bad row: searches stay on passages_fts.
        this.failure = db.open ? (err as Error).message : 'database closed';
        this.stop();
        break;
      }
      slices += 1;
      const took = performance.now() - t0;
      const c1 = process.cpuUsage(c0);
      sliceMaxCpu = Math.max(sliceMaxCpu, (c1.user + c1.system) / 1000);
      if (took > sliceMax) {
        sliceMax = took;
        sliceMaxAt = { started_ms: t0, phase, passages: passages - passagesBefore };
      }
      if (took > 20) slow += 1;
      if (done) break;
    }
    const result = { documents, passages, postings: this.postingsAdded - postingsBefore, ms: performance.now() - started, slice_max_ms: sliceMax, slice_max_cpu_ms: sliceMaxCpu, slices, slices_over_20ms: slow, slice_max_at: sliceMaxAt };
    if (!this.stopped) {
      this.built = true;
      this.lastBuild = result;
    }
    return result;
  }
}
