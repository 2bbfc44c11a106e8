// Steady quorum writes for tests that restart nodes: one write in flight, a new document every
// interval, each sent to the nodes in turn until one acknowledges it (a bounded number of tries);
// then a check that every acknowledged write is on every node.

export interface Acked {
  id: string;
  index: number;
}

const tries_max = 60;

export class SteadyWriter {
  readonly acked: Acked[] = [];
  failed = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly urls: () => string[],
    readonly workspace: string,
    intervalMs = 20,
  ) {
    let seq = 0;
    this.loop = (async () => {
      while (this.running) {
        const start = Date.now();
        await this.writeOne(`w${seq++}`);
        await new Promise((r) => setTimeout(r, Math.max(0, intervalMs - (Date.now() - start))));
      }
    })();
  }

  private async writeOne(id: string): Promise<void> {
    for (let attempt = 0; attempt < tries_max && this.running; attempt++) {
      const urls = this.urls();
      const url = urls[attempt % urls.length] as string;
      try {
        const res = await fetch(`${url}/api/v1/documents?write_concern=quorum`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-workspace-id': this.workspace },
          body: JSON.stringify({ id, content: `steady write ${id}` }),
          signal: AbortSignal.timeout(5_000),
        });
        const body = (await res.json()) as { index?: number };
        if (res.status === 201 && typeof body.index === 'number') {
          this.acked.push({ id, index: body.index });
          return;
        }
      } catch {
        // Not answered: the next node.
      }
      this.failed++;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** The acknowledged writes a node does not hold (read with min_index of the newest). */
  async missingOn(url: string): Promise<string[]> {
    const minIndex = Math.max(0, ...this.acked.map((a) => a.index));
    const missing: string[] = [];
    const queue = [...this.acked];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let a = queue.shift(); a !== undefined; a = queue.shift()) {
          const res = await fetch(`${url}/api/v1/documents/${encodeURIComponent(a.id)}?min_index=${minIndex}`, { headers: { 'x-workspace-id': this.workspace }, signal: AbortSignal.timeout(15_000) });
          await res.arrayBuffer();
          if (res.status !== 200) missing.push(`${a.id} (${res.status})`);
        }
      }),
    );
    return missing;
  }
}
