// The load generator shared by Cairn and etcd: wrk with a Lua script that sends POSTs with a
// unique key per request and a fixed-size value, and prints a JSON summary (requests, errors,
// latency percentiles in microseconds) from its `done` hook.

import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  non2xx: number;
  socket_errors: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
}

export type BodyKind = 'cairn' | 'etcd';

/** A Lua script for wrk: `kind` decides the body shape; every request carries a fresh key. */
function script(kind: BodyKind, headers: Record<string, string>, valueBytes: number): string {
  const headerLines = Object.entries(headers)
    .map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`)
    .join('\n');
  // 1 KiB of text for Cairn's content; for etcd the same 1 KiB, base64-encoded as its JSON API wants.
  const value = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor '.repeat(Math.ceil(valueBytes / 78)).slice(0, valueBytes);
  const base64Value = Buffer.from(value).toString('base64');
  return `
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end
function init(args)
  counter = 0
end
local b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function b64(data)
  return ((data:gsub('.', function(x)
    local r, b = '', x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if (#x < 6) then return '' end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({ '', '==', '=' })[#data % 3 + 1])
end
${headerLines}
wrk.method = "POST"
function request()
  counter = counter + 1
  local key = "k-" .. tid .. "-" .. counter .. "-" .. math.random(1, 1000000000)
  local body
  if "${kind}" == "etcd" then
    body = '{"key":"' .. b64(key) .. '","value":"${base64Value}"}'
  else
    body = '{"id":"' .. key .. '","content":"${value}"}'
  end
  return wrk.format(nil, nil, nil, body)
end
function done(summary, latency, requests)
  io.write(string.format('WRK_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50":%d,"p99":%d,"mean":%f}\\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
`;
}

export interface WrkOptions {
  url: string;
  kind: BodyKind;
  headers?: Record<string, string>;
  connections: number;
  threads: number;
  seconds: number;
  valueBytes: number;
}

export async function wrk(opts: WrkOptions): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'cairn-wrk-'));
  const file = join(dir, `${opts.kind}.lua`);
  writeFileSync(file, script(opts.kind, { 'content-type': 'application/json', ...opts.headers }, opts.valueBytes));
  const { stdout } = await run('wrk', ['-t', String(opts.threads), '-c', String(opts.connections), '-d', `${opts.seconds}s`, '--timeout', '10s', '-s', file, opts.url], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (line === undefined) throw new Error(`wrk printed no summary:\n${stdout}`);
  const j = JSON.parse(line.slice('WRK_JSON '.length)) as Record<string, number>;
  const seconds = (j['duration_us'] as number) / 1e6;
  const requests = j['requests'] as number;
  const non2xx = j['non2xx'] as number;
  return {
    requests,
    seconds,
    rps: (requests - non2xx) / seconds,
    non2xx,
    socket_errors: (j['connect'] as number) + (j['read'] as number) + (j['write'] as number) + (j['timeout'] as number),
    p50_ms: (j['p50'] as number) / 1000,
    p99_ms: (j['p99'] as number) / 1000,
    mean_ms: (j['mean'] as number) / 1000,
  };
}
