/**
 * One load-test run, start to finish: check the target is this machine,
 * prepare candidates (seed them, or read `examday seed`'s CSV), start examday
 * when `--embedded`, run the scenario across the generator processes with a
 * progress line a second, stop the server, read every acknowledged answer
 * back from the database, write summary.json and report.html.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { clientSocketLimit } from '../cluster.ts';
import { dropLoad, seedLoad, type LoadCandidate } from '../modules/demo/seed.ts';
import { runLoad, type LoadOutcome, type SecondPoint } from './coordinator.ts';
import { describeDatabase, openDatabase, type DatabaseChoice } from './database.ts';
import { startDeployment, type Deployment } from './deployment.ts';
import { measureHostSpeed, measureSyscallNs } from './host-speed.ts';
import { checkLostAnswers, type LostAnswersReport } from './lost-answers.ts';
import type { AckedChunk, CandidateSeed } from './protocol.ts';
import { renderReport } from './report.ts';
import { ResourceMonitor, type ResourceSummary } from './resources.ts';
import { buildSummary, progressLine, type LoadtestSummary } from './summary.ts';
import { TargetError, resolveTarget, sourceAddresses, type Target } from './target.ts';

export interface LoadtestOptions {
  /** Base URL of a running deployment; exclusive with `embedded`. */
  target?: string | undefined;
  embedded: boolean;
  candidates: number;
  districts: number;
  sessionsPerDistrict: number;
  durationS: number;
  stormS: number;
  submitWindowS: number;
  drainS: number;
  autosaveEveryS: number;
  autosaveJitter: number;
  reloadShare: number;
  bookingFirst: boolean;
  /** Generator processes; default `defaultProcesses` (as few as the open-file limit allows). */
  procs?: number | undefined;
  /** API processes of an embedded PostgreSQL deployment; default as for `procs`. */
  serverProcesses?: number | undefined;
  sourceAddresses?: number | undefined;
  timeoutMs: number;
  /** `examday seed --out` CSV; else the harness seeds through `databaseUrl` (or the embedded database). */
  codesFile?: string | undefined;
  databaseUrl?: string | undefined;
  /** Whether the server gets a REDIS_URL (examday refuses several API processes without one). */
  redis?: boolean | undefined;
  /** Embedded: use PGlite even when a database URL is known. */
  pglite: boolean;
  /** Embedded: examday's data dir (kept after the run); default a fresh temporary one (removed). */
  dataDir?: string | undefined;
  /** Keep the seeded data (and an embedded PGlite data dir) after the run. */
  keepData: boolean;
  /** Write summary.json and report.html under this directory; undefined: no files. */
  reportDir?: string | undefined;
  seed: number;
  serverLogLevel: string;
  serverEnv?: Record<string, string> | undefined;
  /**
   * Extra candidates that sign in, save and submit within `WARMUP` before the
   * run and are not counted (default 0). A server started seconds ago has cold
   * JIT, caches and connections, which a deployment on exam day has not.
   */
  warmupCandidates?: number | undefined;
  /** Measure this machine's speed (bare node:http hello world, ~3 s) before the run (default true). */
  hostCheck?: boolean | undefined;
  /** Called with each progress line (once a second) and notes. */
  log: (line: string) => void;
  /** Called with warnings, which `--quiet` does not silence (default: `log`). */
  warn?: ((line: string) => void) | undefined;
}

export const DEFAULTS = {
  districts: 3,
  sessionsPerDistrict: 1,
  durationS: 300,
  stormS: 60,
  autosaveEveryS: 15,
  autosaveJitter: 0.2,
  reloadShare: 0.1,
  timeoutMs: 30_000,
  // Long enough for the result page's first ask after a submit made while
  // gradings were held (askResultInS: 31 s, +25 % jitter).
  drainS: 45,
  serverLogLevel: 'warn',
} as const;

