// dashboard.js - the carbs dashboard's page (docs/dashboard.md).
//
// Polls the JSON API every 2 s and redraws.  Every string that comes from a sweep (names,
// parameter values, categories, error messages) reaches the DOM through textContent or
// setAttribute, never as markup.  Charts use uPlot when the server could serve it; without
// it the tables still work.  Counts the tests read are kept in data- attributes.
'use strict';

const POLL_MS = 2000;
const ORDER_BUCKETS = 6; // trials are coloured in this many steps from first to latest
const MAX_CURVES = 40; // learning curves drawn at once: the latest trials
const AT_COST_RETRY_MS = 500; // how soon to ask again while the server fits the laws
const STATES = ['pending', 'running', 'done', 'failed', 'lost', 'cancelled'];

// A part of a law fitted or not: its status is a status code's name (proto/status.h).
function fitted(part) { return part && String(part.status).toLowerCase() === 'ok'; }

const token = new URLSearchParams(location.search).get('token');
const S = {overview: null, sweepId: null, sweep: null, sort: {key: 'id', dir: 1},
  filter: '', offset: 0, pageSize: 100, page: null, pageSeq: 0, detail: null, detailDoc: null,
  charts: {}, atCost: null, atCostSeq: 0};

// ---- small helpers ----

function $(id) { return document.getElementById(id); }

// el('td', {class: 'num'}, 'text', childNode ...): attributes by setAttribute, text as text.
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) e.setAttribute(k, String(v));
  }
  for (const k of kids) {
    if (k === null || k === undefined) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function clear(node) { node.replaceChildren(); return node; }

function num(x, digits) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  return Number(x).toPrecision(digits || 5).replace(/(\.\d*?)0+(e|$)/, '$1$2').replace(/\.(e|$)/, '$1');
}

