/**
 * PostgreSQL adapter (`DATABASE_URL`): a bounded node-postgres pool. No named
 * prepared statements and no session state, so it also works through
 * PgBouncer in transaction mode.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database, Db, DbOptions, PoolStats } from './index.ts';
import { queryLogger } from './kysely-log.ts';

export interface PostgresOptions extends DbOptions {
  url: string;
  poolMax: number;
  statementTimeoutMs: number;
  applicationName?: string;
}

export async function openPostgres(opts: PostgresOptions): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.poolMax,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 10_000,
    application_name: opts.applicationName ?? 'examday',
    ...(opts.statementTimeoutMs > 0 ? { statement_timeout: opts.statementTimeoutMs } : {}),
  });
  // An idle client that loses its server must not crash the process.
  pool.on('error', (err) => opts.onQueryError?.({ sql: '(idle connection)', error: err }));
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: queryLogger(opts) });
  // Fail at boot, not on the first request, when the server is unreachable.
  const client = await pool.connect();
  client.release();
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
