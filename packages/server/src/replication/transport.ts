// Node-to-node HTTP: POST msgpack bodies over keep-alive connections, each request bounded by
// a timeout. Plain node:http with a keep-alive agent: a batch append is one small request on a
// warm socket, without the per-request stream and header objects of fetch. GET and download
// serve a recovering leader (recovery.ts): a follower's log position and entries, and a copy of
// its state streamed straight to a file.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { MSGPACK } from './wire.ts';

export interface PostResult {
  status: number;
  body: Buffer;
}

export interface HttpResult extends PostResult {
  headers: http.IncomingHttpHeaders;
}

/** A GET whose body went to a file (when the answer was 200) or into `body` (any other answer). */
export interface DownloadResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Bytes written to the file (0 unless status 200). */
  bytes: number;
  /** sha256 (hex) of the bytes written. */
  sha256: string;
  /** The answer's body when it was not written to the file (an error's JSON). */
  body: Buffer;
}

export interface Transport {
  post(address: string, path: string, body: Uint8Array, timeout_ms: number): Promise<PostResult>;
  /** GET with the cluster secret; the whole body in memory (small answers). */
  get?(address: string, path: string, timeout_ms: number): Promise<HttpResult>;
  /** GET with the cluster secret, a 200 body streamed into `file` (created or replaced, fsynced). */
  download?(address: string, path: string, file: string, timeout_ms: number): Promise<DownloadResult>;
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

  get(address: string, path: string, timeout_ms: number): Promise<HttpResult> {
    return httpRequest(this.agent, address, 'GET', path, undefined, { 'x-cairn-secret': this.secret }, timeout_ms);
  }

  download(address: string, path: string, file: string, timeout_ms: number): Promise<DownloadResult> {
    return httpDownload(this.agent, address, path, file, { 'x-cairn-secret': this.secret }, timeout_ms);
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

/**
 * One GET whose 200 body is written to `file` as it arrives (hashed on the way, fsynced at the
 * end), so a large answer (a state copy) never sits in memory; any other answer is read whole
 * into `body`. Rejects on a socket or file error or the timeout (the file is then removed).
 */
export function httpDownload(
  agent: http.Agent,
  address: string,
  path: string,
  file: string,
  headers: Record<string, string>,
  timeout_ms: number,
): Promise<DownloadResult> {
  const { host, port } = splitAddress(address);
  return new Promise<DownloadResult>((resolve, reject) => {
    let settled = false;
    let fd: number | null = null;
    const closeFile = (): void => {
      if (fd === null) return;
      try {
        fs.closeSync(fd);
      } catch {
        /* already closed */
      }
      fd = null;
    };
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy(err);
      closeFile();
      fs.rmSync(file, { force: true });
      reject(err);
    };
    const req = http.request({ host, port, path, method: 'GET', agent, headers }, (res) => {
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      const hash = crypto.createHash('sha256');
      let bytes = 0;
      if (status === 200) {
        try {
          fd = fs.openSync(file, 'w');
        } catch (err) {
          fail(err as Error);
          return;
        }
      }
      res.on('data', (chunk: Buffer) => {
        if (settled) return;
        if (fd === null) {
          chunks.push(chunk);
          return;
        }
        try {
          for (let written = 0; written < chunk.length; ) written += fs.writeSync(fd, chunk, written, chunk.length - written, bytes + written);
        } catch (err) {
          fail(err as Error);
          return;
        }
        bytes += chunk.length;
        hash.update(chunk);
      });
      res.on('error', fail);
      res.on('aborted', () => fail(new Error(`${address}${path}: the answer was cut short`)));
      res.on('end', () => {
        if (settled) return;
        try {
          if (fd !== null) fs.fsyncSync(fd);
        } catch (err) {
          fail(err as Error);
          return;
        }
        closeFile();
        settled = true;
        clearTimeout(timer);
        resolve({ status, headers: res.headers, bytes, sha256: hash.digest('hex'), body: Buffer.concat(chunks) });
      });
    });
    const timer = setTimeout(() => fail(new Error(`no whole answer from ${address}${path} within ${Math.ceil(timeout_ms)} ms`)), Math.max(1, Math.ceil(timeout_ms)));
    req.on('error', fail);
    req.end();
  });
}
