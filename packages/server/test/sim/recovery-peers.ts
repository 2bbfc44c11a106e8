// A leader's recovery from its followers in the simulation. The follower side answers the three
// GETs of raft-routes.ts (log position, a page of log entries, a consistent copy of the state)
// from its SimLog and SimState with the functions the routes use (logPosition, readLogEntries,
// encodeLogEntriesPage); the leader side (SimRecoveryPeers, a RecoveryPeers) asks over the
// simulated network and reads the answers with the functions the daemon's HttpRecoveryPeers uses
// (getLogPosition, getLogEntries, stateCopyAnnounced). Only the state copy differs: a SimState
// image in memory, checked by its size, sha256 and its own encoding, installed by SimState.install.
import crypto from 'node:crypto';
import type { NodeSpec } from '../../src/config/types.ts';
import type { FetchedState, LogEntriesPage, LogPosition, RecoveryPeers } from '../../src/replication/ports.ts';
import { STATE_COPY_HEADERS, encodeLogEntriesPage, getLogEntries, getLogPosition, logPosition, readLogEntries, stateCopyAnnounced } from '../../src/replication/recovery.ts';
import type { HttpResult, Transport } from '../../src/replication/transport.ts';
import { MSGPACK } from '../../src/replication/wire.ts';
import { decodeStateImage, encodeStateImage } from './disk.ts';
import type { SimLog, SimState } from './disk.ts';

export interface ServedNode {
  node_id: string;
  cluster_id: string;
  storage_id: string;
  log: SimLog;
  state: SimState;
  /** Filler bytes in a state copy (as in snapshots). */
  filler_bytes: number;
}

function json(status: number, body: unknown): HttpResult {
  return { status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) };
}

/** The follower's GET /_raft/log-position, /_raft/log-entries and /_raft/state-snapshot. */
export function recoveryRoutes(n: ServedNode): (path: string) => Promise<HttpResult> {
  return (path) => {
    const url = new URL(path, 'http://node');
    if (url.pathname === '/_raft/log-position') {
      return Promise.resolve(json(200, logPosition(n.log, n.state, n, n.log.meta('term'))));
    }
    if (url.pathname === '/_raft/log-entries') {
      const answer = readLogEntries(n.log, url.searchParams.get('from') ?? undefined, url.searchParams.get('to') ?? undefined);
      if (answer.status !== 200) return Promise.resolve(json(answer.status, { error: answer.error }));
      return Promise.resolve({ status: 200, headers: { 'content-type': MSGPACK }, body: encodeLogEntriesPage(answer.page) });
    }
    if (url.pathname === '/_raft/state-snapshot') {
      // A consistent copy at once: the state at its applied index.
      const img = n.state.image();
      const body = encodeStateImage(img, n.filler_bytes);
      return Promise.resolve({
        status: 200,
        headers: {
          [STATE_COPY_HEADERS.index]: String(img.index),
          [STATE_COPY_HEADERS.term]: String(img.term),
          [STATE_COPY_HEADERS.bytes]: String(body.length),
          [STATE_COPY_HEADERS.sha256]: crypto.createHash('sha256').update(body).digest('hex'),
        },
        body,
      });
    }
    return Promise.resolve(json(404, { error: { code: 'not_found', message: `no route ${url.pathname}` } }));
  };
}

/** The followers as a recovering leader in the simulation reaches them: over the simulated network. */
export class SimRecoveryPeers implements RecoveryPeers {
  private readonly get: NonNullable<Transport['get']>;
  readonly counts = { positions: 0, pages: 0, state_copies: 0 };

  constructor(
    transport: Transport,
    /** The recovering leader's state, which an installed copy replaces. */
    private readonly state: SimState,
  ) {
    const get = transport.get?.bind(transport);
    if (get === undefined) throw new Error('the simulated transport cannot GET');
    this.get = get;
  }

  position(f: NodeSpec, timeout_ms: number): Promise<LogPosition> {
    this.counts.positions++;
    return getLogPosition(this.get, f, timeout_ms);
  }

  entries(f: NodeSpec, from: number, to: number, timeout_ms: number): Promise<LogEntriesPage> {
    this.counts.pages++;
    return getLogEntries(this.get, f, from, to, timeout_ms);
  }

  async fetchState(f: NodeSpec, timeout_ms: number): Promise<FetchedState> {
    const res = await this.get(f.address, '/_raft/state-snapshot', timeout_ms);
    if (res.status !== 200) throw new Error(`${f.id}: GET /_raft/state-snapshot answered ${res.status}: ${res.body.toString('utf8').slice(0, 200)}`);
    const { index, term, bytes, sha256 } = stateCopyAnnounced(f, res.headers);
    const got = crypto.createHash('sha256').update(res.body).digest('hex');
    if (res.body.length !== bytes || got !== sha256) throw new Error(`${f.id}: state copy of ${res.body.length} bytes (sha256 ${got}) where ${bytes} bytes (sha256 ${sha256}) were announced`);
    const img = decodeStateImage(res.body);
    if (img.index !== index || img.term !== term) throw new Error(`${f.id}: state copy holds index ${img.index} term ${img.term}, announced ${index} term ${term}`);
    this.counts.state_copies++;
    const state = this.state;
    return {
      index,
      term,
      bytes,
      install: () => {
        state.install(img);
        return { index: state.appliedIndex(), term: state.appliedTerm() };
      },
      discard: () => undefined,
    };
  }
}
