/** The run's summary: the JSON object printed last with `--json`, and the report's figures. */
import type { LoadOutcome, SecondPoint } from './coordinator.ts';
import type { LostAnswersReport } from './lost-answers.ts';
import { PHASES, PHASE_LABELS, summarizePhases, type Phase, type PhaseSummary } from './phases.ts';
import type { CpuPoint, ResourceSummary } from './resources.ts';
import { summarize, type EndpointCounts, type LatencySummary } from './stats.ts';

export interface LoadtestSummary {
  candidates: number;
  duration_s: number;
  /** Responses and transport failures (each try counts). */
  requests: number;
  /** Tries that did not succeed: error statuses, timeouts, refused or reset connections. */
  errors: number;
  error_rate: number;
  /** Operations given up on after retries or with a final error. */
  failed_operations: number;
  autosave_p50_ms: number;
  autosave_p95_ms: number;
  autosave_p99_ms: number;
  autosave_max_ms: number;
  paper_p50_ms: number;
  paper_p99_ms: number;
  paper_max_ms: number;
  all_p99_ms: number;
  /** (attempt, question) pairs whose latest answer the server acknowledged. */
  acked_answers: number;
  /** Acknowledged answers missing or older in the database after the run; null when the database could not be read. */
  lost_answers: number | null;
  lost_answers_note?: string;
  lost_answers_examples: string[];
  newer_on_server: number;
  acked_writes: number;
  peak_rps: number;
  mean_rps: number;
  /** Autosaves per second between the end of the sign-in storm and the first submits. */
  autosave_rps: number;
  started_at: string;
  target: string;
  database: string;
  embedded: boolean;
  endpoints: Record<string, EndpointCounts & LatencySummary>;
  /** Requests, errors, autosave and paper latency of each planned phase: sign-in storm, exam, submit window. */
  phases: Record<Phase, PhaseSummary>;
  errors_by_code: Record<string, number>;
  /** The same errors by endpoint: `submit 503 overloaded`. */
  errors_by_endpoint: Record<string, number>;
  candidates_signed_in: number;
  candidates_submitted: number;
  candidates_gave_up: number;
  resumes: number;
  resume_mismatches: number;
  /** Booking first: bookings answered "session full" (the candidate chose another session). */
  bookings_session_full: number;
  stale_reconnects: number;
  connections_opened: number;
  /**
   * Highest per-second p99 event-loop delay of the generator processes, ms.
   * Latencies include the generator's own lateness; above ~50 ms the load
   * generator was short of CPU and the figures overstate the server's latency.
   */
  generator_lag_max_ms: number;
  /**
   * Bare node:http hello-world requests/s on this machine just before the run
   * (src/loadtest/host-speed.ts): on a shared host, compare runs only at similar rates.
   */
  host_hello_rps?: number | undefined;
  /** What one system call cost on this machine just before the run, ns (host-speed.ts). */
  host_syscall_ns?: number | undefined;
  /** Connections the kernel dropped because a listening socket's accept queue was full (machine-wide, during the run). */
  listen_overflows?: number | undefined;
  cpu_cores?: ResourceSummary['meanCores'];
  /**
   * CPU per request in the exam's steady state, µs, by group (cpuPerRequest):
   * what one request of the exam's mix costs on this machine. The hello-world
   * rate says how fast the machine is for a tiny working set; this says it for
   * the run's own work, so runs on different machines compare by it.
   */
  cpu_us_per_request?: CpuPerRequest | undefined;
  /** % of the run's wall time some task waited for a CPU (Linux PSI); high: the machine was not quiet. */
  cpu_pressure_pct?: number | undefined;
  event_loop_p99_max_ms?: number | undefined;
  db_pool_waiting_max?: number | undefined;
  /** The most client sockets a server process held, and the most it may hold (its open-file limit less a reserve). */
  server_client_sockets_max?: number | undefined;
  server_client_socket_limit?: number | undefined;
  /** Connections a server process closed at once because it held its limit (the most seen in one process). */
  server_connections_refused?: number | undefined;
  settings: Record<string, string | number | boolean>;
  /** Candidates run before the measured run to warm the server up; counted nowhere else. */
  warmup?: { candidates: number; requests: number; errors: number; submitted: number; lost_answers: number | null } | undefined;
  report?: string;
}

export interface SummaryInput {
  outcome: LoadOutcome;
  candidates: number;
  durationS: number;
  steady: { from: number; to: number };
  lost: LostAnswersReport | undefined;
  lostNote?: string | undefined;
  resources: ResourceSummary | undefined;
  target: string;
  database: string;
  embedded: boolean;
  settings: Record<string, string | number | boolean>;
  warmup?: LoadtestSummary['warmup'];
  hostHelloRps?: number | undefined;
  hostSyscallNs?: number | undefined;
}

export interface CpuPerRequest {
  machine: number;
  examday: number;
  postgres: number;
  generator: number;
}

/**
 * CPU time per request over the seconds of `steady` that have both a CPU
 * sample and a request count: each group's core-seconds over the requests
 * answered (or failed) in those seconds. Undefined without such seconds.
 */
