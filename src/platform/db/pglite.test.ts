/** The PGlite adapter's named statements: each shape parsed once, values and results as `PGlite.query` gives them. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { openTestPglite } from '../../testing/db.ts';
import type { Db } from './index.ts';

async function prepared(db: Db): Promise<string[]> {
  const r = await sql<{ name: string }>`SELECT name FROM pg_prepared_statements WHERE NOT from_sql ORDER BY name`.execute(db.kysely);
  return r.rows.map((x) => x.name);
}

const at = new Date('2026-11-22T09:30:00.123Z');

/** One of each value kind the services send and read back. */
const typed = (db: Db) =>
  sql<{ big: string; num: string; doc: unknown; ts: Date; flag: boolean; tags: string[]; nothing: string | null; word: string }>`
    SELECT ${'9007199254740993'}::int8 AS big, ${'12.50'}::numeric AS num, ${{ a: [1, 'two'], b: null }}::jsonb AS doc,
           ${at}::timestamptz AS ts, ${true}::bool AS flag, ${['x', 'y,z']}::text[] AS tags, ${null}::text AS nothing, ${"it's"} AS word`.execute(
    db.kysely,
  );

async function withDb<T>(preparedStatements: boolean, fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openTestPglite({ preparedStatements });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

describe('PGlite adapter: named statements', () => {
  it('returns the same values named as unnamed: int8 and numeric as strings, jsonb, timestamptz, bool, arrays, null', async () => {
    const named = await withDb(true, async (db) => (await typed(db)).rows);
    const unnamed = await withDb(false, async (db) => (await typed(db)).rows);
    assert.deepEqual(named, unnamed);
    assert.deepEqual(named, [
      { big: '9007199254740993', num: '12.50', doc: { a: [1, 'two'], b: null }, ts: at, flag: true, tags: ['x', 'y,z'], nothing: null, word: "it's" },
    ]);
  });

  it('parses each shape once and reuses it; a long list and the unnamed mode prepare nothing', async () => {
    await withDb(true, async (db) => {
      const byEmail = (email: string) => db.kysely.selectFrom('users').select(['id', 'email']).where('email', '=', email).execute();
      assert.deepEqual(await byEmail('nobody@example.org'), []);
      const first = await prepared(db);
      assert.equal(first.length, 2, `the lookup and the listing itself: ${first.join(', ')}`);
      await byEmail('someone@example.org');
      assert.deepEqual(await prepared(db), first, 'no new statement for a shape already prepared');
      const ids = Array.from({ length: 40 }, () => '00000000-0000-4000-8000-000000000000');
      assert.deepEqual(await db.kysely.selectFrom('users').select('id').where('id', 'in', ids).execute(), []);
      assert.deepEqual(await prepared(db), first, 'the 40-id list ran unnamed');
    });
    await withDb(false, async (db) => {
      await db.kysely.selectFrom('users').select('id').where('email', '=', 'x@example.org').execute();
      assert.deepEqual(await prepared(db), []);
    });
  });

  it('reports rows affected, and errors with their SQLSTATE, leaving the connection usable', async () => {
    await withDb(true, async (db) => {
      const insert = (email: string) =>
        db.kysely.insertInto('users').values({ role: 'candidate', email, name: 'N' }).returning('id').executeTakeFirstOrThrow();
      await insert('a@example.org');
      await assert.rejects(insert('a@example.org'), (err: { code?: string }) => err.code === '23505');
      const upd = await db.kysely.updateTable('users').set({ name: 'M' }).where('email', '=', 'a@example.org').executeTakeFirst();
      assert.equal(upd.numUpdatedRows, 1n);

      // An error inside a transaction rolls it back and the next one starts clean.
      await assert.rejects(
        db.kysely.transaction().execute(async (tx) => {
          await tx.updateTable('users').set({ name: 'in tx' }).where('email', '=', 'a@example.org').execute();
          await sql`SELECT 1 / ${0}::int`.execute(tx);
        }),
        (err: { code?: string }) => err.code === '22012',
      );
      const row = await db.kysely.selectFrom('users').select('name').where('email', '=', 'a@example.org').executeTakeFirstOrThrow();
      assert.equal(row.name, 'M');

      // A statement that does not parse is not remembered; its next attempt fails the same way.
      for (let i = 0; i < 2; i++) await assert.rejects(sql`SELEC ${1}`.execute(db.kysely), (err: { code?: string }) => err.code === '42601');
      assert.equal((await sql<{ one: number }>`SELECT ${1}::int AS one`.execute(db.kysely)).rows[0]?.one, 1);
    });
  });
});

describe('PGlite adapter: turns with I/O', () => {
  it('a long chain of awaited queries lets a waiting HTTP request be answered before it ends', async () => {
    // PGlite answers in the same turn of the event loop; without turns this
    // chain would run all its queries before the server saw the request.
    const server = createServer((_req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      await withDb(true, async (db) => {
        let answered = false;
        const reply = fetch(`http://127.0.0.1:${port}/`).then(async (r) => {
          await r.text();
          answered = true;
        });
        let queries = 0;
        const limit = 50_000;
        while (!answered && queries < limit) {
          await sql`SELECT ${queries}::int AS n`.execute(db.kysely);
          queries++;
        }
        await reply;
        assert.ok(queries < limit, `the request was answered only after all ${limit} queries`);
      });
    } finally {
      server.close();
    }
  });
});
