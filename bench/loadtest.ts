/**
 * Autosave throughput at saturation against bare node:http in the same run:
 *
 * 1. a bare `node:http` hello-world server in its own process, driven by the
 *    load harness's own HTTP client (C keep-alive connections, each sending
 *    the next request as soon as the previous answer arrives), and by `wrk`
 *    too when /usr/bin/wrk exists (a C client, for reference);
 * 2. examday started by the harness (`--embedded`: PostgreSQL when
 *    DATABASE_URL is set, else PGlite), C candidates saving answers back to
 *    back (`--autosave-every 0`) through the same client; acknowledged
 *    autosaves per second in the steady part of the run.
 *
 * The figure that counts is the ratio autosave/hello: both sides are measured
 * with the same client on the same machine minutes apart.
 *
 *   node --import tsx bench/loadtest.ts      (or: npm run bench -- loadtest)
 *
 * Env: LOADTEST_BENCH_SECONDS (per measurement, default 20),
 * LOADTEST_BENCH_CONNECTIONS (default 200), LOADTEST_BENCH_SERVER_PROCESSES
 * (examday API processes on PostgreSQL, default 1), DATABASE_URL.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { loadConfig } from '../src/config.ts';
import { closedLoop, startHello } from '../src/loadtest/host-speed.ts';
import { DEFAULTS, runLoadtest } from '../src/loadtest/run.ts';

async function wrk(port: number, connections: number, seconds: number): Promise<number | undefined> {
  if (!existsSync('/usr/bin/wrk')) return undefined;
  const child = spawn('/usr/bin/wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, `http://127.0.0.1:${port}/`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  await once(child, 'exit');
  const m = /Requests\/sec:\s+([0-9.]+)/.exec(out);
  return m ? Math.round(Number(m[1])) : undefined;
}

export async function run(): Promise<object> {
  const seconds = Number(process.env.LOADTEST_BENCH_SECONDS ?? 20);
  const connections = Number(process.env.LOADTEST_BENCH_CONNECTIONS ?? 200);
  const serverProcesses = Number(process.env.LOADTEST_BENCH_SERVER_PROCESSES ?? 1);
  const config = loadConfig();
  const load1Before = loadavg()[0]!;

  const hello = await startHello();
  let helloHarness: { rps: number; errors: number };
  let helloWrk: number | undefined;
  try {
    helloHarness = await closedLoop(hello.port, { connections, seconds, warmS: 2 });
    helloWrk = await wrk(hello.port, connections, seconds);
  } finally {
    hello.child.kill();
  }

  const storm = 3;
  const r = await runLoadtest({
    embedded: true,
    candidates: connections,
    districts: 1,
    sessionsPerDistrict: 1,
    durationS: storm + seconds + 2,
    stormS: storm,
    submitWindowS: 1,
    drainS: 60,
    autosaveEveryS: 0,
    autosaveJitter: 0,
    reloadShare: 0,
    bookingFirst: false,
    // Saturation from the first second is the point here; the ratio compares the same cold start as before.
    warmupCandidates: 0,
    procs: 1,
    serverProcesses,
    timeoutMs: DEFAULTS.timeoutMs,
    databaseUrl: config.db.url,
    pglite: false,
    redis: Boolean(config.redis.url),
    keepData: false,
    seed: 1,
    serverLogLevel: DEFAULTS.serverLogLevel,
    log: () => undefined,
  });
  const s = r.summary;
  return {
    machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version, load1Before: Math.round(load1Before * 10) / 10 },
    connections,
    seconds,
    helloNodeHttp: { rps: helloHarness.rps, errors: helloHarness.errors, wrkRps: helloWrk ?? null },
    examdayAutosave: {
      database: s.database,
      serverProcesses: s.settings.server_processes,
      rps: s.autosave_rps,
      p50Ms: s.autosave_p50_ms,
      p99Ms: s.autosave_p99_ms,
      errors: s.errors,
      errorsByCode: s.errors_by_code,
      lostAnswers: s.lost_answers,
      cpuCores: s.cpu_cores ?? null,
      cpuPressurePct: s.cpu_pressure_pct ?? null,
      eventLoopP99MaxMs: s.event_loop_p99_max_ms ?? null,
      dbPoolWaitingMax: s.db_pool_waiting_max ?? null,
    },
    ratioAutosaveToHello: helloHarness.rps ? Math.round((s.autosave_rps / helloHarness.rps) * 1000) / 1000 : null,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await run())}\n`);
  process.exit(0);
}