export function cpuPerRequest(series: SecondPoint[], cpu: CpuPoint[], steady: { from: number; to: number }): CpuPerRequest | undefined {
  const requests = new Map(series.filter((p) => p.sec > steady.from && p.sec <= steady.to).map((p) => [p.sec, p.requests]));
  let n = 0;
  const cores = { machine: 0, examday: 0, postgres: 0, generator: 0 };
  for (const c of cpu) {
    const r = requests.get(c.sec);
    if (r === undefined) continue;
    n += r;
    cores.machine += c.busy;
    cores.examday += c.byGroup.examday;
    cores.postgres += c.byGroup.postgres;
    cores.generator += c.byGroup.generator;
  }
  if (n === 0) return undefined;
  const us = (coreSeconds: number): number => Math.round((coreSeconds * 1e6) / n);
  return { machine: us(cores.machine), examday: us(cores.examday), postgres: us(cores.postgres), generator: us(cores.generator) };
}

function steadyRate(series: SecondPoint[], steady: { from: number; to: number }, f: (p: SecondPoint) => number): number {
  const pts = series.filter((p) => p.sec > steady.from && p.sec <= steady.to);
  if (!pts.length) return 0;
  return Math.round(pts.reduce((a, p) => a + f(p), 0) / pts.length);
}

export function buildSummary(i: SummaryInput): LoadtestSummary {
  const { aggregate: agg, series, totals } = i.outcome;
  const requests = agg.requests();
  const errors = agg.errors();
  const autosave = summarize(agg.hists.get('autosave'));
  const paper = summarize(agg.hists.get('paper'));
  const endpoints = agg.endpointSummary() as Record<string, EndpointCounts & LatencySummary>;
  return {
    candidates: i.candidates,
    duration_s: i.durationS,
    requests,
    errors,
    error_rate: requests ? Math.round((errors / requests) * 1e6) / 1e6 : 0,
    failed_operations: agg.failedOps(),
    autosave_p50_ms: autosave.p50_ms,
    autosave_p95_ms: autosave.p95_ms,
    autosave_p99_ms: autosave.p99_ms,
    autosave_max_ms: autosave.max_ms,
    paper_p50_ms: paper.p50_ms,
    paper_p99_ms: paper.p99_ms,
    paper_max_ms: paper.max_ms,
    all_p99_ms: summarize(agg.all()).p99_ms,
    acked_answers: i.lost?.acked_answers ?? i.outcome.acked.reduce((n, c) => n + c.attempt.length, 0),
    lost_answers: i.lost ? i.lost.lost_answers : null,
    ...(i.lostNote ? { lost_answers_note: i.lostNote } : {}),
    lost_answers_examples: [...totals.examples, ...(i.lost?.examples ?? [])],
    newer_on_server: i.lost?.newer_on_server ?? 0,
    acked_writes: totals.ackedWrites,
    peak_rps: Math.max(0, ...series.map((p) => p.requests)),
    mean_rps: series.length ? Math.round(requests / series.length) : 0,
    autosave_rps: steadyRate(series, i.steady, (p) => p.autosave.count),
    started_at: new Date(i.outcome.startAt).toISOString(),
    target: i.target,
    database: i.database,
    embedded: i.embedded,
    endpoints,
    phases: summarizePhases(i.outcome.phases, i.resources),
    errors_by_code: Object.fromEntries([...agg.errorsByKey].sort((a, b) => b[1] - a[1])),
    errors_by_endpoint: Object.fromEntries([...agg.errorsByEndpoint].sort((a, b) => b[1] - a[1])),
    candidates_signed_in: totals.signedIn,
    candidates_submitted: totals.submitted,
    candidates_gave_up: totals.gaveUp,
    resumes: totals.resumes,
    resume_mismatches: totals.resumeMismatches,
    bookings_session_full: totals.sessionFull,
    stale_reconnects: agg.staleReconnects,
    connections_opened: totals.connects,
    generator_lag_max_ms: Math.max(0, ...series.map((p) => p.generatorLagMs)),
    ...(i.hostHelloRps !== undefined ? { host_hello_rps: i.hostHelloRps } : {}),
    ...(i.hostSyscallNs !== undefined ? { host_syscall_ns: i.hostSyscallNs } : {}),
    ...(i.warmup ? { warmup: i.warmup } : {}),
    ...(i.resources
      ? {
          cpu_cores: i.resources.meanCores,
          cpu_us_per_request: cpuPerRequest(series, i.resources.cpu, i.steady),
          cpu_pressure_pct: i.resources.cpuPressurePct,
          listen_overflows: i.resources.listenOverflows,
          event_loop_p99_max_ms: i.resources.eventLoopP99MaxMs,
          db_pool_waiting_max: i.resources.dbPoolWaitingMax,
          server_client_sockets_max: i.resources.clientSocketsMax,
          server_client_socket_limit: i.resources.clientSocketLimit,
          server_connections_refused: i.resources.connectionsRefusedMax,
        }
      : {}),
    settings: i.settings,
  };
}

const n = (v: number): string => v.toLocaleString('en-US');

