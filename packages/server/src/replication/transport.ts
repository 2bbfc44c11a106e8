// Node-to-node HTTP: POST msgpack bodies over keep-alive connections, each request bounded by
// a timeout. Plain node:http with a keep-alive agent: a batch append is one small request on a
// warm socket, without the per-request stream and header objects of fetch.
import http from 'node:http';
import { MSGPACK } from './wire.ts';

export interface PostResult {
  status: number;
  body: Buffer;
}

export interface HttpResult extends PostResult {
  headers: http.IncomingHttpHeaders;
}

export interface Transport {
  post(address: string, path: string, body: Uint8Array, timeout_ms: number): Promise<PostResult>;
  /** Releases pooled connections (the node is stopping). */
  close?(): void;
}

/** Sockets kept open per peer: appends in flight plus a snapshot stream, with room to spare. */
const sockets_per_peer_max = 16;

export class HttpTransport implements Transport {
  private readonly agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 1000, maxSockets: sockets_per_peer_max, maxFreeSockets: sockets_per_peer_max });

  constructor(private readonly secret: string) {}

  post(address: string, path: string, body: Uint8Array, timeout_ms: number): Promise<PostResult> {
    return httpRequest(this.agent, address, 'POST', path, body, { 'content-type': MSGPACK, 'x-cairn-secret': this.secret }, timeout_ms);
  }

  close(): void {
    this.agent.destroy();
  }
}

/** host:port (or [v6]:port) -> hostname and port for http.request. */
export function splitAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (m === null) throw new Error(`peer address ${JSON.stringify(address)} is not host:port`);
  return { host: m[1] as string, port: Number(m[2]) };
}

/** One request; resolves with the status, headers and whole body, rejects on a socket error or the timeout. */
export function httpRequest(
  agent: http.Agent,
  address: string,
  method: string,
  path: string,
  body: Uint8Array | undefined,
  headers: Record<string, string>,
  timeout_ms: number,
): Promise<HttpResult> {
  const { host, port } = splitAddress(address);
  return new Promise<HttpResult>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy(err);
      reject(err);
    };
    const req = http.request(
      { host, port, path, method, agent, headers: body === undefined ? headers : { ...headers, 'content-length': String(body.byteLength) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', fail);
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks) });
        });
      },
    );
    const timer = setTimeout(() => fail(new Error(`no answer from ${address}${path} within ${Math.ceil(timeout_ms)} ms`)), Math.max(1, Math.ceil(timeout_ms)));
    req.on('error', fail);
    req.end(body);
  });
}
