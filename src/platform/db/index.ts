/**
 * Database port. Services talk to the database only through `Db.kysely`
 * (a typed query builder over `schema.ts`), never through a driver.
 *
 * Guarantees every adapter gives:
 * - PostgreSQL semantics (PGlite is PostgreSQL compiled to WASM), so SQL,
 *   constraints, `ON CONFLICT`, `FOR UPDATE SKIP LOCKED` behave the same;
 * - `kysely.transaction()` is serializable with respect to other callers of the
 *   same connection (PGlite has one connection; the adapter queues callers);
 * - int8 and numeric columns come back as strings, timestamptz as Date;
 * - `close()` waits for in-flight queries and releases every connection.
 */
import type { Kysely } from 'kysely';
import { isConnectionFailure } from '../unavailable.ts';
import type { Database } from './schema.ts';

export type { Database } from './schema.ts';

export interface PoolStats {
  /** Connections open (PGlite: 1). */
  total: number;
  /** Connections checked out by a query or transaction. */
  inUse: number;
  /** Callers waiting for a connection. */
  waiting: number;
}

export interface Db {
  readonly kind: 'pglite' | 'postgres';
  readonly kysely: Kysely<Database>;
  /** Run a multi-statement SQL script without parameters (migrations, seeding). */
  execScript(sql: string): Promise<void>;
  poolStats(): PoolStats;
  close(): Promise<void>;
}

export interface DbOptions {
  /** Queries slower than this are reported through `onSlowQuery`. */
  slowQueryMs: number;
  onSlowQuery?: (info: { sql: string; ms: number }) => void;
  onQueryError?: (info: { sql: string; error: unknown }) => void;
}

/**
 * True for errors that mean "the database is saturated right now", not "this
 * request is wrong": no pooled connection freed up in time, the statement
 * timeout fired, or the server refused more connections. The HTTP layer
 * answers these 503 + Retry-After so clients back off and retry.
 */
export function isDatabaseOverloaded(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  // 57014 query_canceled (statement_timeout), 53300 too_many_connections.
  if (code === '57014' || code === '53300') return true;
  // pg-pool's messages when connectionTimeoutMillis passes without a free
  // connection, or while opening a new one to a server too busy to answer.
  return /timeout exceeded when trying to connect|connection terminated due to connection timeout/i.test(err.message);
}

/** SQLSTATEs of a server going away: 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up, shutting down, in recovery). */
const SERVER_GOING = new Set(['57P01', '57P02', '57P03']);

/**
 * True for errors that mean "the database cannot be reached right now", not
 * "this request is wrong": the connection was refused, reset or cut (a
 * restart, a failover, a network blip), the server is shutting down or
 * starting up, or class 08 (connection exception, also what PgBouncer sends
 * when it has no server). The statement did not take effect, or the client was
 * never told it did; either way the request is safe to retry, so the HTTP
 * layer answers 503 + Retry-After, and the pool opens new connections once
 * the server is back.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (isConnectionFailure(err)) return true;
  if (typeof code === 'string' && (SERVER_GOING.has(code) || code.startsWith('08'))) return true;
  // node-postgres's own messages for a connection that ended under a query, or a client used after it.
  return /^Connection terminated( unexpectedly)?$|^Client has encountered a connection error and is not queryable$/.test(err.message);
}
