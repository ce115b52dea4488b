/**
 * Embedded adapter: PGlite (PostgreSQL in WASM) with its files under the data
 * dir, or in memory when no directory is given (tests).
 *
 * PGlite has a single connection, so the Kysely driver below hands it to one
 * caller at a time (a FIFO mutex); a transaction holds it from BEGIN to COMMIT.
 *
 * PGlite runs in this thread and answers every query within the same turn of
 * the event loop, so a chain of awaited queries never lets I/O in: a worker
 * grading a backlog of 3,000 submits ran for 6 s with every socket unread. The
 * driver therefore hands the connection out in turns (`TurnBudget`).
 */
import { PGlite, parse, protocol, type Results } from '@electric-sql/pglite';
import {
  CompiledQuery,
  Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
} from 'kysely';
import type { Database, Db, DbOptions, PoolStats } from './index.ts';
import { queryLogger } from './kysely-log.ts';

const asString = (v: string): string => v;

class Mutex {
  #tail: Promise<void> = Promise.resolve();
  waiting = 0;
  held = false;
  async acquire(): Promise<() => void> {
    this.waiting++;
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const prev = this.#tail;
    this.#tail = prev.then(() => next);
    await prev;
    this.waiting--;
    this.held = true;
    return () => {
      this.held = false;
      release();
    };
  }
}

/** Database work one turn of the event loop may do before the next caller waits for the following turn. */
const TURN_BUDGET_MS = 10;

/**
 * Makes callers of an in-thread database take turns with I/O: once the
 * current turn of the event loop has spent `budgetMs` on queries, the next
 * caller waits for `setImmediate` — after the poll phase has read the sockets
 * that became ready meanwhile.
 */
export class TurnBudget {
  #turnStart = -1;
  readonly #endTurn = (): void => {
    this.#turnStart = -1;
  };
  constructor(private readonly budgetMs = TURN_BUDGET_MS) {}

  async take(): Promise<void> {
    if (this.#turnStart >= 0 && performance.now() - this.#turnStart >= this.budgetMs) {
      // Queued after #endTurn, so the turn has been reset when this resolves.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (this.#turnStart < 0) {
      this.#turnStart = performance.now();
      setImmediate(this.#endTurn);
    }
  }
}

/** Query shapes kept as named statements; past this, new shapes run unnamed (bounds the backend's memory). */
const MAX_NAMED = 1000;
/** Statements with more parameters are variable-length lists (`IN (…)` of a batch): not worth naming. */
const MAX_NAMED_PARAMS = 32;

interface Prepared {
  name: string;
  /** Parameter types as PostgreSQL inferred them: they pick each value's text serializer. */
  paramTypes: number[];
}

/**
 * The one connection. Each query shape is parsed once as a named statement
 * and then only bound and executed, all in one protocol round (Bind,
 * Describe, Execute, Sync): `PGlite.query` parses, plans and describes every
 * query anew in six rounds, and on the exam-day paths that was most of a
 * request's time.
 */
class PgliteConnection implements DatabaseConnection {
  readonly #prepared = new Map<string, Prepared>();
  constructor(
    private readonly pg: PGlite,
    private readonly named: boolean,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const params = query.parameters;
    const stmt = await this.#prepare(query.sql, params.length);
    const res = stmt
      ? await this.#execute<R>(stmt, params)
      : await this.pg.query<R>(query.sql, [...params], { rowMode: 'object' });
    const affected = res.affectedRows;
    return {
      rows: res.rows,
      ...(affected !== undefined ? { numAffectedRows: BigInt(affected) } : {}),
    };
  }

  async #prepare(sql: string, params: number): Promise<Prepared | undefined> {
    const known = this.#prepared.get(sql);
    if (known || !this.named || params > MAX_NAMED_PARAMS || this.#prepared.size >= MAX_NAMED) return known;
    const name = `s${this.#prepared.size + 1}`;
    // A statement that does not parse throws here and is not remembered.
    const { messages } = await this.pg.execProtocol(
      concat([protocol.serialize.parse({ name, text: sql }), protocol.serialize.describe({ type: 'S', name }), protocol.serialize.sync()]),
      { syncToFs: false },
    );
    const stmt = { name, paramTypes: parse.parseDescribeStatementResults(messages) };
    this.#prepared.set(sql, stmt);
    return stmt;
  }

