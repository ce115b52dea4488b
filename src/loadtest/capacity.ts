/**
 * `examday capacity`: run the exam-day scenario at increasing numbers of
 * candidates until a service objective breaks (p99 autosave above the
 * objective, or errors above the allowed share, or any lost answer), then
 * report the highest step that held, the bottleneck observed at the step
 * that broke, and a projection for more nodes — labelled as a projection:
 * it is arithmetic on this machine's measurements, not a measurement.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PHASES, PHASE_LABELS, type Phase, type PhaseResources } from './phases.ts';
import { lineChart } from './report.ts';
import { runLoadtest, type LoadtestOptions } from './run.ts';
import type { LoadtestSummary } from './summary.ts';

export interface CapacityOptions {
  base: Omit<LoadtestOptions, 'candidates' | 'reportDir'>;
  steps: number[];
  p99ObjectiveMs: number;
  maxErrorRate: number;
  /** Node counts to project for. */
  nodes: number[];
  reportDir?: string | undefined;
}

export interface StepOutcome {
  candidates: number;
  held: boolean;
  /** Why the step broke (empty when it held). */
  broke: string[];
  autosave_p99_ms: number;
  /** The same p99 within each planned phase: which one broke the objective. */
  autosave_p99_ms_by_phase: Record<Phase, number>;
  /** CPU, event loop and pool within each planned phase (phases the monitor sampled). */
  resources_by_phase?: Partial<Record<Phase, PhaseResources>>;
  paper_p99_ms: number;
  error_rate: number;
  errors: number;
  lost_answers: number | null;
  autosave_rps: number;
  cpu_cores?: LoadtestSummary['cpu_cores'];
  cpu_us_per_request?: LoadtestSummary['cpu_us_per_request'];
  cpu_pressure_pct?: number | undefined;
  listen_overflows?: number | undefined;
  generator_lag_max_ms: number;
  event_loop_p99_max_ms?: number | undefined;
  db_pool_waiting_max?: number | undefined;
  server_client_socket_limit?: number | undefined;
  server_connections_refused?: number | undefined;
  /** This machine's bare node:http hello-world rate just before the step. */
  host_hello_rps?: number | undefined;
  /** What one system call cost on this machine just before the step, ns. */
  host_syscall_ns?: number | undefined;
  report?: string | undefined;
}

export interface Projection {
  nodes: number;
  candidates: number;
  /** What limits the projected figure. */
  limited_by: string;
}

export interface CapacityReport {
  objective: { autosave_p99_ms: number; max_error_rate: number; lost_answers: 0 };
  steps: StepOutcome[];
  highest_held: number | null;
  bottleneck: string;
  /** PROJECTION, not measured: see `projection_basis`. */
  projection: Projection[];
  projection_basis: string;
  /** Set when this machine's hello-world rate differed by more than a quarter between steps. */
  machine_speed_note?: string;
  report?: string;
}

