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
 */
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

export interface PhaseSummary {
  from_s: number;
  to_s: number | null;
  requests: number;
  errors: number;
  autosave: LatencySummary;
  paper: LatencySummary;
}

export function summarizePhases(phases: PhaseAggregates): Record<Phase, PhaseSummary> {
  const bounds = phaseBounds(phases.plan);
  const out = {} as Record<Phase, PhaseSummary>;
  for (const ph of PHASES) {
    const a = phases.byPhase[ph];
    out[ph] = {
      ...bounds[ph],
      requests: a.requests(),
      errors: a.errors(),
      autosave: summarize(a.hists.get('autosave')),
      paper: summarize(a.hists.get('paper')),
    };
  }
  return out;
}
