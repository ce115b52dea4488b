/**
 * Embedded adapter: PGlite (PostgreSQL in WASM) with its files under the data
 * dir, or in memory when no directory is given (tests).
 *
 * PGlite has a single connection, so the Kysely driver below hands it to one
 * caller at a time (a FIFO mutex); a transaction holds it from BEGIN to COMMIT.
 */
import { PGlite } from '@electric-sql/pglite';
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

class PgliteConnection implements DatabaseConnection {
  constructor(private readonly pg: PGlite) {}
  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const res = await this.pg.query<R>(query.sql, query.parameters as unknown[], { rowMode: 'object' });
    const affected = res.affectedRows;
    return {
      rows: res.rows,
      ...(affected !== undefined ? { numAffectedRows: BigInt(affected) } : {}),
    };
  }
  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported on the embedded database');
  }
}

class PgliteDriver implements Driver {
  readonly mutex = new Mutex();
  readonly #releases = new WeakMap<DatabaseConnection, () => void>();
  readonly #conn: PgliteConnection;
  constructor(private readonly pg: PGlite) {
    this.#conn = new PgliteConnection(pg);
  }
  async init(): Promise<void> {
    await this.pg.waitReady;
  }
  async acquireConnection(): Promise<DatabaseConnection> {
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
}

export async function openPglite(opts: PgliteOptions): Promise<Db & { dump(): Promise<Blob> }> {
  const pg = new PGlite(opts.dataDir ?? 'memory://', {
    ...(opts.loadDataDir ? { loadDataDir: opts.loadDataDir } : {}),
    // Match node-postgres: int8 and numeric as strings, never lossy numbers.
    parsers: { 20: asString, 1700: asString },
  });
  await pg.waitReady;
  const driver = new PgliteDriver(pg);
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