export function judgeStep(s: LoadtestSummary, p99ObjectiveMs: number, maxErrorRate: number): StepOutcome {
  const broke: string[] = [];
  const byPhase = Object.fromEntries(PHASES.map((ph) => [ph, s.phases[ph].autosave.p99_ms])) as Record<Phase, number>;
  const phases = PHASES.filter((ph) => s.phases[ph].autosave.count > 0)
    .map((ph) => `${PHASE_LABELS[ph]} ${byPhase[ph]} ms`)
    .join(', ');
  if (s.autosave_p99_ms > p99ObjectiveMs) broke.push(`autosave p99 ${s.autosave_p99_ms} ms > ${p99ObjectiveMs} ms (by phase: ${phases})`);
  if (s.error_rate > maxErrorRate) broke.push(`errors ${(s.error_rate * 100).toFixed(3)} % > ${(maxErrorRate * 100).toFixed(3)} %`);
  if (s.lost_answers !== null && s.lost_answers > 0) broke.push(`${s.lost_answers} lost answers`);
  if (s.resume_mismatches > 0) broke.push(`${s.resume_mismatches} resumes missing an acknowledged answer`);
  if (s.candidates_signed_in < s.candidates) broke.push(`${s.candidates - s.candidates_signed_in} candidates could not sign in`);
  return {
    candidates: s.candidates,
    held: broke.length === 0,
    broke,
    autosave_p99_ms: s.autosave_p99_ms,
    autosave_p99_ms_by_phase: byPhase,
    resources_by_phase: Object.fromEntries(
      PHASES.flatMap((ph) => {
        const r = s.phases[ph].resources;
        return r ? [[ph, r]] : [];
      }),
    ),
    paper_p99_ms: s.paper_p99_ms,
    error_rate: s.error_rate,
    errors: s.errors,
    lost_answers: s.lost_answers,
    autosave_rps: s.autosave_rps,
    cpu_cores: s.cpu_cores,
    cpu_us_per_request: s.cpu_us_per_request,
    cpu_pressure_pct: s.cpu_pressure_pct,
    listen_overflows: s.listen_overflows,
    generator_lag_max_ms: s.generator_lag_max_ms,
    event_loop_p99_max_ms: s.event_loop_p99_max_ms,
    db_pool_waiting_max: s.db_pool_waiting_max,
    server_client_socket_limit: s.server_client_socket_limit,
    server_connections_refused: s.server_connections_refused,
    host_hello_rps: s.host_hello_rps,
    host_syscall_ns: s.host_syscall_ns,
    report: s.report,
  };
}

/**
 * The phase whose figures explain a step: the one with the worst autosave p99
 * over the objective, when some phases broke it and others did not. A step's
 * own CPU figures are the exam's means; a step that broke only in the storm
 * or the wave looks calmer there than it was. Undefined: use the exam's
 * (the run's own event-loop figure is the whole run's, storm included).
 */
export function phaseToObserve(step: StepOutcome, objectiveMs: number): Phase | undefined {
  const p = step.autosave_p99_ms_by_phase;
  const over = PHASES.filter((ph) => p[ph] > objectiveMs);
  if (over.length === 0 || over.length === PHASES.length) return undefined;
  return over.reduce((worst, ph) => (p[ph] > p[worst] ? ph : worst));
}

/** The step with its CPU, event-loop and pool figures taken from `phase`'s seconds, when the monitor sampled them. */
export function observedIn(step: StepOutcome, phase: Phase | undefined): StepOutcome {
  const r = phase ? step.resources_by_phase?.[phase] : undefined;
  if (!r) return step;
  return { ...step, cpu_cores: r.cpu_cores, event_loop_p99_max_ms: r.event_loop_p99_max_ms, db_pool_waiting_max: r.db_pool_waiting_max };
}

/** Which planned phases broke the p99 objective, when not all did, and whose figures follow. */
export function phasesOverObjective(step: StepOutcome, objectiveMs: number): string {
  const observed = phaseToObserve(step, objectiveMs);
  if (!observed) return '';
  const p = step.autosave_p99_ms_by_phase;
  const over = PHASES.filter((ph) => p[ph] > objectiveMs);
  const list = (phs: readonly Phase[]): string => phs.map((ph) => `${PHASE_LABELS[ph]} ${p[ph]} ms`).join(', ');
  const under = PHASES.filter((ph) => p[ph] > 0 && p[ph] <= objectiveMs);
  const figures = step.resources_by_phase?.[observed]
    ? `the CPU, event-loop and pool figures are the ${PHASE_LABELS[observed]} phase's`
    : "the CPU figures are the exam phase's means";
  return `autosave p99 over ${objectiveMs} ms in ${list(over)}${under.length ? ` but not in ${list(under)}` : ''}; ${figures}`;
}

/**
 * What a step says about the bottleneck: the phases that broke the objective
 * (when not all did), then the resources of the worst of them — or of the
 * exam, when none or all broke it.
 */
export function bottleneckOf(step: StepOutcome, objectiveMs: number, cores: number, database: string): string {
  const observed = observedIn(step, phaseToObserve(step, objectiveMs) ?? 'exam');
  return [phasesOverObjective(step, objectiveMs), observeBottleneck(observed, cores, database)].filter(Boolean).join('; ');
}

