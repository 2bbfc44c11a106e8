// GET /dashboard: one self-contained page (inline CSS and script, no external requests), fully
// rendered on the server; GET /dashboard/events: its live feed, the same sections re-rendered
// for each cluster snapshot, as Server-Sent Events.
import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import type { Context } from 'hono';
import type { ClusterView } from '../cluster/cluster-view.ts';
import type { EventHub } from '../cluster/event-hub.ts';
import { clusterHistory } from '../http/cluster/routes.ts';
import { streamSnapshots } from '../http/cluster/sse.ts';
import { renderPage, renderSections } from './render.ts';

const css = readFileSync(new URL('./static/dashboard.css', import.meta.url), 'utf8');
const script = readFileSync(new URL('./static/dashboard.js', import.meta.url), 'utf8');

export interface DashboardOptions {
  /** True when force-resync needs an operator token: the page asks for it. */
  tokenRequired: boolean;
}

export function createDashboardRoutes(view: ClusterView, hub: EventHub, opts: DashboardOptions): Hono {
  const app = new Hono();
  const page = async function dashboardPage(c: Context): Promise<Response> {
    await view.refresh(0, undefined, true);
    const html = renderPage(view.snapshot(), clusterHistory(view), { ...opts, css, script });
    c.header('Cache-Control', 'no-store');
    c.header('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'self'");
    return c.html(html);
  };
  app.get('/', page);
  app.get('/events', (c) =>
    streamSnapshots(c, hub, 'dashboard', (s) => JSON.stringify({ at: s.at, last_second: s.last_second, sections: renderSections(s, opts) })),
  );
  return app;
}