function when(t) {
  if (!t) return '-';
  return new Date(t * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function duration(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '-';
  s = Math.round(s);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + r + 's';
}

async function api(path) {
  const headers = token ? {'X-Carbs-Token': token} : {};
  const r = await fetch('api/' + path, {headers, cache: 'no-store'});
  const text = await r.text();
  let doc;
  try { doc = JSON.parse(text); } catch (e) { doc = {error: text}; }
  if (!r.ok) throw new Error(doc.error || ('HTTP ' + r.status));
  return {doc, text};
}

function notice(msg) {
  const n = $('notice');
  n.hidden = !msg;
  n.textContent = msg || '';
}

function table(node, head, rows) {
  const thead = node.tHead || node.createTHead();
  clear(thead).append(el('tr', null, ...head.map((h) => el('th', null, h))));
  const tbody = node.tBodies[0] || node.createTBody();
  clear(tbody);
  for (const r of rows) tbody.append(r);
}

// ---- charts ----

const haveCharts = typeof window.uPlot === 'function';

function colour(k, n) {
  const t = n > 1 ? k / (n - 1) : 0; // first trials dark blue, latest light orange
  const h = 220 - 190 * t, l = 30 + 35 * t;
  return `hsl(${h}, 70%, ${l}%)`;
}

// Draw (or update in place) the chart called name in node.
function chart(name, node, opts, data) {
  if (!haveCharts) {
    if (!node.dataset.none) {
      node.dataset.none = '1';
      clear(node).append(el('p', {class: 'muted'},
        'charts unavailable: uPlot was not found by the server (see docs/dashboard.md)'));
    }
    return;
  }
  const shape = opts.series.length + ':' + opts.title;
  const old = S.charts[name];
  if (old && old.shape === shape && old.node === node) {
    old.u.setData(data);
    return;
  }
  if (old) old.u.destroy();
  clear(node);
  const width = Math.max(260, Math.min(node.clientWidth || 560, 900));
  const u = new uPlot(Object.assign({width, height: opts.height || 300}, opts), data, node);
  S.charts[name] = {u, shape, node};
}

// uPlot wants one shared, sorted x array: merge the xs of every series, with nulls for gaps.
function align(seriesXY) {
  const xs = [...new Set(seriesXY.flatMap((s) => s.map((p) => p[0])))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const ys = seriesXY.map((s) => {
    const y = new Array(xs.length).fill(null);
    for (const [x, v] of s) y[at.get(x)] = v;
    return y;
  });
  return [xs, ...ys];
}

const noPath = () => null;

// A dashed line at the cost up to which the stored law's holdout validated it.
function drawValidated(u) {
  const law = S.sweep && S.sweep.law;
  const v = law && law.holdout ? law.holdout.valid_max_cost : null;
  if (!Number.isFinite(v)) return;
  const x = Math.round(u.valToPos(v, 'x', true));
  if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
  const ctx = u.ctx;
  ctx.save();
  ctx.strokeStyle = ctx.fillStyle = '#9a6700';
  ctx.setLineDash([5, 4]);
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.moveTo(x, u.bbox.top);
  ctx.lineTo(x, u.bbox.top + u.bbox.height);
  ctx.stroke();
  ctx.font = `${Math.round(11 * devicePixelRatio)}px sans-serif`;
  ctx.fillText('validated', x + 4, u.bbox.top + 14 * devicePixelRatio);
  ctx.restore();
}

// The successful trials the charts draw, one object each, from the sweep's parallel arrays.
function points(sw) {
  const p = sw.points;
  return p.id.map((id, i) => ({id, cost: p.cost[i], output: p.output[i], params: p.params[i]}));
}

function drawFront(sw, all) {
  const node = $('front-chart');
  const front = new Set(sw.front);
  const pts = all.filter((t) => Number.isFinite(t.cost) && t.cost > 0 && Number.isFinite(t.output));
  node.dataset.points = String(pts.length);
  node.dataset.front = String(sw.front.length);
  const buckets = Array.from({length: ORDER_BUCKETS}, () => []);
  const order = [...pts].sort((a, b) => a.id - b.id);
  order.forEach((t, i) => {
    buckets[Math.min(ORDER_BUCKETS - 1, Math.floor(i * ORDER_BUCKETS / Math.max(1, order.length)))]
      .push([t.cost, t.output]);
  });
  const fr = pts.filter((t) => front.has(t.id)).map((t) => [t.cost, t.output]);
  const band = (sw.law_band || []).filter((r) => r[0] > 0);
  const series = [{label: sw.cost_name}];
  const ranges = Array.from({length: ORDER_BUCKETS}, () => []);
  order.forEach((t, i) => ranges[Math.min(ORDER_BUCKETS - 1,
    Math.floor(i * ORDER_BUCKETS / Math.max(1, order.length)))].push(t.id));
  buckets.forEach((b, k) => series.push({label: ranges[k].length ?
    `#${ranges[k][0]}–#${ranges[k][ranges[k].length - 1]}` : '-', stroke: colour(k, ORDER_BUCKETS),
    fill: colour(k, ORDER_BUCKETS), paths: noPath,
    points: {show: true, size: 6, fill: colour(k, ORDER_BUCKETS)}}));
  series.push({label: 'front', stroke: '#111', width: 1.5, spanGaps: true, points: {show: true,
    size: 8, stroke: '#111', fill: '#fff'}});
  const xy = [...buckets, fr];
  const bands = [];
  if (band.length) {
    series.push({label: 'law', stroke: '#b3261e', width: 1.5, spanGaps: true, points: {show: false}});
    series.push({label: 'band lo', stroke: '#b3261e55', spanGaps: true, points: {show: false}});
    series.push({label: 'band hi', stroke: '#b3261e55', spanGaps: true, points: {show: false}});
    xy.push(band.map((r) => [r[0], r[1]]), band.map((r) => [r[0], r[2]]),
      band.map((r) => [r[0], r[3]]));
    const n = series.length;
    bands.push({series: [n - 1, n - 2], fill: '#b3261e22'});
  }
  const at = S.atCost && S.atCost.id === sw.id ? S.atCost.doc : null;
  /* a refused answer (predicted null) has no point to draw */
  const drawn = at && at.metric.predicted && Number.isFinite(at.metric.predicted.value);
  if (drawn) {
    series.push({label: 'prediction', stroke: '#b3261e', fill: '#b3261e', paths: noPath,
      points: {show: true, size: 11, fill: '#b3261e'}});
    xy.push([[at.cost, at.metric.predicted.value]]);
  }
  node.dataset.prediction = drawn ? '1' : '0';
  chart('front', node, {title: 'front', series, bands, scales: {x: {time: false, distr: 3}},
    axes: [{label: sw.cost_name + ' (log)'}, {label: sw.metric}],
    hooks: {draw: [drawValidated]}, legend: {live: false}}, align(xy));
  const law = sw.law;
  const note = $('law-note');
  if (law && law.holdout && Number.isFinite(law.holdout.valid_max_cost)) {
    note.textContent = `law fitted ${when(sw.law_fitted_at)} on ${law.n_front} front points; ` +
      `predictions validated by holdout up to ${sw.cost_name} ${num(law.holdout.valid_max_cost)}`;
  } else if (law) {
    note.textContent = `law fitted ${when(sw.law_fitted_at)} on ${law.n_front} front points`;
  } else {
    note.textContent = 'no law stored yet (the service fits one once the front has 3 points)';
  }
}

function drawParams(sw, all) {
  const box = $('param-charts');
  const done = all.filter((t) => Number.isFinite(t.cost) && t.cost > 0);
  if (box.dataset.params !== String(sw.params.length)) {
    for (const k of Object.keys(S.charts)) {
      if (k.startsWith('param:')) { S.charts[k].u.destroy(); delete S.charts[k]; }
    }
    clear(box);
    box.dataset.params = String(sw.params.length);
    for (const p of sw.params) box.append(el('div', {class: 'param-chart', 'data-param': p.name}));
  }
  sw.params.forEach((p, i) => {
    const node = box.children[i];
    const cat = p.space === 'categorical';
    const xy = done.map((t) => {
      const v = t.params[p.name];
      return [t.cost, cat ? p.values.indexOf(String(v)) : v];
    }).filter((r) => Number.isFinite(r[1]));
    const yAxis = {label: p.name};
    if (cat) yAxis.values = (u, ticks) => ticks.map((v) => (Number.isInteger(v) ? p.values[v] : ''));
    chart('param:' + p.name, node, {title: p.name, height: 200, series: [{}, {label: p.name,
      stroke: '#1a5fb4', fill: '#1a5fb4', paths: noPath, points: {show: true, size: 5}}],
    scales: {x: {time: false, distr: 3}, y: p.space === 'log' ? {distr: 3} : {}},
    axes: [{label: sw.cost_name + ' (log)'}, yAxis], legend: {show: false}}, align([xy]));
  });
}

function drawCurves(sw, curves) {
  const node = $('curve-chart');
  const runs = new Set(sw.running.map((r) => r.id));
  const ids = Object.keys(curves || {}).map(Number).sort((a, b) => a - b).slice(-MAX_CURVES);
  node.dataset.curves = String(ids.length);
  const series = [{label: 'step'}];
  const xy = [];
  ids.forEach((id, k) => {
    const running = runs.has(id);
    series.push({label: '#' + id, stroke: running ? '#b3261e' : colour(k, ids.length),
      width: running ? 2 : 1, spanGaps: true, points: {show: false}});
    xy.push(curves[id].filter((p) => p[2] !== null).map((p) => [p[0], p[2]]));
  });
  if (ids.length) {
    chart('curves', node, {title: 'curves', series, scales: {x: {time: false}},
      axes: [{label: 'step'}, {label: 'loss'}], legend: {show: false}}, align(xy));
  } else {
    if (S.charts.curves) { S.charts.curves.u.destroy(); delete S.charts.curves; }
    clear(node).append(el('p', {class: 'muted'}, 'no learning curves (the trainer reports none)'));
  }
  const running = sw.running;
  const box = clear($('running-curves'));
  if (running.length) {
    const t = el('table', {id: 'running-table'});
    table(t, ['running', 'worker', 'step', 'tokens', 'loss'], running.map((r) => {
      const p = r.last_point || [null, null, null];
      return el('tr', null, el('td', null, '#' + r.id), el('td', null, r.worker),
        el('td', {class: 'num'}, p[0] === null ? '-' : p[0]), el('td', {class: 'num'}, num(p[1])),
        el('td', {class: 'num'}, num(p[2])));
    }));
    box.append(t);
  }
}

// ---- tables ----

function drawProgress(sw) {
  $('sweep-name').textContent = sw.name;
  const c = sw.counts;
  const finished = c.done + c.failed;
  const box = clear($('progress-body'));
  const budgetT = sw.budget.trials;
  const total = Math.max(budgetT || 0, STATES.reduce((a, s) => a + c[s], 0), 1);
  const bar = el('div', {class: 'bar', title: 'done / running / failed / lost of the budget'});
  for (const [s, col] of [['done', '#137333'], ['running', '#1a5fb4'], ['failed', '#b3261e'],
    ['lost', '#9a6700']]) {
    const span = el('span');
    span.style.width = (100 * c[s] / total) + '%';
    span.style.background = col;
    bar.append(span);
  }
  const kv = el('div', {class: 'kv', id: 'progress-kv'});
  const add = (k, v) => kv.append(el('span', {class: 'muted'}, k), el('span', null, v));
  add('state', sw.state);
  add('trials', `${c.done} done, ${c.running} running, ${c.failed} failed, ${c.lost} lost, ` +
    `${c.pending} pending` + (budgetT ? ` of ${budgetT}` : ' (no trial budget)'));
  add(`${sw.cost_name} spent`, num(sw.cost_spent) +
    (sw.budget.cost ? ` of ${num(sw.budget.cost)}` : ''));
  add('ETA', sw.state !== 'active' ? sw.state : duration(sw.eta_seconds));
  add(`best ${sw.metric} (${sw.goal})`, sw.best_trial === null ? '-' :
    `${num(sw.best, 6)} (trial #${sw.best_trial})`);
  add('front', `${sw.front_size} points of ${finished} finished`);
  box.append(bar, kv);
}

function trialCell(t, key) {
  if (key.startsWith('p:')) return t.params[key.slice(2)];
  if (key === 'duration') return t.started && t.finished ? t.finished - t.started : null;
  return t[key];
}

// The trials table shows one page that the server sorted and filtered (api sweeps/ID/trials).
function pageQuery() {
  const q = new URLSearchParams({sort: S.sort.key, dir: S.sort.dir > 0 ? 'asc' : 'desc',
    offset: String(S.offset), limit: String(S.pageSize)});
  if (S.filter) q.set('state', S.filter);
  return q.toString();
}

// Ask for the page the table should show now, and draw it unless a newer ask overtook it.
async function loadPage() {
  const id = S.sweepId;
  const seq = ++S.pageSeq;
  const doc = (await api(`sweeps/${id}/trials?${pageQuery()}`)).doc;
  if (seq !== S.pageSeq || id !== S.sweepId) return;
  S.page = doc;
  if (S.sweep && S.sweep.id === id) drawTrials(S.sweep);
}

function reloadPage() {
  loadPage().catch((e) => notice('cannot reach the dashboard server: ' + e.message));
}

async function loadDetail() {
  const id = S.sweepId, tid = S.detail;
  if (tid === null) return;
  const doc = (await api(`sweeps/${id}/trials/${tid}`)).doc;
  if (id === S.sweepId && tid === S.detail) {
    S.detailDoc = doc;
    drawDetail();
  }
}

function drawDetail() {
  const d = S.detailDoc && S.detailDoc.id === S.detail ? S.detailDoc : null;
  const pre = $('trial-detail');
  pre.hidden = !d;
  if (d) {
    pre.textContent = `trial #${d.id}\n` + JSON.stringify({state: d.state, worker: d.worker,
      attempt: d.attempt, params: d.params, output: d.output, cost: d.cost, metrics: d.metrics,
      failure: d.failure, message: d.message, started: when(d.started), finished: when(d.finished),
      predicted: {output: d.pred_output, cost: d.pred_cost}, last_point: d.last_point}, null, 2);
  }
}

function drawTrials(sw) {
  const sel = $('state-filter');
  if (sel.options.length === 1) for (const s of STATES) sel.append(el('option', {value: s}, s));
  const cols = [['id', '#'], ['state', 'state'], ['worker', 'worker'], ['output', sw.metric],
    ['cost', sw.cost_name], ['attempt', 'attempt'], ['duration', 'seconds'],
    ...sw.params.map((p) => ['p:' + p.name, p.name]), ['message', 'error']];
  const pg = S.page || {total: 0, offset: 0, trials: []};
  const rows = pg.trials;
  const node = $('trials');
  const all = STATES.reduce((a, s) => a + sw.counts[s], 0);
  node.dataset.rows = String(pg.total);
  node.dataset.offset = String(pg.offset);
  $('trial-count').textContent = rows.length ?
    `${pg.offset + 1}-${pg.offset + rows.length} of ${pg.total}` +
      (S.filter ? ` ${S.filter} (${all} trials)` : ' trials') :
    `0 of ${pg.total} ${S.filter ? S.filter + ' ' : ''}trials`;
  $('page-prev').disabled = pg.offset <= 0;
  $('page-next').disabled = pg.offset + rows.length >= pg.total;
  const {key, dir} = S.sort;
  table(node, cols.map((c) => c[1] + (c[0] === key ? (dir > 0 ? ' ▲' : ' ▼') : '')), rows.map((t) => {
    const tr = el('tr', {'data-trial': t.id, class: t.id === S.detail ? 'sel' : null});
    for (const [k] of cols) {
      const v = trialCell(t, k);
      const isNum = typeof v === 'number';
      tr.append(el('td', {class: (isNum ? 'num ' : '') + (k === 'state' ? 'state-' + v : '')},
        isNum ? (k === 'id' || k === 'attempt' ? v : num(v)) : (v === undefined || v === null ||
          v === '' ? '-' : v)));
    }
    tr.addEventListener('click', () => {
      S.detail = t.id;
      drawTrials(sw);
      loadDetail().catch((e) => notice('cannot reach the dashboard server: ' + e.message));
    });
    return tr;
  }));
  [...node.tHead.rows[0].cells].forEach((th, i) => th.addEventListener('click', () => {
    S.sort = {key: cols[i][0], dir: S.sort.key === cols[i][0] ? -S.sort.dir : 1};
    S.offset = 0;
    reloadPage();
  }));
  drawDetail();
}

function drawWorkers(ov) {
  table($('workers'), ['worker', 'host', 'connected', 'quarantined', 'losses', 'idle', 'running'],
    ov.workers.map((w) => el('tr', null, el('td', null, w.id), el('td', null, w.host || '-'),
      el('td', null, w.connected ? 'yes' : 'no'), el('td', {class: w.quarantined ? 'warn' : null},
        w.quarantined ? 'yes' : 'no'), el('td', {class: 'num'}, w.losses),
      el('td', {class: 'num'}, duration(w.idle_seconds)),
      el('td', null, w.running.map((r) => `#${r.trial}`).join(' ') || '-'))));
}

function interval(lo, hi) {
  return Number.isFinite(lo) && Number.isFinite(hi) ? `[${num(lo)}, ${num(hi)}]` : '-';
}

function drawLaws(sw) {
  const box = clear($('laws'));
  const l = sw.law;
  if (!l) {
    box.append(el('p', {class: 'muted'}, 'no law stored yet'));
    return;
  }
  const pct = Math.round(100 * l.level) + '% interval';
  box.append(el('p', null, `${l.metric} vs ${l.cost}: ${l.n_trials} successful trials, ` +
    `${l.n_front} on the front` + (l.full ? '' : ' (cheap fit, no bootstrap)')));
  const p = l.loss;
  const t1 = el('table', {id: 'laws-loss'});
  if (fitted(p)) {
    table(t1, [`best ${l.metric} = E + A·C^-alpha`, 'value', pct],
      [['E', p.E, p.E_lo, p.E_hi], ['A', p.A, p.A_lo, p.A_hi], ['alpha', p.alpha, p.alpha_lo,
        p.alpha_hi]].map((r) => el('tr', null, el('td', null, r[0]), el('td', {class: 'num'},
        num(r[1])), el('td', null, interval(r[2], r[3])))));
  } else {
    table(t1, ['best ' + l.metric], [el('tr', null, el('td', null, p.why))]);
  }
  const t2 = el('table', {id: 'laws-lines'});
  table(t2, ['parameter', 'slope b (u = a + b ln C)', pct, 'R²', 'power law'],
    (l.lines || []).map((ln) => !fitted(ln) ?
      el('tr', null, el('td', null, ln.name), el('td', {colspan: 4}, ln.why)) :
      el('tr', null, el('td', null, ln.name), el('td', {class: 'num'}, num(ln.slope)),
        el('td', null, interval(ln.slope_lo, ln.slope_hi)), el('td', {class: 'num'}, num(ln.r2, 3)),
        el('td', null, Number.isFinite(ln.exponent) ? `${ln.name} ~ C^${num(ln.exponent, 4)}` : '-'))));
  const nd = l.nd;
  const ndp = el('p', null, fitted(nd) ?
    `compute-optimal: N_opt ~ C^${num(nd.a, 4)} ${interval(nd.a_lo, nd.a_hi)}, ` +
    `D_opt ~ C^${num(nd.b, 4)} ${interval(nd.b_lo, nd.b_hi)} (N = ${nd.model_size}, D = ${nd.tokens}` +
    (nd.source === 'line' ? `; from the optimum line of ${nd.line_param})` : ')') :
    `compute-optimal allocation: ${nd.why}`);
  const h = l.holdout;
  const hp = el('p', null, fitted(h) ?
    `holdout: refit without the ${h.k} dearest front points, largest error ${num(100 * h.max_rel_err, 3)} %` +
    ` (allowed ${num(100 * h.tol, 3)} %): ${h.passed ? 'passed' : 'FAILED'}; validated up to ` +
    `${l.cost} ${num(h.valid_max_cost)}` : `holdout: ${h.why}`);
  box.append(t1, el('br'), t2, ndp, hp);
}

async function atCost(ev) {
  ev.preventDefault();
  const out = clear($('at-cost-result'));
  const v = $('at-cost-input').value.trim();
  if (S.sweepId === null) return;
  out.dataset.state = 'busy';
  const id = S.sweepId;
  const seq = ++S.atCostSeq; // a newer question, or another sweep, ends this one
  try {
    const path = `sweeps/${id}/at-cost?cost=${encodeURIComponent(v)}`;
    let {doc, text} = await api(path);
    // 202: the server is fitting the laws (as long as `carbs laws --at-cost` takes); ask again
    while (doc.fitting) {
      out.replaceChildren(el('p', {class: 'muted'}, doc.why));
      await new Promise((done) => setTimeout(done, AT_COST_RETRY_MS));
      if (seq !== S.atCostSeq) return;
      ({doc, text} = await api(path));
    }
    clear(out);
    if (doc.metric.predicted) atCostTable(out, doc);
    /* else the law may not predict here: its reason is the answer */
    else out.append(el('p', {class: 'warn'}, `at ${costName()} = ${num(doc.cost)}: ${doc.why}`));
    out.dataset.json = text;
    out.dataset.state = 'ok';
    S.atCost = {id, doc};
    if (S.sweep && S.sweep.id === S.sweepId) drawFront(S.sweep, points(S.sweep));
  } catch (e) {
    if (seq !== S.atCostSeq) return;
    clear(out).append(el('p', {class: 'warn'}, e.message));
    out.dataset.state = 'error';
  }
}

function costName() {
  return S.sweep ? S.sweep.cost_name : 'cost';
}

/* The answer of a law that predicts at doc.cost: a note and a table. */
function atCostTable(out, doc) {
  const pct = Math.round(100 * doc.level) + '% interval';
  out.append(el('p', {class: doc.beyond_validated ? 'warn' : null},
    `at ${costName()} = ${num(doc.cost)}: ` + (doc.beyond_validated ?
      `WARNING: beyond the holdout-validated range (up to ${num(doc.valid_max_cost)})` :
      doc.extrapolated ? `extrapolated; within the validated range (up to ${num(doc.valid_max_cost)})` :
        'inside the fitted range')));
  const rows = [el('tr', {'data-key': 'metric'}, el('td', null, 'best ' + doc.metric.name),
    el('td', {class: 'num', 'data-value': doc.metric.predicted.value}, num(doc.metric.predicted.value)),
    el('td', null, interval(doc.metric.predicted.lo, doc.metric.predicted.hi)))];
  for (const [name, t] of Object.entries(doc.params)) {
    rows.push(el('tr', {'data-key': 'param'}, el('td', null, name),
      el('td', {class: 'num', 'data-value': t.value}, num(t.value)),
      el('td', {class: t.outside_range ? 'warn' : null}, interval(t.lo, t.hi) +
        (t.outside_range ? ' (outside the searched range)' : ''))));
  }
  if (doc.compute_optimal) {
    rows.push(el('tr', null, el('td', null, 'compute-optimal N'),
      el('td', {class: 'num'}, num(doc.compute_optimal.n_params)), el('td', null, '-')));
    rows.push(el('tr', null, el('td', null, 'compute-optimal D'),
      el('td', {class: 'num'}, num(doc.compute_optimal.tokens)), el('td', null, '-')));
  }
  const t = el('table', {id: 'at-cost-table'});
  table(t, ['quantity', 'predicted', pct], rows);
  out.append(t);
  if (!doc.compute_optimal) out.append(el('p', {class: 'muted'}, doc.compute_optimal_why));
}

// ---- polling ----

function drawNav(ov) {
  const nav = clear($('sweeps'));
  for (const s of ov.sweeps) {
    const b = el('button', {class: s.id === S.sweepId ? 'sel' : null, 'data-sweep': s.id,
      title: `${s.state}, ${s.counts.done} done`}, s.name);
    b.addEventListener('click', () => {
      if (S.sweepId === s.id) return;
      S.sweepId = s.id;
      S.detail = null;
      S.detailDoc = null;
      S.page = null;
      S.offset = 0;
      S.atCost = null;
      S.atCostSeq++;
      clear($('at-cost-result')).dataset.state = 'empty';
      drawNav(ov);
      poll();
    });
    nav.append(b);
  }
  $('conn').textContent = ov.served_by ? `service pid ${ov.served_by}` : 'no service running';
}

let polling = false;
async function poll() {
  if (polling) return;
  polling = true;
  try {
    const ov = (await api('sweeps')).doc;
    S.overview = ov;
    if (S.sweepId === null || !ov.sweeps.some((s) => s.id === S.sweepId)) {
      S.sweepId = ov.sweeps.length ? ov.sweeps[ov.sweeps.length - 1].id : null;
    }
    drawNav(ov);
    drawWorkers(ov);
    if (S.sweepId === null) {
      notice('the store has no sweep yet');
    } else {
      const id = S.sweepId;
      const seq = ++S.pageSeq;
      const [sw, cv, pg] = await Promise.all([api('sweeps/' + id),
        api(`sweeps/${id}/curves?latest=${MAX_CURVES}`), api(`sweeps/${id}/trials?${pageQuery()}`),
        loadDetail()]);
      if (id === S.sweepId) {
        S.sweep = sw.doc;
        if (seq === S.pageSeq) S.page = pg.doc;
        notice(haveCharts ? '' : 'charts unavailable: uPlot was not found; tables only');
        const all = points(S.sweep);
        drawProgress(S.sweep);
        drawFront(S.sweep, all);
        drawParams(S.sweep, all);
        drawCurves(S.sweep, cv.doc.curves);
        drawTrials(S.sweep);
        drawLaws(S.sweep);
      }
    }
    document.body.dataset.updated = String(ov.now);
    // when the first full render ended, in ms since navigation start (bench_dashboard.py)
    if (!document.body.dataset.loadedMs) {
      document.body.dataset.loadedMs = String(Math.round(performance.now()));
    }
  } catch (e) {
    notice('cannot reach the dashboard server: ' + e.message);
  } finally {
    polling = false;
  }
}

$('state-filter').addEventListener('change', (e) => {
  S.filter = e.target.value;
  S.offset = 0;
  reloadPage();
});
$('page-size').addEventListener('change', (e) => {
  S.pageSize = Number(e.target.value);
  S.offset = 0;
  reloadPage();
});
$('page-prev').addEventListener('click', () => {
  S.offset = Math.max(0, S.offset - S.pageSize);
  reloadPage();
});
$('page-next').addEventListener('click', () => {
  if (S.page && S.offset + S.pageSize < S.page.total) S.offset += S.pageSize;
  reloadPage();
});
$('at-cost-form').addEventListener('submit', atCost);
poll();
setInterval(poll, POLL_MS);