/** The bottleneck as observed in a step's resource figures. */
export function observeBottleneck(step: StepOutcome, cores: number, database: string): string {
  const c = step.cpu_cores;
  const lag = step.event_loop_p99_max_ms;
  const waiting = step.db_pool_waiting_max ?? 0;
  if (!c) return 'unknown (no CPU figures: /proc is not readable here)';
  const inProcessDb = database === 'pglite' ? ' (PGlite runs inside the examday process)' : '';
  const parts = [`machine ${c.busy}/${cores} cores busy`, `examday ${c.examday}`, `postgres ${c.postgres}`, `generator ${c.generator}`, `other ${c.other}`];
  if (step.cpu_pressure_pct !== undefined) parts.push(`CPU pressure ${step.cpu_pressure_pct} %`);
  if (step.listen_overflows) parts.push(`${step.listen_overflows} connections dropped by a full accept queue`);
  if (step.generator_lag_max_ms > 50) parts.push(`load generator up to ${Math.round(step.generator_lag_max_ms)} ms late`);
  const figures = `${parts.join(', ')}${lag !== undefined ? `, event-loop p99 up to ${lag} ms` : ''}${waiting ? `, up to ${waiting} queries waiting for a pool connection` : ''}`;
  if (step.server_connections_refused) {
    // A hard ceiling, whatever the CPU: each candidate holds a connection, each connection a file.
    const limit = step.server_client_socket_limit;
    return (
      `connections: a server process held ${limit !== undefined ? `its limit of ${limit.toLocaleString('en-US')}` : 'as many'} client sockets (its open-file limit less a reserve) ` +
      `and refused ${step.server_connections_refused.toLocaleString('en-US')} connections; raise the open-file limit (ulimit -n)${database === 'pglite' ? ' or use PostgreSQL with more API processes' : ' or run more API processes'} (${figures})`
    );
  }
  if (c.busy >= 0.85 * cores) {
    const top = (
      [
        ['examday', c.examday],
        ['database', c.postgres + c.redis],
        ['load generator', c.generator],
        ['other processes', c.other],
      ] as [string, number][]
    ).sort((a, b) => b[1] - a[1])[0]![0];
    if (top === 'examday') {
      return `CPU: the machine is saturated and examday uses most of it${inProcessDb}${lag !== undefined && lag > 50 ? '; the event loop is delayed too' : ''} (${figures})`;
    }
    if (top === 'database') return `CPU: the machine is saturated and the database uses most of it (${figures})`;
    if (top === 'load generator') return `CPU: the load generator itself uses most of the machine; the result understates the server (${figures})`;
    return `CPU: other work on this machine uses most of it; repeat on a quiet machine (${figures})`;
  }
  if (waiting > 0) return `database: queries wait for a pool connection (${figures})`;
  if (lag !== undefined && lag > 100) return `event loop: a server process's event loop is delayed while the machine has spare CPU (${figures})`;
  return `no resource saturated: latency comes from elsewhere (locks, fsync, timers) (${figures})`;
}

/**
 * Projection for k nodes of this machine's size: each node runs examday only;
 * one database server of the same size is shared. Per-candidate CPU costs come
 * from the highest step that held; 80 % of a machine is the usable ceiling.
 */
