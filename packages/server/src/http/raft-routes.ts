// /_raft/*: the cluster's own endpoints. append, digest, snapshot, log-position, log-entries and
// state-snapshot carry the cluster secret (X-Cairn-Secret, constant-time compared) and nothing
// else; health, sync-status, resync_stats and checksum are open JSON for dashboards and probes;
// force-resync takes the operator token (Authorization: Bearer, or X-Cairn-Operator-Token) when
// one is configured, and never the cluster secret: the secret is for nodes, the token for people.
// Every POST here refuses a cross-site browser request (cross-site.ts, server.allowed_origins): on
// a local cluster the operator token and the secret may be empty, and a web page must not be able
// to force a resync or post a crafted append.
import { stateCopyResponse } from './state-copy-response.ts';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { ReplicationError } from '../replication/errors.ts';
import { StateCopyBusy, encodeLogEntriesPage } from '../replication/recovery.ts';
import type { StateCopy } from '../replication/recovery.ts';
import { transfer_timeout_ms } from '../replication/replica.ts';
import type { Replica } from '../replication/replica.ts';
import type { StateMachine } from '../replication/state.ts';
import { MSGPACK, encode } from '../replication/wire.ts';
import { decodeTimeoutNow } from '../replication/handover.ts';
import { crossSiteGuard } from './cross-site.ts';
import { bearer, secretsEqual } from './secret.ts';

/** The caller's operator token as sent: `Authorization: Bearer <t>` or `X-Cairn-Operator-Token`. */
function operatorToken(c: Context): string | null {
  return bearer(c.req.header('authorization')) ?? c.req.header('x-cairn-operator-token') ?? null;
}

/** The headers that carry the caller's operator credential, passed on as they came. */
function operatorHeaders(c: Context): Record<string, string> {
  const out: Record<string, string> = {};
  const authorization = c.req.header('authorization');
  const token = c.req.header('x-cairn-operator-token');
  if (authorization !== undefined) out['authorization'] = authorization;
  if (token !== undefined) out['x-cairn-operator-token'] = token;
  return out;
}

/** Largest /_raft/append or /_raft/snapshot body. */
export const raft_body_bytes_max = 64 * 1024 * 1024;

export interface RaftRouteDeps<S extends StateMachine> {
  replica: Replica<S>;
  /** Optional extra facts for /_raft/checksum (the state machine's checksum). */
  stateChecksum: () => string;
}

async function readBody(c: Context): Promise<Uint8Array> {
  const declared = Number(c.req.header('content-length') ?? '0');
  if (declared > raft_body_bytes_max) throw new ReplicationError(400, 'body_too_large', `body over ${raft_body_bytes_max} bytes`);
  const buf = new Uint8Array(await c.req.arrayBuffer());
  if (buf.length > raft_body_bytes_max) throw new ReplicationError(400, 'body_too_large', `body over ${raft_body_bytes_max} bytes`);
  if (buf.length === 0) throw new ReplicationError(400, 'empty_body', 'empty body: expected msgpack');
  return buf;
}

function failure(c: Context, err: unknown): Response {
  if (err instanceof ReplicationError) {
    if (err.status === 503) c.header('Retry-After', '1');
    return c.json(err.toJSON(), err.status);
  }
  throw err;
}

