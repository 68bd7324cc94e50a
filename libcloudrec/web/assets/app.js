// app.js - the cloudrec dashboard: live charts from /v1/stats and a
// multi-file upload. Served at /app.js by the web tier; no external code.
'use strict';

const SVG = 'http://www.w3.org/2000/svg';
const W = 440, H = 160, PAD_L = 44, PAD_R = 10, PAD_T = 10, PAD_B = 22;
const MIN_SPAN_MS = 30000;
// Browsers open at most 6 HTTP/1.1 connections to one server, so more
// uploads at once would only wait inside the browser (and look stuck).
const UPLOADS_AT_ONCE = 6;

// Each chart: its series (a field of /v1/stats "series"), colour, dash.
const CHARTS = {
  backlog: [
    {key: 'visible', name: 'waiting', color: '#2563eb'},
    {key: 'in_flight', name: 'in flight', color: '#f59e0b'},
  ],
  workers: [
    {key: 'starting', name: 'starting', color: '#a855f7'},
    {key: 'busy', name: 'busy', color: '#16a34a'},
    {key: 'idle', name: 'idle', color: '#0ea5e9'},
    {key: 'stopping', name: 'stopping', color: '#ef4444'},
    {key: 'desired', name: 'desired', color: '#111827', dash: '6 4'},
  ],
  rate: [
    {key: 'answers_per_s', name: 'answers/s', color: '#16a34a'},
  ],
  latency: [
    {key: 'p50_ms', name: 'p50', color: '#2563eb'},
    {key: 'p95_ms', name: 'p95', color: '#dc2626'},
  ],
};

function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

// A round upper bound for the y axis (1, 2, 5 x 10^n), at least 1.
function niceMax(v) {
  if (!(v > 1)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v) {
  if (v === null || v === undefined) return '-';
  return Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1);
}

// Draws one chart: grid, time ticks, decision marks, one polyline per run
// of known values of each series.
function drawChart(id, defs, stats, t0, t1) {
  const svg = document.getElementById('chart-' + id);
  const times = stats.series.time_ms;
  let max = 0;
  for (const d of defs) for (const v of stats.series[d.key]) if (v !== null && v > max) max = v;
  const top = niceMax(max);
  const x = t => PAD_L + (W - PAD_L - PAD_R) * (t - t0) / (t1 - t0);
  const y = v => H - PAD_B - (H - PAD_T - PAD_B) * v / top;
  const nodes = [];
  for (const f of [0, 0.5, 1]) {
    nodes.push(el('line', {class: 'grid', x1: PAD_L, x2: W - PAD_R, y1: y(top * f), y2: y(top * f)}));
    nodes.push(el('text', {class: 'tick', x: PAD_L - 6, y: y(top * f) + 4, 'text-anchor': 'end'},
                  fmt(top * f)));
  }
  const spanS = Math.round((t1 - t0) / 1000);
  for (const f of [0, 0.5, 1]) {
    const label = f === 1 ? 'now' : '-' + Math.round(spanS * (1 - f)) + ' s';
    nodes.push(el('text', {class: 'tick', x: x(t0 + f * (t1 - t0)), y: H - 6,
                           'text-anchor': f === 0 ? 'start' : f === 1 ? 'end' : 'middle'}, label));
  }
  for (const d of stats.decisions) {
    if (d.time_ms < t0) continue;
    const xx = x(d.time_ms);
    const m = el('line', {class: 'mark', x1: xx, x2: xx, y1: PAD_T, y2: H - PAD_B});
    const tri = d.action === 'launch'
        ? `${xx - 5},${H - PAD_B} ${xx + 5},${H - PAD_B} ${xx},${H - PAD_B - 8}`
        : `${xx - 5},${H - PAD_B - 8} ${xx + 5},${H - PAD_B - 8} ${xx},${H - PAD_B}`;
    const p = el('polygon', {points: tri, fill: d.action === 'launch' ? '#16a34a' : '#ef4444',
                             class: 'decision', 'data-action': d.action});
    p.appendChild(el('title', {}, `${d.action} ${d.count} (desired ${d.desired}, backlog ${d.backlog})`));
    nodes.push(m, p);
  }
  for (const d of defs) {
    const vals = stats.series[d.key];
    let run = [];
    const flush = () => {
      if (run.length === 1) {  // a lone sample: a dot, as a line needs two
        const [cx, cy] = run[0].split(',');
        nodes.push(el('circle', {cx, cy, r: 2.5, fill: d.color, 'data-series': d.key}));
      } else if (run.length) {
        const attrs = {points: run.join(' '), stroke: d.color, 'data-series': d.key};
        if (d.dash) attrs['stroke-dasharray'] = d.dash;
        nodes.push(el('polyline', attrs));
      }
      run = [];
    };
    vals.forEach((v, i) => {
      if (v === null) { flush(); return; }
      run.push(x(times[i]).toFixed(1) + ',' + y(v).toFixed(1));
    });
    flush();
  }
  svg.replaceChildren(...nodes);
  svg.dataset.max = String(max);
  svg.dataset.samples = String(times.length);
  drawLegend(id, defs, stats);
}

