/**
 * The exam day's three phases, as the scenario plans them: the sign-in storm
 * (seconds 0 to --storm), the exam (autosaves, some reloads), and the submit
 * window (the last --submit-window seconds, and the drain after them). A
 * run's p99 over everything hides which phase it comes from — at 40,000
 * candidates on two cores the storm's autosaves are slow while the exam's are
 * not — so the summary gives each phase its own latency figures.
 *
 * Each one-second interval the generators report belongs to one phase:
 * interval `sec` covers roughly (sec - 1, sec] seconds after the start. When
 * the storm reaches into the submit window (a short run), the storm comes
 * first and the exam phase is empty.
 *
 * The machine's figures are split the same way: a run's CPU means are the
 * exam's, and a storm or a wave that broke the objective on a saturated
 * machine would otherwise be judged by the calm seconds between them.
 */
import { meanCoresOf, type CpuPoint, type MeanCores, type ServerMetricsPoint } from './resources.ts';
import { Aggregate, summarize, type IntervalSnapshot, type LatencySummary } from './stats.ts';

export const PHASES = ['sign_in', 'exam', 'submit'] as const;
export type Phase = (typeof PHASES)[number];
export const PHASE_LABELS: Record<Phase, string> = { sign_in: 'sign-in', exam: 'exam', submit: 'submit' };

export interface PhasePlan {
  stormS: number;
  durationS: number;
  submitWindowS: number;
}

/** Planned seconds of each phase; `to_s` of the submit phase is null (it runs until the last answer). */
export function phaseBounds(p: PhasePlan): Record<Phase, { from_s: number; to_s: number | null }> {
  const submitFrom = Math.max(p.stormS, p.durationS - p.submitWindowS);
  return {
    sign_in: { from_s: 0, to_s: p.stormS },
    exam: { from_s: p.stormS, to_s: submitFrom },
    submit: { from_s: submitFrom, to_s: null },
  };
}

/** The phase an interval belongs to. */
export function phaseOf(sec: number, p: PhasePlan): Phase {
  const b = phaseBounds(p);
  if (sec <= b.sign_in.to_s!) return 'sign_in';
  if (sec <= b.exam.to_s!) return 'exam';
  return 'submit';
}

/** Every interval merged into its phase's aggregate. */
export class PhaseAggregates {
  readonly byPhase: Record<Phase, Aggregate> = { sign_in: new Aggregate(), exam: new Aggregate(), submit: new Aggregate() };

  constructor(readonly plan: PhasePlan) {}

  add(sec: number, s: IntervalSnapshot): void {
    this.byPhase[phaseOf(sec, this.plan)].add(s);
  }
}

/** What the machine and the server did in a phase's seconds. */
export interface PhaseResources {
  /** Mean cores busy, machine-wide and by group. */
  cpu_cores: MeanCores;
  /** The highest event-loop p99 a server process reported. */
  event_loop_p99_max_ms: number | undefined;
  db_pool_waiting_max: number | undefined;
}

export interface PhaseSummary {
  from_s: number;
  to_s: number | null;
  requests: number;
  errors: number;
  autosave: LatencySummary;
  paper: LatencySummary;
  /** With the resource monitor, when it sampled seconds of this phase. */
  resources?: PhaseResources;
}

/**
 * The resource monitor's seconds that fell in `phase`, summed up; undefined
 * without any. The submit phase's are those of the planned submit window:
 * the drain after it (a few late answers and result pages) would water the
 * wave's figures down.
 */
export function phaseResources(
  phase: Phase,
  plan: PhasePlan,
  cpu: readonly CpuPoint[],
  server: readonly ServerMetricsPoint[],
): PhaseResources | undefined {
  const inPhase = (sec: number): boolean => phaseOf(sec, plan) === phase && (phase !== 'submit' || sec <= plan.durationS);
  const mine = cpu.filter((p) => inPhase(p.sec));
  if (mine.length === 0) return undefined;
  const scraped = server.filter((p) => inPhase(p.sec));
  const highest = (xs: (number | undefined)[]): number | undefined => {
    const known = xs.filter((x): x is number => x !== undefined);
    return known.length ? Math.max(...known) : undefined;
  };
  return {
    cpu_cores: meanCoresOf(mine),
    event_loop_p99_max_ms: highest(scraped.map((p) => p.eventLoopP99Ms)),
    db_pool_waiting_max: highest(scraped.map((p) => p.dbPoolWaiting)),
  };
}

export function summarizePhases(
  phases: PhaseAggregates,
  resources?: { cpu: readonly CpuPoint[]; server: readonly ServerMetricsPoint[] },
): Record<Phase, PhaseSummary> {
  const bounds = phaseBounds(phases.plan);
  const out = {} as Record<Phase, PhaseSummary>;
  for (const ph of PHASES) {
    const a = phases.byPhase[ph];
    const used = resources ? phaseResources(ph, phases.plan, resources.cpu, resources.server) : undefined;
    out[ph] = {
      ...bounds[ph],
      requests: a.requests(),
      errors: a.errors(),
      autosave: summarize(a.hists.get('autosave')),
      paper: summarize(a.hists.get('paper')),
      ...(used ? { resources: used } : {}),
    };
  }
  return out;
}
