// The files under an ingested root, in a stable order (names sorted per directory), filtered by
// --include / --exclude globs (store/glob.ts: linear-time matching of the relative path).
//
// Besides the files to ingest it reports what --sync must not delete: every regular file present
// (included or not: a file left out by a glob is not gone), and the directories it could not see
// into (unreadable, or pruned by an --exclude that matches the directory itself).
// Symbolic links to files are followed; links to directories are not (no cycles), and counted.

import { opendir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PathMatcher } from '../store/glob.ts';

/** A walk stops with an error past this many entries (files and directories). */
export const walk_entries_max = 5_000_000;

export interface WalkFile {
  abs: string;
  /** Relative to the root, "/"-separated. */
  rel: string;
  size: number;
}

export interface WalkResult {
  files: WalkFile[];
  /** Every regular file's rel path, included by the globs or not. */
  present: Set<string>;
  /** Directories (rel) whose files are unknown: --sync deletes nothing under them. */
  unseen: string[];
  /** One line per problem met (an unreadable directory, a broken link). */
  problems: string[];
  linkedDirectories: number;
}

export interface Filters {
  include: string[];
  exclude: string[];
}

export class Filter {
  private readonly include: PathMatcher | null;
  private readonly exclude: PathMatcher | null;

  /** Throws GlobError for a pattern that cannot be parsed. */
  constructor(f: Filters) {
    this.include = f.include.length === 0 ? null : new PathMatcher(f.include);
    this.exclude = f.exclude.length === 0 ? null : new PathMatcher(f.exclude);
  }

  takesFile(rel: string): boolean {
    if (this.exclude?.matches(rel) === true) return false;
    return this.include === null || this.include.matches(rel);
  }

  /** A directory an exclude names as itself (`build`, `node_modules/**`) is not entered. */
  prunesDirectory(rel: string): boolean {
    return this.exclude !== null && (this.exclude.matches(rel) || this.exclude.matches(`${rel}/`));
  }
}

/** Walks `root`, a directory, or a single file (then its rel is its name). */
export async function walk(root: string, filter: Filter): Promise<WalkResult> {
  const out: WalkResult = { files: [], present: new Set(), unseen: [], problems: [], linkedDirectories: 0 };
  const top = await stat(root);
  if (top.isFile()) {
    const rel = basename(root);
    out.present.add(rel);
    if (filter.takesFile(rel)) out.files.push({ abs: root, rel, size: top.size });
    return out;
  }
  const stack: string[] = [''];
  let entries = 0;
  for (let dirRel = stack.pop(); dirRel !== undefined; dirRel = stack.pop()) {
    const dirAbs = dirRel === '' ? root : join(root, dirRel);
    let names: Array<{ name: string; kind: 'file' | 'dir' | 'link' | 'other' }>;
    try {
      names = [];
      for await (const d of await opendir(dirAbs)) {
        if (++entries > walk_entries_max) throw new Error(`more than ${walk_entries_max} entries under ${root}`);
        names.push({ name: d.name, kind: d.isFile() ? 'file' : d.isDirectory() ? 'dir' : d.isSymbolicLink() ? 'link' : 'other' });
      }
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === undefined) throw err;
      out.unseen.push(dirRel);
      out.problems.push(`${dirAbs}: cannot read the directory (${e.code}); nothing under it is ingested or deleted`);
      continue;
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: string[] = [];
    for (const { name, kind } of names) {
      const rel = dirRel === '' ? name : `${dirRel}/${name}`;
      const abs = join(dirAbs, name);
      let isFile = kind === 'file';
      const isDir = kind === 'dir';
      let size = -1;
      if (kind === 'link') {
        try {
          const target = await stat(abs);
          isFile = target.isFile();
          if (target.isDirectory()) out.linkedDirectories++;
          size = target.size;
        } catch (err) {
          out.problems.push(`${abs}: a broken link (${(err as NodeJS.ErrnoException).code ?? 'error'}); skipped`);
          continue;
        }
      }
      if (isDir) {
        if (filter.prunesDirectory(rel)) out.unseen.push(rel);
        else subdirs.push(rel);
        continue;
      }
      if (!isFile) continue;
      out.present.add(rel);
      if (!filter.takesFile(rel)) continue;
      if (size < 0) {
        try {
          size = (await stat(abs)).size;
        } catch (err) {
          out.problems.push(`${abs}: cannot stat (${(err as NodeJS.ErrnoException).code ?? 'error'}); skipped`);
          continue;
        }
      }
      out.files.push({ abs, rel, size });
    }
    // Depth first, in name order: push in reverse so the first name is walked first.
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i] as string);
  }
  return out;
}

/** True when `rel` is `dir` or lies under it ("" is the whole root). */
export function isUnder(rel: string, dir: string): boolean {
  return dir === '' || rel === dir || rel.startsWith(`${dir}/`);
}
