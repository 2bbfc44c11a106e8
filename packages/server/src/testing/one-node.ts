// A one-node cluster in memory for tests: the real Replica and app (buildApp), no socket.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Hono } from 'hono';
import type { ServerConfig } from '../config/types.ts';
import { createEmbedder } from '../embed/index.ts';
import { testConfig } from '../http/public/testing.ts';
import { buildApp } from '../node.ts';
import { Replica } from '../replication/replica.ts';
import { documentStateFactory } from '../state-machine.ts';
import type { DocumentStore } from '../store/document-store.ts';

export interface OneNode {
  app: Hono;
  replica: Replica<DocumentStore>;
  /** Stops the app's timers, closes the replica and removes its data directory. */
  close(): void;
}

export function openOneNode(opts: { id?: string; server?: Partial<ServerConfig> } = {}): OneNode {
  const id = opts.id ?? 'node-1';
  const dir = mkdtempSync(join(tmpdir(), 'cairn-one-node-'));
  const base = testConfig({ server: { ...opts.server, data_dir: dir } });
  const config = { ...base, node_id: id, replication: { ...base.replication, nodes: [{ id, address: '127.0.0.1:1' }], leader: id } };
  const logger = pino({ level: 'silent' });
  const replica = new Replica<DocumentStore>(config, documentStateFactory(createEmbedder(config.embedding)), logger);
  const built = buildApp(config, replica, logger);
  replica.start();
  return {
    app: built.app,
    replica,
    close(): void {
      built.close();
      replica.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
