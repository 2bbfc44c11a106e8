// POST /_raft/rolling-restart (the dashboard's "Rolling restart") and GET /_raft/rolling-restart
// (its progress). A node cannot restart itself and go on with the others: its restart ends
// whatever it runs (in a container or a systemd unit, also what it spawned), and a follower goes
// first. So the run happens in a supervisor that outlives the nodes, named to each node by
// CAIRN_SUPERVISOR_URL and CAIRN_SUPERVISOR_TOKEN: `cairn cluster` sets them for its nodes
// (deploy/cluster-control.ts). Without a supervisor the POST answers 501 `no_supervisor`, saying
// to run `cairn rolling-restart --restart-command ...` from where the nodes are managed.
//
// The POST takes the operator token, as transfer-leadership, and refuses a cross-site browser
// request (403 cross_site); the GET is open like /_raft/health (node ids and steps only).
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { CairnConfig } from '../config/types.ts';
import { crossSiteGuard } from './cross-site.ts';
import { bearer, secretsEqual } from './secret.ts';

export interface RollingRouteDeps {
  config: CairnConfig;
  /** Where CAIRN_SUPERVISOR_URL / CAIRN_SUPERVISOR_TOKEN are read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** How long the supervisor may take to answer (it answers at once: the run goes on after). */
const supervisor_timeout_ms = 5_000;

function noSupervisor(c: Context): Response {
  return c.json(
    {
      error: {
        code: 'no_supervisor',
        message:
          'no supervisor can restart the nodes of this deployment (CAIRN_SUPERVISOR_URL is not set: the nodes were not started by cairn cluster); run `cairn rolling-restart --restart-command CMD` where the nodes are managed (see README, Operate it)',
      },
    },
    501,
  );
}

export function createRollingRoutes(deps: RollingRouteDeps): Hono {
  const { config } = deps;
  const env = deps.env ?? process.env;
  const supervisor = (): { url: string; token: string } | null => {
    const url = env['CAIRN_SUPERVISOR_URL'];
    return url === undefined || url === '' ? null : { url: url.replace(/\/+$/, ''), token: env['CAIRN_SUPERVISOR_TOKEN'] ?? '' };
  };
  const relay = async (c: Context, method: 'GET' | 'POST', query: string): Promise<Response> => {
    const s = supervisor();
    if (s === null) return noSupervisor(c);
    try {
      const res = await fetch(`${s.url}/rolling-restart${query}`, { method, headers: { authorization: `Bearer ${s.token}` }, signal: AbortSignal.timeout(supervisor_timeout_ms) });
      const text = await res.text();
      if (res.status === 401) {
        return c.json({ error: { code: 'supervisor_refused', message: 'the supervisor refused this node\'s CAIRN_SUPERVISOR_TOKEN' } }, 502);
      }
      return c.body(text, res.status as 200, { 'content-type': 'application/json' });
    } catch (err) {
      c.header('Retry-After', '1');
      return c.json({ error: { code: 'supervisor_unavailable', message: `the supervisor at ${s.url} does not answer: ${(err as Error).message}` } }, 503);
    }
  };

  const app = new Hono();
  app.on('POST', '/rolling-restart', crossSiteGuard(() => config.server.allowed_origins));
  app.post('/rolling-restart', async function startRollingRestart(c) {
    const token = config.replication.operator_token;
    const given = bearer(c.req.header('authorization')) ?? c.req.header('x-cairn-operator-token') ?? null;
    if (token !== '' && !secretsEqual(given, token)) {
      c.header('WWW-Authenticate', 'Bearer realm="cairn"');
      return c.json({ error: { code: 'unauthorized', message: 'rolling-restart needs the operator token (Authorization: Bearer <replication.operator_token>); the cluster secret is not accepted', field: 'Authorization' } }, 401);
    }
    const keep = c.req.query('keep_leader') ?? 'false';
    if (!['true', 'false', '1', '0'].includes(keep)) {
      return c.json({ error: { code: 'bad_request', message: `keep_leader: expected true or false, got ${JSON.stringify(keep)}`, field: 'keep_leader' } }, 400);
    }
    const to = c.req.query('to');
    if (to !== undefined && !config.replication.nodes.some((n) => n.id === to)) {
      return c.json({ error: { code: 'unknown_node', message: `to: no node ${JSON.stringify(to)} (nodes: ${config.replication.nodes.map((n) => n.id).join(', ')})`, field: 'to' } }, 400);
    }
    const query = new URLSearchParams({ keep_leader: keep === 'true' || keep === '1' ? 'true' : 'false', ...(to === undefined ? {} : { to }) });
    return relay(c, 'POST', `?${query.toString()}`);
  });
  app.get('/rolling-restart', function rollingRestartStatus(c) {
    return relay(c, 'GET', '');
  });
  return app;
}
