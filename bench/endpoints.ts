/**
 * CPU per request, by exam-day endpoint: where a candidate's sign-in, exam and
 * submit spend examday's and PostgreSQL's time.
 *
 * examday is started as `examday loadtest --embedded` starts it (PostgreSQL
 * when DATABASE_URL is set, else PGlite), 2 × N candidates are seeded, and each
 * request of the exam day is made once per candidate, C at a time over
 * keep-alive connections: login, the dashboard's bookings, start, paper,
 * autosave, resume, submit. The CPU time of the examday processes (and of
 * every PostgreSQL process) is read from /proc before and after each phase.
 * The first N candidates only warm the server up (JIT, caches, pools); the
 * figures are from the second N. The baseline in the same run is examday's
 * cheapest route through the whole HTTP stack, `GET /healthz`.
 *
 *   npm run bench -- endpoints
 *
 * Env: ENDPOINTS_BENCH_CANDIDATES (N, default 2000), ENDPOINTS_BENCH_CONCURRENCY
 * (C, default 20), DATABASE_URL, plus any examday variable for the server
 * (e.g. DATABASE_PREPARED_STATEMENTS=false for an A/B).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openDatabase, type DatabaseChoice } from '../src/loadtest/database.ts';
import { startDeployment, type Deployment } from '../src/loadtest/deployment.ts';
import { clientPaths } from '../src/loadtest/client-paths.ts';
import { Connection, buildRequest } from '../src/loadtest/http.ts';
import { dropLoad, seedLoad, type LoadCandidate } from '../src/modules/demo/seed.ts';
import { valueFor, type PaperQuestion } from '../src/testing/exam.ts';

const TICKS_PER_S = 100; // USER_HZ on Linux

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  ticks: number;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'latin1');
      const close = s.lastIndexOf(')');
      const f = s.slice(close + 2).split(' ');
      out.push({ pid: Number(d), ppid: Number(f[1]), comm: s.slice(s.indexOf('(') + 1, close), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU seconds so far of the deployment's processes (with their children) and of PostgreSQL's. */
function cpuNow(roots: number[]): { examday: number; postgres: number } {
  const all = processes();
  const ours = new Set(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) if (!ours.has(p.pid) && ours.has(p.ppid)) grew = ours.add(p.pid) !== undefined;
  }
  let examday = 0;
  let postgres = 0;
  for (const p of all) {
    if (ours.has(p.pid)) examday += p.ticks;
    else if (p.comm.startsWith('postgres')) postgres += p.ticks;
  }
  return { examday: examday / TICKS_PER_S, postgres: postgres / TICKS_PER_S };
}

interface Candidate extends LoadCandidate {
  token?: string;
  attemptId?: string;
  question?: PaperQuestion;
}

interface PhaseResult {
  examday_us: number;
  postgres_us: number;
  rps: number;
  errors: number;
}

