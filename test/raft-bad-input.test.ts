// /_raft/append and /_raft/snapshot against hostile and broken input on a real follower:
// every request gets a 4xx with a JSON error, the process keeps running, the data is unchanged.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32, makeEntry } from '../packages/raft/src/index.ts';
import { startCluster } from './helpers/cluster.ts';
import type { TestCluster } from './helpers/cluster.ts';
import { waitFor } from './helpers/wait.ts';

let cluster: TestCluster;
let secret: string;
let clusterId: string;

beforeAll(async () => {
  cluster = await startCluster({ nodes: 3 });
  secret = readFileSync(join(cluster.dir, 'cluster.secret'), 'utf8').trim();
  clusterId = cluster.config.replication.cluster_id;
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`${cluster.leader.url}/api/v1/documents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-workspace-id': 'bad' },
      body: JSON.stringify({ id: `doc-${i}`, content: `content ${i}` }),
    });
    expect(res.status).toBe(201);
  }
  // A restarted leader opens term 2, so term 1 is a stale term the followers must refuse.
  await cluster.leader.stop();
  await cluster.leader.restart('in-sync');
  const again = await fetch(`${cluster.leader.url}/api/v1/documents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-workspace-id': 'bad' },
    body: JSON.stringify({ id: 'doc-after-restart', content: 'written in term 2' }),
  });
  expect(again.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await cluster.stop();
});

function follower(): string {
  return cluster.node('node-2').url;
}

async function state(): Promise<{ applied_index: number; state_checksum: string; last_log_index: number }> {
  return (await (await fetch(`${follower()}/_raft/checksum`)).json()) as { applied_index: number; state_checksum: string; last_log_index: number };
}

/** The follower's state once it has applied everything it holds (commit updates arrive with the next heartbeat). */
async function settled(): Promise<{ applied_index: number; state_checksum: string; last_log_index: number }> {
  return waitFor(
    async () => {
      const s = await state();
      return s.applied_index === s.last_log_index ? s : undefined;
    },
    { what: 'node-2 to apply every entry it holds', timeoutMs: 10_000 },
  );
}

