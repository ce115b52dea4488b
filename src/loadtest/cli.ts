/**
 * `examday loadtest` and `examday capacity`: options, progress on stderr,
 * the summary on stdout (with `--json`, the last line is one JSON object).
 * Exit codes: 0 done, 2 bad usage (including a non-loopback target),
 * 3 answers were lost (a durability failure), 1 anything else.
 */
import { parseArgs } from 'node:util';
import type { Config } from '../config.ts';
import { runCapacity } from './capacity.ts';
import { DEFAULTS, UsageError, runLoadtest, type LoadtestOptions } from './run.ts';
import { humanSummary } from './summary.ts';
import { TargetError } from './target.ts';

export const LOADTEST_USAGE = `usage: examday loadtest (--target http://127.0.0.1:3000 | --embedded) [options]
       examday capacity (--target URL | --embedded) [--steps 10000,20000,40000] [options]

The exam-day scenario: candidates sign in during a storm, load the paper,
autosave every few seconds, some reload and resume, all submit at the end.
Load goes to this machine only (loopback targets).

  --target URL           a running deployment on this machine
  --embedded             start examday for the run (PostgreSQL when --database-url or
                         DATABASE_URL is set, else PGlite in a temporary data dir)
  --candidates N         simulated candidates (default 1000)
  --districts D          districts (default ${DEFAULTS.districts}); --sessions S per district (default 1)
  --duration S           seconds until everyone has submitted (default ${DEFAULTS.durationS})
  --storm S              sign-ins spread over the first S seconds (default ${DEFAULTS.stormS})
  --submit-window S      submits spread over the last S seconds (default min(30, duration/10))
  --autosave-every S     seconds between a candidate's autosaves, jittered (default ${DEFAULTS.autosaveEveryS}; 0 = back to back)
  --jitter F             autosave interval jitter, fraction (default ${DEFAULTS.autosaveJitter})
  --reload-share F       share of candidates that reload mid-exam and resume (default ${DEFAULTS.reloadShare})
  --booking-first        candidates book a seat before starting (default: pre-booked)
  --warmup N             before the run, N more candidates take a 20 s exam, not counted
                         (default 0; e.g. 10 % of --candidates to warm up a server that
                         --embedded started seconds ago)
  --codes FILE           use candidates from \`examday seed --out FILE\` instead of seeding
  --database-url URL     the target's PostgreSQL (default DATABASE_URL): seeding and the lost-answers check
  --pglite               with --embedded: use PGlite even when a database URL is set
  --data-dir DIR         with --embedded: examday's data dir, kept (default a temporary one, removed)
  --procs K              load generator processes (default: as few as the open-file limit
                         allows, one per ~17,000 candidates at a limit of 20,000)
  --server-processes K   with --embedded on PostgreSQL: API processes (default as for --procs)
  --source-addresses A   spread connections over 127.0.0.2… (default one per 5,000 candidates above 5,000)
  --timeout-ms MS        per-try timeout (default ${DEFAULTS.timeoutMs})
  --drain S              after --duration, wait up to S seconds for answers and results (default ${DEFAULTS.drainS})
  --report-dir DIR       where summary.json and report.html go (default ./loadtest-reports)
  --no-report            write no files
  --no-host-check        skip the ~3 s measurement of this machine's speed before the run
  --keep-data            keep the seeded candidates (and an embedded PGlite data dir)
  --server-log-level L   LOG_LEVEL of an embedded server (default ${DEFAULTS.serverLogLevel})
  --seed N               random seed for the schedule (default 1)
  --json                 print the summary as one JSON object on the last line
  --quiet                no progress lines (warnings are still printed)

capacity only:
  --steps LIST           candidates per step (default 10000,20000,40000,60000,80000,100000)
  --step-duration S      seconds per step (default 120)
  --objective-ms MS      p99 autosave objective (default 250)
  --max-error-rate F     allowed share of errors (default 0.001)
  --nodes LIST           node counts to project for (default 2,4,8)
`;

