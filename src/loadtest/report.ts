/**
 * The run's HTML report: one self-contained file (inline CSS and SVG, no
 * scripts, no external assets) that opens anywhere, offline.
 */
import type { SecondPoint } from './coordinator.ts';
import { PHASES, PHASE_LABELS } from './phases.ts';
import type { ResourceSummary } from './resources.ts';
import type { LoadtestSummary } from './summary.ts';

interface Line {
  name: string;
  color: string;
  points: [number, number][];
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

/** The smallest of 4, 8, 20, 40, 80, 200, … at or above v: four gridlines apart by whole numbers. */
function countMax(v: number): number {
  for (let p = 1; ; p *= 10) for (const m of [4, 8, 20]) if (v <= m * p) return m * p;
}

const fmt = (v: number): string =>
  v >= 1000 ? Math.round(v).toLocaleString('en-US') : String(v >= 10 ? Math.round(v * 10) / 10 : Math.round(v * 100) / 100);

/** A line chart as inline SVG. */
export function lineChart(
  title: string,
  unit: string,
  lines: Line[],
  /** `counts`: the values are whole numbers (requests, candidates, errors), and so are the gridlines. */
  opts: { xMax?: number; threshold?: number; xUnit?: string; counts?: boolean } = {},
): string {
  const W = 860;
  const H = 240;
  const L = 64;
  const R = 150;
  const T = 28;
  const B = 32;
  const xs = lines.flatMap((l) => l.points.map((p) => p[0]));
  const ys = lines.flatMap((l) => l.points.map((p) => p[1]));
  const xMax = Math.max(opts.xMax ?? 0, ...xs, 1);
  const top = Math.max(...ys, opts.threshold ?? 0, 0) * 1.05;
  const yMax = opts.counts ? countMax(top) : niceMax(top);
  const x = (v: number): number => L + (v / xMax) * (W - L - R);
  const y = (v: number): number => T + (1 - v / yMax) * (H - T - B);
  const parts: string[] = [];
  parts.push(`<text x="${L}" y="18" class="t">${esc(title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" class="g"/>`);
    parts.push(`<text x="${L - 6}" y="${y(v) + 4}" class="a" text-anchor="end">${fmt(v)}</text>`);
  }
  for (let i = 0; i <= 6; i++) {
    const v = (xMax * i) / 6;
    parts.push(`<text x="${x(v)}" y="${H - 12}" class="a" text-anchor="middle">${Math.round(v).toLocaleString('en-US')}${opts.xUnit ?? ' s'}</text>`);
  }
  parts.push(`<text x="12" y="${T + (H - T - B) / 2}" class="a" transform="rotate(-90 12 ${T + (H - T - B) / 2})" text-anchor="middle">${esc(unit)}</text>`);
  if (opts.threshold !== undefined) {
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(opts.threshold)}" y2="${y(opts.threshold)}" class="th"/>`);
    parts.push(`<text x="${W - R - 4}" y="${y(opts.threshold) - 4}" class="a" text-anchor="end">objective ${fmt(opts.threshold)}</text>`);
  }
  lines.forEach((l, i) => {
    if (l.points.length) {
      const d = l.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
      parts.push(`<polyline points="${d}" fill="none" stroke="${l.color}" stroke-width="1.6"/>`);
      if (l.points.length <= 12) {
        for (const p of l.points) parts.push(`<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="3" fill="${l.color}"/>`);
      }
    }
    parts.push(`<rect x="${W - R + 12}" y="${T + i * 18}" width="12" height="3" fill="${l.color}"/>`);
    parts.push(`<text x="${W - R + 30}" y="${T + i * 18 + 5}" class="a">${esc(l.name)}</text>`);
  });
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg>`;
}

/** Horizontal bars (errors by code). */
export function barChart(title: string, bars: [string, number][]): string {
  if (!bars.length) return `<p class="ok">${esc(title)}: none.</p>`;
  const W = 860;
  const rowH = 22;
  const L = 300;
  const H = 34 + bars.length * rowH;
  const max = Math.max(...bars.map((b) => b[1]));
  const parts = [`<text x="0" y="18" class="t">${esc(title)}</text>`];
  bars.forEach(([label, n], i) => {
    const yy = 30 + i * rowH;
    const w = (n / max) * (W - L - 90);
    parts.push(`<text x="${L - 8}" y="${yy + 14}" class="a" text-anchor="end">${esc(label)}</text>`);
    parts.push(`<rect x="${L}" y="${yy + 3}" width="${Math.max(1, w)}" height="14" fill="#c0392b"/>`);
    parts.push(`<text x="${L + w + 6}" y="${yy + 14}" class="a">${n.toLocaleString('en-US')}</text>`);
  });
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${parts.join('')}</svg>`;
}

const COLORS = { p50: '#2e86de', p95: '#f39c12', p99: '#c0392b', max: '#7f8c8d' };

