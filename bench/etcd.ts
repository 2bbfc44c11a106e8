// A three-member etcd cluster (Debian's etcd-server) on loopback for the replication baseline.
// Defaults are kept: etcd fsyncs its WAL for every batch of proposals it commits.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManagedProcess } from '../test/helpers/process.ts';
import { freePorts } from '../test/helpers/ports.ts';
import { waitFor } from '../test/helpers/wait.ts';

export interface EtcdCluster {
  /** Client URLs of the members; [0] is used for writes (etcd forwards proposals to its leader). */
  clientUrls: string[];
  version: string;
  /** The members' process ids (for CPU accounting). */
  pids(): number[];
  stop(): Promise<void>;
}

export async function startEtcd(): Promise<EtcdCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-etcd-'));
  const ports = await freePorts(6);
  const names = ['e1', 'e2', 'e3'];
  const peer = (i: number): string => `http://127.0.0.1:${ports[i * 2 + 1]}`;
  const client = (i: number): string => `http://127.0.0.1:${ports[i * 2]}`;
  const initial = names.map((n, i) => `${n}=${peer(i)}`).join(',');
  const procs = names.map(
    (name, i) =>
      new ManagedProcess({
        name: `etcd-${name}`,
        command: 'etcd',
        args: [
          '--name', name,
          '--data-dir', join(dir, name),
          '--listen-client-urls', client(i),
          '--advertise-client-urls', client(i),
          '--listen-peer-urls', peer(i),
          '--initial-advertise-peer-urls', peer(i),
          '--initial-cluster', initial,
          '--initial-cluster-state', 'new',
          '--initial-cluster-token', `bench-${process.pid}`,
          '--log-level', 'error',
          '--logger', 'zap',
          '--quota-backend-bytes', String(8 * 1024 * 1024 * 1024),
        ],
        logPath: join(dir, `${name}.log`),
      }),
  );
  for (const p of procs) p.start();
  const clientUrls = names.map((_, i) => client(i));
  await waitFor(
    async () => {
      for (const url of clientUrls) {
        const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
        const body = (await res.json()) as { health?: string };
        if (body.health !== 'true') return false;
      }
      return true;
    },
    { what: 'etcd cluster healthy', timeoutMs: 60_000, intervalMs: 200 },
  );
  const version = ((await (await fetch(`${clientUrls[0]}/version`)).json()) as { etcdserver: string }).etcdserver;
  return {
    clientUrls,
    version,
    pids: () => procs.map((p) => p.pid),
    async stop(): Promise<void> {
      await Promise.all(procs.map((p) => p.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
