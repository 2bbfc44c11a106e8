// `cairn serve` refused by the machine at start: a port in use, a data directory under a file, a
// directory or port it may not use. Each is one line naming the port or path and exit 1, not a
// stack trace. And the unknown flag of a subcommand is one line and exit 2.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startupErrorLine } from '../packages/server/src/cli/startup-errors.ts';
import { CAIRN_BIN, REPO_ROOT, clusterYaml, nodeEnv } from './helpers/cluster.ts';
import { freePort } from './helpers/ports.ts';

const dir = mkdtempSync(join(tmpdir(), 'cairn-startup-'));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function config(port: number): Promise<string> {
  const file = join(dir, `cluster-${port}.yaml`);
  writeFileSync(file, stringify(clusterYaml([port], dir, { replication: { secret: 'startup-test-secret' } })));
  chmodSync(file, 0o644);
  return file;
}

function serve(args: string[], asUser?: string): { code: number | null; stderr: string } {
  const cmd = asUser === undefined ? [process.execPath, CAIRN_BIN, 'serve', ...args] : ['setpriv', `--reuid=${asUser}`, '--regid=nogroup', '--clear-groups', process.execPath, CAIRN_BIN, 'serve', ...args];
  const r = spawnSync(cmd[0] as string, cmd.slice(1), { cwd: REPO_ROOT, env: { ...nodeEnv(), HOME: dir }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stderr: r.stderr };
}

/** The lines on stderr that are not the node's JSON log. */
function plainLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l !== '' && !l.startsWith('{'));
}

const canDropRoot = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;

describe('cairn serve at start', () => {
  it('names the port in use (EADDRINUSE) on one line', async () => {
    const port = await freePort();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
    try {
      const r = serve(['--config', await config(port), '--node-id', 'node-1', '--data-dir', join(dir, 'inuse')]);
      expect(r.code).toBe(1);
      expect(plainLines(r.stderr)).toEqual([`cairn serve: node-1: port 127.0.0.1:${port} is already in use (EADDRINUSE): another process listens there; stop it or choose another port (--port, server.port)`]);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it('names a data directory under a file (ENOTDIR) on one line', async () => {
    writeFileSync(join(dir, 'a-file'), 'not a directory');
    const r = serve(['--config', await config(await freePort()), '--node-id', 'node-1', '--data-dir', join(dir, 'a-file', 'data')]);
    expect(r.code).toBe(1);
    expect(plainLines(r.stderr)).toEqual([
      `cairn serve: node-1: cannot mkdir ${join(dir, 'a-file', 'data')} (ENOTDIR): a part of the path is a file, not a directory; check server.data_dir (--data-dir) and the permissions of its parent directories`,
    ]);
  });

  it.runIf(canDropRoot)('names a data directory it may not create (EACCES) on one line', async () => {
    const locked = join(dir, 'locked');
    mkdirSync(locked, { mode: 0o700 });
    const r = serve(['--config', await config(await freePort()), '--node-id', 'node-1', '--data-dir', join(locked, 'data')], 'nobody');
    expect(r.code).toBe(1);
    expect(plainLines(r.stderr)).toEqual([`cairn serve: node-1: cannot mkdir ${join(locked, 'data')} (EACCES): permission denied; check server.data_dir (--data-dir) and the permissions of its parent directories`]);
  });

  it.runIf(canDropRoot)('names a privileged port (EACCES) on one line', async () => {
    const data = join(dir, 'open');
    mkdirSync(data, { mode: 0o777 });
    chmodSync(data, 0o777);
    const r = serve(['--config', await config(await freePort()), '--node-id', 'node-1', '--port', '80', '--data-dir', join(data, 'd')], 'nobody');
    expect(r.code).toBe(1);
    expect(plainLines(r.stderr)).toEqual(['cairn serve: node-1: cannot listen on 127.0.0.1:80 (EACCES): ports below 1024 need privileges; choose a port from 1024 up (--port, server.port)']);
  });

  it('refuses an unknown flag with exit 2, naming it', () => {
    const r = serve(['--config', 'x.yaml', '--nodeid', 'node-1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('cairn serve: unknown flag --nodeid; see `cairn serve --help`\n');
  });
});

describe('startupErrorLine', () => {
  it('leaves errors that are not the system refusing a port or path to the caller', () => {
    expect(startupErrorLine(new Error('boom'))).toBeNull();
    expect(startupErrorLine(Object.assign(new Error('x'), { code: 'SQLITE_CORRUPT' }))).toBeNull();
    expect(startupErrorLine(Object.assign(new Error('x'), { code: 'EROFS', syscall: 'open', path: '/ro/log.db' }))).toBe(
      'cannot open /ro/log.db (EROFS): the file system is read-only; check server.data_dir (--data-dir) and the permissions of its parent directories',
    );
  });
});

describe('every subcommand refuses unknown flags', () => {
  it.each(['serve', 'cluster', 'status', 'force-resync', 'nginx-config', 'ingest'])('cairn %s --no-such-flag: exit 2, one line', (cmd) => {
    const r = spawnSync(process.execPath, [CAIRN_BIN, cmd, '--no-such-flag'], { cwd: REPO_ROOT, env: nodeEnv(), encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`cairn ${cmd}: unknown flag --no-such-flag; see \`cairn ${cmd} --help\`\n`);
  });
});
