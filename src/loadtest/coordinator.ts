/**
 * Runs a scenario across several generator processes and merges what they
 * measure. Candidates are dealt round robin, so every process has a share of
 * every district and of the sign-in storm. Once every process has reported a
 * second, that second is merged (histograms added, counts summed) and handed
 * to `onSecond` (the progress line, the report's time series).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AckedChunk, CandidateSeed, ChildTotals, FromChild, ScenarioConfig, ToChild } from './protocol.ts';
import { PhaseAggregates } from './phases.ts';
import { Aggregate, summarize, type LatencySummary } from './stats.ts';

export interface LoadPlan {
  /** Everything but `startAt`, which is set once every process is up. */
  config: Omit<ScenarioConfig, 'startAt'>;
  candidates: CandidateSeed[];
  procs: number;
  onSecond?: (p: SecondPoint) => void;
  /** Called with the epoch ms of second 0 once it is fixed. */
  onStart?: (startAt: number) => void;
}

/** One merged second of the run. */
export interface SecondPoint {
  sec: number;
  active: number;
  /** Responses and transport failures in this second (each try counts). */
  requests: number;
  errors: number;
  errorsByKey: Record<string, number>;
  /** CPU cores the generator processes used in this second. */
  generatorCores: number;
  /** Highest p99 event-loop delay among the generator processes (their own lateness), ms. */
  generatorLagMs: number;
  autosave: LatencySummary;
  paper: LatencySummary;
  all: LatencySummary;
}

export interface LoadOutcome {
  /** Epoch ms of second 0. */
  startAt: number;
  /** Seconds from start until the last generator finished. */
  elapsedS: number;
  aggregate: Aggregate;
  /** The same intervals by planned phase: sign-in storm, exam, submit window. */
  phases: PhaseAggregates;
  series: SecondPoint[];
  totals: ChildTotals;
  acked: AckedChunk[];
}

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
/**
 * The generator's own garbage collection must not show up as the server's
 * latency (it is measured from the intended send time). Once the sign-in
 * storm is over a child allocates less, and V8's memory reducer then
 * compacted its ~200 MB heap in one go: 171-313 ms pauses at 30,000
 * candidates, each a second of 0.5-0.8 s autosave p99 that the server did
 * not cause. A run is short and bounded, so the heap need not shrink; a
 * larger young generation also promotes less of each request's garbage.
 */
const GENERATOR_V8_FLAGS = ['--no-memory-reducer', '--max-semi-space-size=32'];

function tsxLoader(): string {
  try {
    return import.meta.resolve('tsx');
  } catch {
    return 'tsx';
  }
}

interface Bucket {
  agg: Aggregate;
  active: number;
  /** Processes that reported this second (a starved one may skip seconds). */
  reported: Set<number>;
  cpuUs: number;
  lagMs: number;
}

