// Temporary directories, small tmpfs mounts and a disk filler for the storage tests of this
// folder. Each test file makes one TestDisks and calls cleanup() after each test.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class TestDisks {
  private readonly cleanups: Array<() => void> = [];

  constructor(private readonly prefix: string) {}

  /** A new empty directory, removed at cleanup. */
  tempDir(): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), `cairn-${this.prefix}-`));
    this.cleanups.push(() => fs.rmSync(d, { recursive: true, force: true }));
    return d;
  }

  /** A tmpfs of `mb` MiB on a temp dir (unmounted at cleanup), or null when mounting is not allowed. */
  tmpfs(mb: number): string | null {
    const dir = this.tempDir();
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', dir], { stdio: 'pipe' });
    } catch {
      return null;
    }
    this.cleanups.push(() => execFileSync('umount', [dir]));
    return dir;
  }

  /** Runs fn at cleanup (before what was made earlier is undone). */
  defer(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /** Undoes what the test made, newest first. */
  cleanup(): void {
    for (const c of this.cleanups.splice(0).reverse()) c();
  }
}

/** Fills the file system holding `dir` with `dir/<name>` until ENOSPC. */
export function fillDisk(dir: string, name = 'filler'): void {
  const fd = fs.openSync(path.join(dir, name), 'a');
  try {
    for (const chunk of [1024 * 1024, 64 * 1024, 4096, 1]) {
      const buf = Buffer.alloc(chunk, 1);
      for (;;) {
        try {
          if (fs.writeSync(fd, buf) < chunk) break;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** What fn threw (it must throw). */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}
