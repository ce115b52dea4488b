/**
 * PostgreSQL adapter (`DATABASE_URL`): a bounded node-postgres pool, with no
 * session state.
 *
 * With `preparedStatements` (the server's default) each query shape is a
 * named statement, parsed and planned once per connection and then only
 * bound and executed: on the exam-day paths most of PostgreSQL's time per
 * request went to planning multi-table joins that run in microseconds.
 * PgBouncer in transaction mode before 1.21 cannot carry named statements
 * from one transaction to the next; there, turn them off
 * (`DATABASE_PREPARED_STATEMENTS=false`) and every query is sent unnamed.
 */
import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect, type PostgresCursor, type PostgresPool, type PostgresPoolClient, type PostgresQueryResult } from 'kysely';
import pg from 'pg';
import type { Database, Db, DbOptions, PoolStats } from './index.ts';
import { queryLogger } from './kysely-log.ts';

export interface PostgresOptions extends DbOptions {
  url: string;
  poolMax: number;
  /**
   * Connections opened at start and kept however long they idle (default 0:
   * opened on demand, closed after 30 s idle). Exam day begins with a storm
   * after a quiet hour; warm connections spare it the connection setup and
   * keep their prepared statements.
   */
  poolMin?: number;
  statementTimeoutMs: number;
  applicationName?: string;
  /** Name each query shape so PostgreSQL plans it once per connection (default false). */
  preparedStatements?: boolean;
}

/** Query shapes given a name; past this, new shapes run unnamed (bounds server memory per connection). */
const MAX_NAMED = 1000;
/** Statements with more parameters are variable-length lists (`IN (…)` of a batch): not worth naming. */
const MAX_NAMED_PARAMS = 32;

/**
 * A pool whose clients send each query shape as a named statement. Names are
 * derived from the SQL text, so every connection and process agrees on them.
 */
function preparingPool(pool: pg.Pool): PostgresPool {
  const names = new Map<string, string>();
  const nameFor = (text: string, params: number): string | undefined => {
    if (params > MAX_NAMED_PARAMS) return undefined;
    let name = names.get(text);
    if (name === undefined && names.size < MAX_NAMED) {
      name = `k${createHash('sha1').update(text).digest('base64url')}`;
      names.set(text, name);
    }
    return name;
  };
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client = await pool.connect();
      function query<R>(sql: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<R>>;
      function query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
      function query<R>(sql: string | PostgresCursor<R>, parameters?: readonly unknown[]): unknown {
        if (typeof sql !== 'string') return client.query(sql as unknown as pg.Submittable); // a cursor (streaming)
        const values = [...(parameters ?? [])];
        const name = nameFor(sql, values.length);
        return client.query(name ? { name, text: sql, values } : { text: sql, values });
      }
      return { query, release: () => client.release() };
    },
    end: () => pool.end(),
  };
}

export async function openPostgres(opts: PostgresOptions): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolMax,
    min: Math.min(opts.poolMin ?? 0, opts.poolMax),
    idleTimeoutMillis: 30_000,
    // Kept connections idle for hours; keepalives stop a firewall or NAT from silently dropping them.
    keepAlive: true,
    connectionTimeoutMillis: 10_000,
    application_name: opts.applicationName ?? 'examday',
    ...(opts.statementTimeoutMs > 0 ? { statement_timeout: opts.statementTimeoutMs } : {}),
  });
  // An idle client that loses its server must not crash the process.
  pool.on('error', (err) => opts.onQueryError?.({ sql: '(idle connection)', error: err }));
  const kysely = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: opts.preparedStatements ? preparingPool(pool) : pool }),
    log: queryLogger(opts),
  });
  // Fail at boot, not on the first request, when the server is unreachable; open the kept connections now.
  const opened = await Promise.allSettled(
    Array.from({ length: Math.max(1, Math.min(opts.poolMin ?? 0, opts.poolMax)) }, () => pool.connect()),
  );
  for (const o of opened) if (o.status === 'fulfilled') o.value.release();
  const failed = opened.find((o) => o.status === 'rejected');
  if (failed) {
    await pool.end();
    throw failed.reason;
  }
  return {
    kind: 'postgres',
    kysely,
    async execScript(sql: string) {
      const c = await pool.connect();
      try {
        await c.query(sql);
      } catch (err) {
        // A failed script may leave its transaction open on this connection.
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        c.release();
      }
    },
    poolStats(): PoolStats {
      return { total: pool.totalCount, inUse: pool.totalCount - pool.idleCount, waiting: pool.waitingCount };
    },
    async close() {
      await kysely.destroy();
    },
  };
}
