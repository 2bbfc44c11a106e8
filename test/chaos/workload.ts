// The chaos workload: writer clients with unique ids, each bound to one way in (nginx or one
// node), and readers. Writers through a follower check read-your-writes on that follower; readers
// GET acknowledged writes with ?min_index= on any node.

import type { History, WriteOp } from './history.ts';
import { errorOutcome, statusOutcome } from './history.ts';
import type { Prng } from './prng.ts';

export interface Target {
  name: string;
  url: string;
  /** A follower (while another node leads): its writes are forwarded and must be readable here right after the 201. */
  readonly follower: boolean;
}

export interface WorkloadOptions {
  targets: Target[];
  /** Node urls readers may use. */
  readUrls: string[];
  workspaces: string[];
  writersPerTarget: number;
  readers: number;
  requestTimeoutMs: number;
  rng: Prng;
  history: History;
  /** Bytes of padding in each document's content. */
  contentBytes?: number;
  /** The node that leads now, as the harness knows it (recorded with each write). */
  leaderId?: () => string;
}

const CONCERNS = ['quorum', 'quorum', 'leader', 'all'] as const;

export class Workload {
  private running = false;
  private tasks: Array<Promise<void>> = [];
  private readonly acked: WriteOp[] = [];
  private seq = 0;

  constructor(private readonly opts: WorkloadOptions) {}

  start(): void {
    if (this.running) throw new Error('workload already running');
    this.running = true;
    let client = 0;
    for (const target of this.opts.targets) {
      for (let w = 0; w < this.opts.writersPerTarget; w++) this.tasks.push(this.writer(client++, target));
    }
    for (let r = 0; r < this.opts.readers; r++) this.tasks.push(this.reader(client++));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.tasks);
    this.tasks = [];
  }

  /**
   * `count` extra writes through `target` (recorded like any other), `concurrency` at a time: the
   * fault schedule uses it to push a paused follower past the resync threshold, or to fill a disk
   * (with `contentBytes` of words in each document).
   */
  async burst(target: Target, count: number, concurrency: number, contentBytes = 0): Promise<number> {
    let next = 0;
    let ok = 0;
    const pad = 'lorem ipsum dolor sit amet consectetur adipiscing elit '.repeat(Math.ceil(contentBytes / 56)).slice(0, contentBytes);
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          next++;
          if ((await this.writeOnce(-1, target, () => 'leader', pad)).op.outcome === 'ok') ok++;
        }
      }),
    );
    return ok;
  }

  /**
   * One write, recorded in the history. The concern is drawn after the workspace and the id, so
   * a schedule draws from the seeded source in the same order whoever writes.
   */
  private async writeOnce(client: number, target: Target, concern: () => WriteOp['concern'], pad: string): Promise<{ op: WriteOp; pending: boolean }> {
    const { rng, history } = this.opts;
    const workspace = rng.pick(this.opts.workspaces);
    const id = `c${client}-${this.seq++}`;
    const op: WriteOp = {
      kind: 'write', client, via: target.name, workspace, id, concern: concern(),
      outcome: 'unknown', status: undefined, index: undefined, error: undefined, started_ms: Date.now(), ended_ms: 0,
      leader_at_start: this.opts.leaderId?.(),
    };
    let pending = false;
    try {
      const res = await fetch(`${target.url}/api/v1/documents?write_concern=${op.concern}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-workspace-id': workspace },
        body: JSON.stringify({ id, content: `chaos write ${id} by client ${client} via ${target.name} ${pad}` }),
        signal: AbortSignal.timeout(this.opts.requestTimeoutMs),
      });
      op.status = res.status;
      op.outcome = statusOutcome(res.status);
      op.served_by = res.headers.get('x-served-by') ?? undefined;
      op.forwarded_to = res.headers.get('x-cairn-leader') ?? undefined;
      pending = res.headers.get('x-cairn-applied') === 'pending';
      const body = (await res.json().catch(() => ({}))) as { index?: number; error?: { code?: string } };
      if (op.outcome === 'ok') op.index = body.index;
      else op.error = body.error?.code ?? `http ${res.status}`;
    } catch (error) {
      const e = errorOutcome(error);
      op.outcome = e.outcome;
      op.error = e.error;
    }
    op.ended_ms = Date.now();
    history.add(op);
    if (op.outcome === 'ok') this.acked.push(op);
    return { op, pending };
  }

  private async writer(client: number, target: Target): Promise<void> {
    const { rng, history } = this.opts;
    const pad = 'x'.repeat(this.opts.contentBytes ?? 64);
    while (this.running) {
      const { op, pending } = await this.writeOnce(client, target, () => rng.pick(CONCERNS), pad);
      if (op.outcome === 'ok') {
        // Forwarded by a node written to directly: that node is a follower and promises the write
        // applied there (a leader's answer to write concern leader does not: visible once
        // committed; nginx may pass the read to another node).
        if (op.forwarded_to !== undefined && target.name !== 'nginx') {
          if (pending) history.rywPending++;
          else await this.readYourWrite(client, target, op);
        }
      } else {
        // Back off a little after a failure so a dead node is not hammered in a tight loop.
        await sleep(rng.int(20, 100));
      }
    }
  }

  private async readYourWrite(client: number, target: Target, write: WriteOp): Promise<void> {
    const { history } = this.opts;
    const started = Date.now();
    let status: number | undefined;
    try {
      const res = await fetch(`${target.url}/api/v1/documents/${write.id}`, {
        headers: { 'x-workspace-id': write.workspace },
        signal: AbortSignal.timeout(this.opts.requestTimeoutMs),
      });
      status = res.status;
      await res.arrayBuffer();
    } catch {
      status = undefined;
    }
    history.rywChecked++;
    history.add({
      kind: 'read', client, via: target.name, workspace: write.workspace, id: write.id, ryw: true, min_index: undefined,
      outcome: status === undefined ? 'unknown' : statusOutcome(status), status, started_ms: started, ended_ms: Date.now(),
    });
    if (status === 404) history.rywViolations.push(`${target.name} ${write.workspace}/${write.id} (index ${write.index})`);
  }

  private async reader(client: number): Promise<void> {
    const { rng, history } = this.opts;
    while (this.running) {
      const write = this.acked.length === 0 ? undefined : this.acked[rng.int(0, this.acked.length - 1)];
      if (write === undefined || write.index === undefined) {
        await sleep(50);
        continue;
      }
      const url = rng.pick(this.opts.readUrls);
      const started = Date.now();
      let status: number | undefined;
      try {
        const res = await fetch(`${url}/api/v1/documents/${write.id}?min_index=${write.index}`, {
          headers: { 'x-workspace-id': write.workspace },
          signal: AbortSignal.timeout(this.opts.requestTimeoutMs),
        });
        status = res.status;
        await res.arrayBuffer();
      } catch {
        status = undefined;
      }
      history.add({
        kind: 'read', client, via: url, workspace: write.workspace, id: write.id, ryw: false, min_index: write.index,
        outcome: status === undefined ? 'unknown' : statusOutcome(status), status, started_ms: started, ended_ms: Date.now(),
      });
      if (status === 404) history.staleReads.push({ key: history.key(write.workspace, write.id), text: `${url} ${write.workspace}/${write.id} (min_index ${write.index})` });
      if (status === undefined) await sleep(50);
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
