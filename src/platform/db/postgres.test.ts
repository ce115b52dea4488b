/** The PostgreSQL adapter's named statements: planned once per connection, off on request (PgBouncer < 1.21). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql, type Transaction } from 'kysely';
import { createTestPostgresDatabase } from '../../testing/db.ts';
import type { Database, Db } from './index.ts';
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

describe('PostgreSQL adapter: kept connections', { skip: url ? false : 'DATABASE_URL not set' }, () => {
  let created: { url: string; drop(): Promise<void> };
  before(async () => {
    created = await createTestPostgresDatabase(url!);
  });
  after(() => created.drop());

  const open = (poolMin: number | undefined): Promise<Db> =>
    openPostgres({ url: created.url, poolMax: 4, poolMin, statementTimeoutMs: 0, slowQueryMs: 60_000 });

  async function serverSide(db: Db): Promise<number> {
    const r = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'examday'`.execute(
      db.kysely,
    );
    return r.rows[0]!.n;
  }

  it('opens the kept connections at start, and only one (the reachability check) without', async () => {
    const warm = await open(3);
    try {
      assert.equal(warm.poolStats().total, 3);
      assert.equal(await serverSide(warm), 3, 'the query reuses a kept connection');
    } finally {
      await warm.close();
    }
    const cold = await open(undefined);
    try {
      assert.equal(cold.poolStats().total, 1);
    } finally {
      await cold.close();
    }
  });

  it('fails at start, with nothing left open, when the server is unreachable', async () => {
    const u = new URL(created.url);
    u.port = '1';
    await assert.rejects(openPostgres({ url: u.toString(), poolMax: 4, poolMin: 3, statementTimeoutMs: 0, slowQueryMs: 60_000 }), /ECONNREFUSED/);
  });
});

const bouncerUrl = process.env.PGBOUNCER_URL;

describe('PostgreSQL adapter behind PgBouncer in transaction mode', {
  skip: url && bouncerUrl ? false : 'DATABASE_URL and PGBOUNCER_URL not set',
}, () => {
  let created: { url: string; drop(): Promise<void> };
  let through: string;
  before(async () => {
    created = await createTestPostgresDatabase(url!);
    const u = new URL(bouncerUrl!);
    u.pathname = new URL(created.url).pathname;
    through = u.toString();
  });
  after(() => created.drop());

  const open = (o: { preparedStatements?: boolean; statementTimeoutMs?: number; onNamedStatementsLost?: (e: unknown) => void }) =>
    openPostgres({ url: through, poolMax: 1, statementTimeoutMs: 0, slowQueryMs: 60_000, ...o });

  it('says what to set when the pooler refuses the statement timeout', async () => {
    await assert.rejects(open({ statementTimeoutMs: 5_000 }), (err: Error) => {
      assert.match(err.message, /unsupported startup parameter: statement_timeout/);
      assert.match(err.message, /DATABASE_STATEMENT_TIMEOUT_MS=0/);
      return true;
    });
  });

  it('turns named statements off at the first one the server connection lacks, and the query still answers', async () => {
    // Two pools of one connection each, taking turns: PgBouncer hands the
    // server connection the first one prepared on to the second, whose
    // client has not parsed that name there ("already exists"), and back.
    const lost: unknown[] = [];
    const a = await open({ preparedStatements: true, onNamedStatementsLost: (e) => lost.push(e) });
    const b = await open({ preparedStatements: true, onNamedStatementsLost: (e) => lost.push(e) });
    try {
      for (let i = 0; i < 5; i++) {
        for (const db of [a, b]) {
          assert.deepEqual(await usersByEmail(db, `nobody${i}@example.org`), []);
          await db.kysely.transaction().execute(async (tx) => {
            assert.deepEqual(await usersByEmail(tx, `tx${i}@example.org`), []);
          });
        }
      }
      assert.ok(lost.length >= 1 && lost.length <= 2, `reported once per pool at most: ${lost.length}`);
      assert.match(String((lost[0] as { code?: string }).code), /^(26000|42P05)$/);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('never names a statement when turned off', async () => {
    const lost: unknown[] = [];
    const a = await open({ preparedStatements: false, onNamedStatementsLost: (e) => lost.push(e) });
    const b = await open({ preparedStatements: false, onNamedStatementsLost: (e) => lost.push(e) });
    try {
      for (let i = 0; i < 5; i++) for (const db of [a, b]) assert.deepEqual(await usersByEmail(db, `x${i}@example.org`), []);
      assert.equal(lost.length, 0);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

function usersByEmail(db: Db | Transaction<Database>, email: string) {
  const k = 'kysely' in db ? db.kysely : db;
  return k.selectFrom('users').select(['id', 'email']).where('email', '=', email).execute();
}