  async #execute<R>(stmt: Prepared, params: readonly unknown[]): Promise<Results<R>> {
    const values = params.map((v, i) => {
      if (v === null || v === undefined) return null;
      const serialize = this.pg.serializers[stmt.paramTypes[i] ?? 0];
      if (serialize) return serialize(v);
      return asText(v);
    });
    const { messages } = await this.pg.execProtocol(
      concat([
        protocol.serialize.bind({ statement: stmt.name, values }),
        protocol.serialize.describe({ type: 'P' }),
        protocol.serialize.execute({}),
        protocol.serialize.sync(),
      ]),
    );
    return parse.parseResults(messages, this.pg.parsers, { rowMode: 'object' })[0] as Results<R>;
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported on the embedded database');
  }
}

/** A value whose parameter type has no serializer (text, uuid, …). */
function asText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return v.toISOString();
  return JSON.stringify(v);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

class PgliteDriver implements Driver {
  readonly mutex = new Mutex();
  readonly turns = new TurnBudget();
  readonly #releases = new WeakMap<DatabaseConnection, () => void>();
  readonly #conn: PgliteConnection;
  constructor(
    private readonly pg: PGlite,
    named: boolean,
  ) {
    this.#conn = new PgliteConnection(pg, named);
  }
  async init(): Promise<void> {
    await this.pg.waitReady;
  }
  async acquireConnection(): Promise<DatabaseConnection> {
    await this.turns.take();
    const release = await this.mutex.acquire();
    // One physical connection: the same object is handed out each time, so
    // remember only the current holder's release.
    this.#releases.set(this.#conn, release);
    return this.#conn;
  }
  async beginTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('BEGIN'));
  }
  async commitTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('COMMIT'));
  }
  async rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('ROLLBACK'));
  }
  async releaseConnection(conn: DatabaseConnection): Promise<void> {
    const release = this.#releases.get(conn);
    this.#releases.delete(conn);
    release?.();
  }
  async destroy(): Promise<void> {
    const release = await this.mutex.acquire();
    try {
      if (!this.pg.closed) await this.pg.close();
    } finally {
      release();
    }
  }
}

export interface PgliteOptions extends DbOptions {
  /** Directory for the database files; in memory when absent. */
  dataDir?: string;
  /** A `dumpDataDir()` tarball to start from (tests load a migrated template: ~1 s instead of ~6 s initdb). */
  loadDataDir?: Blob;
  /** Parse each query shape once as a named statement (default true; false sends every query through `PGlite.query`). */
  preparedStatements?: boolean;
}

export async function openPglite(opts: PgliteOptions): Promise<Db & { dump(): Promise<Blob> }> {
  const pg = new PGlite(opts.dataDir ?? 'memory://', {
    ...(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}),
    // Match node-postgres: int8 and numeric as strings, never lossy numbers.
    parsers: { 20: asString, 1700: asString },
  });
  await pg.waitReady;
  const driver = new PgliteDriver(pg, opts.preparedStatements ?? true);
  const dialect: Dialect = {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => driver,
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
  const kysely = new Kysely<Database>({ dialect, log: queryLogger(opts) });
  return {
    kind: 'pglite',
    kysely,
    async execScript(sql: string) {
      const release = await driver.mutex.acquire();
      try {
        await pg.exec(sql);
      } catch (err) {
        await pg.exec('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        release();
      }
    },
    async dump(): Promise<Blob> {
      const release = await driver.mutex.acquire();
      try {
        return await pg.dumpDataDir('none');
      } finally {
        release();
      }
    },
    poolStats(): PoolStats {
      return { total: 1, inUse: driver.mutex.held ? 1 : 0, waiting: driver.mutex.waiting };
    },
    async close() {
      await kysely.destroy();
    },
  };
}
