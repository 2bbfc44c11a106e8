// A corpus no one here wrote and queries from deep inside its documents, for the retrieval check
// (test/retrieval-deep.test.ts) and its bench (bench/search-retrieval.ts).
//
// The corpus: the Markdown files that the npm packages of package-lock.json ship (READMEs and
// docs; not licences, change logs or contributing guides), 8 to 400 KiB each, one per distinct
// content, sorted by path. The packages are the lock file's entries that `npm ci` installs on every
// machine: not workspace links, not platform-bound (`os`/`cpu`), not optional (npm may leave those
// out). The files come from the tarballs the lock pins by integrity, so the set is the same on every
// machine that ran `npm ci`; a selected package that is not installed is reported, not skipped.
//
// The queries: sentences after the first 40 % of a document, 8 to 30 words, mostly words (not
// code), found in no other document of the corpus (else two documents would be right).

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { SearchResult } from '../../packages/server/src/store/document-store.ts';

export const doc_bytes_min = 8 * 1024;
export const doc_bytes_max = 400 * 1024;
/** How far into a document a query's sentence starts at the earliest (fraction of its length). */
export const sentence_depth_min = 0.4;
export const sentence_words_min = 8;
export const sentence_words_max = 30;
/** Directory depth searched inside a package for Markdown files (docs/api/x.md is depth 2). */
const package_depth_max = 3;
const not_documentation = /^(licen[cs]e|changelog|changes|history|contributing|code_of_conduct|security|releases?)\b/i;

export interface CorpusDocument {
  /** The file's path under node_modules, also used as the document's id and path. */
  path: string;
  content: string;
}

export interface LockedCorpus {
  /** Lock file entries selected (installed by every `npm ci`). */
  packages: number;
  /** Selected packages whose directory is missing under node_modules (an incomplete install). */
  missing: string[];
  /** Markdown files in the size range, before removing repeated contents. */
  files: number;
  docs: CorpusDocument[];
}

interface LockEntry {
  link?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  os?: string[];
  cpu?: string[];
}

/** The packages of package-lock.json that every `npm ci` installs, sorted by path. */
export function lockedPackages(repoRoot: string): string[] {
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages?: Record<string, LockEntry> };
  if (lock.packages === undefined) throw new Error('package-lock.json has no "packages" (lockfileVersion 2 or later is needed)');
  return Object.entries(lock.packages)
    .filter(([path, e]) => (path.startsWith('node_modules/') || path.includes('/node_modules/')) && e.link !== true && e.optional !== true && e.devOptional !== true && e.os === undefined && e.cpu === undefined)
    .map(([path]) => path)
    .sort();
}

function markdownFiles(dir: string, depth: number, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (depth < package_depth_max) markdownFiles(p, depth + 1, out);
    } else if (entry.isFile() && /\.md$/i.test(entry.name) && !not_documentation.test(entry.name)) {
      out.push(p);
    }
  }
}