function drawLegend(id, defs, stats) {
  const box = document.getElementById('legend-' + id);
  const items = defs.map(d => {
    const span = document.createElement('span');
    const swatch = document.createElement('i');
    swatch.style.background = d.color;
    const vals = stats.series[d.key];
    const b = document.createElement('b');
    b.textContent = fmt(vals.length ? vals[vals.length - 1] : null);
    span.append(swatch, d.name + ' ', b);
    return span;
  });
  box.replaceChildren(...items);
}

function last(stats, key) {
  const v = stats.series[key];
  return v.length ? v[v.length - 1] : null;
}

function drawNow(stats) {
  const set = (id, v) => { document.getElementById('now-' + id).textContent = v; };
  const parts = ['starting', 'busy', 'idle'].map(k => last(stats, k));
  set('workers', parts.some(v => v === null) ? '-' : fmt(parts.reduce((a, b) => a + b, 0)));
  set('desired', fmt(last(stats, 'desired')));
  const vis = last(stats, 'visible'), inf = last(stats, 'in_flight');
  set('backlog', vis === null || inf === null ? '-' : fmt(vis + inf));
  set('rate', fmt(last(stats, 'answers_per_s')));
  const p50 = last(stats, 'p50_ms');
  set('p50', p50 === null ? '-' : fmt(p50) + ' ms');
  set('answered', fmt(stats.answered));
}

async function poll() {
  try {
    const r = await fetch('/v1/stats', {cache: 'no-store'});
    if (r.ok) {
      const stats = await r.json();
      const times = stats.series.time_ms;
      const t1 = times.length ? times[times.length - 1] : stats.now_ms;
      const t0 = Math.min(times.length ? times[0] : t1, t1 - MIN_SPAN_MS);
      for (const id in CHARTS) drawChart(id, CHARTS[id], stats, t0, t1);
      drawNow(stats);
      document.body.dataset.polls = String(Number(document.body.dataset.polls || 0) + 1);
    }
  } catch (e) {
    // The server is restarting or gone; try again on the next tick.
  }
  setTimeout(poll, 1000);
}

// ---- uploads ---------------------------------------------------------------

const queue = [];
let running = 0, sent = 0, done = 0, failed = 0;

function showProgress() {
  const p = document.getElementById('progress');
  p.textContent = sent ? `${done} of ${sent} answered` + (failed ? `, ${failed} failed` : '') +
      (running ? `, ${running} in flight` : '') : '';
}

function addRow(file) {
  const li = document.createElement('li');
  li.className = 'waiting';
  const name = document.createElement('span');
  name.className = 'name';
  name.textContent = file.name;
  name.title = file.name;
  const label = document.createElement('span');
  label.className = 'label';
  label.textContent = 'waiting...';
  li.append(name, label);
  document.getElementById('results').prepend(li);
  return li;
}

async function send(job) {
  const body = new FormData();
  body.append('inputFile', job.file, job.file.name);
  const label = job.row.querySelector('.label');
  label.textContent = 'classifying...';
  try {
    const r = await fetch('/', {method: 'POST', body, headers: {Accept: 'application/json'}});
    const j = await r.json();
    if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status));
    label.textContent = j.label;
    label.title = (j.top || []).map(t => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join('\n');
    job.row.className = 'done';
    job.row.dataset.label = j.label;
  } catch (e) {
    label.textContent = String(e.message || e);
    job.row.className = 'failed';
    failed++;
  }
  done++;
}

function pump() {
  while (running < UPLOADS_AT_ONCE && queue.length) {
    const job = queue.shift();
    running++;
    send(job).finally(() => { running--; showProgress(); pump(); });
  }
  showProgress();
}

function upload(files) {
  for (const file of files) {
    queue.push({file, row: addRow(file)});
    sent++;
  }
  pump();
}

function setup() {
  const input = document.getElementById('files');
  const drop = document.getElementById('drop');
  document.getElementById('form').addEventListener('submit', e => e.preventDefault());
  input.addEventListener('change', () => { upload(Array.from(input.files)); input.value = ''; });
  for (const ev of ['dragenter', 'dragover'])
    drop.addEventListener(ev, e => { e.preventDefault(); drop.classList.add('over'); });
  for (const ev of ['dragleave', 'drop'])
    drop.addEventListener(ev, () => drop.classList.remove('over'));
  drop.addEventListener('drop', e => {
    e.preventDefault();
    upload(Array.from(e.dataTransfer.files).filter(f => /^image\//.test(f.type) || /\.(jpe?g|png)$/i.test(f.name)));
  });
  poll();
}

setup();
