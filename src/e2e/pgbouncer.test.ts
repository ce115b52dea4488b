/**
 * examday behind PgBouncer in transaction mode (scripts/services.sh starts one
 * from deploy/pgbouncer.ini with 8 server connections per database, 5 more in
 * reserve): a short exam day through it with
 * the settings README.md gives for PgBouncer before 1.21
 * (`DATABASE_PREPARED_STATEMENTS=false`, `DATABASE_STATEMENT_TIMEOUT_MS=0`).
 * Migrations, seeding, two API processes and a job worker all go through the
 * pooler, on a database created empty for the test; candidates book first
 * (seat-capacity transactions), start, autosave (group commit), some resume,
 * all submit and are graded; every acknowledged answer is read back. The
 * pooler's own console shows the processes' connections sharing its few
 * server connections.
 * Skips unless DATABASE_URL, PGBOUNCER_URL and REDIS_URL are set.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/examday.mjs');
const CANDIDATES = 300;

const pgUrl = process.env.DATABASE_URL;
const bouncerUrl = process.env.PGBOUNCER_URL;
const redisUrl = process.env.REDIS_URL;
const skip = pgUrl && bouncerUrl && redisUrl ? false : 'needs DATABASE_URL, PGBOUNCER_URL and REDIS_URL';
if (skip) process.stderr.write('# notice: DATABASE_URL/PGBOUNCER_URL/REDIS_URL not set — PgBouncer test skipped\n');

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

interface Summary {
  errors: number;
  errors_by_code?: Record<string, number>;
  lost_answers: number;
  acked_answers: number;
  candidates_signed_in: number;
  candidates_submitted: number;
  resumes: number;
  resume_mismatches: number;
}

describe('examday behind PgBouncer in transaction mode', { skip }, () => {
  const database = `examday_pgb_${randomBytes(5).toString('hex')}`;
  before(async () => {
    await query(pgUrl!, `CREATE DATABASE ${database}`);
  });
  after(async () => {
    if (!skip) await query(pgUrl!, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });

  it('runs an exam day through the pooler: 0 errors, 0 lost answers, every candidate graded', async () => {
    const through = withDatabase(bouncerUrl!, database);
    const admin = withDatabase(bouncerUrl!, 'pgbouncer');
    // What the pooler holds for this database while the run goes on.
    let maxClients = 0;
    let maxServers = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const pools = await query<{ database: string; cl_active: number; cl_waiting: number; sv_active: number; sv_idle: number; sv_used: number; sv_tested: number; sv_login: number }>(
          admin,
          'SHOW POOLS',
        ).catch(() => []);
        for (const p of pools.filter((x) => x.database === database)) {
          maxClients = Math.max(maxClients, Number(p.cl_active) + Number(p.cl_waiting));
          maxServers = Math.max(maxServers, Number(p.sv_active) + Number(p.sv_idle) + Number(p.sv_used) + Number(p.sv_tested) + Number(p.sv_login));
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();

    const args = [
      'loadtest', '--embedded', '--database-url', through, '--candidates', String(CANDIDATES),
      '--server-processes', '2', '--booking-first', '--districts', '2', '--sessions', '2',
      '--duration', '20', '--storm', '4', '--autosave-every', '2', '--reload-share', '0.3',
      '--json', '--no-report', '--quiet', '--keep-data',
    ];
    const env = {
      ...process.env,
      DATABASE_PREPARED_STATEMENTS: 'false',
      DATABASE_STATEMENT_TIMEOUT_MS: '0',
      DATABASE_POOL_MAX: '10',
      REDIS_URL: redisUrl!,
      REDIS_PREFIX: `examday-pgb-${randomBytes(4).toString('hex')}`,
      // The harness is checked here, not this busy test machine's headroom.
      SHED_EVENT_LOOP_DELAY_MS: '0',
    };
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    sampling = false;
    await sampler;
    assert.equal(code, 0, `loadtest exited ${code}:\n${stderr.slice(-3000)}\n${stdout.slice(-2000)}`);

    const s = JSON.parse(stdout.trim().split('\n').at(-1)!) as Summary;
    assert.equal(s.errors, 0, `errors: ${JSON.stringify(s.errors_by_code)}`);
    assert.equal(s.candidates_signed_in, CANDIDATES);
    assert.equal(s.candidates_submitted, CANDIDATES);
    assert.ok(s.acked_answers > CANDIDATES, `acked ${s.acked_answers}`);
    assert.equal(s.lost_answers, 0);
    assert.ok(s.resumes > 0);
    assert.equal(s.resume_mismatches, 0);

    // Booked within capacity and every attempt submitted. Gradings still
    // queued when the run stopped its worker are graded by a new one.
    const direct = withDatabase(pgUrl!, database);
    const counts = () =>
      query<{ attempts: number; open: number; graded: number; over: number }>(
        direct,
        `SELECT (SELECT count(*)::int FROM attempts) AS attempts,
                (SELECT count(*)::int FROM attempts WHERE status = 'in_progress') AS open,
                (SELECT count(*)::int FROM attempts WHERE status = 'graded') AS graded,
                (SELECT count(*)::int FROM exam_sessions WHERE booked > capacity) AS over`,
      ).then((r) => r[0]!);
    const c = await counts();
    assert.equal(c.attempts, CANDIDATES);
    assert.equal(c.open, 0);
    assert.equal(c.over, 0);
    const worker = spawn(process.execPath, [BIN, 'worker'], { env: { ...env, DATABASE_URL: through, LOG_LEVEL: 'warn' }, stdio: 'ignore' });
    try {
      let graded = c.graded;
      for (const until = Date.now() + 60_000; graded < CANDIDATES && Date.now() < until; ) {
        await new Promise((r) => setTimeout(r, 250));
        graded = (await counts()).graded;
      }
      assert.equal(graded, CANDIDATES, 'every submitted attempt graded by a worker through the pooler');
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.on('close', r));
    }

    assert.ok(maxServers > 0 && maxServers <= 8 + 5, `server connections ${maxServers}`);
    assert.ok(maxClients > maxServers, `clients ${maxClients} shared ${maxServers} server connections`);
  });
});
