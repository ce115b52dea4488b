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
 * Left on behind such a pooler, the first "prepared statement does not
 * exist" (or "already exists") turns naming off for the pool, is reported
 * through `onNamedStatementsLost`, and the query is sent again unnamed when
 * no transaction was open (nothing ran: the server refused it before
 * executing); inside a transaction that one transaction fails.
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
  /** Named statements went missing between uses (a transaction-mode pooler); naming is now off. */
  onNamedStatementsLost?: (error: unknown) => void;
}

/** Query shapes given a name; past this, new shapes run unnamed (bounds server memory per connection). */
const MAX_NAMED = 1000;
/** Statements with more parameters are variable-length lists (`IN (…)` of a batch): not worth naming. */
const MAX_NAMED_PARAMS = 32;

/** SQLSTATEs of a named statement the server connection does not have, or already has under that name. */
const LOST_STATEMENT = new Set(['26000', '42P05']);
const isLostStatement = (err: unknown): boolean =>
  err instanceof Error && LOST_STATEMENT.has((err as Error & { code?: string }).code ?? '');

/** What Kysely sends to open and end a transaction (and savepoints, which stay inside one). */
const TX_BEGIN = /^\s*(begin|start\s+transaction)\b/i;
const TX_END = /^\s*(commit|rollback|end|abort)\b(?!\s+to\b)/i;

/**
 * A pool whose clients send each query shape as a named statement. Names are
 * derived from the SQL text, so every connection and process agrees on them.
 */
function preparingPool(pool: pg.Pool, onLost: (error: unknown) => void): PostgresPool {
  let naming = true;
  const names = new Map<string, string>();
  const nameFor = (text: string, params: number): string | undefined => {
    if (!naming || params > MAX_NAMED_PARAMS) return undefined;
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
      let inTransaction = false;
      async function run(text: string, values: unknown[]): Promise<pg.QueryResult> {
        const name = nameFor(text, values.length);
        const opened = inTransaction;
        if (TX_BEGIN.test(text)) inTransaction = true;
        else if (TX_END.test(text)) inTransaction = false;
        if (!name) return client.query({ text, values });
        try {
          return await client.query({ name, text, values });
        } catch (err) {
          if (!isLostStatement(err)) throw err;
          if (naming) {
            naming = false;
            onLost(err);
          }
          if (opened) throw err;
          inTransaction = TX_BEGIN.test(text);
          return client.query({ text, values });
        }
      }
      function query<R>(sql: string, parameters: readonly unknown[]): Promise<PostgresQueryResult<R>>;
      function query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
      function query<R>(sql: string | PostgresCursor<R>, parameters?: readonly unknown[]): unknown {
        if (typeof sql !== 'string') return client.query(sql as unknown as pg.Submittable); // a cursor (streaming)
        return run(sql, [...(parameters ?? [])]);
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
  // A client that loses its server must not crash the process. pg-pool listens
  // on idle clients only (reported here); a client checked out for a statement
  // (every Kysely query) whose connection is cut also emits 'error', with no
  // listener: an uncaught exception. Each client gets a listener for its whole
  // life. It has nothing to do: the statement in flight already rejects with
  // the error, a later one with "not queryable", and the pool drops the client.
  pool.on('error', (err) => opts.onQueryError?.({ sql: '(idle connection)', error: err }));
  pool.on('connect', (client) => client.on('error', ignoreLostConnection));
  const kysely = new Kysely<Database>({
    dialect: new PostgresDialect({
      pool: opts.preparedStatements ? preparingPool(pool, (err) => opts.onNamedStatementsLost?.(err)) : pool,
    }),
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
    throw explainConnectError(failed.reason);
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

function ignoreLostConnection(): void {}

/** PgBouncer's refusal of the timeout examday sends at connect, with what to do about it. */
function explainConnectError(err: unknown): unknown {
  if (err instanceof Error && /unsupported startup parameter: statement_timeout/.test(err.message)) {
    return new Error(
      `${err.message} — DATABASE_URL points at a pooler (PgBouncer) that does not take the statement timeout examday sends: ` +
        "set DATABASE_STATEMENT_TIMEOUT_MS=0 and give the role one instead (ALTER ROLE … SET statement_timeout = '10s'), " +
        "or add statement_timeout to the pooler's ignore_startup_parameters",
      { cause: err },
    );
  }
  return err;
}
