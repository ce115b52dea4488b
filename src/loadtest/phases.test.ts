/** Latency by phase: which planned phase each second belongs to, and what the summary reports for each. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bottleneckOf, judgeStep, machineSpeedNote, observeBottleneck, observedIn, phasesOverObjective, phaseToObserve } from './capacity.ts';
import type { LoadOutcome } from './coordinator.ts';
import { PhaseAggregates, phaseBounds, phaseOf } from './phases.ts';
import { meanCoresOf, type CpuPoint, type ResourceSummary, type ServerMetricsPoint } from './resources.ts';
import { renderReport } from './report.ts';
import { Aggregate, Recorder } from './stats.ts';
import { buildSummary, humanSummary } from './summary.ts';

const plan = { stormS: 60, durationS: 300, submitWindowS: 30 };

describe('load test phases', () => {
  it('puts each one-second interval in the storm, the exam or the submit window', () => {
    assert.deepEqual(phaseBounds(plan), {
      sign_in: { from_s: 0, to_s: 60 },
      exam: { from_s: 60, to_s: 270 },
      submit: { from_s: 270, to_s: null },
    });
    assert.deepEqual(
      [1, 60, 61, 270, 271, 300, 330].map((s) => phaseOf(s, plan)),
      ['sign_in', 'sign_in', 'exam', 'exam', 'submit', 'submit', 'submit'],
    );
    // A storm that reaches into the submit window: the storm first, no exam phase.
    const short = { stormS: 60, durationS: 80, submitWindowS: 30 };
    assert.deepEqual(phaseBounds(short).exam, { from_s: 60, to_s: 60 });
    assert.deepEqual([59, 60, 61].map((s) => phaseOf(s, short)), ['sign_in', 'sign_in', 'submit']);
  });

  it('reports each phase with its own autosave percentiles, requests and errors', () => {
    const phases = new PhaseAggregates(plan);
    const aggregate = new Aggregate();
    const tick = (sec: number, fill: (r: Recorder) => void): void => {
      const r = new Recorder();
      fill(r);
      const snap = r.flush();
      aggregate.add(snap);
      phases.add(sec, snap);
    };
    // A slow storm, a fast exam, a submit window with one refusal.
    tick(30, (r) => {
      for (let i = 0; i < 100; i++) r.ok('autosave', 400 + i);
      r.ok('paper', 200);
      r.ok('login', 900);
    });
    tick(150, (r) => {
      for (let i = 0; i < 1000; i++) r.ok('autosave', 10 + (i % 20));
    });
    tick(285, (r) => {
      for (let i = 0; i < 100; i++) r.ok('autosave', 50);
      r.ok('submit', 80);
      r.error('submit', '503 overloaded');
    });
    const outcome: LoadOutcome = {
      startAt: Date.parse('2026-11-23T09:00:00Z'),
      elapsedS: 300,
      aggregate,
      phases,
      series: [],
      totals: { candidates: 100, signedIn: 100, started: 100, submitted: 100, gaveUp: 0, connects: 100, ackedWrites: 1200, resumes: 0, sessionFull: 0, resumeMismatches: 0, examples: [] },
      acked: [],
    };
    const s = buildSummary({
      outcome,
      candidates: 100,
      durationS: 300,
      steady: { from: 75, to: 270 },
      lost: undefined,
      resources: undefined,
      target: 'http://127.0.0.1:3000',
      database: 'postgres',
      embedded: false,
      settings: {},
    });
    assert.equal(s.phases.sign_in.autosave.count, 100);
    assert.ok(s.phases.sign_in.autosave.p99_ms >= 498 && s.phases.sign_in.autosave.p99_ms <= 500, String(s.phases.sign_in.autosave.p99_ms));
    assert.equal(s.phases.sign_in.paper.count, 1);
    assert.equal(s.phases.sign_in.requests, 102);
    assert.equal(s.phases.exam.autosave.count, 1000);
    assert.ok(s.phases.exam.autosave.p99_ms <= 30, String(s.phases.exam.autosave.p99_ms));
    assert.equal(s.phases.exam.paper.count, 0);
    assert.equal(s.phases.submit.errors, 1);
    assert.equal(s.phases.submit.requests, 102);
    assert.equal(s.phases.submit.to_s, null);
    // The run's p99 is the storm's tail; the phases say so.
    assert.ok(s.autosave_p99_ms >= 400, String(s.autosave_p99_ms));
    assert.match(humanSummary(s), /autosave p99 by phase: sign-in 0–60 s 49\d(\.\d)? ms · exam 60–270 s \d+(\.\d)? ms · submit 270–end s 50 ms/);

    // `examday capacity` says which phase broke the objective.
    const step = judgeStep(s, 250, 0.01);
    assert.equal(step.held, false);
    assert.deepEqual(Object.keys(step.autosave_p99_ms_by_phase), ['sign_in', 'exam', 'submit']);
    assert.equal(step.autosave_p99_ms_by_phase.submit, 50);
    assert.match(step.broke[0]!, /^autosave p99 .* > 250 ms \(by phase: sign-in 49\d(\.\d)? ms, exam \d+(\.\d)? ms, submit 50 ms\)$/);
    assert.match(phasesOverObjective(step, 250), /^autosave p99 over 250 ms in sign-in 49\d(\.\d)? ms but not in exam \d+(\.\d)? ms, submit 50 ms; /);
    // Every phase over (or none): nothing to add.
    assert.equal(phasesOverObjective(step, 10), '');
    assert.equal(phasesOverObjective(step, 1000), '');

    // A process that held its limit of client sockets is the bottleneck, whatever the CPU.
    const cpu = { busy: 0.8, examday: 0.5, postgres: 0, redis: 0, generator: 0.3, other: 0 };
    assert.match(
      observeBottleneck({ ...step, cpu_cores: cpu, server_client_socket_limit: 19_000, server_connections_refused: 1_629 }, 2, 'pglite'),
      /^connections: a server process held its limit of 19,000 client sockets \(its open-file limit less a reserve\) and refused 1,629 connections; raise the open-file limit \(ulimit -n\) or use PostgreSQL with more API processes \(machine 0.8\/2 cores busy/,
    );
    assert.doesNotMatch(observeBottleneck({ ...step, cpu_cores: cpu, server_client_socket_limit: 19_000, server_connections_refused: 0 }, 2, 'pglite'), /^connections/);

    // Steps measured on a machine whose speed changed say so.
    assert.equal(machineSpeedNote([{ ...step, host_hello_rps: 20_000 }, { ...step, host_hello_rps: 17_000 }]), undefined);
    assert.equal(machineSpeedNote([{ ...step, host_hello_rps: 20_000 }, { ...step, host_hello_rps: undefined }]), undefined);
    assert.match(
      machineSpeedNote([{ ...step, host_hello_rps: 22_000 }, { ...step, host_hello_rps: 14_000 }]) ?? '',
      /speed changed between steps \(bare node:http hello world 14,000–22,000 req\/s\)/,
    );
  });
});

describe('the machine by phase', () => {
  it("judges a step that broke in the storm by the storm's CPU and event loop, not the exam's", () => {
    const phases = new PhaseAggregates(plan);
    const aggregate = new Aggregate();
    const tick = (sec: number, ms: number): void => {
      const r = new Recorder();
      for (let i = 0; i < 100; i++) r.ok('autosave', ms);
      const snap = r.flush();
      aggregate.add(snap);
      phases.add(sec, snap);
    };
    tick(30, 600);
    tick(150, 20);
    tick(285, 40);
    const cpu = (sec: number, busy: number, examday: number): CpuPoint => ({
      sec,
      busy,
      byGroup: { examday, postgres: 0.2, redis: 0, generator: busy - examday - 0.2, other: 0 },
    });
    const server = (sec: number, lag: number): ServerMetricsPoint => ({
      sec,
      eventLoopP99Ms: lag,
      dbPoolWaiting: 0,
      clientSockets: undefined,
      clientSocketLimit: undefined,
      connectionsRefused: undefined,
    });
    // A saturated storm with a late event loop; a calm exam; a middling wave.
    // The drain after the submit window (second 320) is not the wave's.
    const points = [cpu(10, 1.96, 1.2), cpu(40, 1.94, 1.1), cpu(100, 1.0, 0.5), cpu(200, 1.2, 0.6), cpu(280, 1.5, 0.8), cpu(320, 0.3, 0.1)];
    const lags = [server(10, 300), server(100, 40), server(280, 90), server(320, 400)];
    const resources: ResourceSummary = {
      cores: 2,
      cpuPressurePct: 30,
      listenOverflows: 0,
      meanCores: meanCoresOf(points.filter((p) => p.sec > 75 && p.sec <= 270)),
      cpu: points,
      server: lags,
      eventLoopP99MaxMs: 300,
      dbPoolWaitingMax: 0,
      clientSocketsMax: undefined,
      clientSocketLimit: undefined,
      connectionsRefusedMax: undefined,
    };
    const s = buildSummary({
      outcome: {
        startAt: Date.parse('2026-11-24T19:00:00Z'),
        elapsedS: 300,
        aggregate,
        phases,
        series: [],
        totals: { candidates: 100, signedIn: 100, started: 100, submitted: 100, gaveUp: 0, connects: 100, ackedWrites: 300, resumes: 0, sessionFull: 0, resumeMismatches: 0, examples: [] },
        acked: [],
      },
      candidates: 100,
      durationS: 300,
      steady: { from: 75, to: 270 },
      lost: undefined,
      resources,
      target: 'http://127.0.0.1:3000',
      database: 'postgres',
      embedded: false,
      settings: {},
    });
    assert.deepEqual(s.phases.sign_in.resources, {
      cpu_cores: { busy: 1.95, examday: 1.15, postgres: 0.2, redis: 0, generator: 0.6, other: 0 },
      event_loop_p99_max_ms: 300,
      db_pool_waiting_max: 0,
    });
    assert.equal(s.phases.exam.resources?.cpu_cores.busy, 1.1);
    assert.equal(s.phases.exam.resources?.event_loop_p99_max_ms, 40);
    assert.equal(s.phases.submit.resources?.cpu_cores.busy, 1.5);
    assert.equal(s.phases.submit.resources?.event_loop_p99_max_ms, 90);
    assert.match(humanSummary(s), /sign-in 0–60 s 60\d(\.\d)? ms \(machine 1\.95 cores busy\) · exam 60–270 s 20(\.\d)? ms \(machine 1\.1 cores busy\)/);

    // The report's table by phase has the same figures.
    const html = renderReport(s, [], resources);
    assert.match(html, /<th>cores busy<\/th><th>examday cores<\/th><th>PostgreSQL cores<\/th><th>event-loop p99 ms<\/th>/);
    assert.match(html, /<td>sign-in<\/td><td>0–60 s<\/td>(<td>[^<]*<\/td>){8}<td>1\.95<\/td><td>1\.15<\/td><td>0\.2<\/td><td>300<\/td>/);

    const step = judgeStep(s, 250, 0.01);
    assert.equal(phaseToObserve(step, 250), 'sign_in');
    assert.match(phasesOverObjective(step, 250), /; the CPU, event-loop and pool figures are the sign-in phase's$/);
    // By the run's (the exam's) CPU the machine had room and the loop looked slow for no reason ...
    assert.match(observeBottleneck(step, 2, 'postgres'), /^event loop: .* while the machine has spare CPU/);
    // ... by the storm's, it was full and examday used most of it.
    const inStorm = observedIn(step, 'sign_in');
    assert.equal(inStorm.event_loop_p99_max_ms, 300);
    assert.match(observeBottleneck(inStorm, 2, 'postgres'), /^CPU: the machine is saturated and examday uses most of it; the event loop is delayed too \(machine 1\.95\/2 cores busy/);
    // A phase the monitor did not sample leaves the step as it was.
    assert.match(bottleneckOf(step, 250, 2, 'postgres'), /sign-in phase's; CPU: the machine is saturated/);
    // No phase over the objective: the exam's seconds, not the storm's event loop beside the exam's CPU.
    assert.match(bottleneckOf(step, 1000, 2, 'postgres'), /^no resource saturated: .*machine 1\.1\/2 cores busy.*event-loop p99 up to 40 ms/);
    const unsampled = { ...step, resources_by_phase: {} };
    assert.equal(observedIn(unsampled, 'sign_in'), unsampled);
    assert.equal(observedIn(step, undefined), step);
  });
});
