// Running the machine's nginx unprivileged with a rendered config: for `cairn cluster` and the
// end-to-end tests. Everything nginx writes (pid, temp files, logs) stays under one directory.

import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { renderNginxConf } from './nginx.ts';
import type { NginxRenderOptions } from './nginx.ts';
import type { CairnConfig } from '../config/types.ts';

export const NGINX_INSTALL_ADVICE = 'nginx is not installed: install it with `apt-get update && apt-get install -y nginx` (Debian/Ubuntu)';
const START_DEADLINE_MS = 10_000;
const STOP_DEADLINE_MS = 5_000;
const POLL_MS = 50;

/**
 * Sends `signal` to the process group a detached child leads (itself and what it forked: nginx's
 * workers), or to the child alone when it shares ours. Nothing when it has exited.
 */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Not a group leader (not detached), or the group is gone.
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  }
}

/** CAIRN_NGINX_BIN if set, else `nginx` on PATH, else /usr/sbin/nginx; undefined when none is executable. */
export function findNginx(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const explicit = env['CAIRN_NGINX_BIN'];
  if (explicit !== undefined && explicit !== '') return executable(explicit) ? explicit : undefined;
  const dirs = (env['PATH'] ?? '').split(delimiter).filter((d) => d !== '');
  for (const dir of [...dirs, '/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin']) {
    const candidate = join(dir, 'nginx');
    if (executable(candidate)) return candidate;
  }
  return undefined;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface NginxStartOptions extends Omit<NginxRenderOptions, 'prefix' | 'listenPort'> {
  /** Directory for nginx.conf, pid, temp and logs (created). */
  dir: string;
  listenPort: number;
  /** Default 127.0.0.1. */
  listenHost?: string;
  binary?: string;
  /** Where nginx's stdout/stderr go; default ignored (the logs are files under dir). */
  stdio?: 'ignore' | 'inherit' | 'pipe';
  /** Own process group: a terminal's Ctrl-C reaches only the parent, which stops nginx. */
  detached?: boolean;
}

export interface NginxHandle {
  readonly pid: number;
  readonly process: ChildProcess;
  readonly confPath: string;
  readonly dir: string;
  readonly url: string;
  /** Graceful quit (SIGQUIT), then SIGKILL after a deadline. Safe to call twice. */
  stop(): Promise<void>;
}

/** Writes <dir>/nginx.conf for `config` and checks it with `nginx -t`; throws with nginx's output. */
export function writeNginxConf(config: CairnConfig, opts: NginxStartOptions): string {
  const binary = opts.binary ?? findNginx();
  if (binary === undefined) throw new Error(NGINX_INSTALL_ADVICE);
  mkdirSync(join(opts.dir, 'temp'), { recursive: true });
  // Workers of a root master run as an unprivileged user: they must reach the temp paths.
  chmodSync(opts.dir, 0o755);
  const conf = renderNginxConf(config, { ...opts, prefix: opts.dir, listenHost: opts.listenHost ?? '127.0.0.1' });
  const confPath = join(opts.dir, 'nginx.conf');
  writeFileSync(confPath, conf);
  const check = spawnSync(binary, ['-t', ...baseArgs(opts.dir, confPath)], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`nginx -t rejected ${confPath}:\n${check.stderr}${check.stdout}`);
  return confPath;
}

export async function startNginx(config: CairnConfig, opts: NginxStartOptions): Promise<NginxHandle> {
  const binary = opts.binary ?? findNginx();
  if (binary === undefined) throw new Error(NGINX_INSTALL_ADVICE);
  const confPath = writeNginxConf(config, { ...opts, binary });
  const detached = opts.detached ?? false;
  const child = spawn(binary, [...baseArgs(opts.dir, confPath), '-g', 'daemon off;'], {
    stdio: opts.stdio ?? 'ignore',
    detached,
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const host = opts.listenHost ?? '127.0.0.1';
  const url = `http://${host}:${opts.listenPort}`;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return exited;
    stopped = true;
    if (child.exitCode !== null || child.signalCode !== null) {
      // A master that died without its workers (killed) leaves them in its group.
      if (detached) killGroup(child, 'SIGKILL');
      return;
    }
    child.kill('SIGQUIT');
    // The master waits for its workers to finish; a SIGKILL must reach them too.
    const timer = setTimeout(() => (detached ? killGroup(child, 'SIGKILL') : child.kill('SIGKILL')), STOP_DEADLINE_MS);
    await exited;
    clearTimeout(timer);
    if (detached) killGroup(child, 'SIGKILL');
  };
  const handle: NginxHandle = { pid: child.pid ?? -1, process: child, confPath, dir: opts.dir, url, stop };
  const deadline = Date.now() + START_DEADLINE_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`nginx exited (${child.exitCode ?? child.signalCode}) on start; see ${join(opts.dir, 'error.log')}`);
    }
    if (await answers(`${url}/_lb/health`)) return handle;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not answer on ${url} within ${START_DEADLINE_MS} ms; see ${join(opts.dir, 'error.log')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

function baseArgs(dir: string, confPath: string): string[] {
  return ['-p', dir, '-c', confPath, '-e', join(dir, 'error.log')];
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}
