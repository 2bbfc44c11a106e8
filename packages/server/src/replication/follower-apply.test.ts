// A follower applying the document store's ops in one process: the real FollowerHandler over
// log.db and state.db, fed /_raft/append bodies built the way the leader builds them (ops
// prepared by a leader-side store, encoded once, carried as entries). Deletes are the case that
// matters: a follower that skipped them would keep serving deleted documents on every read sent
// to it, while its log and applied index look exactly like the leader's.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ENTRY_COMMAND, ENTRY_NOOP, makeEntry } from '@cairn/raft';
import type { Entry } from '@cairn/raft';
import type { ReplicationConfig } from '../config/types.ts';
import { HashingEmbedder } from '../embed/hashing.ts';
import { documentStateFactory } from '../state-machine.ts';
import type { DocumentStore } from '../store/document-store.ts';
import { encodeOp } from '../store/op.ts';
import type { Op } from '../store/op.ts';
import { openTestStore } from '../store/testing.ts';
import type { TestStore } from '../store/testing.ts';
import { NodeCondition } from './condition.ts';
import { FileSnapshotReceiver } from './file-snapshots.ts';
import { FollowerHandler } from './follower-handler.ts';
import { RECOVERY_PENDING_KEY } from './identity.ts';
import { metaRecoveryMarker } from './recovery.ts';
import { systemClock } from './ports.ts';
import { SqliteLog } from './sqlite-log.ts';
import { StateHolder } from './state.ts';
import { emptyResyncStats } from './stats.ts';
import { decode, encode } from './wire.ts';

const cfg: ReplicationConfig = {
  cluster_id: 'follower-apply-test',
  nodes: [],
  leader: 'node-1',
  batch_size: 100,
  flush_interval_ms: 5,
  resync_threshold: 1000,
  snapshot_timeout_s: 30,
  write_concern: 'quorum',
  inflight_batches_max: 4,
  failures_lagging: 3,
  silence_lagging_ms: 3000,
  lag_healthy_max: 100,
  append_timeout_ms: 1000,
  heartbeat_ms: 200,
  log_retain_entries: 10_000,
  snapshots_inflight_max: 1,
  commit_timeout_ms: 5000,
  state_compare_interval_ms: 0,
  secret: '',
  operator_token: '',
};

const closers: Array<() => void> = [];
afterEach(() => {
  for (const c of closers.splice(0).reverse()) c();
});

const embedder = new HashingEmbedder({ dim: 64 });

interface Follower {
  handler: FollowerHandler;
  state: StateHolder<DocumentStore>;
}

function follower(opts: { dir?: string; marker?: boolean } = {}): Follower {
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-follower-apply-'));
  const log = new SqliteLog(path.join(dir, 'log.db'));
  const state = new StateHolder(path.join(dir, 'state.db'), documentStateFactory(embedder));
  const handler = new FollowerHandler({
    ...(opts.marker === true ? { marker: metaRecoveryMarker(log) } : {}),
    cfg,
    log,
    state,
    snapshots: new FileSnapshotReceiver(state, dir, () => undefined),
    clock: systemClock,
    logger: pino({ level: 'silent' }),
    hooks: { onApplied: () => undefined, event: () => undefined, stats: emptyResyncStats() },
    condition: new NodeCondition(),
    storage_id: 'follower-apply-storage',
  });
  closers.push(() => {
    handler.stop();
    state.close();
    log.close();
    if (opts.dir === undefined) fs.rmSync(dir, { recursive: true, force: true });
  });
  return { handler, state };
}

/** The leader's side: a store that prepares ops and applies them itself, and the log they form. */
class Leader {
  readonly t: TestStore = openTestStore({ embedder });
  readonly log: Entry[] = [makeEntry(1, 1, ENTRY_NOOP, new Uint8Array(0))];
  private sent = 0;

  constructor() {
    closers.push(() => this.t.close());
  }

  propose(op: Op): void {
    this.t.applyLogged(op);
    this.log.push(makeEntry(this.log.length + 1, 1, ENTRY_COMMAND, encodeOp(op)));
  }

