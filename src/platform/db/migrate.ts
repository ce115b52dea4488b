/**
 * Plain-SQL migrations from `migrations/NNNN_name.sql`, applied in name order,
 * each in its own transaction, recorded in `schema_migrations`. A lock keeps
 * two processes starting at once from applying the same file twice.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db } from './index.ts';

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../migrations');
const LOCK_ID = 7_310_422_001;

export async function listMigrations(dir = MIGRATIONS_DIR): Promise<{ name: string; sql: string }[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  return Promise.all(files.map(async (name) => ({ name, sql: await readFile(path.join(dir, name), 'utf8') })));
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(db: Db, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await listMigrations(dir);
  await db.execScript(
    `CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());`,
  );
  const done = new Set(
    (await db.kysely.selectFrom('schema_migrations' as never).select('name' as never).execute()).map(
      (r) => (r as { name: string }).name,
    ),
  );
  const applied: string[] = [];
  for (const m of migrations.filter((x) => !done.has(x.name))) {
    const name = m.name.replace(/'/g, "''");
    // One script per migration: lock, skip if done, apply, record — atomically.
    const script = `
      BEGIN;
      SELECT pg_advisory_xact_lock(${LOCK_ID});
      DO $examday$ BEGIN
        IF EXISTS (SELECT 1 FROM schema_migrations WHERE name = '${name}') THEN
          RAISE EXCEPTION 'examday-migration-already-applied';
        END IF;
      END $examday$;
      ${m.sql}
      ;
      INSERT INTO schema_migrations (name) VALUES ('${name}');
      COMMIT;`;
    try {
      await db.execScript(script);
      applied.push(m.name);
    } catch (err) {
      if (err instanceof Error && err.message.includes('examday-migration-already-applied')) continue;
      throw new Error(`migration ${m.name} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
  return applied;
}