export function project(held: StepOutcome | undefined, cores: number, nodes: number[], database: string): { projection: Projection[]; basis: string } {
  if (database === 'pglite') {
    return {
      projection: [],
      basis:
        'no projection: the embedded database (PGlite) lives inside one examday process and cannot be shared by several nodes; ' +
        'more nodes need PostgreSQL (run capacity with --database-url or DATABASE_URL)',
    };
  }
  const c = held?.cpu_cores;
  if (!held || !c || c.examday <= 0) return { projection: [], basis: 'no step held with CPU figures: nothing to project from' };
  const usable = 0.8 * cores;
  const appPerNode = Math.floor(held.candidates * (usable / c.examday));
  const dbCores = c.postgres + c.redis;
  const dbLimit = dbCores > 0 ? Math.floor(held.candidates * (usable / dbCores)) : Infinity;
  const projection = nodes.map((k) => {
    const app = k * appPerNode;
    return app <= dbLimit
      ? { nodes: k, candidates: app, limited_by: 'examday CPU on the nodes' }
      : { nodes: k, candidates: dbLimit, limited_by: 'one shared database server' };
  });
  const basis =
    `PROJECTION, not a measurement. At ${held.candidates.toLocaleString('en-US')} candidates examday used ${c.examday} cores and ` +
    `PostgreSQL+Redis ${Math.round(dbCores * 100) / 100} cores of ${cores}. Assumes cost grows linearly with candidates, ` +
    `nodes of ${cores} cores running only examday at ≤ 80 % CPU, one database server of the same size, and no other limit ` +
    `(network, locks, connection counts); the load generator's share of this machine goes to the server on a dedicated node.`;
  return { projection, basis };
}

export async function runCapacity(o: CapacityOptions): Promise<CapacityReport> {
  const steps: StepOutcome[] = [];
  const dir = o.reportDir ? path.resolve(o.reportDir, `capacity-${new Date().toISOString().replace(/[:.]/g, '-').replace(/Z$/, '')}`) : undefined;
  let database = 'unknown';
  let cores = 1;
  for (const n of o.steps) {
    o.base.log(`capacity: step ${n.toLocaleString('en-US')} candidates`);
    const r = await runLoadtest({ ...o.base, candidates: n, reportDir: dir });
    database = r.summary.database;
    cores = Number(r.summary.settings.cores) || cores;
    const step = judgeStep(r.summary, o.p99ObjectiveMs, o.maxErrorRate);
    steps.push(step);
    o.base.log(
      `capacity: ${n.toLocaleString('en-US')} candidates ${step.held ? 'held' : `broke: ${step.broke.join('; ')}`} (autosave p99 ${step.autosave_p99_ms} ms, errors ${step.errors}${step.cpu_us_per_request ? `; ${step.cpu_us_per_request.examday} µs of examday CPU a request in the exam` : ''}${step.host_hello_rps !== undefined ? `; machine before the step: ${step.host_hello_rps.toLocaleString('en-US')} hello req/s` : ''}${step.host_syscall_ns !== undefined ? `, a system call ${step.host_syscall_ns.toLocaleString('en-US')} ns` : ''})`,
    );
    if (!step.held) break;
  }
  const held = [...steps].reverse().find((s) => s.held);
  const broken = steps.find((s) => !s.held);
  const observedAt = broken ?? held;
  const bottleneck = observedAt
    ? `${broken ? `at ${broken.candidates.toLocaleString('en-US')} candidates (first step that broke)` : `at ${observedAt.candidates.toLocaleString('en-US')} candidates (no step broke; the highest step run)`}: ${bottleneckOf(observedAt, o.p99ObjectiveMs, cores, database)}`
    : 'no step ran';
  const { projection, basis } = project(held, cores, o.nodes, database);
  const speedNote = machineSpeedNote(steps);
  if (speedNote) o.base.log(`capacity: ${speedNote}`);
  const report: CapacityReport = {
    objective: { autosave_p99_ms: o.p99ObjectiveMs, max_error_rate: o.maxErrorRate, lost_answers: 0 },
    steps,
    highest_held: held?.candidates ?? null,
    bottleneck,
    projection,
    projection_basis: basis,
    ...(speedNote ? { machine_speed_note: speedNote } : {}),
  };
  if (dir) {
    await mkdir(dir, { recursive: true });
    report.report = path.join(dir, 'capacity.html');
    await writeFile(report.report, renderCapacity(report));
    await writeFile(path.join(dir, 'capacity.json'), `${JSON.stringify(report, null, 2)}\n`);
  }
  return report;
}

/**
 * Steps are only comparable on a machine that kept its speed: on a shared host
 * a slower hour breaks a step that a faster one holds.
 */
