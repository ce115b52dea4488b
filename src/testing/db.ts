/**
 * Real databases for tests: a fresh, migrated database per call.
 * - PGlite always: loaded from a migrated template tarball cached under the OS
 *   temp dir (keyed by the migrations' hash), ~1 s instead of a 6 s initdb.
 * - PostgreSQL when `DATABASE_URL` is set (CI): a new database cloned from a
 *   migrated template database, dropped on close.
 * Test infrastructure may read the environment; application code may not.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Db } from '../platform/db/index.ts';
import { listMigrations, migrate } from '../platform/db/migrate.ts';
import { openPglite, type PgliteOptions } from '../platform/db/pglite.ts';
import { openPostgres } from '../platform/db/postgres.ts';

export interface DbTarget {
  name: 'pglite' | 'postgres';
  open(): Promise<Db>;
}

const quiet = { slowQueryMs: 60_000 };

async function migrationsHash(): Promise<string> {
  const h = createHash('sha256');
  for (const m of await listMigrations()) h.update(m.name).update(m.sql);
  return h.digest('hex').slice(0, 12);
}

let pgliteTemplate: Promise<Blob> | undefined;
async function loadPgliteTemplate(): Promise<Blob> {
  const dir = path.join(os.tmpdir(), 'examday-test');
  const file = path.join(dir, `pglite-${await migrationsHash()}.tar`);
  try {
    return new Blob([await readFile(file)]);
  } catch {
    const db = await openPglite(quiet);
    await migrate(db);
    const blob = await db.dump();
    await db.close();
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, Buffer.from(await blob.arrayBuffer()));
    await rename(tmp, file);
    return blob;
  }
}

export async function openTestPglite(opts: Pick<PgliteOptions, 'preparedStatements'> = {}): Promise<Db> {
  pgliteTemplate ??= loadPgliteTemplate();
  return openPglite({ ...quiet, ...opts, loadDataDir: await pgliteTemplate });
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function adminQuery<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new, migrated PostgreSQL database cloned from a template; `drop()` removes it. */
export async function createTestPostgresDatabase(url: string): Promise<{ url: string; drop(): Promise<void> }> {
  const template = `examday_tpl_${await migrationsHash()}`;
  const name = `examday_t_${randomBytes(6).toString('hex')}`;
  await adminQuery(url, async (c) => {
    // Serialise template creation and cloning across parallel test processes.
    await c.query('SELECT pg_advisory_lock(73104221)');
    try {
      const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [template]);
      if (exists.rowCount === 0) {
        await c.query(`CREATE DATABASE ${template}`);
        const db = await openPostgres({ ...quiet, url: withDatabase(url, template), poolMax: 1, statementTimeoutMs: 0 });
        try {
          await migrate(db);
        } catch (err) {
          await db.close();
          await c.query(`DROP DATABASE ${template}`);
          throw err;
        }
        await db.close();
      }
      await c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
    } finally {
      await c.query('SELECT pg_advisory_unlock(73104221)');
    }
  });
  return {
    url: withDatabase(url, name),
    drop: async () => {
      await adminQuery(url, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

export async function openTestPostgres(url: string): Promise<Db> {
  const created = await createTestPostgresDatabase(url);
  const db = await openPostgres({ ...quiet, url: created.url, poolMax: 10, statementTimeoutMs: 30_000 });
  const close = db.close.bind(db);
  return Object.assign(db, {
    async close() {
      await close();
      await created.drop();
    },
  });
}

/** The databases every data-access suite runs against. */
export function dbTargets(): DbTarget[] {
  const targets: DbTarget[] = [{ name: 'pglite', open: openTestPglite }];
  const url = process.env.DATABASE_URL;
  if (url) targets.push({ name: 'postgres', open: () => openTestPostgres(url) });
  else if (!noticeShown) {
    noticeShown = true;
    process.stderr.write('# notice: DATABASE_URL not set — PostgreSQL variants of the suites are skipped\n');
  }
  return targets;
}
let noticeShown = false;

export function redisUrl(): string | undefined {
  const url = process.env.REDIS_URL;
  if (!url && !redisNoticeShown) {
    redisNoticeShown = true;
    process.stderr.write('# notice: REDIS_URL not set — Redis/BullMQ variants of the suites are skipped\n');
  }
  return url;
}
let redisNoticeShown = false;
