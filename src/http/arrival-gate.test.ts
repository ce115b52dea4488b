/**
 * The arrival gate: its budget driven tick by tick with a hand-set clock, then
 * the Fastify hook with the timer stopped: arrivals wait, exam requests do not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import Fastify from 'fastify';
import { type ZodTypeProvider } from 'fastify-type-provider-zod';
import { Registry } from 'prom-client';
import { ArrivalGate, registerArrivalGate } from './arrival-gate.ts';
import type { App } from './types.ts';

function clockedGate(maxWaitMs = 60_000): { gate: ArrivalGate; clock: { t: number } } {
  const clock = { t: 0 };
  return { gate: new ArrivalGate({ targetLagMs: 30, maxWaitMs, now: () => clock.t }), clock };
}

/** Offers n arrivals; returns which were admitted, in order, as they are. */
function offer(gate: ArrivalGate, n: number, admitted: number[], from = 0): void {
  for (let i = from; i < from + n; i++) if (gate.admit(() => admitted.push(i))) admitted.push(i);
}

describe('ArrivalGate', () => {
  it('lets every arrival through while the loop keeps up', () => {
    const { gate, clock } = clockedGate();
    const admitted: number[] = [];
    for (let tick = 0; tick < 10; tick++) {
      clock.t += 20;
      gate.tick(5);
      offer(gate, 100, admitted, tick * 100);
    }
    assert.equal(admitted.length, 1000);
    assert.equal(gate.open, true);
    assert.equal(gate.waiting, 0);
  });

  it('once the loop lags, admits half of what passed per tick and queues the rest in order', () => {
    const { gate, clock } = clockedGate();
    const admitted: number[] = [];
    offer(gate, 20, admitted); // the gate is open: all 20 pass
    clock.t += 20;
    gate.tick(80); // late: 20 passed in that tick → 10 per tick
    assert.equal(gate.budget, 10);
    offer(gate, 25, admitted, 20);
    assert.equal(admitted.length, 30, '10 more pass at once');
    assert.equal(gate.waiting, 15);
    clock.t += 20;
    gate.tick(80); // still late, but within 100 ms of the last cut: the budget holds
    assert.equal(gate.budget, 10);
    assert.equal(admitted.length, 40);
    clock.t += 100;
    gate.tick(80); // late a window later: halved again
    assert.equal(gate.budget, 5);
    assert.equal(admitted.length, 45);
    assert.deepEqual(admitted, Array.from({ length: 45 }, (_, i) => i), 'in arrival order');
    assert.equal(gate.waiting, 0);
  });

  it('does not let a newcomer pass ahead of those waiting', () => {
    const { gate, clock } = clockedGate();
    const admitted: number[] = [];
    offer(gate, 4, admitted);
    clock.t += 20;
    gate.tick(100); // budget 2
    offer(gate, 4, admitted, 4); // 2 pass, 2 wait
    clock.t += 20;
    gate.tick(0); // calm: budget 3, the two waiting go first
    offer(gate, 2, admitted, 8); // one token left: 8 passes, 9 waits
    assert.deepEqual(admitted, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(gate.waiting, 1);
  });

  it('raises the budget by one per calm tick and opens again', () => {
    const { gate, clock } = clockedGate();
    clock.t += 20;
    gate.tick(500); // nothing passed: the smallest budget
    assert.equal(gate.budget, 1);
    for (let i = 0; i < 62; i++) {
      clock.t += 20;
      gate.tick(10);
    }
    assert.equal(gate.budget, 63);
    clock.t += 20;
    gate.tick(10);
    assert.equal(gate.open, true);
  });

  it('never holds an arrival longer than maxWaitMs', () => {
    const { gate, clock } = clockedGate(1000);
    const admitted: number[] = [];
    clock.t += 20;
    gate.tick(500); // budget 1
    offer(gate, 10, admitted); // 1 passes, 9 wait from t = 20
    for (let i = 0; i < 3; i++) {
      clock.t += 20;
      gate.tick(500);
    }
    assert.equal(admitted.length, 4, 'one per tick');
    clock.t = 1020;
    gate.tick(500);
    assert.equal(admitted.length, 10, 'all who waited their longest go');
  });

  it('releases everyone on shutdown', () => {
    const { gate, clock } = clockedGate();
    const admitted: number[] = [];
    clock.t += 20;
    gate.tick(500);
    offer(gate, 10, admitted);
    gate.releaseAll();
    assert.equal(admitted.length, 10);
    assert.equal(gate.waiting, 0);
  });
});

describe('arrival gate on routes', () => {
  it('holds routes marked as arrivals while closed and never the others', async () => {
    const app = Fastify().withTypeProvider<ZodTypeProvider>() as unknown as App;
    const registry = new Registry();
    const clock = { t: 0 };
    const gate = new ArrivalGate({ targetLagMs: 30, maxWaitMs: 60_000, now: () => clock.t });
    registerArrivalGate(app, { targetLagMs: 30, maxWaitMs: 60_000, registry, tickMs: 3_600_000 }, gate);
    app.get('/arrive', { config: { arrival: true } }, async () => ({ ok: true }));
    app.get('/exam', async () => ({ ok: true }));
    await app.ready();
    try {
      clock.t += 20;
      gate.tick(500); // closed: one arrival per tick
      const done: string[] = [];
      const arrivals = [1, 2, 3].map((i) => app.inject({ method: 'GET', url: '/arrive' }).then((r) => done.push(`arrive ${i} ${r.statusCode}`)));
      const exam = await app.inject({ method: 'GET', url: '/exam' });
      assert.equal(exam.statusCode, 200, 'an exam request never waits');
      for (let i = 0; i < 5; i++) await nextTurn();
      assert.deepEqual(done, ['arrive 1 200'], 'one token: one arrival');
      assert.equal(gate.waiting, 2);
      gate.tick(500);
      gate.tick(500);
      await Promise.all(arrivals);
      assert.deepEqual(done, ['arrive 1 200', 'arrive 2 200', 'arrive 3 200']);
      const metrics = await registry.metrics();
      assert.match(metrics, /examday_http_arrivals_held_total 2/);
      assert.match(metrics, /examday_http_arrival_wait_seconds_count 2/);
    } finally {
      await app.close();
    }
  });

  it('adds nothing when the target lag is 0', async () => {
    const app = Fastify().withTypeProvider<ZodTypeProvider>() as unknown as App;
    const registry = new Registry();
    registerArrivalGate(app, { targetLagMs: 0, maxWaitMs: 1000, registry });
    app.get('/arrive', { config: { arrival: true } }, async () => ({ ok: true }));
    assert.equal((await app.inject({ method: 'GET', url: '/arrive' })).statusCode, 200);
    assert.doesNotMatch(await registry.metrics(), /arrival/);
    await app.close();
  });
});
