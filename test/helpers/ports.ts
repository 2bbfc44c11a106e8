// Free loopback ports for tests. A port is free when the kernel hands it out for port 0; the
// ports given out by this process are remembered so two calls never return the same one.

import { createServer } from 'node:net';

const handedOut = new Set<number>();

export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, host, () => {
        const address = server.address();
        const found = typeof address === 'object' && address !== null ? address.port : 0;
        server.close(() => resolve(found));
      });
    });
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('freePort: no free port after 50 attempts');
}

export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort(host));
  return ports;
}

/** `count` free consecutive ports (for tools that take a base port), base..base+count-1. */
export async function freePortRange(count: number, host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = await freePort(host);
    if (base + count > 65_535) continue;
    let ok = true;
    for (let i = 1; i < count && ok; i++) ok = !handedOut.has(base + i) && (await isFree(base + i, host));
    if (!ok) continue;
    for (let i = 1; i < count; i++) handedOut.add(base + i);
    return base;
  }
  throw new Error(`freePortRange: no ${count} consecutive free ports after 50 attempts`);
}

export async function isFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}
