// The hostile client of the abuse bench, run as its own process (so that building and sending its
// bodies does not slow the measuring process): sends the kinds below one at a time, in a loop,
// until its time is up, and prints one JSON line with the requests by kind and their statuses.
//
//   node --import tsx bench/hostile.ts '{"leader": URL, "follower": URL, "until_epoch_ms": N, "kinds": ["..."]}'
//
// A kind that gets no answer within request_timeout_ms counts as status "timeout"; a socket
// error as "error".

import { request } from 'node:http';
import { percentile, round } from './stats.ts';

export interface HostileOptions {
  leader: string;
  follower: string;
  /** Stop starting requests at this wall-clock time (Date.now()). */
  until_epoch_ms: number;
  /** Only these kinds (all when absent). */
  kinds?: string[];
}

export interface KindResult {
  kind: string;
  requests: number;
  /** Status code (or "timeout" / "error") -> count. */
  statuses: Record<string, number>;
  /** Error code of the JSON answers -> count (`error.code`, or "-" for a 2xx). */
  codes: Record<string, number>;
  p50_ms: number;
  max_ms: number;
  /** Answers whose body was not JSON. */
  not_json: number;
  /** Leader health probes and writes whose time overlapped a request of this kind (filled in by bench/abuse.ts). */
  in_flight?: { health_probes: number; health_p99_ms: number; health_max_ms: number; writes: number; write_p99_ms: number };
}

export interface HostileRun {
  kinds: KindResult[];
  /** [kind, start, end] of every request, in Date.now() ms. */
  spans: Array<[string, number, number]>;
}

const request_timeout_ms = 30_000;
const chunked_bytes_max = 400 * 1024 * 1024;
const chunk_bytes = 64 * 1024;
const MiB = 1024 * 1024;

interface Answer {
  status: number | 'timeout' | 'error';
  text: string;
}

type Send = () => Promise<Answer>;

async function call(url: string, init: { method: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<Answer> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(request_timeout_ms) });
    return { status: res.status, text: await res.text() };
  } catch (error) {
    return { status: (error as Error).name === 'TimeoutError' ? 'timeout' : 'error', text: (error as Error).message };
  }
}

/**
 * POSTs a chunked body of up to chunked_bytes_max to url, writing one reused buffer, and stops
 * writing when the answer arrives (or the socket is closed).
 */
function chunkedPost(url: string): Promise<Answer> {
  const head = Buffer.from('{"id":"chunked","content":"');
  const chunk = Buffer.alloc(chunk_bytes, 'x');
  return new Promise<Answer>((resolve) => {
    let done = false;
    let sent = 0;
    const finish = (a: Answer): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      req.destroy();
      resolve(a);
    };
    const timer = setTimeout(() => finish({ status: 'timeout', text: `no answer after ${sent} bytes` }), request_timeout_ms);
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'x-workspace-id': 'abuse-hostile' } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (b: Buffer) => parts.push(b));
      res.on('end', () => finish({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', () => finish({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      // The server may answer and close while the body is still being written; when the socket
      // fails before the answer was read, the error is what is recorded.
      finish({ status: 'error', text: error.code ?? error.message });
    });
    const pump = (): void => {
      while (!done && sent < chunked_bytes_max) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!done) req.end('"}');
    };
    req.write(head);
    pump();
  });
}

const prose_words = ('the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were ' +
  'replica leader follower snapshot index vector cluster token budget query workspace river stone lantern harbor meadow').split(' ');

/** `chars` characters of seeded prose: words of a small vocabulary and a tail of rare ones, sentences. */
function prose(chars: number, seed: number): string {
  let s = seed >>> 0;
  const parts: string[] = [];
  let n = 0;
  while (n < chars) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const w = s % 23 === 0 ? `w${(s >>> 8) % 50_000}` : (prose_words[(s >>> 8) % prose_words.length] as string);
    const piece = s % 11 === 0 ? `${w}. ` : `${w} `;
    parts.push(piece);
    n += piece.length;
  }
  return parts.join('').slice(0, chars);
}

/** A seeded run of CJK characters (U+4E00..U+9FFF), no spaces. */
function cjk(chars: number): string {
  let s = 0x2545f491;
  const codes = new Array<number>(chars);
  for (let i = 0; i < chars; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    codes[i] = 0x4e00 + ((s >>> 8) % (0x9fff - 0x4e00 + 1));
  }
  let out = '';
  for (let i = 0; i < chars; i += 8192) out += String.fromCharCode(...codes.slice(i, i + 8192));
  return out;
}

/** A value built on first use, then reused. */
function lazy<T>(make: () => T): () => T {
  let v: T | undefined;
  return () => (v ??= make());
}