export interface LoadtestResult {
  summary: LoadtestSummary;
  series: SecondPoint[];
  resources: ResourceSummary | undefined;
  acked: AckedChunk[];
  /** The database the answers were checked in (kept only with `keepData`). */
  database: DatabaseChoice | undefined;
  reportDir: string | undefined;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Share of a process's client-socket limit the defaults fill: the kernel hands new connections to API processes unevenly. */
const SOCKET_SHARE = 0.9;
/** Per-process connections where the open-file limit cannot be read. */
const SOCKETS_UNKNOWN = 15_000;

/**
 * Processes (API or generator) for `n` candidates' connections when not given:
 * as few as the open-file limit allows. Each process costs every request
 * something — it wakes for fewer requests per turn, commits smaller batches,
 * and on two cores takes turns with the others — so at the same request rate
 * one API and one generator process spent ~36 % less of the machine per request
 * than three of each (BENCHMARKS.md, twenty-first pass).
 */
export function defaultProcesses(n: number, sockets: number | undefined): number {
  return Math.max(1, Math.ceil(n / Math.floor((sockets ?? SOCKETS_UNKNOWN) * SOCKET_SHARE)));
}

/** The warm-up: a short exam of its own, with autosaves every 4 s. */
export const WARMUP = { stormS: 10, durationS: 20, submitWindowS: 4, drainS: 10, autosaveEveryS: 4 } as const;

export function warmupCandidates(o: Pick<LoadtestOptions, 'warmupCandidates'>): number {
  return o.warmupCandidates ?? 0;
}

async function readCodes(file: string, n: number): Promise<CandidateSeed[]> {
  const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read --codes ${file}: ${err.code ?? err.message}`);
  });
  const [header, ...rows] = text.split('\n').filter((l) => l.trim());
  const cols = (header ?? '').split(',');
  const codeAt = cols.indexOf('accessCode');
  const districtAt = cols.indexOf('district');
  if (codeAt < 0) throw new UsageError(`--codes ${file} has no accessCode column (expected the CSV written by \`examday seed --out\`)`);
  if (rows.length < n) throw new UsageError(`--codes ${file} holds ${rows.length} candidates; --candidates asks for ${n}`);
  return rows.slice(0, n).map((r) => {
    const f = r.split(',');
    return { code: f[codeAt]!.trim(), district: districtAt >= 0 ? (f[districtAt] ?? '') : '' };
  });
}

function validate(o: LoadtestOptions): void {
  if (Boolean(o.target) === o.embedded) throw new UsageError('give either --target URL (a running deployment on this machine) or --embedded');
  if (o.stormS < 0 || o.durationS <= 0) throw new UsageError('--duration must be positive and --storm not negative');
  if (o.submitWindowS + Math.min(o.stormS, 1) > o.durationS) throw new UsageError('--duration must be longer than the submit window');
  if (o.reloadShare < 0 || o.reloadShare > 1) throw new UsageError('--reload-share is a fraction between 0 and 1');
  if (o.autosaveEveryS < 0) throw new UsageError('--autosave-every must not be negative (0 = back to back)');
}

export async function runLoadtest(o: LoadtestOptions): Promise<LoadtestResult> {
  validate(o);
  const warn = o.warn ?? o.log;
  // Refuse anything but this machine before touching any database.
  const given: Target | undefined = o.target ? await resolveTarget(o.target) : undefined;

  let db: DatabaseChoice | undefined;
  const temps: string[] = [];
  let dataDir: string | undefined;
  if (o.embedded) {
    if (o.dataDir) {
      dataDir = path.resolve(o.dataDir);
    } else {
      dataDir = await mkdtemp(path.join(os.tmpdir(), 'examday-loadtest-'));
      temps.push(dataDir);
    }
    db = o.databaseUrl && !o.pglite ? { kind: 'postgres', url: o.databaseUrl } : { kind: 'pglite', dataDir };
  } else if (o.databaseUrl) {
    db = { kind: 'postgres', url: o.databaseUrl };
  }

  let deployment: Deployment | undefined;
  let runTag: string | undefined;
  let keepTemps = false;
  const warmupN = warmupCandidates(o);
  const seeded = o.candidates + warmupN;
  try {
    // Candidates (the warm-up's come first).
    let candidates: CandidateSeed[];
    if (o.codesFile) {
      candidates = await readCodes(o.codesFile, seeded);
    } else if (db) {
      o.log(
        `seeding ${o.candidates.toLocaleString('en-US')} candidates${warmupN ? ` + ${warmupN.toLocaleString('en-US')} for the warm-up` : ''} in ${describeDatabase(db)}…`,
      );
      const handle = await openDatabase(db);
      const rows: LoadCandidate[] = [];
      try {
        const s = await seedLoad(
          { db: handle },
          { candidates: seeded, districts: o.districts, sessionsPerDistrict: o.sessionsPerDistrict, bookingFirst: o.bookingFirst },
          rows,
        );
        runTag = s.runTag;
        o.log(`seeded in ${s.seconds} s (run tag ${s.runTag}${o.bookingFirst ? ', booking first' : ''})`);
      } finally {
        await handle.close();
      }
      candidates = rows.map((r) => ({ code: r.accessCode, district: r.district }));
    } else {
      throw new UsageError(
        'no candidates: give --codes FILE (written by `examday seed --out FILE`) or --database-url (or DATABASE_URL) of the target\'s PostgreSQL so the harness can seed them',
      );
    }

    // How fast this machine is now: runs on a shared host are comparable only at similar rates.
    let hostHelloRps: number | undefined;
    let hostSyscallNs: number | undefined;
    if (o.hostCheck ?? true) {
      hostSyscallNs = measureSyscallNs();
      hostHelloRps = await measureHostSpeed();
      o.log(
        `this machine now: ${hostHelloRps.toLocaleString('en-US')} req/s from a bare node:http hello world through this client` +
          (hostSyscallNs !== undefined ? `; a system call ${hostSyscallNs.toLocaleString('en-US')} ns` : ''),
      );
    }

    // The server.
    let target = given;
    if (o.embedded) {
      const processes = db!.kind === 'postgres' ? (o.serverProcesses ?? defaultProcesses(o.candidates, clientSocketLimit())) : 1;
      if (processes > 1 && !o.redis) {
        throw new UsageError(
          `${processes} API processes (as few as the open-file limit allows for ${o.candidates.toLocaleString('en-US')} candidates) share rate limits and queues through Redis: set REDIS_URL, or --server-processes 1 for fewer candidates`,
        );
      }
      // The server inherits this process's open-file limit: each candidate's connection is a file there.
      const sockets = clientSocketLimit();
      if (sockets !== undefined && o.candidates > sockets * processes) {
        warn(
          `warning: one examday process here may hold ${sockets.toLocaleString('en-US')} client sockets (its open-file limit less a reserve); ` +
            `${o.candidates.toLocaleString('en-US')} candidates on ${processes} will have connections refused (raise ulimit -n${db!.kind === 'postgres' ? ', or --server-processes' : ', or use PostgreSQL with more processes'})`,
        );
      }
      o.log(`starting examday (${db!.kind === 'postgres' ? `serve ×${processes} + worker, PostgreSQL` : 'all, PGlite'})…`);
      deployment = await startDeployment({
        db: db!,
        processes,
        logLevel: o.serverLogLevel,
        dataDir: dataDir!,
        ...(o.serverEnv ? { env: o.serverEnv } : {}),
      });
      target = await resolveTarget(deployment.url.href);
    }
    if (!target) throw new TargetError('no target');

    const procs = o.procs ?? defaultProcesses(o.candidates, clientSocketLimit());
    const addrs = sourceAddresses(target, o.candidates, o.sourceAddresses);
    const scenario = {
      host: target.address,
      port: target.port,
      hostHeader: target.hostHeader,
      basePath: target.basePath,
      stormS: o.stormS,
      durationS: o.durationS,
      submitWindowS: o.submitWindowS,
      drainS: o.drainS,
      autosaveEveryS: o.autosaveEveryS,
      autosaveJitter: o.autosaveJitter,
      reloadShare: o.reloadShare,
      bookingFirst: o.bookingFirst,
      timeoutMs: o.timeoutMs,
      sourceAddresses: addrs,
      seed: o.seed,
    };
    let warmup: LoadtestSummary['warmup'];
    let warmupAcked: AckedChunk[] = [];
    if (warmupN > 0) {
      o.log(`warming up: ${warmupN.toLocaleString('en-US')} candidates sign in, save and submit within ${WARMUP.durationS} s (not counted)…`);
      const w = await runLoad({ procs: 1, candidates: candidates.slice(0, warmupN), config: { ...scenario, ...WARMUP }, onSecond: () => undefined });
      warmupAcked = w.acked;
      warmup = { candidates: warmupN, requests: w.aggregate.requests(), errors: w.aggregate.errors(), submitted: w.totals.submitted, lost_answers: null };
      o.log(`warmed up: ${warmup.requests.toLocaleString('en-US')} requests, ${warmup.errors} errors, ${warmup.submitted} submitted`);
    }
    candidates = candidates.slice(warmupN);
    if (target.family === 6 && o.candidates > 25_000) {
      o.log('note: an IPv6 loopback target has one source address (~28,000 ports); use 127.0.0.1 for more candidates');
    }
    let startAt: number | undefined;
    const monitor = new ResourceMonitor({
      serverPids: deployment?.pids() ?? [],
      generatorPid: process.pid,
      metricsUrl: target.url,
      startAt: () => startAt,
      cores: os.availableParallelism(),
    });
    monitor.start();
    const outcome: LoadOutcome = await runLoad({
      procs,
      candidates,
      config: scenario,
      onStart: (at) => (startAt = at),
      onSecond: (p) => o.log(progressLine(p, o.candidates, o.durationS)),
    });
    const steady = { from: Math.ceil(o.stormS + o.autosaveEveryS), to: Math.floor(o.durationS - o.submitWindowS) };
    await monitor.scrapeNow();
    const resources = monitor.available ? monitor.stop(steady.to > steady.from ? steady : undefined) : undefined;

    if (deployment) {
      await deployment.stop();
      deployment = undefined;
    }

    // Durability: every acknowledged answer, read back.
    let lost: LostAnswersReport | undefined;
    let lostNote: string | undefined;
    if (db) {
      const handle = await openDatabase(db);
      try {
        lost = await checkLostAnswers(handle.kysely, outcome.acked);
        if (warmup) warmup.lost_answers = (await checkLostAnswers(handle.kysely, warmupAcked)).lost_answers;
        if (runTag && !o.keepData && db.kind === 'postgres') {
          // The run's figures are worth more than its clean-up: a failure here is reported, not thrown.
          await dropLoad(handle.kysely, runTag).catch((err: unknown) =>
            warn(
              `warning: the run's candidates were not removed (${err instanceof Error ? err.message : String(err)}); ` +
                `remove them with: examday seed --drop ${runTag}`,
            ),
          );
        }
      } finally {
        await handle.close();
      }
    } else {
      lostNote = 'the target database is unknown: pass --database-url to read the answers back';
    }
    keepTemps = o.keepData;

    const summary = buildSummary({
      outcome,
      candidates: o.candidates,
      durationS: o.durationS,
      steady,
      lost,
      lostNote,
      resources,
      target: o.embedded ? `embedded (${target.url.origin})` : target.url.origin,
      database: db ? (db.kind === 'pglite' ? 'pglite' : 'postgres') : 'unknown',
      embedded: o.embedded,
      hostHelloRps,
      hostSyscallNs,
      warmup,
      settings: {
        candidates: o.candidates,
        districts: o.districts,
        sessions_per_district: o.sessionsPerDistrict,
        duration_s: o.durationS,
        storm_s: o.stormS,
        submit_window_s: o.submitWindowS,
        autosave_every_s: o.autosaveEveryS,
        autosave_jitter: o.autosaveJitter,
        reload_share: o.reloadShare,
        booking_first: o.bookingFirst,
        warmup_candidates: warmupN,
        generator_procs: procs,
        server_processes: o.embedded ? (db?.kind === 'postgres' ? (o.serverProcesses ?? defaultProcesses(o.candidates, clientSocketLimit())) : 1) : 'external',
        source_addresses: addrs.length || 1,
        timeout_ms: o.timeoutMs,
        seed: o.seed,
        node: process.version,
        cores: os.availableParallelism(),
      },
    });

    let reportDir: string | undefined;
    if (o.reportDir) {
      const stamp = summary.started_at.replace(/[:.]/g, '-').replace(/Z$/, '');
      reportDir = path.resolve(o.reportDir, `${stamp}-${o.candidates}c`);
      await mkdir(reportDir, { recursive: true });
      summary.report = path.join(reportDir, 'report.html');
      await writeFile(summary.report, renderReport(summary, outcome.series, resources));
      await writeFile(path.join(reportDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    }
    return { summary, series: outcome.series, resources, acked: outcome.acked, database: o.keepData ? db : undefined, reportDir };
  } finally {
    if (deployment) await deployment.stop().catch(() => undefined);
    if (!keepTemps) for (const t of temps) await rm(t, { recursive: true, force: true }).catch(() => undefined);
  }
}
