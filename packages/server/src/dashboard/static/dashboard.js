// Live part of the Cairn dashboard: swaps in the sections the server renders (SSE
// /dashboard/events), extends the two rate charts, and sends force-resync requests.
(() => {
  'use strict';
  const POINTS_MAX = 300;
  const live = document.getElementById('live');
  const seed = JSON.parse(document.getElementById('seed').textContent);
  const series = { write: seed.write.slice(-POINTS_MAX), query: seed.query.slice(-POINTS_MAX) };
  let lastSecond = seed.at_s;

  function draw(id, values) {
    const fig = document.getElementById(id);
    if (!fig) return;
    const w = 300;
    const h = 60;
    const max = Math.max(1, ...values);
    const n = values.length;
    const pts = values.map((v, i) => `${(n <= 1 ? w : (i * w) / (n - 1)).toFixed(1)},${(h - (v / max) * (h - 4) - 2).toFixed(1)}`).join(' ');
    fig.querySelector('polyline').setAttribute('points', pts);
    fig.querySelector('.chart-last').textContent = String(values.length ? values[values.length - 1] : 0);
    fig.querySelector('.chart-max').textContent = String(max);
  }

  function addSecond(r) {
    if (!r || r.at_s <= lastSecond) return;
    for (const key of ['write', 'query']) {
      const s = series[key];
      for (let t = lastSecond + 1; t < r.at_s && t - lastSecond < POINTS_MAX; t++) s.push(s.length ? s[s.length - 1] : 0);
      s.push(r[key]);
      if (s.length > POINTS_MAX) s.splice(0, s.length - POINTS_MAX);
    }
    lastSecond = r.at_s;
    draw('chart-write', series.write);
    draw('chart-query', series.query);
  }

  function connect() {
    const es = new EventSource('/dashboard/events');
    es.addEventListener('dashboard', (ev) => {
      const msg = JSON.parse(ev.data);
      for (const [id, html] of Object.entries(msg.sections)) {
        const el = document.getElementById(id);
        if (el && el.innerHTML !== html) el.innerHTML = html;
      }
      addSecond(msg.last_second);
      live.textContent = `Live · updated ${new Date().toLocaleTimeString()}`;
      live.className = 'ok';
    });
    es.onerror = () => {
      live.textContent = 'Live updates interrupted; reconnecting…';
      live.className = 'warn';
    };
  }

  document.addEventListener('submit', async (ev) => {
    const form = ev.target.closest && ev.target.closest('form.resync');
    if (!form) return;
    ev.preventDefault();
    const button = form.querySelector('button');
    const target = button.dataset.target;
    const headers = {};
    if (button.dataset.token === '1') {
      const token = window.prompt(`Operator token (replication.operator_token) to force a resync of ${target}:`);
      if (!token) return;
      headers.Authorization = `Bearer ${token}`;
    } else if (!window.confirm(`Send a fresh snapshot to ${target} now?`)) {
      return;
    }
    const out = document.getElementById('resync-result');
    out.textContent = `Resyncing ${target}…`;
    try {
      const res = await fetch(`/_raft/force-resync?target=${encodeURIComponent(target)}`, { method: 'POST', headers });
      const body = await res.json().catch(() => ({}));
      out.textContent = body.message || (body.error && body.error.message) || `HTTP ${res.status}`;
    } catch (err) {
      out.textContent = `Force resync failed: ${err.message}`;
    }
  });

  // Rolling restart: started on the node (which passes it to the supervisor that runs it), then
  // its steps polled until done or failed; a poll may fail while the node serving this page
  // restarts, and the next one goes on.
  const ROLLING_POLL_MS = 1000;
  const ROLLING_POLLS_MAX = 900;
  async function followRolling(out) {
    for (let i = 0; i < ROLLING_POLLS_MAX; i++) {
      await new Promise((r) => setTimeout(r, ROLLING_POLL_MS));
      let s;
      try {
        const res = await fetch('/_raft/rolling-restart');
        s = await res.json();
      } catch (err) {
        out.textContent = `Rolling restart: waiting for an answer (${err.message})…`;
        continue;
      }
      if (s.error) {
        out.textContent = `Rolling restart: ${s.error.message}`;
        continue;
      }
      out.dataset.state = s.state;
      const last = s.steps.length ? s.steps[s.steps.length - 1] : 'starting';
      out.textContent = s.state === 'running' ? `Rolling restart: ${last}` : `Rolling restart ${s.state}: ${s.message}`;
      if (s.state !== 'running') return;
    }
  }

  document.addEventListener('submit', async (ev) => {
    const form = ev.target.closest && ev.target.closest('form.rolling');
    if (!form) return;
    ev.preventDefault();
    const button = form.querySelector('button');
    const keep = form.querySelector('input[name=keep_leader]').checked;
    const headers = {};
    if (button.dataset.token === '1') {
      const token = window.prompt('Operator token (replication.operator_token) for a rolling restart:');
      if (!token) return;
      headers.Authorization = `Bearer ${token}`;
    } else if (!window.confirm(`Restart every node once, one at a time${keep ? ', and hand leadership back' : ''}?`)) {
      return;
    }
    const out = document.getElementById('rolling-result');
    out.dataset.state = 'starting';
    out.textContent = 'Starting a rolling restart…';
    button.disabled = true;
    try {
      const res = await fetch(`/_raft/rolling-restart?keep_leader=${keep}`, { method: 'POST', headers });
      const body = await res.json().catch(() => ({}));
      if (res.status !== 202) {
        out.dataset.state = 'refused';
        out.textContent = `Rolling restart refused: ${(body.error && body.error.message) || `HTTP ${res.status}`}`;
        return;
      }
      await followRolling(out);
    } catch (err) {
      out.dataset.state = 'refused';
      out.textContent = `Rolling restart failed to start: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  });

  connect();
})();
