// PassageIndexes: one TopKIndex per workspace over its passages (row id = passages.rowid), the
// text and path stemmed as passages_fts's porter tokenizer cuts them (terms.ts), so that its
// answers are the bm25 ranking of passages_fts within the workspace (see "Differences" below).
//
// Built from state.db when the store opens, in slices of about `slice_ms` of CPU each with the
// event loop free between them, and only while the writing connection holds no open apply batch
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
export const content_weight = 1;
export const path_weight = 0.5;

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
  async build(db: Database, writerBusy: () => boolean, idle: () => Promise<void>): Promise<PassageIndexBuild> {
    const started = performance.now();
    const docsPage: Statement = db.prepare('SELECT rowid AS r, workspace, id, content, path FROM documents WHERE rowid > ? ORDER BY rowid LIMIT ?');
    const passagesOf: Statement = db.prepare('SELECT rowid AS r, start, "end" AS e FROM passages WHERE workspace = ? AND doc_id = ? ORDER BY n');
    let after = 0;
    let documents = 0;
    let passages = 0;
    let sliceMax = 0;
    let slices = 0;
    let slow = 0;
    let sliceMaxCpu = 0;
    const postingsBefore = this.postingsAdded;
    for (;;) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (this.stopped) break;
      if (writerBusy()) {
        await idle();
        continue;
      }
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      let done = false;
      try {
        while (performance.now() - t0 < slice_ms) {
          const page = docsPage.all(after, page_documents) as { r: number; workspace: string; id: string; content: string; path: string | null }[];
          if (page.length === 0) {
            done = true;
            break;
          }
          for (const d of page) {
            for (const p of passagesOf.all(d.workspace, d.id) as { r: number; start: number; e: number }[]) {
              this.put(d.workspace, p.r, d.content.slice(p.start, p.e), d.path);
              passages += 1;
            }
            documents += 1;
            after = d.r;
            if (performance.now() - t0 >= slice_ms) break;
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
      sliceMax = Math.max(sliceMax, took);
      if (took > 20) slow += 1;
      if (done) break;
    }
    const result = { documents, passages, postings: this.postingsAdded - postingsBefore, ms: performance.now() - started, slice_max_ms: sliceMax, slice_max_cpu_ms: sliceMaxCpu, slices, slices_over_20ms: slow };
    if (!this.stopped) {
      this.built = true;
      this.lastBuild = result;
    }
    return result;
  }
}