export function createRaftRoutes<S extends StateMachine>(deps: RaftRouteDeps<S>): Hono {
  const { replica } = deps;
  const cfg = replica.config.replication;
  const app = new Hono();
  app.on('POST', '*', crossSiteGuard(() => replica.config.server.allowed_origins));

  const requireSecret = (c: Context): Response | null => {
    if (cfg.secret !== '' && !secretsEqual(c.req.header('x-cairn-secret'), cfg.secret)) {
      return c.json({ error: { code: 'unauthorized', message: 'missing or wrong cluster secret (X-Cairn-Secret)' } }, 401);
    }
    return null;
  };

  app.post('/append', async (c) => {
    const denied = requireSecret(c);
    if (denied) return denied;
    try {
      const out = await replica.handleAppend(await readBody(c));
      return c.body(new Uint8Array(out), 200, { 'content-type': MSGPACK });
    } catch (err) {
      return failure(c, err);
    }
  });

  app.post('/digest', async (c) => {
    const denied = requireSecret(c);
    if (denied) return denied;
    try {
      const out = await replica.handleDigest(await readBody(c));
      return c.body(new Uint8Array(out), 200, { 'content-type': MSGPACK });
    } catch (err) {
      return failure(c, err);
    }
  });

  app.post('/snapshot', async (c) => {
    const denied = requireSecret(c);
    if (denied) return denied;
    try {
      const out = await replica.handleSnapshotChunk(await readBody(c));
      return c.body(new Uint8Array(encode(out)), 200, { 'content-type': MSGPACK });
    } catch (err) {
      return failure(c, err);
    }
  });

  app.get('/health', (c) => {
    const sync = replica.inSync();
    const followers: Record<string, string> = {};
    for (const f of replica.followers()) followers[f.address] = f.health;
    const body = {
      node_id: replica.self.id,
      address: replica.self.address,
      state: replica.role(),
      role: replica.role().toLowerCase(),
      // Its driver runs: it orders writes now (not while it recovers or asks who leads).
      leading: replica.leading(),
      leader_id: replica.leader.id,
      term: replica.term(),
      commit_index: replica.commitIndex(),
      last_applied: replica.appliedIndex(),
      last_log_index: replica.log.lastIndex(),
      in_sync: sync.ok,
      status: sync.reason,
      // What keeps the node from serving as it should (disk full, fsync failed, ...): any makes it 503.
      conditions: replica.condition.list(),
      followers,
      follower_details: replica.followers(),
      leader_contact: replica.leaderContact(),
    };
    return c.json(body, sync.ok ? 200 : 503);
  });

  app.get('/sync-status', (c) => {
    return c.json({
      node_id: replica.self.id,
      is_leader: replica.isLeader(),
      leader_id: replica.leader.id,
      term: replica.term(),
      commit_index: replica.commitIndex(),
      last_log_index: replica.log.lastIndex(),
      last_applied: replica.appliedIndex(),
      followers: replica.followers().map((f) => ({
        node_id: f.node_id,
        address: f.address,
        health: f.health,
        last_replicated_index: f.last_replicated_index,
        lag: f.lag,
        last_latency_ms: f.last_latency_ms,
        consecutive_failures: f.consecutive_failures,
        next_index: f.next_index,
        last_success_at: f.last_success_at,
        snapshot_in_progress: f.snapshot_in_progress,
        desync_reason: f.desync_reason,
        state_check: f.state_check,
      })),
    });
  });

  app.get('/resync_stats', (c) => {
    const s = replica.stats;
    // The replication overview's names (send_*) beside the counters' own (snapshot_send_*).
    const stats = { ...s, send_attempts: s.snapshot_send_attempts, send_successes: s.snapshot_send_successes, send_failures: s.snapshot_send_failures };
    return c.json({ node_id: replica.self.id, is_leader: replica.isLeader(), resync_stats: stats });
  });

  app.post('/force-resync', async (c) => {
    if (cfg.operator_token !== '' && !secretsEqual(operatorToken(c), cfg.operator_token)) {
      c.header('WWW-Authenticate', 'Bearer realm="cairn"');
      return c.json({ error: { code: 'unauthorized', message: 'force-resync needs the operator token (Authorization: Bearer <replication.operator_token>); the cluster secret is not accepted', field: 'Authorization' } }, 401);
    }
    const target = c.req.query('target');
    if (target === undefined || target === '') {
      return c.json({ error: { code: 'missing_target', message: 'query parameter target is required (a node id or host:port from sync-status)', field: 'target' } }, 400);
    }
    if (!replica.isLeader()) {
      // Operators may curl any node: pass it on to the leader with the caller's own credential
      // (the leader checks it again), never this node's cluster secret.
      try {
        const res = await fetch(`http://${replica.leader.address}/_raft/force-resync?target=${encodeURIComponent(target)}`, {
          method: 'POST',
          headers: operatorHeaders(c),
          signal: AbortSignal.timeout(cfg.snapshot_timeout_s * 1000 + 5000),
        });
        return c.body(await res.text(), res.status as 200, { 'content-type': 'application/json' });
      } catch (err) {
        c.header('Retry-After', '1');
        return c.json({ error: { code: 'leader_unavailable', message: `leader ${replica.leader.id} (${replica.leader.address}) unreachable: ${(err as Error).message}`, leader: replica.leader.id } }, 503);
      }
    }
    try {
      const r = await replica.forceResync(target);
      return c.json(r, r.success ? 200 : 502);
    } catch (err) {
      return failure(c, err);
    }
  });

  // A planned handover of leadership (operator token, as force-resync): any node passes it on to
  // the leader; the leader answers once it handed over (and whether the target confirmed).
  app.post('/transfer-leadership', async (c) => {
    if (cfg.operator_token !== '' && !secretsEqual(operatorToken(c), cfg.operator_token)) {
      c.header('WWW-Authenticate', 'Bearer realm="cairn"');
      return c.json({ error: { code: 'unauthorized', message: 'transfer-leadership needs the operator token (Authorization: Bearer <replication.operator_token>); the cluster secret is not accepted', field: 'Authorization' } }, 401);
    }
    const target = c.req.query('target');
    if (target === undefined || target === '') {
      return c.json({ error: { code: 'missing_target', message: 'query parameter target is required (a follower\'s node id or host:port from sync-status)', field: 'target' } }, 400);
    }
    if (!replica.isLeader()) {
      const leader = replica.leader;
      if (leader.id === replica.self.id) {
        c.header('Retry-After', '1');
        return c.json({ error: { code: 'not_ready', message: `${replica.self.id} is taking over leadership: retry`, leader: leader.id } }, 503);
      }
      try {
        const res = await fetch(`http://${leader.address}/_raft/transfer-leadership?target=${encodeURIComponent(target)}`, {
          method: 'POST',
          headers: operatorHeaders(c),
          signal: AbortSignal.timeout(transfer_timeout_ms + 10_000),
        });
        return c.body(await res.text(), res.status as 200, { 'content-type': 'application/json' });
      } catch (err) {
        c.header('Retry-After', '1');
        return c.json({ error: { code: 'leader_unavailable', message: `leader ${leader.id} (${leader.address}) unreachable: ${(err as Error).message}`, leader: leader.id } }, 503);
      }
    }
    try {
      return c.json(await replica.transferLeadership(target), 200);
    } catch (err) {
      return failure(c, err);
    }
  });

  app.post('/timeout-now', async (c) => {
    const denied = requireSecret(c);
    if (denied) return denied;
    try {
      // msgpack from the old leader (HandoverNotice), JSON from an operator's curl.
      const req = decodeTimeoutNow(new Uint8Array(await c.req.arrayBuffer()), (c.req.header('content-type') ?? '').startsWith(MSGPACK));
      return c.json(replica.handleTimeoutNow(req), 200);
    } catch (err) {
      return failure(c, err);
    }
  });

  // The state checksum hashes the whole state: computed once per applied index, not per call.
  let cached: { applied: number; checksum: string } | null = null;
  // A snapshot install replaces the state at the same applied index (a repair): computed again.
  replica.onChange(() => {
    cached = null;
  });
  const stateChecksum = (): string => {
    const applied = replica.appliedIndex();
    if (cached?.applied !== applied) cached = { applied, checksum: deps.stateChecksum() };
    return cached.checksum;
  };

  /** Applied index, state checksum and log checksums: for consistency checks across nodes. */
  app.get('/checksum', (c) => {
    const lo = Number(c.req.query('log_from') ?? '0');
    const hi = Number(c.req.query('log_to') ?? '0');
    const body: Record<string, unknown> = {
      node_id: replica.self.id,
      applied_index: replica.appliedIndex(),
      state_checksum: stateChecksum(),
      log_first_index: replica.log.firstIndex(),
      last_log_index: replica.log.lastIndex(),
    };
    if (Number.isSafeInteger(lo) && Number.isSafeInteger(hi) && hi >= lo && hi - lo <= 100_000 && hi > 0) body.log = replica.log.checksums(lo, hi);
    return c.json(body);
  });

  // For a leader recovering what it lost (replication/recovery.ts): where this node's log is, a
  // page of its entries, and a consistent copy of its state. Guarded by the cluster secret.
  app.get('/log-position', (c) => {
    const denied = requireSecret(c);
    if (denied) return denied;
    return c.json(replica.logPosition());
  });

  app.get('/log-entries', (c) => {
    const denied = requireSecret(c);
    if (denied) return denied;
    const answer = replica.logEntries(c.req.query('from'), c.req.query('to'));
    if (answer.status !== 200) return c.json({ error: answer.error }, answer.status);
    return c.body(new Uint8Array(encodeLogEntriesPage(answer.page)), 200, { 'content-type': MSGPACK });
  });

  app.get('/state-snapshot', async (c) => {
    const denied = requireSecret(c);
    if (denied) return denied;
    let copy: StateCopy;
    try {
      copy = await replica.stateCopy();
    } catch (err) {
      if (!(err instanceof StateCopyBusy)) throw err;
      c.header('Retry-After', '1');
      return c.json({ error: { code: 'busy', message: err.message } }, 503);
    }
    return stateCopyResponse(copy, cfg.snapshot_timeout_s * 1000);
  });

  return app;
}