function percentileLines(series: SecondPoint[], pick: (p: SecondPoint) => SecondPoint['autosave']): Line[] {
  const withData = series.filter((p) => pick(p).count > 0);
  return (['p50', 'p95', 'p99', 'max'] as const).map((k) => ({
    name: k,
    color: COLORS[k],
    points: withData.map((p) => [p.sec, pick(p)[`${k}_ms`]] as [number, number]),
  }));
}

function table(rows: (string | number)[][], head: string[]): string {
  const th = head.map((h) => `<th>${esc(h)}</th>`).join('');
  const tr = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(typeof c === 'number' ? c.toLocaleString('en-US') : c)}</td>`).join('')}</tr>`).join('');
  return `<table><thead><tr>${th}</tr></thead><tbody>${tr}</tbody></table>`;
}

export function renderReport(summary: LoadtestSummary, series: SecondPoint[], resources: ResourceSummary | undefined): string {
  const xMax = Math.max(summary.duration_s, series.length);
  const verdict =
    summary.errors === 0 && summary.lost_answers === 0
      ? '<span class="ok">no errors, no lost answers</span>'
      : `<span class="bad">${summary.errors.toLocaleString('en-US')} errors, ${summary.lost_answers ?? 'unchecked'} lost answers</span>`;
  const head: [string, string | number][] = [
    ['candidates', summary.candidates],
    ['duration', `${summary.duration_s} s`],
    ['requests', summary.requests],
    ['errors', `${summary.errors} (${(summary.error_rate * 100).toFixed(3)} %)`],
    ['autosave p99', `${summary.autosave_p99_ms} ms`],
    ['paper p99', `${summary.paper_p99_ms} ms`],
    ['acknowledged answers', summary.acked_answers],
    ['lost answers', summary.lost_answers === null ? 'not checked' : summary.lost_answers],
    ['peak throughput', `${summary.peak_rps.toLocaleString('en-US')} req/s`],
    ['steady autosaves', `${summary.autosave_rps.toLocaleString('en-US')} /s`],
  ];
  if (summary.cpu_cores) head.push(['mean CPU, examday / database / generator / other', `${summary.cpu_cores.examday} / ${summary.cpu_cores.postgres + summary.cpu_cores.redis} / ${summary.cpu_cores.generator} / ${summary.cpu_cores.other} cores`]);
  const u = summary.cpu_us_per_request;
  if (u) head.push(['CPU per request in the exam, machine / examday / database / generator', `${u.machine} / ${u.examday} / ${u.postgres} / ${u.generator} µs`]);
  if (summary.cpu_pressure_pct !== undefined) head.push(['CPU pressure (tasks waiting for a core)', `${summary.cpu_pressure_pct} % of the time`]);
  if (summary.event_loop_p99_max_ms !== undefined) head.push(['server event-loop p99 (highest sample)', `${summary.event_loop_p99_max_ms} ms`]);
  if (summary.listen_overflows !== undefined) head.push(['connections dropped by a full accept queue', summary.listen_overflows]);
  if (summary.host_hello_rps !== undefined) head.push(['this machine before the run (bare node:http hello world)', `${summary.host_hello_rps.toLocaleString('en-US')} req/s`]);
  if (summary.host_syscall_ns !== undefined) head.push(['this machine before the run (one system call)', `${summary.host_syscall_ns.toLocaleString('en-US')} ns`]);
  head.push(['load generator lateness (highest p99)', `${summary.generator_lag_max_ms} ms${summary.generator_lag_max_ms > 50 ? ' — the generator was short of CPU; latencies include its lateness' : ''}`]);
  if (summary.db_pool_waiting_max !== undefined) head.push(['queries waiting for a pool connection (highest sample)', summary.db_pool_waiting_max]);
  const endpoints = Object.entries(summary.endpoints).map(([ep, e]) => [ep, e.ok, e.errors, e.retries, e.failed, e.p50_ms, e.p95_ms, e.p99_ms, e.max_ms]);
  const phases = PHASES.map((ph) => {
    const p = summary.phases[ph];
    const a = p.autosave;
    const r = p.resources;
    return [
      PHASE_LABELS[ph],
      `${p.from_s}–${p.to_s ?? 'end'} s`,
      p.requests,
      p.errors,
      a.count,
      a.p50_ms,
      a.p95_ms,
      a.p99_ms,
      a.max_ms,
      p.paper.count ? p.paper.p99_ms : '—',
      r ? r.cpu_cores.busy : '—',
      r ? r.cpu_cores.examday : '—',
      r ? r.cpu_cores.postgres : '—',
      r?.event_loop_p99_max_ms ?? '—',
    ];
  });
  const errors = Object.entries(summary.errors_by_code).sort((a, b) => b[1] - a[1]);
  const charts = [
    lineChart('Autosave latency from intended send time', 'ms', percentileLines(series, (p) => p.autosave), { xMax, threshold: 250 }),
    lineChart('Paper latency from intended send time', 'ms', percentileLines(series, (p) => p.paper), { xMax, threshold: 500 }),
    lineChart('All requests', 'ms', percentileLines(series, (p) => p.all), { xMax }),
    lineChart('Throughput', 'requests/s', [{ name: 'req/s', color: '#2e86de', points: series.map((p) => [p.sec, p.requests]) }], { xMax, counts: true }),
    lineChart('Active candidates', 'candidates', [{ name: 'active', color: '#27ae60', points: series.map((p) => [p.sec, p.active]) }], { xMax, counts: true }),
    lineChart('Errors per second', 'errors/s', [{ name: 'errors', color: '#c0392b', points: series.map((p) => [p.sec, p.errors]) }], { xMax, counts: true }),
    barChart('Errors by status and code', errors),
  ];
  if (resources?.cpu.length) {
    const g = (name: string, color: string, f: (p: ResourceSummary['cpu'][number]) => number): Line => ({
      name,
      color,
      points: resources.cpu.map((p) => [p.sec, f(p)]),
    });
    charts.push(
      lineChart(
        `Where the CPU went (${resources.cores} cores)`,
        'cores',
        [
          g('machine busy', '#2c3e50', (p) => p.busy),
          g('examday', '#2e86de', (p) => p.byGroup.examday),
          g('postgres', '#8e44ad', (p) => p.byGroup.postgres),
          g('redis', '#e67e22', (p) => p.byGroup.redis),
          g('load generator', '#16a085', (p) => p.byGroup.generator),
          g('other', '#95a5a6', (p) => p.byGroup.other),
        ],
        { xMax },
      ),
    );
  }
  const settings = Object.entries(summary.settings).map(([k, v]) => [k, String(v)]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>examday load test · ${summary.candidates.toLocaleString('en-US')} candidates</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:900px;color:#222;padding:0 12px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
th{background:#f4f6f8}.ok{color:#1e8449;font-weight:600}.bad{color:#c0392b;font-weight:600}
svg{display:block;margin:10px 0;max-width:100%;height:auto}.t{font-size:14px;font-weight:600}.a{font-size:11px;fill:#555}
.g{stroke:#eee}.th{stroke:#c0392b;stroke-dasharray:4 3}small{color:#666}
</style></head><body>
<h1>examday load test</h1>
<p><small>${esc(summary.started_at)} · ${esc(summary.target)} · ${esc(summary.database)} · ${verdict}</small></p>
${table(head, ['', ''])}
<p><small>Latencies are measured from each request's intended send time (its place in the schedule), so time a request spent waiting behind a slow server counts.</small></p>
<h2>Latency</h2>${charts.slice(0, 3).join('\n')}
<h2>Throughput</h2>${charts.slice(3, 5).join('\n')}
<h2>Errors</h2>${charts.slice(5, 7).join('\n')}
${charts[7] ? `<h2>CPU</h2>${charts[7]}` : ''}
${Object.keys(summary.errors_by_endpoint).length ? `<h2>Errors by endpoint</h2>${table(Object.entries(summary.errors_by_endpoint), ['endpoint, status and code', 'tries'])}` : ''}
<h2>By phase</h2>
<p><small>Seconds as planned: sign-ins spread over the storm, then the exam, then the submit window and the drain. Cores are means over the phase's seconds (the submit window's, without the drain); the event loop is the highest p99 a server process reported in them.</small></p>
${table(phases, ['phase', 'seconds', 'requests', 'errors', 'autosaves', 'autosave p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'paper p99 ms', 'cores busy', 'examday cores', 'PostgreSQL cores', 'event-loop p99 ms'])}
<h2>Per endpoint</h2>
${table(endpoints, ['endpoint', 'ok', 'errors', 'retries', 'failed', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms'])}
<h2>Candidates</h2>
${table(
  [
    ['signed in', summary.candidates_signed_in],
    ['submitted', summary.candidates_submitted],
    ['gave up (an operation failed for good)', summary.candidates_gave_up],
    ['reloaded and resumed', summary.resumes],
    ['resumes missing an acknowledged answer', summary.resume_mismatches],
    ['idle keep-alive connections re-opened', summary.stale_reconnects],
    ...(summary.warmup
      ? [
          [
            'warm-up before the run (not counted above)',
            `${summary.warmup.candidates} candidates, ${summary.warmup.requests} requests, ${summary.warmup.errors} errors, ${summary.warmup.submitted} submitted, lost answers ${summary.warmup.lost_answers ?? 'not checked'}`,
          ],
        ]
      : []),
  ],
  ['', ''],
)}
${summary.lost_answers_examples.length ? `<h2>Lost answers</h2><ul>${summary.lost_answers_examples.map((e) => `<li>${esc(e)}</li>`).join('')}</ul>` : ''}
<h2>Settings</h2>
${table(settings, ['setting', 'value'])}
</body></html>
`;
}
