/**
 * isDatabaseOverloaded and isDatabaseUnavailable against the real errors
 * PostgreSQL, pg-pool and the socket raise when the database is saturated or
 * gone (the outage through a TCP proxy the test cuts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startTcpProxy, throughProxy } from '../../testing/tcp-proxy.ts';
import { isDatabaseOverloaded, isDatabaseUnavailable } from './index.ts';

const url = process.env.DATABASE_URL;

describe('isDatabaseOverloaded', () => {
  it('is false for ordinary errors and non-errors', () => {
    assert.equal(isDatabaseOverloaded(new Error('duplicate key value violates unique constraint')), false);
    assert.equal(isDatabaseOverloaded(Object.assign(new Error('x'), { code: '23505' })), false);
    assert.equal(isDatabaseOverloaded('timeout exceeded when trying to connect'), false);
  });

  it('recognises a pool with no free connection in time and a statement timeout', { skip: url ? false : 'DATABASE_URL not set' }, async () => {
    const pool = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 100 });
    const held = await pool.connect();
    try {
      const waited = await pool.connect().then(
        (c) => {
          c.release();
          return null;
        },
        (err: unknown) => err,
      );
      assert.ok(isDatabaseOverloaded(waited), String(waited));
      await held.query('SET statement_timeout = 20');
      const slow = await held.query('SELECT pg_sleep(1)').then(
        () => null,
        (err: unknown) => err,
      );
      assert.ok(isDatabaseOverloaded(slow), String(slow));
    } finally {
      held.release(true);
      await pool.end();
    }
  });
});

/** The error `p` rejects with (fails if it resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => assert.fail('expected the query to fail'),
    (err: unknown) => err,
  );
}

describe('isDatabaseUnavailable', () => {
  it('is false for ordinary errors, saturation and non-errors', () => {
    assert.equal(isDatabaseUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' })), false);
    assert.equal(isDatabaseUnavailable(Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' })), false);
    assert.equal(isDatabaseUnavailable(new Error('timeout exceeded when trying to connect')), false);
    assert.equal(isDatabaseUnavailable({ code: 'ECONNREFUSED' }), false);
  });

  it('recognises a refused connection, a connection cut under a query, and a terminated backend', { skip: url ? false : 'DATABASE_URL not set' }, async () => {
    const target = new URL(url!);
    const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const pool = new pg.Pool({ connectionString: throughProxy(url!, proxy), max: 2 });
    pool.on('error', () => undefined); // an idle client losing its server; the pool drops it
    try {
      assert.equal((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);
      // Cut while a statement runs: the connection ends under it.
      const running = rejection(pool.query('SELECT pg_sleep(5)'));
      await new Promise((r) => setTimeout(r, 200));
      await proxy.cut();
      const cutUnder = await running;
      assert.ok(isDatabaseUnavailable(cutUnder), String(cutUnder));
      assert.equal(isDatabaseOverloaded(cutUnder), false);
      // While cut: a new connection is refused.
      const refused = await rejection(pool.query('SELECT 1'));
      assert.ok(isDatabaseUnavailable(refused), String(refused));
      // Back: the pool opens a new connection.
      await proxy.restore();
      assert.equal((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);

      // A backend terminated by the server (what a shutdown does to every session): 57P01.
      const client = await pool.connect();
      client.on('error', () => undefined); // checked out: the pool does not listen (postgres.ts does the same)
      const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      const killed = rejection(client.query('SELECT pg_sleep(5)'));
      await new Promise((r) => setTimeout(r, 100));
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      await admin.end();
      const terminated = await killed;
      client.release(true);
      assert.equal((terminated as { code?: string }).code, '57P01');
      assert.ok(isDatabaseUnavailable(terminated), String(terminated));
    } finally {
      await pool.end();
      await proxy.close();
    }
  });
});
