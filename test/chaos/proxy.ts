// A TCP proxy for one direction of one link between two nodes (A -> B): A's config names the
// proxy's port as B's address, B still listens on its own port. The chaos run cuts the link
// (a blackhole: bytes are dropped and new connections hang, like a partition, not a reset) and
// heals it (the blackholed connections are then destroyed, as a stalled TCP connection would be
// timed out), or delays every chunk in both directions (a slow link).
//
// "Direction" is who opens the connection: a cut A -> B proxy stalls the connections A opens
// towards B, requests and answers alike, and leaves the B -> A proxy (the connections B opens)
// alone. Cutting one proxy of a pair is the chaos run's one-way cut.

import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  dead: boolean;
}

export class LinkProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<Pair>();
  private cut_ = false;
  private delayMs = 0;
  /** Connections accepted over the proxy's life. */
  connections = 0;

  constructor(
    readonly name: string,
    readonly listenPort: number,
    readonly targetPort: number,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.listenPort}`;
  }

  get isCut(): boolean {
    return this.cut_;
  }

  get delay(): number {
    return this.delayMs;
  }

  async start(): Promise<void> {
    if (this.server !== undefined) throw new Error(`${this.name}: already started`);
    const server = createServer({ noDelay: true }, (client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, '127.0.0.1', () => resolve());
    });
  }

  /** Drops everything from now on: open connections stall, new ones hang. */
  cut(): void {
    this.cut_ = true;
    for (const pair of this.pairs) pair.dead = true;
  }

  /** Ends the partition: stalled connections are destroyed, new ones pass again. */
  heal(): void {
    this.cut_ = false;
    for (const pair of this.pairs) {
      if (pair.dead) this.destroy(pair);
    }
  }

  /** Every chunk waits this long before it is passed on (0: no delay). */
  setDelay(ms: number): void {
    if (!(ms >= 0)) throw new Error(`${this.name}: delay must be >= 0, got ${ms}`);
    this.delayMs = ms;
  }

  async stop(): Promise<void> {
    for (const pair of this.pairs) this.destroy(pair);
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    this.connections++;
    const pair: Pair = { client, upstream: undefined, dead: this.cut_ };
    this.pairs.add(pair);
    client.on('error', () => this.destroy(pair));
    client.on('close', () => this.destroy(pair));
    if (pair.dead) {
      client.on('data', () => undefined); // swallowed: a partition
      return;
    }
    const upstream = connect({ port: this.targetPort, host: '127.0.0.1', noDelay: true });
    pair.upstream = upstream;
    upstream.on('error', () => this.destroy(pair));
    upstream.on('close', () => this.destroy(pair));
    this.pipe(pair, client, upstream);
    this.pipe(pair, upstream, client);
  }

  /** Passes chunks from `from` to `to` in order, after the current delay, unless the pair is dead. */
  private pipe(pair: Pair, from: Socket, to: Socket): void {
    const queue: Array<{ chunk: Buffer | null; at: number }> = [];
    let timer: NodeJS.Timeout | undefined;
    const drain = (): void => {
      timer = undefined;
      while (queue.length > 0) {
        const head = queue[0] as { chunk: Buffer | null; at: number };
        const wait = head.at - Date.now();
        if (wait > 0) {
          timer = setTimeout(drain, wait);
          return;
        }
        queue.shift();
        if (pair.dead || to.destroyed) continue;
        if (head.chunk === null) to.end();
        else to.write(head.chunk);
      }
    };
    const push = (chunk: Buffer | null): void => {
      if (pair.dead) return;
      if (this.delayMs === 0 && queue.length === 0) {
        if (chunk === null) to.end();
        else to.write(chunk);
        return;
      }
      queue.push({ chunk, at: Date.now() + this.delayMs });
      if (timer === undefined) drain();
    };
    from.on('data', (chunk: Buffer) => push(chunk));
    from.on('end', () => push(null));
  }

  private destroy(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.dead = true;
    pair.client.destroy();
    pair.upstream?.destroy();
  }
}
