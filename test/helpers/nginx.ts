// The machine's nginx in front of test nodes, unprivileged on loopback, with a config rendered
// by `renderNginxConf`. A missing nginx fails loudly: the end-to-end tests must not skip.
//
//   await using lb = await startNginx(cluster.config, await freePort());
//   await fetch(`${lb.url}/health`, { headers: { 'X-Workspace-ID': 'ws-1' } });

import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findNginx, NGINX_INSTALL_ADVICE, startNginx as startNginxProcess } from '../../packages/server/src/deploy/nginx-run.ts';
import type { NginxHandle, NginxStartOptions } from '../../packages/server/src/deploy/nginx-run.ts';
import type { CairnConfig } from '../../packages/server/src/config/types.ts';

export interface TestNginx extends AsyncDisposable {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly dir: string;
  readonly confPath: string;
  readonly handle: NginxHandle;
  stop(): Promise<void>;
  /** nginx's error.log, for failure messages. */
  errorLog(): string;
  accessLog(): string;
}

/** The nginx binary, or an Error saying how to install it (tests fail, never skip). */
export function requireNginx(): string {
  const binary = findNginx();
  if (binary === undefined) throw new Error(`${NGINX_INSTALL_ADVICE}; the end-to-end tests need it (.ci/run installs it)`);
  return binary;
}

export async function startNginx(
  config: CairnConfig,
  port: number,
  opts: Omit<NginxStartOptions, 'dir' | 'listenPort'> & { keepDir?: boolean } = {},
): Promise<TestNginx> {
  const binary = requireNginx();
  const dir = mkdtempSync(join(tmpdir(), 'cairn-nginx-'));
  const handle = await startNginxProcess(config, { ...opts, binary, dir, listenPort: port });
  let stopped = false;
  const read = (name: string): string => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8') : '');
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await handle.stop();
    if (opts.keepDir !== true && process.env['CAIRN_KEEP_TEST_DIRS'] !== '1') rmSync(dir, { recursive: true, force: true });
  };
  return {
    url: handle.url,
    port,
    pid: handle.pid,
    dir,
    confPath: handle.confPath,
    handle,
    stop,
    errorLog: () => read('error.log'),
    accessLog: () => read('access.log'),
    [Symbol.asyncDispose]: stop,
  };
}