/** The once-a-second progress line. */
export function progressLine(p: SecondPoint, total: number, durationS: number): string {
  const errs = Object.entries(p.errorsByKey)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([k, v]) => `${k} ×${v}`)
    .join(', ');
  return [
    `[${String(p.sec).padStart(4)}/${durationS} s]`,
    `active ${n(p.active)}/${n(total)}`,
    `${n(p.requests)} req/s`,
    `autosave p99 ${p.autosave.count ? `${p.autosave.p99_ms} ms` : '—'}`,
    `paper p99 ${p.paper.count ? `${p.paper.p99_ms} ms` : '—'}`,
    `errors ${n(p.errors)}${errs ? ` (${errs})` : ''}`,
    `generator ${p.generatorCores.toFixed(2)} cores${p.generatorLagMs > 20 ? `, ${Math.round(p.generatorLagMs)} ms late` : ''}`,
  ].join(' · ');
}

function phaseText(ph: Phase, p: PhaseSummary): string {
  const span = `${p.from_s}–${p.to_s === null ? 'end' : p.to_s} s`;
  const busy = p.resources ? ` (machine ${p.resources.cpu_cores.busy} cores busy)` : '';
  return `${PHASE_LABELS[ph]} ${span} ${p.autosave.count ? `${p.autosave.p99_ms} ms` : '—'}${busy}`;
}

/** A few human lines for the end of a run without `--json`. */
export function humanSummary(s: LoadtestSummary): string {
  const lost = s.lost_answers === null ? `not checked (${s.lost_answers_note ?? 'no database access'})` : n(s.lost_answers);
  const lines = [
    `candidates ${n(s.candidates)} · ${s.duration_s} s · ${n(s.requests)} requests · peak ${n(s.peak_rps)} req/s · steady autosaves ${n(s.autosave_rps)}/s`,
    `autosave p50/p95/p99/max ${s.autosave_p50_ms}/${s.autosave_p95_ms}/${s.autosave_p99_ms}/${s.autosave_max_ms} ms · paper p50/p99/max ${s.paper_p50_ms}/${s.paper_p99_ms}/${s.paper_max_ms} ms`,
    `errors ${n(s.errors)} (${(s.error_rate * 100).toFixed(3)} %) · failed operations ${n(s.failed_operations)} · candidates submitted ${n(s.candidates_submitted)}/${n(s.candidates)}`,
    `acknowledged answers ${n(s.acked_answers)} · lost answers ${lost}`,
    `autosave p99 by phase: ${PHASES.map((ph) => phaseText(ph, s.phases[ph])).join(' · ')}`,
  ];
  if (Object.keys(s.errors_by_code).length) {
    lines.push(`errors by code: ${Object.entries(s.errors_by_code).map(([k, v]) => `${k} ×${v}`).join(', ')}`);
    lines.push(`errors by endpoint: ${Object.entries(s.errors_by_endpoint).slice(0, 8).map(([k, v]) => `${k} ×${v}`).join(', ')}`);
  }
  if (s.cpu_cores) {
    const c = s.cpu_cores;
    lines.push(
      `mean CPU (cores): machine ${c.busy} · examday ${c.examday} · postgres ${c.postgres} · redis ${c.redis} · generator ${c.generator} · other ${c.other}` +
        (s.cpu_pressure_pct !== undefined ? ` · CPU pressure ${s.cpu_pressure_pct} % (tasks waiting for a core)` : ''),
    );
    const u = s.cpu_us_per_request;
    if (u) {
      lines.push(`CPU per request in the exam (µs): machine ${n(u.machine)} · examday ${n(u.examday)} · postgres ${n(u.postgres)} · generator ${n(u.generator)}`);
    }
    if (s.event_loop_p99_max_ms !== undefined || s.db_pool_waiting_max !== undefined) {
      lines.push(`server: event-loop p99 up to ${s.event_loop_p99_max_ms ?? '?'} ms · up to ${s.db_pool_waiting_max ?? '?'} queries waiting for a pool connection`);
    }
    if (s.server_connections_refused) {
      lines.push(`server: refused ${n(s.server_connections_refused)} connections at its limit of ${n(s.server_client_socket_limit ?? 0)} client sockets per process (open-file limit)`);
    }
  }
  if (s.host_hello_rps !== undefined) {
    const syscall = s.host_syscall_ns !== undefined ? `, a system call ${n(s.host_syscall_ns)} ns` : '';
    lines.push(`this machine before the run: ${n(s.host_hello_rps)} req/s from a bare node:http hello world${syscall} (compare runs at similar figures)`);
  }
  if (s.listen_overflows) {
    lines.push(`${n(s.listen_overflows)} connections dropped by a full accept queue (the server accepted too slowly, or its listen backlog is too small)`);
  }
  if (s.generator_lag_max_ms > 50) {
    lines.push(`warning: the load generator ran up to ${Math.round(s.generator_lag_max_ms)} ms late (short of CPU); latencies include that lateness`);
  }
  if (s.report) lines.push(`report: ${s.report}`);
  return lines.join('\n');
}