export async function runLoad(plan: LoadPlan): Promise<LoadOutcome> {
  const procs = Math.max(1, Math.min(plan.procs, plan.candidates.length || 1));
  const loader = tsxLoader();
  const children: ChildProcess[] = [];
  const aggregate = new Aggregate();
  const phases = new PhaseAggregates(plan.config);
  const series: SecondPoint[] = [];
  const buckets = new Map<number, Bucket>();
  const lastSec = new Array<number>(procs).fill(0);
  const done = new Array<boolean>(procs).fill(false);
  const lastActive = new Array<number>(procs).fill(0);
  const acked: AckedChunk[] = [];
  const totals: ChildTotals = {
    candidates: 0,
    signedIn: 0,
    started: 0,
    submitted: 0,
    gaveUp: 0,
    connects: 0,
    ackedWrites: 0,
    resumes: 0,
    sessionFull: 0,
    resumeMismatches: 0,
    examples: [],
  };
  let finalized = 0;

  const bucket = (sec: number): Bucket => {
    let b = buckets.get(sec);
    if (!b) buckets.set(sec, (b = { agg: new Aggregate(), active: 0, reported: new Set<number>(), cpuUs: 0, lagMs: 0 }));
    return b;
  };

  /** Merge and publish every second that all running processes have reported. */
  const finalize = (all: boolean): void => {
    const live = lastSec.filter((_, i) => !done[i]);
    const upTo = all || live.length === 0 ? Math.max(finalized, ...buckets.keys()) : Math.min(...live);
    for (let sec = finalized + 1; sec <= upTo; sec++) {
      const b = buckets.get(sec) ?? { agg: new Aggregate(), active: 0, reported: new Set<number>(), cpuUs: 0, lagMs: 0 };
      buckets.delete(sec);
      // A process that skipped this second still has its candidates: count its last figure.
      let active = b.active;
      for (let i = 0; i < procs; i++) if (!b.reported.has(i) && !done[i]) active += lastActive[i]!;
      const point: SecondPoint = {
        sec,
        active,
        requests: b.agg.requests(),
        errors: b.agg.errors(),
        errorsByKey: Object.fromEntries(b.agg.errorsByKey),
        generatorCores: b.cpuUs / 1e6,
        generatorLagMs: Math.round(b.lagMs * 10) / 10,
        autosave: summarize(b.agg.hists.get('autosave')),
        paper: summarize(b.agg.hists.get('paper')),
        all: summarize(b.agg.all()),
      };
      series.push(point);
      plan.onSecond?.(point);
    }
    finalized = Math.max(finalized, upTo);
  };

  const stopAll = (): void => {
    for (const c of children) if (c.connected) c.send({ type: 'stop' } satisfies ToChild);
  };
  const onSignal = (): void => stopAll();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const ready: Promise<void>[] = [];
    const finished: Promise<void>[] = [];
    for (let i = 0; i < procs; i++) {
      const child = fork(CHILD, [], {
        execArgv: [...GENERATOR_V8_FLAGS, '--import', loader],
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      let markReady!: () => void;
      ready.push(new Promise<void>((r) => (markReady = r)));
      finished.push(
        new Promise<void>((resolve, reject) => {
          child.on('message', (m: FromChild) => {
            switch (m.type) {
              case 'ready':
                markReady();
                break;
              case 'tick': {
                aggregate.add(m.snapshot);
                phases.add(m.sec, m.snapshot);
                const b = bucket(m.sec);
                b.agg.add(m.snapshot);
                b.active += m.active;
                b.reported.add(i);
                lastActive[i] = m.active;
                b.cpuUs += m.cpuUs;
                b.lagMs = Math.max(b.lagMs, m.lagMs);
                lastSec[i] = Math.max(lastSec[i]!, m.sec);
                finalize(false);
                break;
              }
              case 'acked':
                acked.push(m.chunk);
                break;
              case 'done':
                done[i] = true;
                for (const k of Object.keys(totals) as (keyof ChildTotals)[]) {
                  if (k === 'examples') totals.examples.push(...m.totals.examples);
                  else totals[k] += m.totals[k];
                }
                finalize(false);
                break;
            }
          });
          child.on('exit', (code, signal) => {
            if (done[i]) resolve();
            else reject(new Error(`load generator ${i} exited (${signal ?? `code ${code}`}) before finishing`));
          });
          child.on('error', reject);
        }),
      );
    }
    // A child that dies before it is ready must not leave us waiting.
    await Promise.race([Promise.all(ready), Promise.all(finished)]);

    const startAt = Date.now() + 500;
    plan.onStart?.(startAt);
    const n = plan.candidates.length;
    for (let i = 0; i < procs; i++) {
      const mine: CandidateSeed[] = [];
      for (let j = i; j < n; j += procs) mine.push(plan.candidates[j]!);
      const msg: ToChild = { type: 'start', index: i, config: { ...plan.config, startAt }, candidates: mine, firstIndex: i, stride: procs };
      children[i]!.send(msg);
    }
    try {
      await Promise.all(finished);
    } catch (err) {
      stopAll();
      throw err;
    }
    finalize(true);
    return { startAt, elapsedS: series.length, aggregate, phases, series, totals, acked };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }
}
