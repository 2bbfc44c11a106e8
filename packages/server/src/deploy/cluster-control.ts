// The control endpoint of `cairn cluster`: an HTTP server on 127.0.0.1 (a port of its own, a
// random token) through which the nodes it runs are restarted. `cairn cluster` writes where it
// is to <data-dir>/control.json (mode 0600) and gives it to its nodes as CAIRN_SUPERVISOR_URL and
// CAIRN_SUPERVISOR_TOKEN, so the dashboard's rolling restart (POST /_raft/rolling-restart on a
// node) runs here, in the process that outlives every node it restarts.
//
//   GET  /nodes                  {nodes: [{id, url, pid, running}]}
//   POST /nodes/:id/restart      stops the node (SIGTERM, SIGKILL after 10 s) and starts it again:
//                                {id, old_pid, pid}; the caller waits for it to be healthy
//   POST /rolling-restart        ?keep_leader=true|false&to=ID: starts one here, 202 {state}
//   GET  /rolling-restart        {state: idle|running|done|failed, steps, message, leader}
// Every route takes `Authorization: Bearer <token>`; anything else is 401.

import { randomBytes } from 'node:crypto';
import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { secretsEqual, bearer } from '../http/secret.ts';
import { rollingRestart, RollingRestartError } from './rolling-restart.ts';
import type { NodeRef } from './rolling-restart.ts';

export const SUPERVISOR_URL_ENV = 'CAIRN_SUPERVISOR_URL';
export const SUPERVISOR_TOKEN_ENV = 'CAIRN_SUPERVISOR_TOKEN';
/** Steps kept of a rolling restart's progress. */
const steps_max = 100;

export interface ControlledNode extends NodeRef {
  pid: number | undefined;
  running: boolean;
}

export interface ClusterControlDeps {
  nodes(): ControlledNode[];
  /** Stops and starts the node again; resolves with the old and new pid. */
  restart(id: string): Promise<{ old_pid: number | undefined; pid: number | undefined }>;
  /** How long a node may take to come back in a rolling restart run here. */
  timeoutMs: number;
  log(line: string): void;
}

/** Where `cairn cluster`'s control endpoint is: <data-dir>/control.json. */
export interface ControlFile {
  url: string;
  token: string;
  pid: number;
}

export interface RollingStatus {
  state: 'idle' | 'running' | 'done' | 'failed';
  started_at: string | null;
  steps: string[];
  message: string | null;
  restarted: string[];
  leader: string | null;
}

export interface ClusterControl {
  readonly url: string;
  readonly token: string;
  /** The status of the rolling restart run here (the last one). */
  status(): RollingStatus;
  close(): Promise<void>;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function error(res: ServerResponse, status: number, code: string, message: string, field?: string): void {
  send(res, status, { error: { code, message, ...(field === undefined ? {} : { field }) } });
}

export async function startClusterControl(deps: ClusterControlDeps, controlFile: string): Promise<ClusterControl> {
  const token = randomBytes(24).toString('hex');
  let busy: string | null = null;
  let rolling: RollingStatus = { state: 'idle', started_at: null, steps: [], message: null, restarted: [], leader: null };
  const abort = new AbortController();

  const startRolling = (keepLeader: boolean, to: string | undefined): void => {
    rolling = { state: 'running', started_at: new Date().toISOString(), steps: [], message: null, restarted: [], leader: null };
    const current = rolling;
    const step = (line: string): void => {
      current.steps.push(line);
      if (current.steps.length > steps_max) current.steps.splice(0, current.steps.length - steps_max);
      deps.log(`[cluster] rolling restart: ${line}`);
    };
    busy = 'a rolling restart';
    rollingRestart({
      nodes: deps.nodes().map((n) => ({ id: n.id, url: n.url })),
      restarter: { restart: async (n) => void (await deps.restart(n.id)) },
      operatorToken: '',
      authToken: '',
      timeoutMs: deps.timeoutMs,
      keepLeader,
      ...(to === undefined ? {} : { to }),
      progress: step,
      signal: abort.signal,
    }).then(
      (r) => {
        current.state = 'done';
        current.restarted = r.restarted;
        current.leader = r.leader;
        current.message = `done: ${r.restarted.join(', ')} restarted; ${r.leader} leads`;
        step(current.message);
      },
      (err: unknown) => {
        current.state = 'failed';
        current.message = (err as Error).message;
        if (err instanceof RollingRestartError) {
          current.restarted = err.restarted;
          current.leader = err.leader;
        }
        step(`stopped: ${current.message}`);
      },
    ).finally(() => {
      busy = null;
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!secretsEqual(bearer(req.headers.authorization), token)) return error(res, 401, 'unauthorized', 'the control endpoint needs its token (Authorization: Bearer, from control.json)', 'Authorization');
    const url = new URL(req.url ?? '/', 'http://control');
    const path = url.pathname;
    if (path === '/nodes' && req.method === 'GET') return send(res, 200, { nodes: deps.nodes() });
    const m = /^\/nodes\/([^/]+)\/restart$/.exec(path);
    if (m !== null && req.method === 'POST') {
      const id = decodeURIComponent(m[1] as string);
      if (!deps.nodes().some((n) => n.id === id)) return error(res, 404, 'unknown_node', `no node ${JSON.stringify(id)} here (nodes: ${deps.nodes().map((n) => n.id).join(', ')})`, 'id');
      if (busy !== null) return error(res, 409, 'busy', `${busy} is in progress`);
      busy = `a restart of ${id}`;
      try {
        return send(res, 200, { id, ...(await deps.restart(id)) });
      } catch (err) {
        return error(res, 500, 'restart_failed', `restarting ${id} failed: ${(err as Error).message}`);
      } finally {
        busy = null;
      }
    }
    if (path === '/rolling-restart' && req.method === 'GET') return send(res, 200, rolling);
    if (path === '/rolling-restart' && req.method === 'POST') {
      const keep = url.searchParams.get('keep_leader') ?? 'false';
      if (!['true', 'false', '1', '0'].includes(keep)) return error(res, 400, 'bad_request', `keep_leader: expected true or false, got ${JSON.stringify(keep)}`, 'keep_leader');
      const to = url.searchParams.get('to') ?? undefined;
      if (to !== undefined && !deps.nodes().some((n) => n.id === to)) return error(res, 400, 'unknown_node', `to: no node ${JSON.stringify(to)} (nodes: ${deps.nodes().map((n) => n.id).join(', ')})`, 'to');
      if (busy !== null) return error(res, 409, 'busy', `${busy} is in progress`);
      startRolling(keep === 'true' || keep === '1', to);
      return send(res, 202, rolling);
    }
    if (path === '/nodes' || path === '/rolling-restart' || m !== null) return error(res, 405, 'method_not_allowed', `${req.method ?? ''} is not allowed on ${path}`);
    return error(res, 404, 'not_found', `no route ${path}`);
  };

  const server: Server = createServer((req, res) => {
    // The bodies are empty: drain whatever came, then answer.
    req.resume();
    handle(req, res).catch((err: unknown) => error(res, 500, 'internal', (err as Error).message));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const url = `http://127.0.0.1:${port}`;
  const file: ControlFile = { url, token, pid: process.pid };
  writeFileSync(controlFile, `${JSON.stringify(file)}\n`, { mode: 0o600 });
  chmodSync(controlFile, 0o600);
  return {
    url,
    token,
    status: () => rolling,
    async close(): Promise<void> {
      abort.abort();
      rmSync(controlFile, { force: true });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