/** The hostile kinds, each a function that sends one request (bodies built on first use, then reused). */
export function hostileKinds(leader: string, follower: string): Map<string, Send> {
  const json = { 'content-type': 'application/json', 'x-workspace-id': 'abuse-hostile' };
  const doc = (id: string, content: string): Buffer => Buffer.from(JSON.stringify({ id, content }));
  const oneMiB = lazy(() => doc('x-1mib', 'x'.repeat(MiB)));
  // The whole body is 8 MiB - 20 bytes: over body_bytes_max (512 KiB by default), refused as it streams.
  const eightMiB = lazy(() => doc('x-8mib', 'x'.repeat(8 * MiB - 20 - doc('x-8mib', '').length)));
  // The largest valid document (document_bytes_max, 256 KiB): prose of many distinct words, the costliest to index.
  const prose256k = lazy(() => doc('prose-256k', prose(256 * 1024, 1)));
  // A valid bulk: 330 documents of 1.4 KB of prose (470 KB, under body_bytes_max): one log entry.
  const bulk = lazy(() => Buffer.from(JSON.stringify(Array.from({ length: 330 }, (_, i) => ({ id: `bulk-${i}`, content: prose(1400, i + 2) })))));
  const cjkDoc = lazy(() => doc('cjk-256k', cjk(256 * 1024)));
  const deep = lazy(() => Buffer.from(`{"id":"deep","content":"x","metadata":${'{"a":'.repeat(4_999)}{}${'}'.repeat(4_999)}}`));
  const glob = { 'content-type': 'application/json', 'x-workspace-id': 'abuse-glob' };
  const assemble = (patterns: string[]): string => JSON.stringify({ query: 'a document', include_patterns: patterns });
  const kinds = new Map<string, Send>([
    ['doc 1 MiB of x', () => call(`${leader}/api/v1/documents`, { method: 'POST', headers: json, body: oneMiB() })],
    ['doc 8 MiB - 20 B body of x', () => call(`${leader}/api/v1/documents`, { method: 'POST', headers: json, body: eightMiB() })],
    ['doc 256 KiB of prose', () => call(`${leader}/api/v1/documents`, { method: 'POST', headers: json, body: prose256k() })],
    ['bulk 330 docs, 470 KB', () => call(`${leader}/api/v1/documents/bulk`, { method: 'POST', headers: json, body: bulk() })],
    ['doc 256k CJK chars', () => call(`${leader}/api/v1/documents`, { method: 'POST', headers: json, body: cjkDoc() })],
    ['assemble **a**a...**b', () => call(`${leader}/api/v1/assemble`, { method: 'POST', headers: glob, body: assemble([`${'**a'.repeat(12)}**b`]) })],
    ['assemble [z-a]', () => call(`${leader}/api/v1/assemble`, { method: 'POST', headers: glob, body: assemble(['[z-a]']) })],
    ['assemble 65 patterns', () => call(`${leader}/api/v1/assemble`, { method: 'POST', headers: glob, body: assemble(Array.from({ length: 65 }, (_, i) => `dir${i}/**/*.md`)) })],
    ['metadata 5,000 deep', () => call(`${leader}/api/v1/documents`, { method: 'POST', headers: json, body: deep() })],
    ['id lone surrogate', () => call(`${leader}/api/v1/documents`, { method: 'POST', headers: json, body: '{"id":"\\ud800","content":"x"}' })],
    ['id "."', () => call(`${leader}/api/v1/documents`, { method: 'POST', headers: json, body: '{"id":".","content":"x"}' })],
    ['id ".."', () => call(`${leader}/api/v1/documents`, { method: 'POST', headers: json, body: '{"id":"..","content":"x"}' })],
    ['400 MB chunked to a follower', () => chunkedPost(`${follower}/api/v1/documents`)],
    ['text/plain + Origin evil', () => call(`${leader}/api/v1/documents`, { method: 'POST', headers: { 'content-type': 'text/plain', origin: 'http://evil.example', 'x-workspace-id': 'abuse-hostile' }, body: '{"id":"csrf","content":"overwritten"}' })],
    ['unknown route', () => call(`${leader}/api/v1/nothing-here`, { method: 'GET' })],
    ['unknown method', () => call(`${leader}/api/v1/documents`, { method: 'PATCH', headers: json, body: '{}' })],
  ]);
  return kinds;
}

function errorCode(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown } };
    return typeof body.error?.code === 'string' ? body.error.code : '-';
  } catch {
    return undefined;
  }
}

export async function runHostile(opts: HostileOptions): Promise<HostileRun> {
  const all = hostileKinds(opts.leader, opts.follower);
  const kinds = [...all].filter(([k]) => opts.kinds === undefined || opts.kinds.includes(k));
  if (kinds.length === 0) throw new Error(`no hostile kind matches ${JSON.stringify(opts.kinds)}`);
  const stats = new Map<string, { ms: number[]; statuses: Record<string, number>; codes: Record<string, number>; not_json: number }>();
  const spans: Array<[string, number, number]> = [];
  for (let i = 0; Date.now() < opts.until_epoch_ms; i++) {
    const [kind, send] = kinds[i % kinds.length] as [string, Send];
    const startedAt = Date.now();
    const started = performance.now();
    const a = await send();
    const ms = performance.now() - started;
    spans.push([kind, startedAt, Date.now()]);
    const s = stats.get(kind) ?? { ms: [], statuses: {}, codes: {}, not_json: 0 };
    stats.set(kind, s);
    s.ms.push(ms);
    s.statuses[String(a.status)] = (s.statuses[String(a.status)] ?? 0) + 1;
    const code = typeof a.status === 'number' ? errorCode(a.text) : `${a.status}: ${a.text.slice(0, 60)}`;
    if (code === undefined) s.not_json += 1;
    else s.codes[code] = (s.codes[code] ?? 0) + 1;
  }
  const results = [...stats].map(([kind, s]) => ({
    kind,
    requests: s.ms.length,
    statuses: s.statuses,
    codes: s.codes,
    p50_ms: round(percentile(s.ms, 50)),
    max_ms: round(Math.max(...s.ms)),
    not_json: s.not_json,
  }));
  return { kinds: results, spans };
}

if (process.argv[1]?.endsWith('hostile.ts') === true) {
  const opts = JSON.parse(process.argv[2] ?? '{}') as HostileOptions;
  const results = await runHostile(opts);
  process.stdout.write(`${JSON.stringify(results)}\n`);
}
