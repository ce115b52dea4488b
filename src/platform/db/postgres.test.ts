/** The PostgreSQL adapter's named statements: planned once per connection, off on request (PgBouncer < 1.21). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createTestPostgresDatabase } from '../../testing/db.ts';
import type { Db } from './index.ts';
import { openPostgres } from './postgres.ts';

const url = process.env.DATABASE_URL;

describe('PostgreSQL adapter: prepared statements', { skip: url ? false : 'DATABASE_URL not set' }, () => {
  let created: { url: string; drop(): Promise<void> };
  before(async () => {
    created = await createTestPostgresDatabase(url!);
  });
  after(() => created.drop());

  // One connection, so the statements counted are the ones this pool prepared.
  const open = (preparedStatements: boolean): Promise<Db> =>
    openPostgres({ url: created.url, poolMax: 1, statementTimeoutMs: 0, slowQueryMs: 60_000, preparedStatements });

  async function named(db: Db): Promise<string[]> {
    const r = await sql<{ name: string }>`SELECT name FROM pg_prepared_statements WHERE NOT from_sql ORDER BY name`.execute(db.kysely);
    return r.rows.map((x) => x.name);
  }

  const usersNamed = (db: Db, email: string) =>
    db.kysely.selectFrom('users').select(['id', 'email']).where('email', '=', email).execute();

  it('prepares each query shape once and reuses it, with the same results', async () => {
    const db = await open(true);
    try {
      assert.deepEqual(await usersNamed(db, 'nobody@example.org'), []);
      assert.deepEqual(await usersNamed(db, 'someone@example.org'), []);
      const first = await named(db);
      assert.equal(first.filter((n) => n.startsWith('k')).length, 2, `the lookup and the listing itself: ${first.join(', ')}`);
      await usersNamed(db, 'third@example.org');
      assert.deepEqual(await named(db), first, 'no new statement for a shape already prepared');
      // A transaction still works, and a long variable list is sent unnamed.
      await db.kysely.transaction().execute(async (tx) => {
        const ids = Array.from({ length: 40 }, () => '00000000-0000-4000-8000-000000000000');
        assert.deepEqual(await tx.selectFrom('users').select('id').where('id', 'in', ids).execute(), []);
      });
      const after = await named(db);
      assert.ok(after.length <= first.length + 2, 'BEGIN/COMMIT may be named, the 40-id list is not');
    } finally {
      await db.close();
    }
  });

  it('sends every query unnamed when turned off', async () => {
    const db = await open(false);
    try {
      await usersNamed(db, 'nobody@example.org');
      await usersNamed(db, 'nobody@example.org');
      assert.deepEqual(await named(db), []);
    } finally {
      await db.close();
    }
  });
});
