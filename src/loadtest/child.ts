/**
 * A generator process: holds the connections of its share of the candidates
 * (one process can hold only as many sockets as its open-file limit allows),
 * runs the scenario for each, and reports to the coordinator once a second:
 * the interval's encoded histograms and counts, active candidates, CPU used.
 * At the end it sends every acknowledged answer for the lost-answers check.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { seededRandom } from '../lib/seeded-random.ts';
import type { AckedChunk, ChildTotals, FromChild, ToChild } from './protocol.ts';
import { LocalPorts, portsBelowEphemeral } from './local-ports.ts';
import { Candidate, type RunState } from './scenario.ts';
import { Scheduler } from './scheduler.ts';
import { Recorder } from './stats.ts';

const ACKED_CHUNK = 20_000;

function send(msg: FromChild): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (!process.send) return reject(new Error('the load generator child must be started by the coordinator (no IPC channel)'));
    process.send(msg, undefined, {}, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

let state: RunState | undefined;

/**
 * When the run's time is up, requests already sent get this long (at most the
 * per-try timeout) to be answered; the ones still waiting then count as
 * unfinished. A result page's ask sent in the run's last millisecond is
 * answered in a few: cutting it off would count the harness's own stop as the
 * server's error.
 */
const FINISH_GRACE_MS = 5000;

/** Stop: no new request, no retry; in-flight requests are aborted after `graceMs`. */
function hardStop(s: RunState, graceMs = 0): void {
  if (s.stopped) return;
  s.stopped = true;
  s.sched.stop();
  const abortAll = (): void => {
    for (const c of [...s.inflight]) c.abort('stopped');
  };
  if (graceMs > 0 && s.inflight.size > 0) setTimeout(abortAll, graceMs);
  else abortAll();
}

async function run(msg: Extract<ToChild, { type: 'start' }>): Promise<void> {
  const cfg = msg.config;
  const random = seededRandom((cfg.seed * 7919 + msg.index + 1) >>> 0);
  const t0 = cfg.startAt - performance.timeOrigin;
  const totals: ChildTotals = {
    candidates: msg.candidates.length,
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
  const s: RunState = {
    cfg,
    rec: new Recorder(),
    sched: new Scheduler(),
    random,
    t0,
    hardStopAt: t0 + (cfg.durationS + cfg.drainS) * 1000,
    stopped: false,
    inflight: new Set(),
    active: 0,
    totals,
  };
  state = s;
  const addrs = cfg.sourceAddresses;
  const range = addrs.length ? portsBelowEphemeral() : undefined;
  const ports = range ? new LocalPorts(range, msg.index, msg.stride) : undefined;
  const candidates = msg.candidates.map((c, i) => {
    const addr = addrs.length ? addrs[(msg.firstIndex + i * msg.stride) % addrs.length] : undefined;
    return new Candidate(s, c.code, addr, ports && addr ? () => ports.next(addr) : undefined);
  });

  // Per-try timeouts: one sweep instead of a timer per request.
  const sweep = setInterval(() => {
    const limit = performance.now() - cfg.timeoutMs;
    for (const c of [...s.inflight]) if (c.sentAt < limit) c.abort('timeout');
  }, 100);
  const stopTimer = setTimeout(() => hardStop(s, Math.min(FINISH_GRACE_MS, cfg.timeoutMs)), Math.max(0, s.hardStopAt - performance.now()));

  // Once-a-second reports, aligned to the run's seconds and labelled by the
  // clock (a late tick, when this process was starved, covers more than a second).
  let cpu = process.cpuUsage();
  let lastSec = 0;
  let tickTimer: NodeJS.Timeout | undefined;
  // This process's own lateness: when high, measured latencies include the generator's delay.
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const report = (): Promise<void> => {
    const sec = Math.max(lastSec + 1, Math.round((performance.now() - t0) / 1000));
    lastSec = sec;
    const c = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const lagMs = lag.count > 0 ? Math.max(0, lag.percentile(99) / 1e6 - 10) : 0;
    lag.reset();
    return send({ type: 'tick', sec, active: s.active, cpuUs: c.user + c.system, lagMs, snapshot: s.rec.flush() });
  };
  const armTick = (): void => {
    tickTimer = setTimeout(
      () => {
        report().catch(() => hardStop(s));
        armTick();
      },
      Math.max(0, t0 + (lastSec + 1) * 1000 - performance.now()),
    );
  };
  armTick();

  const durationMs = cfg.durationS * 1000;
  const windowMs = Math.min(cfg.submitWindowS * 1000, durationMs);
  const stormMs = Math.min(cfg.stormS * 1000, durationMs - windowMs);
  await Promise.all(
    candidates.map((c) => {
      const signInAt = t0 + random() * stormMs;
      const submitAt = Math.max(signInAt, t0 + durationMs - random() * windowMs);
      const reloadAt = random() < cfg.reloadShare ? signInAt + (0.2 + 0.6 * random()) * (submitAt - signInAt) : undefined;
      return c.run(signInAt, submitAt, reloadAt);
    }),
  );

  clearInterval(sweep);
  clearTimeout(stopTimer);
  clearTimeout(tickTimer);
  s.sched.stop();
  await report();
  lag.disable();

  totals.connects = candidates.reduce((n, c) => n + c.conn.connects, 0);
  let chunk: AckedChunk = { attempt: [], question: [], seq: [], value: [] };
  for (const c of candidates) {
    c.collectAcked(chunk);
    if (chunk.attempt.length >= ACKED_CHUNK) {
      await send({ type: 'acked', chunk });
      chunk = { attempt: [], question: [], seq: [], value: [] };
    }
  }
  if (chunk.attempt.length) await send({ type: 'acked', chunk });
  await send({ type: 'done', totals });
  process.disconnect();
}

process.on('message', (msg: ToChild) => {
  if (msg.type === 'start') {
    run(msg).catch((err: unknown) => {
      process.stderr.write(`load generator ${msg.index} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    });
  } else if (msg.type === 'stop' && state) {
    hardStop(state);
  }
});
// The coordinator went away (e.g. killed): do not keep generating load.
process.on('disconnect', () => {
  if (state && !state.stopped) hardStop(state);
  setTimeout(() => process.exit(0), 2000).unref();
});
send({ type: 'ready' }).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
