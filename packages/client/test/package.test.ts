// The package as a consumer gets it: `npm pack` (which builds dist/ with tsc), installed into a
// fresh project, imported by plain Node (no TypeScript loader) and type-checked by tsc against
// its declarations. And `import('@cairn/client')` from the repository root.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');
const PACKAGE_DIR = join(REPO_ROOT, 'packages', 'client');
const dir = mkdtempSync(join(tmpdir(), 'cairn-client-consumer-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

describe('@cairn/client as a package', () => {
  it('packs with its built JavaScript and declarations only', () => {
    const out = run('npm', ['pack', '--json', '--pack-destination', dir], PACKAGE_DIR);
    const [info] = JSON.parse(out.slice(out.indexOf('['))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = (info?.files ?? []).map((f) => f.path);
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files.some((f) => f.startsWith('src/') || f.startsWith('test/'))).toBe(false);
  }, 120_000);

  it('is imported by plain Node and type-checks in a consumer project', () => {
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    const app = join(dir, 'app');
    execFileSync('mkdir', ['-p', app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { '@cairn/client': `file:../${tarball}` } }));
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], app);
    const names = run(process.execPath, ['-e', "import('@cairn/client').then((m) => console.log(Object.keys(m).sort().join(',')))"], app);
    expect(names.trim().split(',')).toEqual(expect.arrayContaining(['CairnClient', 'CairnError', 'OutcomeUnknownError', 'PreconditionFailedError', 'UnavailableError']));

    writeFileSync(
      join(app, 'main.ts'),
      [
        "import { CairnClient, PreconditionFailedError } from '@cairn/client';",
        "import type { BulkProgress, Document } from '@cairn/client';",
        "const c = new CairnClient({ endpoints: ['http://127.0.0.1:8000'], workspace: 'docs' });",
        "const got: Promise<Document | null> = c.get('a/b.md');",
        "const seen = (p: BulkProgress): number => p.done;",
        "void got; void seen; void PreconditionFailedError;",
        '// @ts-expect-error: content is required',
        "void c.put({ id: 'x' });",
        '',
      ].join('\n'),
    );
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2023,dom', 'main.ts'], app);
  }, 120_000);

  it('is imported by plain Node from the repository root', () => {
    const names = run(process.execPath, ['-e', "import('@cairn/client').then((m) => console.log(typeof m.CairnClient))"], REPO_ROOT);
    expect(names.trim()).toBe('function');
  });
});