async function phase(
  deployment: Deployment,
  candidates: Candidate[],
  concurrency: number,
  request: (c: Candidate, host: string) => string | undefined,
  onOk: (c: Candidate, body: unknown) => void = () => undefined,
): Promise<PhaseResult> {
  const host = deployment.url.host;
  const before = cpuNow(deployment.pids());
  const t0 = performance.now();
  let next = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const conn = new Connection({ host: deployment.url.hostname, port: Number(deployment.url.port) });
      try {
        while (next < candidates.length) {
          const c = candidates[next++]!;
          const req = request(c, host);
          if (req === undefined) {
            errors++;
            continue;
          }
          const r = await conn.send(req).catch(() => undefined);
          if (!r || r.status >= 300) {
            errors++;
            continue;
          }
          onOk(c, r.body.length > 0 ? JSON.parse(r.body.toString()) : undefined);
        }
      } finally {
        conn.close();
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const after = cpuNow(deployment.pids());
  const n = candidates.length;
  return {
    examday_us: Math.round((1e6 * (after.examday - before.examday)) / n),
    postgres_us: Math.round((1e6 * (after.postgres - before.postgres)) / n),
    rps: Math.round(n / seconds),
    errors,
  };
}

const auth = (c: Candidate): string | undefined => c.token;

/** The exam day once for each candidate; CPU per request by endpoint. */
async function examDay(d: Deployment, cs: Candidate[], conc: number): Promise<Record<string, PhaseResult>> {
  const out: Record<string, PhaseResult> = {};
  out.healthz = await phase(d, cs, conc, (_c, h) => buildRequest('GET', '/healthz', h, undefined));
  out.login = await phase(
    d,
    cs,
    conc,
    (c, h) => buildRequest('POST', '/api/v1/auth/access-code', h, undefined, JSON.stringify({ code: c.accessCode })),
    (c, b) => (c.token = (b as { accessToken: string }).accessToken),
  );
  out.bookings = await phase(d, cs, conc, (c, h) => buildRequest('GET', `/api/v1${clientPaths.dashboard()}`, h, auth(c)));
  out.start = await phase(
    d,
    cs,
    conc,
    (c, h) => buildRequest('POST', `/api/v1/bookings/${c.bookingId}/attempt`, h, auth(c)),
    (c, b) => (c.attemptId = (b as { id: string }).id),
  );
  out.paper = await phase(
    d,
    cs,
    conc,
    (c, h) => (c.attemptId ? buildRequest('GET', `/api/v1/attempts/${c.attemptId}/paper`, h, auth(c)) : undefined),
    (c, b) => (c.question = (b as { questions: PaperQuestion[] }).questions[0]),
  );
  out.autosave = await phase(d, cs, conc, (c, h) =>
    c.attemptId && c.question
      ? buildRequest(
          'PUT',
          `/api/v1/attempts/${c.attemptId}/answers`,
          h,
          auth(c),
          JSON.stringify({ answers: [{ questionId: c.question.id, value: valueFor(c.question, 1), seq: 1 }] }),
        )
      : undefined,
  );
  out.resume = await phase(d, cs, conc, (c, h) => (c.attemptId ? buildRequest('GET', `/api/v1/attempts/${c.attemptId}`, h, auth(c)) : undefined));
  out.submit = await phase(d, cs, conc, (c, h) =>
    c.attemptId ? buildRequest('POST', `/api/v1/attempts/${c.attemptId}/submit`, h, auth(c), '{}') : undefined,
  );
  return out;
}

export async function run(): Promise<object> {
  const n = Number(process.env.ENDPOINTS_BENCH_CANDIDATES ?? 2000);
  const concurrency = Number(process.env.ENDPOINTS_BENCH_CONCURRENCY ?? 20);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'examday-bench-endpoints-'));
  const db: DatabaseChoice = process.env.DATABASE_URL ? { kind: 'postgres', url: process.env.DATABASE_URL } : { kind: 'pglite', dataDir };
  const rows: LoadCandidate[] = [];
  const handle = await openDatabase(db);
  const { runTag } = await seedLoad({ db: handle }, { candidates: 2 * n, districts: 3, sessionsPerDistrict: 1 }, rows);
  await handle.close();
  const deployment = await startDeployment({ db, processes: 1, logLevel: 'warn', dataDir });
  try {
    await examDay(deployment, rows.slice(0, n), concurrency); // warm-up
    const measured = await examDay(deployment, rows.slice(n), concurrency);
    const errors = Object.values(measured).reduce((s, p) => s + p.errors, 0);
    return { database: db.kind, candidates: n, concurrency, cores: os.availableParallelism(), errors, endpoints: measured };
  } finally {
    await deployment.stop();
    if (db.kind === 'postgres') {
      const cleanup = await openDatabase(db);
      await dropLoad(cleanup.kysely, runTag).finally(() => cleanup.close());
    }
    await rm(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await run())}\n`);
}
