// Checks on a chaos cluster: convergence (same applied index and state checksum everywhere), log
// agreement (no two nodes with different entries at one index over the range they share), and
// the history against the data (no acknowledged write lost, nothing present that was never tried).

import type { History } from './history.ts';

export interface NodeChecksum {
  node_id: string;
  applied_index: number;
  state_checksum: string;
  log_first_index: number;
  last_log_index: number;
  log?: Array<[number, number, number]>;
}

const LOG_WINDOW_MAX = 50_000;

export async function getJson<T>(url: string, timeoutMs = 5_000): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = (await res.json()) as T;
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

export function checksum(url: string, from?: number, to?: number): Promise<NodeChecksum> {
  const range = from === undefined || to === undefined ? '' : `?log_from=${from}&log_to=${to}`;
  return getJson<NodeChecksum>(`${url}/_raft/checksum${range}`, 10_000);
}

export interface LogComparison {
  /** Indexes present on every node that were compared. */
  compared: number;
  /** Indexes where two nodes hold entries with a different term or checksum. */
  divergent: number;
  examples: string[];
  range: [number, number];
}

/** Compares log entries over the range all given nodes hold. Nodes that do not answer are skipped. */
export async function compareLogs(urls: Map<string, string>): Promise<LogComparison> {
  const heads = new Map<string, NodeChecksum>();
  await Promise.all(
    [...urls].map(async ([id, url]) => {
      try {
        heads.set(id, await checksum(url));
      } catch {
        /* a dead or paused node: compared next time */
      }
    }),
  );
  const result: LogComparison = { compared: 0, divergent: 0, examples: [], range: [0, 0] };
  if (heads.size < 2) return result;
  const lo = Math.max(...[...heads.values()].map((h) => h.log_first_index));
  const hi = Math.min(...[...heads.values()].map((h) => h.last_log_index));
  result.range = [lo, hi];
  for (let from = lo; from <= hi; from += LOG_WINDOW_MAX) {
    const to = Math.min(hi, from + LOG_WINDOW_MAX - 1);
    const logs = new Map<string, Map<number, string>>();
    await Promise.all(
      [...heads.keys()].map(async (id) => {
        try {
          const c = await checksum(urls.get(id) as string, from, to);
          logs.set(id, new Map((c.log ?? []).map(([index, term, crc]) => [index, `${term}/${crc}`])));
        } catch {
          /* skipped */
        }
      }),
    );
    if (logs.size < 2) continue;
    for (let index = from; index <= to; index++) {
      const seen = new Map<string, string>();
      for (const [id, log] of logs) {
        const e = log.get(index);
        if (e !== undefined) seen.set(id, e);
      }
      if (seen.size < 2) continue;
      result.compared++;
      if (new Set(seen.values()).size > 1) {
        result.divergent++;
        if (result.examples.length < 10) result.examples.push(`index ${index}: ${[...seen].map(([id, e]) => `${id}=${e}`).join(' ')}`);
      }
    }
  }
  return result;
}

/** Waits until every node reports the same applied index and state checksum. */
export async function waitConverged(urls: string[], timeoutMs: number): Promise<{ converged: boolean; sums: NodeChecksum[] }> {
  const deadline = Date.now() + timeoutMs;
  let sums: NodeChecksum[] = [];
  for (;;) {
    try {
      sums = await Promise.all(urls.map((u) => checksum(u)));
      const first = sums[0] as NodeChecksum;
      if (sums.every((s) => s.applied_index === first.applied_index && s.state_checksum === first.state_checksum)) return { converged: true, sums };
    } catch {
      /* a node still starting */
    }
    if (Date.now() >= deadline) return { converged: false, sums };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Every document id per workspace on one node, by paging GET /api/v1/documents. */
export async function listIds(url: string, workspace: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor: string | null = null;
  for (let page = 0; page < 100_000; page++) {
    const q: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`;
    const res = await fetch(`${url}/api/v1/documents?limit=1000${q}`, { headers: { 'x-workspace-id': workspace }, signal: AbortSignal.timeout(30_000) });
    const body = (await res.json()) as { documents: Array<{ id: string }>; next_cursor: string | null };
    if (!res.ok) throw new Error(`list ${workspace} on ${url}: ${res.status} ${JSON.stringify(body)}`);
    for (const d of body.documents) ids.add(d.id);
    cursor = body.next_cursor;
    if (cursor === null) return ids;
  }
  throw new Error(`list ${workspace} on ${url}: too many pages`);
}

export interface DataCheck {
  /** Acknowledged writes missing on at least one node. */
  lost: number;
  /** Documents present on some node that no client ever tried to write. */
  unexpected: number;
  /** Documents present whose write was reported as certainly failed (a 4xx or refused connection). */
  failed_but_present: number;
  /** Unknown-outcome writes that turned out to be applied. */
  unknown_applied: number;
  /** Unknown-outcome writes by answer ("507 disk_full", "- timeout", ...): how many, and how many were applied. */
  unknown_by_error: Record<string, { writes: number; applied: number }>;
  /** Acknowledged writes the run excused from the lost count (see run.ts leaderOnlyWrites). */
  excused: number;
  /** Of those, how many are missing on some node. */
  excused_missing: number;
  examples: string[];
}

/**
 * `excused`: keys (workspace/id) of acknowledged writes a fault may legitimately have taken
 * (beyond what their write concern promises); missing ones are counted apart, not as lost.
 */
export async function checkData(urls: Map<string, string>, workspaces: string[], history: History, excused: ReadonlySet<string> = new Set()): Promise<DataCheck> {
  const check: DataCheck = { lost: 0, unexpected: 0, failed_but_present: 0, unknown_applied: 0, unknown_by_error: {}, excused: excused.size, excused_missing: 0, examples: [] };
  const note = (s: string): void => {
    if (check.examples.length < 20) check.examples.push(s);
  };
  const lost = new Set<string>();
  const excusedMissing = new Set<string>();
  const unexpected = new Set<string>();
  const present = new Set<string>();
  for (const ws of workspaces) {
    for (const [node, url] of urls) {
      const ids = await listIds(url, ws);
      for (const id of ids) {
        const key = history.key(ws, id);
        present.add(key);
        if (!history.attemptedIds.has(key) && !unexpected.has(key)) {
          unexpected.add(key);
          note(`unexpected ${key} on ${node}`);
        }
      }
      for (const op of history.writes()) {
        if (op.workspace !== ws || op.outcome !== 'ok' || ids.has(op.id)) continue;
        const key = history.key(ws, op.id);
        if (excused.has(key)) {
          excusedMissing.add(key);
          continue;
        }
        if (!lost.has(key)) note(`lost ${key} (index ${op.index}, via ${op.via}, ${op.concern}) missing on ${node}`);
        lost.add(key);
      }
    }
  }
  for (const op of history.writes()) {
    const key = history.key(op.workspace, op.id);
    if (op.outcome === 'unknown') {
      const why = `${op.status ?? '-'} ${op.error ?? ''}`.trim();
      const row = (check.unknown_by_error[why] ??= { writes: 0, applied: 0 });
      row.writes++;
      if (present.has(key)) row.applied++;
    }
    if (!present.has(key)) continue;
    if (op.outcome === 'failed') {
      check.failed_but_present++;
      note(`failed write present: ${key} (${op.error ?? op.status})`);
    }
    if (op.outcome === 'unknown') check.unknown_applied++;
  }
  check.lost = lost.size;
  check.excused_missing = excusedMissing.size;
  check.unexpected = unexpected.size;
  return check;
}
