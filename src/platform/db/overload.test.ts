/** isDatabaseOverloaded against the real errors PostgreSQL and pg-pool raise when saturated. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { isDatabaseOverloaded } from './index.ts';

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