export function machineSpeedNote(steps: StepOutcome[]): string | undefined {
  const rates = steps.map((s) => s.host_hello_rps).filter((r): r is number => r !== undefined && r > 0);
  if (rates.length < 2) return undefined;
  const lo = Math.min(...rates);
  const hi = Math.max(...rates);
  if (hi <= 1.25 * lo) return undefined;
  return (
    `this machine's speed changed between steps (bare node:http hello world ${lo.toLocaleString('en-US')}–${hi.toLocaleString('en-US')} req/s): ` +
    'a step that broke on a slower reading may hold on a quieter machine; run it again'
  );
}

const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function renderCapacity(r: CapacityReport): string {
  const rows = r.steps
    .map(
      (s) =>
        `<tr><td>${s.candidates.toLocaleString('en-US')}</td><td class="${s.held ? 'ok' : 'bad'}">${s.held ? 'held' : esc(s.broke.join('; '))}</td>` +
        `<td>${s.autosave_p99_ms}</td><td>${s.paper_p99_ms}</td><td>${(s.error_rate * 100).toFixed(3)} %</td><td>${s.lost_answers ?? '—'}</td>` +
        `<td>${s.autosave_rps.toLocaleString('en-US')}</td><td>${s.cpu_us_per_request ? `${s.cpu_us_per_request.examday} / ${s.cpu_us_per_request.machine}` : '—'}</td><td>${s.host_hello_rps?.toLocaleString('en-US') ?? '—'}${s.host_syscall_ns !== undefined ? `, ${s.host_syscall_ns.toLocaleString('en-US')}` : ''}</td><td>${s.report ? `<a href="${esc(path.relative(path.dirname(r.report ?? '.'), s.report))}">report</a>` : ''}</td></tr>`,
    )
    .join('');
  const chart = lineChart(
    'Autosave p99 by step',
    'ms',
    [{ name: 'autosave p99', color: '#c0392b', points: r.steps.map((s) => [s.candidates, s.autosave_p99_ms]) }],
    { threshold: r.objective.autosave_p99_ms, xUnit: '' },
  );
  const proj = r.projection
    .map((p) => `<tr><td>${p.nodes}</td><td>${p.candidates.toLocaleString('en-US')}</td><td>${esc(p.limited_by)}</td></tr>`)
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>examday capacity</title>
<style>body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:900px;color:#222;padding:0 12px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px}th{background:#f4f6f8}
.ok{color:#1e8449;font-weight:600}.bad{color:#c0392b;font-weight:600}.t{font-size:14px;font-weight:600}.a{font-size:11px;fill:#555}.g{stroke:#eee}.th{stroke:#c0392b;stroke-dasharray:4 3}
.proj{border:2px dashed #f39c12;padding:8px 12px;background:#fffaf0}</style></head><body>
<h1>examday capacity</h1>
<p>Objective: autosave p99 ≤ ${r.objective.autosave_p99_ms} ms, errors ≤ ${(r.objective.max_error_rate * 100).toFixed(2)} %, no lost answers.</p>
<p><b>Highest step that held: ${r.highest_held === null ? 'none' : `${r.highest_held.toLocaleString('en-US')} candidates`}</b></p>
<p>Bottleneck observed ${esc(r.bottleneck)}</p>
${r.machine_speed_note ? `<p class="bad">Note: ${esc(r.machine_speed_note)}</p>` : ''}
<table><thead><tr><th>candidates</th><th>result</th><th>autosave p99 ms</th><th>paper p99 ms</th><th>errors</th><th>lost</th><th>autosaves/s</th><th>CPU per request in the exam, examday / machine µs</th><th>machine before the step: hello req/s, system call ns</th><th></th></tr></thead><tbody>${rows}</tbody></table>
${chart}
<div class="proj"><h2>Projection (not measured)</h2><p>${esc(r.projection_basis)}</p>
${proj ? `<table><thead><tr><th>nodes</th><th>candidates (projected)</th><th>limited by</th></tr></thead><tbody>${proj}</tbody></table>` : ''}</div>
</body></html>
`;
}
