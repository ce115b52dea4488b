/** CPU per request: the run's own cost on this machine, from the per-second CPU samples and request counts. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SecondPoint } from './coordinator.ts';
import type { CpuPoint } from './resources.ts';
import { cpuPerRequest } from './summary.ts';

const none = { count: 0, p50_ms: 0, p95_ms: 0, p99_ms: 0, max_ms: 0, mean_ms: 0 };

function second(sec: number, requests: number): SecondPoint {
  return { sec, active: 1000, requests, errors: 0, errorsByKey: {}, generatorCores: 0, generatorLagMs: 0, autosave: none, paper: none, all: none };
}

function cpu(sec: number, examday: number, postgres: number, generator: number): CpuPoint {
  return { sec, busy: examday + postgres + generator + 0.1, byGroup: { examday, postgres, redis: 0, generator, other: 0.1 } };
}

describe('CPU per request', () => {
  it('divides each group’s core-seconds in the steady window by the requests of the same seconds', () => {
    const series = [second(10, 9_999), second(21, 2_000), second(22, 2_000), second(23, 4_000), second(40, 9_999)];
    const samples = [
      cpu(10, 2, 2, 2), // before the window: the storm
      cpu(21, 0.8, 0.2, 0.4),
      cpu(22, 0.8, 0.2, 0.4),
      // second 23 has requests but no CPU sample (a late tick): left out on both sides
      cpu(24, 1, 1, 1), // a CPU sample without requests: left out too
      cpu(40, 2, 2, 2), // after the window: the submit wave
    ];
    assert.deepEqual(cpuPerRequest(series, samples, { from: 20, to: 30 }), {
      // 1.6 core-seconds of examday over 4,000 requests = 400 µs each.
      machine: 750,
      examday: 400,
      postgres: 100,
      generator: 200,
    });
  });

  it('says nothing when no second of the window has both a sample and requests', () => {
    assert.equal(cpuPerRequest([second(5, 100)], [cpu(5, 1, 1, 1)], { from: 20, to: 30 }), undefined);
    assert.equal(cpuPerRequest([second(25, 0)], [cpu(25, 1, 1, 1)], { from: 20, to: 30 }), undefined);
    assert.equal(cpuPerRequest([], [], { from: 20, to: 30 }), undefined);
  });
});