async function post(path: string, body: Uint8Array | string, headers: Record<string, string> = { 'x-cairn-secret': '' }): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${follower()}${path}`, { method: 'POST', headers: { 'content-type': 'application/msgpack', ...headers }, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* msgpack answer */
  }
  return { status: res.status, body: parsed };
}

const auth = (): Record<string, string> => ({ 'x-cairn-secret': secret });

async function term(): Promise<number> {
  const h = (await (await fetch(`${cluster.leader.url}/_raft/health`)).json()) as { term: number };
  return h.term;
}

describe('hostile input to /_raft on a follower', () => {
  it('answers each bad request with the right status and changes nothing', async () => {
    const before = await settled();
    const t = await term();
    const base = { cluster_id: clusterId, term: t, leader_id: 'node-1', prev_index: before.last_log_index, prev_term: t, entries: [], leader_commit: 0 };
    const entry = makeEntry(before.last_log_index + 1, t, 1, new Uint8Array([1, 2, 3]));

    const cases: Array<[string, string, Uint8Array | string, Record<string, string>, number]> = [
      ['no secret', '/_raft/append', pack(base), {}, 401],
      ['wrong secret', '/_raft/append', pack(base), { 'x-cairn-secret': 'nope' }, 401],
      ['snapshot without secret', '/_raft/snapshot', pack({}), {}, 401],
      ['malformed msgpack', '/_raft/append', new Uint8Array([0xc1, 0xff, 0x00]), auth(), 400],
      ['truncated msgpack', '/_raft/append', pack(base).subarray(0, 10), auth(), 400],
      ['empty body', '/_raft/append', new Uint8Array(0), auth(), 400],
      ['not a map', '/_raft/append', pack([1, 2, 3]), auth(), 400],
      ['other cluster id', '/_raft/append', pack({ ...base, cluster_id: 'someone-else' }), auth(), 409],
      ['term zero', '/_raft/append', pack({ ...base, term: 0 }), auth(), 409],
      ['older term', '/_raft/append', pack({ ...base, term: t - 1, prev_term: 0 }), auth(), 409],
      ['negative index', '/_raft/append', pack({ ...base, prev_index: -5 }), auth(), 400],
      ['entry with a wrong checksum', '/_raft/append', pack({ ...base, entries: [{ ...entry, checksum: entry.checksum ^ 1 }] }), auth(), 400],
      ['non-contiguous entries', '/_raft/append', pack({ ...base, entries: [{ ...entry, index: entry.index + 1 }] }), auth(), 400],
      ['entry term newer than the request', '/_raft/append', pack({ ...base, entries: [makeEntry(entry.index, t + 5, 1, new Uint8Array([1]))] }), auth(), 400],
      ['huge entry count claim', '/_raft/append', pack({ ...base, entries: 'x'.repeat(100) }), auth(), 400],
      ['snapshot: malformed', '/_raft/snapshot', new Uint8Array([0x92, 0x01]), auth(), 400],
      [
        'snapshot: chunk with a wrong checksum',
        '/_raft/snapshot',
        pack({ cluster_id: clusterId, term: t, leader_id: 'node-1', snapshot_id: 's1', last_index: 5, last_term: t, offset: 0, data: new Uint8Array([1, 2, 3]), crc: 7, done: false, total_bytes: 3, sha256: '' }),
        auth(),
        400,
      ],
      [
        'snapshot: chunk out of order',
        '/_raft/snapshot',
        pack({ cluster_id: clusterId, term: t, leader_id: 'node-1', snapshot_id: 's2', last_index: 5, last_term: t, offset: 4096, data: new Uint8Array([1]), crc: crc32(new Uint8Array([1])), done: false, total_bytes: 9, sha256: '' }),
        auth(),
        409,
      ],
      [
        'snapshot: other cluster',
        '/_raft/snapshot',
        pack({ cluster_id: 'other', term: t, leader_id: 'node-1', snapshot_id: 's3', last_index: 5, last_term: t, offset: 0, data: new Uint8Array([1]), crc: crc32(new Uint8Array([1])), done: false, total_bytes: 1, sha256: '' }),
        auth(),
        409,
      ],
    ];
    for (const [name, path, body, headers, status] of cases) {
      const res = await post(path, body, headers);
      expect(res.status, `${name}: ${JSON.stringify(res.body)}`).toBe(status);
      expect(res.body, name).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
    }
    expect(await state()).toEqual(before);
  });

  it('rejects an append that leaves a gap with its last index, so the leader can jump back', async () => {
    const before = await settled();
    const t = await term();
    const gap = makeEntry(before.last_log_index + 50, t, 1, new Uint8Array([9]));
    const res = await fetch(`${follower()}/_raft/append`, {
      method: 'POST',
      headers: { 'content-type': 'application/msgpack', ...auth() },
      body: pack({ cluster_id: clusterId, term: t, leader_id: 'node-1', prev_index: gap.index - 1, prev_term: t, entries: [gap], leader_commit: gap.index }),
    });
    expect(res.status).toBe(200);
    const { unpack } = await import('msgpackr');
    const answer = unpack(new Uint8Array(await res.arrayBuffer())) as { success: boolean; last_index: number; reason: string };
    expect(answer).toMatchObject({ success: false, reason: 'gap', last_index: before.last_log_index });
    expect(await state()).toEqual(before);
  });

  it('discards a truncated snapshot: the follower keeps its data and keeps serving', async () => {
    const before = await settled();
    const t = await term();
    const data = new Uint8Array(4096).fill(7);
    const chunk = (offset: number, done: boolean, sha: string): Uint8Array =>
      pack({ cluster_id: clusterId, term: t, leader_id: 'node-1', snapshot_id: 'trunc', last_index: 999, last_term: t, offset, data, crc: crc32(data), done, total_bytes: 3 * 4096, sha256: sha });
    expect((await post('/_raft/snapshot', chunk(0, false, ''), auth())).status).toBe(200);
    const last = await post('/_raft/snapshot', chunk(4096, true, 'a'.repeat(64)), auth());
    expect(last.status).toBe(400);
    expect(await state()).toEqual(before);
    const doc = await fetch(`${follower()}/api/v1/documents/doc-1`, { headers: { 'x-workspace-id': 'bad' } });
    expect(doc.status).toBe(200);
  });

  it('a health probe without a secret still answers: the read-only endpoints stay open', async () => {
    for (const path of ['/_raft/health', '/_raft/sync-status', '/_raft/resync_stats']) {
      const res = await fetch(`${cluster.leader.url}${path}`);
      expect(res.status, path).toBe(200);
    }
  });
});