/** The corpus of the packages package-lock.json pins (see the file's comment). */
export function lockedCorpus(repoRoot: string): LockedCorpus {
  const packages = lockedPackages(repoRoot);
  const missing: string[] = [];
  const paths: string[] = [];
  for (const pkg of packages) {
    const dir = join(repoRoot, pkg);
    if (!existsSync(dir)) {
      missing.push(pkg);
      continue;
    }
    markdownFiles(dir, 0, paths);
  }
  const seen = new Set<string>();
  const docs: CorpusDocument[] = [];
  let files = 0;
  for (const p of paths.sort()) {
    const size = statSync(p).size;
    if (size < doc_bytes_min || size > doc_bytes_max) continue;
    files += 1;
    const content = readFileSync(p, 'utf8');
    const hash = createHash('sha256').update(content).digest('hex');
    if (seen.has(hash)) continue;
    seen.add(hash);
    docs.push({ path: p.slice(repoRoot.length + 1).replace(/^node_modules\//, ''), content });
  }
  return { packages: packages.length, missing, files, docs };
}

export interface DeepQuery {
  doc: string;
  /** The sentence with its whitespace squashed to single spaces: the query. */
  sentence: string;
  /** Where the sentence lies in the document's content, [start, end) in UTF-16 code units. */
  start: number;
  end: number;
}

export function squash(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** Each sentence of a document's prose (outside fenced code, headings, tables and HTML), with its offsets. */
export function proseSentences(content: string): { text: string; start: number; end: number }[] {
  const segmenter = new Intl.Segmenter('en', { granularity: 'sentence' });
  const out: { text: string; start: number; end: number }[] = [];
  let fence: string | null = null;
  let block: { start: number; end: number } | null = null;
  const flush = (): void => {
    if (block === null) return;
    const { start, end } = block;
    block = null;
    // Line ends become spaces (the same length), so offsets in the block are offsets in the content.
    const text = content.slice(start, end).replace(/\n/g, ' ');
    for (const seg of segmenter.segment(text)) {
      const lead = seg.segment.length - seg.segment.trimStart().length;
      const trimmed = seg.segment.trim();
      if (trimmed.length === 0) continue;
      const a = start + seg.index + lead;
      out.push({ text: trimmed, start: a, end: a + trimmed.length });
    }
  };
  let at = 0;
  for (const line of content.split('\n')) {
    const lineStart = at;
    at += line.length + 1;
    const marker = /^\s{0,3}(```+|~~~+)/.exec(line)?.[1];
    if (fence !== null) {
      if (marker !== undefined && marker[0] === fence[0] && marker.length >= fence.length) fence = null;
      continue;
    }
    if (marker !== undefined) {
      flush();
      fence = marker;
      continue;
    }
    const trimmed = line.trim();
    if (trimmed === '' || /^(#|\||<|={3,}$|-{3,}$)/.test(trimmed) || /^( {4}|\t)/.test(line)) {
      flush();
      continue;
    }
    const lineEnd = lineStart + line.replace(/\r$/, '').length;
    if (block === null) block = { start: lineStart, end: lineEnd };
    else block.end = lineEnd;
  }
  flush();
  return out;
}

function qualifies(text: string): boolean {
  const words = text.split(/\s+/);
  if (words.length < sentence_words_min || words.length > sentence_words_max) return false;
  const wordy = words.filter((w) => /^[("']?[A-Za-z][a-z'-]*[)"']?[,;:.!?]?$/.test(w)).length;
  return wordy >= words.length * 0.7;
}

/**
 * Up to `per_doc` queries from each document: of its qualifying sentences past the first 40 %, the
 * ones at evenly spaced positions (the next qualifying one when a pick also occurs in another
 * document). Deterministic: the same corpus gives the same queries.
 */
export function deepQueries(docs: CorpusDocument[], per_doc: number): { queries: DeepQuery[]; shared_skipped: number } {
  const flat = docs.map((d) => squash(d.content));
  const queries: DeepQuery[] = [];
  let shared_skipped = 0;
  docs.forEach((d, i) => {
    const depth = d.content.length * sentence_depth_min;
    const candidates = proseSentences(d.content).filter((s) => s.start >= depth && qualifies(s.text));
    const taken = new Set<number>();
    for (let q = 0; q < per_doc && q < candidates.length; q++) {
      for (let k = Math.floor(((q + 0.5) * candidates.length) / per_doc); k < candidates.length; k++) {
        if (taken.has(k)) continue;
        const c = candidates[k] as { text: string; start: number; end: number };
        const sentence = squash(c.text);
        if (flat.some((other, j) => j !== i && other.includes(sentence))) {
          shared_skipped += 1;
          taken.add(k);
          continue;
        }
        taken.add(k);
        queries.push({ doc: d.path, sentence, start: c.start, end: c.end });
        break;
      }
    }
  });
  return { queries, shared_skipped };
}

/** Right at passage level: a top-`n` hit is the query's document and one of its reported passages overlaps the sentence. */
export function passageFound(results: readonly Pick<SearchResult, 'id' | 'passages'>[], q: DeepQuery, n: number): boolean {
  const hit = results.slice(0, n).find((r) => r.id === q.doc);
  return hit?.passages?.some((p) => p.start < q.end && p.end > q.start) === true;
}

/** Right at document level: the query's document is among the top `n` hits. */
export function documentFound(results: readonly Pick<SearchResult, 'id'>[], q: DeepQuery, n: number): boolean {
  return results.slice(0, n).some((r) => r.id === q.doc);
}

/** Right for assembly: the query's document is in the answer with the whole sentence in its content. */
export function assembledHolds(documents: readonly { id: string; content: string }[], q: DeepQuery): boolean {
  return documents.some((d) => d.id === q.doc && squash(d.content).includes(q.sentence));
}