const options = {
  target: { type: 'string' },
  embedded: { type: 'boolean', default: false },
  candidates: { type: 'string' },
  districts: { type: 'string' },
  sessions: { type: 'string' },
  duration: { type: 'string' },
  storm: { type: 'string' },
  'submit-window': { type: 'string' },
  'autosave-every': { type: 'string' },
  jitter: { type: 'string' },
  'reload-share': { type: 'string' },
  'booking-first': { type: 'boolean', default: false },
  warmup: { type: 'string' },
  codes: { type: 'string' },
  'database-url': { type: 'string' },
  pglite: { type: 'boolean', default: false },
  'data-dir': { type: 'string' },
  procs: { type: 'string' },
  'server-processes': { type: 'string' },
  'source-addresses': { type: 'string' },
  'timeout-ms': { type: 'string' },
  drain: { type: 'string' },
  'report-dir': { type: 'string' },
  'no-report': { type: 'boolean', default: false },
  'no-host-check': { type: 'boolean', default: false },
  'keep-data': { type: 'boolean', default: false },
  'server-log-level': { type: 'string' },
  seed: { type: 'string' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
  steps: { type: 'string' },
  'step-duration': { type: 'string' },
  'objective-ms': { type: 'string' },
  'max-error-rate': { type: 'string' },
  nodes: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function num(v: string | undefined, name: string, def: number, o: { int?: boolean; min?: number; max?: number } = {}): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || (o.int && !Number.isInteger(n)) || (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
    const range = [o.min !== undefined ? `≥ ${o.min}` : '', o.max !== undefined ? `≤ ${o.max}` : ''].filter(Boolean).join(' and ');
    throw new UsageError(`--${name} must be ${o.int ? 'a whole number' : 'a number'}${range ? ` ${range}` : ''} (got "${v}")`);
  }
  return n;
}

function list(v: string | undefined, name: string, def: number[]): number[] {
  if (v === undefined) return def;
  const xs = v.split(',').map((s) => num(s.trim(), name, 0, { int: true, min: 1 }));
  if (!xs.length) throw new UsageError(`--${name} needs at least one number`);
  return xs;
}

function optional(v: string | undefined, name: string, o: { int?: boolean; min?: number; max?: number }): number | undefined {
  return v === undefined ? undefined : num(v, name, 0, o);
}

export function parseLoadtestArgs(args: string[], config: Pick<Config, 'db' | 'redis'>, log: (l: string) => void) {
  const { values: v } = parseArgs({ args, options, strict: true, allowPositionals: false });
  const durationS = num(v.duration, 'duration', DEFAULTS.durationS, { min: 1 });
  const base: LoadtestOptions = {
    target: v.target,
    embedded: v.embedded,
    candidates: num(v.candidates, 'candidates', 1000, { int: true, min: 1, max: 1_000_000 }),
    districts: num(v.districts, 'districts', DEFAULTS.districts, { int: true, min: 1, max: 1000 }),
    sessionsPerDistrict: num(v.sessions, 'sessions', DEFAULTS.sessionsPerDistrict, { int: true, min: 1, max: 100 }),
    durationS,
    stormS: num(v.storm, 'storm', Math.min(DEFAULTS.stormS, durationS / 2), { min: 0 }),
    submitWindowS: num(v['submit-window'], 'submit-window', Math.min(30, durationS / 10), { min: 0 }),
    drainS: num(v.drain, 'drain', DEFAULTS.drainS, { min: 1 }),
    autosaveEveryS: num(v['autosave-every'], 'autosave-every', DEFAULTS.autosaveEveryS, { min: 0 }),
    autosaveJitter: num(v.jitter, 'jitter', DEFAULTS.autosaveJitter, { min: 0, max: 0.9 }),
    reloadShare: num(v['reload-share'], 'reload-share', DEFAULTS.reloadShare, { min: 0, max: 1 }),
    bookingFirst: v['booking-first'],
    warmupCandidates: optional(v.warmup, 'warmup', { int: true, min: 0, max: 100_000 }),
    procs: optional(v.procs, 'procs', { int: true, min: 1, max: 64 }),
    serverProcesses: optional(v['server-processes'], 'server-processes', { int: true, min: 1, max: 64 }),
    sourceAddresses: optional(v['source-addresses'], 'source-addresses', { int: true, min: 1, max: 250 }),
    timeoutMs: num(v['timeout-ms'], 'timeout-ms', DEFAULTS.timeoutMs, { int: true, min: 100 }),
    codesFile: v.codes,
    databaseUrl: v['database-url'] ?? config.db.url,
    pglite: v.pglite,
    redis: Boolean(config.redis.url),
    dataDir: v['data-dir'],
    keepData: v['keep-data'],
    reportDir: v['no-report'] ? undefined : (v['report-dir'] ?? 'loadtest-reports'),
    hostCheck: !v['no-host-check'],
    seed: num(v.seed, 'seed', 1, { int: true, min: 0 }),
    serverLogLevel: v['server-log-level'] ?? DEFAULTS.serverLogLevel,
    log: v.quiet ? () => undefined : log,
    warn: log,
  };
  return {
    base,
    json: v.json,
    help: v.help,
    capacity: {
      steps: list(v.steps, 'steps', [10_000, 20_000, 40_000, 60_000, 80_000, 100_000]),
      stepDurationS: num(v['step-duration'], 'step-duration', 120, { min: 10 }),
      p99ObjectiveMs: num(v['objective-ms'], 'objective-ms', 250, { min: 1 }),
      maxErrorRate: num(v['max-error-rate'], 'max-error-rate', 0.001, { min: 0, max: 1 }),
      nodes: list(v.nodes, 'nodes', [2, 4, 8]),
    },
  };
}

export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

const stdio: CliOutput = { out: (t) => void process.stdout.write(t), err: (t) => void process.stderr.write(t) };

/** Runs `loadtest` or `capacity`; returns the exit code. */
export async function loadtestCli(
  command: 'loadtest' | 'capacity',
  args: string[],
  config: Pick<Config, 'db' | 'redis'>,
  io: CliOutput = stdio,
): Promise<number> {
  const err = (l: string): void => io.err(`${l}\n`);
  try {
    const p = parseLoadtestArgs(args, config, err);
    if (p.help) {
      io.out(LOADTEST_USAGE);
      return 0;
    }
    if (command === 'loadtest') {
      const r = await runLoadtest(p.base);
      io.out(`${p.json ? JSON.stringify(r.summary) : humanSummary(r.summary)}\n`);
      return (r.summary.lost_answers ?? 0) > 0 || r.summary.resume_mismatches > 0 ? 3 : 0;
    }
    const { candidates: _c, reportDir, ...base } = p.base;
    const report = await runCapacity({
      base: { ...base, durationS: p.capacity.stepDurationS, submitWindowS: Math.min(p.base.submitWindowS, p.capacity.stepDurationS / 10) },
      steps: p.capacity.steps,
      p99ObjectiveMs: p.capacity.p99ObjectiveMs,
      maxErrorRate: p.capacity.maxErrorRate,
      nodes: p.capacity.nodes,
      reportDir,
    });
    if (p.json) io.out(`${JSON.stringify(report)}\n`);
    else {
      const lines = [
        `highest step that held: ${report.highest_held === null ? 'none' : `${report.highest_held.toLocaleString('en-US')} candidates`}`,
        `bottleneck observed ${report.bottleneck}`,
        ...report.projection.map((x) => `PROJECTION (not measured): ${x.nodes} nodes ≈ ${x.candidates.toLocaleString('en-US')} candidates, limited by ${x.limited_by}`),
        report.projection_basis,
        ...(report.report ? [`report: ${report.report}`] : []),
      ];
      io.out(`${lines.join('\n')}\n`);
    }
    return report.steps.some((s) => (s.lost_answers ?? 0) > 0) ? 3 : 0;
  } catch (e) {
    if (e instanceof UsageError || e instanceof TargetError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      err(`examday ${command}: ${e.message}`);
      err(`run \`examday ${command} --help\` for the options`);
      return 2;
    }
    throw e;
  }
}