  /** Sends every entry not yet sent, with the commit at the last one, and waits until the follower applied it. */
  async ship(f: Follower): Promise<void> {
    const prev = this.log[this.sent - 1];
    const entries = this.log.slice(this.sent);
    const last = this.log.length;
    const body = encode({
      cluster_id: cfg.cluster_id,
      term: 1,
      leader_id: cfg.leader,
      prev_index: prev?.index ?? 0,
      prev_term: prev?.term ?? 0,
      entries,
      leader_commit: last,
    });
    const answer = decode(await f.handler.handleAppend(body)) as { success: boolean; match_index: number };
    expect(answer).toMatchObject({ success: true, match_index: last });
    this.sent = last;
    for (let i = 0; f.state.appliedIndex() < last; i++) {
      expect(i, `the follower applies through ${last}`).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

describe('a follower applies the leader ops', () => {
  it('removes deleted documents: reads, search, listing, workspace counts and state checksum match the leader', async () => {
    const leader = new Leader();
    const f = follower();
    const put = await leader.t.store.preparePutMany('ws', [
      { id: 'keep', content: 'the keeper of the lighthouse' },
      { id: 'drop', content: 'a driftwood sculpture of a heron' },
      { id: 'drop-too', content: 'driftwood and pebbles along the shore' },
    ]);
    if (put.op === null) throw new Error('no op prepared');
    leader.propose(put.op);
    await leader.ship(f);
    const store = (): DocumentStore => f.state.machine;
    expect(store().get('ws', 'drop')?.content).toBe('a driftwood sculpture of a heron');

    leader.propose(leader.t.store.prepareDelete('ws', ['drop', 'drop-too', 'never-existed']));
    await leader.ship(f);
    expect(store().get('ws', 'drop')).toBeNull();
    expect(store().get('ws', 'drop-too')).toBeNull();
    expect(store().get('ws', 'keep')?.content).toBe('the keeper of the lighthouse');
    expect(store().list('ws').documents.map((d) => d.id)).toEqual(['keep']);
    expect(await store().searchHits('ws', 'driftwood heron', 10, 'lexical')).toEqual([]);
    expect((await store().search('ws', { query: 'driftwood', k: 10, mode: 'hybrid' })).map((r) => r.id)).toEqual(['keep']);
    expect(store().workspaceStats().ws?.document_count).toBe(1);
    expect(store().checksum()).toBe(leader.t.store.checksum());
  });

  it('applies a delete and a re-put of the same id in order', async () => {
    const leader = new Leader();
    const f = follower();
    leader.propose(await leader.t.store.preparePut('ws', { id: 'd', content: 'first version' }));
    leader.propose(leader.t.store.prepareDelete('ws', ['d']));
    await leader.ship(f);
    expect(f.state.machine.get('ws', 'd')).toBeNull();
    leader.propose(await leader.t.store.preparePut('ws', { id: 'd', content: 'second version' }));
    await leader.ship(f);
    expect(f.state.machine.get('ws', 'd')?.content).toBe('second version');
    expect(f.state.machine.checksum()).toBe(leader.t.store.checksum());
  });
});

describe('a follower and the recovery marker', () => {
  it('clears, durably, a recovery marker left from before it followed (a restart that leads would otherwise drop its log)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cairn-follower-marker-'));
    closers.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    // As a recovery begun as the leader leaves it (or a lost WAL brings back after it was cleared).
    const before = new SqliteLog(path.join(dir, 'log.db'));
    metaRecoveryMarker(before).set(1);
    before.close();
    const markerAfterStart = (): number => {
      const log = new SqliteLog(path.join(dir, 'log.db'));
      try {
        return log.meta(RECOVERY_PENDING_KEY);
      } finally {
        log.close();
      }
    };
    expect(markerAfterStart()).toBe(1);
    const f = follower({ dir, marker: true });
    f.handler.stop();
    // Read from the file by another connection: it was written, not only held in memory.
    expect(markerAfterStart()).toBe(0);
  });
});
