// Node-to-node HTTP: POST msgpack bodies over keep-alive connections (undici's pool, which
// Node's fetch uses), each request bounded by a timeout.
import { MSGPACK } from './wire.ts';

export interface PostResult {
  status: number;
  body: Buffer;
}

export interface Transport {
  post(address: string, path: string, body: Uint8Array, timeout_ms: number): Promise<PostResult>;
}

export class HttpTransport implements Transport {
  constructor(private readonly secret: string) {}

  async post(address: string, path: string, body: Uint8Array, timeout_ms: number): Promise<PostResult> {
    const res = await fetch(`http://${address}${path}`, {
      method: 'POST',
      headers: { 'content-type': MSGPACK, 'x-cairn-secret': this.secret },
      body,
      signal: AbortSignal.timeout(Math.max(1, Math.ceil(timeout_ms))),
    });
    const buf = Buffer.from(await res.arrayBuffer());
    return { status: res.status, body: buf };
  }
}
