/**
 * The deployment's database as the harness sees it: to seed candidates before
 * a run and to read answers back after it. An embedded (PGlite) database can
 * be opened by one process at a time, so the harness opens it only while the
 * server is stopped.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../platform/db/index.ts';
import { migrate } from '../platform/db/migrate.ts';

export type DatabaseChoice =
  | { kind: 'postgres'; url: string }
  /** `dataDir` is examday's data dir (EXAMDAY_DATA_DIR); the database lives in its `pgdata`. */
  | { kind: 'pglite'; dataDir: string };

const quiet = { slowQueryMs: 600_000 };

/** Open (and migrate) the database; the caller closes it. */
export async function openDatabase(choice: DatabaseChoice): Promise<Db> {
  let db: Db;
  if (choice.kind === 'postgres') {
    const { openPostgres } = await import('../platform/db/postgres.ts');
    db = await openPostgres({ ...quiet, url: choice.url, poolMax: 4, statementTimeoutMs: 0, applicationName: 'examday-loadtest' });
  } else {
    const { openPglite } = await import('../platform/db/pglite.ts');
    const dir = path.join(choice.dataDir, 'pgdata');
    await mkdir(dir, { recursive: true });
    db = await openPglite({ ...quiet, dataDir: dir });
  }
  try {
    await migrate(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

export function describeDatabase(choice: DatabaseChoice): string {
  if (choice.kind === 'pglite') return `PGlite (${choice.dataDir})`;
  const u = new URL(choice.url);
  return `PostgreSQL (${u.hostname}:${u.port || 5432}${u.pathname})`;
}
