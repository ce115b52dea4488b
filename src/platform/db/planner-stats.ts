/**
 * Keeps PostgreSQL's picture of table sizes current while tables fill fast.
 *
 * On exam day `attempts`, `responses` and `refresh_tokens` grow from a few
 * rows to tens of thousands within a minute. A named statement planned while
 * a table is (nearly) empty keeps a plan that scans it whole, and that plan
 * stays cached on every pooled connection until the table is analyzed again:
 * measured on a 10,000-row `attempts`, the candidate's bookings list went from
 * 0.1 ms to 2.3 ms per call with such a plan. PostgreSQL's autovacuum analyzes
 * at most once per `autovacuum_naptime` (a minute by default) — the whole
 * start storm — and the embedded PGlite has no autovacuum at all.
 *
 * So the worker checks every few seconds how big each table really is against
 * what the planner last recorded (`pg_class.relpages`) and runs `ANALYZE` on a
 * table once it has grown four-fold. That happens a handful of times per table
 * (4, 16, 64, … pages); each `ANALYZE` samples at most 30,000 rows, and the new
 * statistics make every connection re-plan its statements on their next use.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';

/** Re-analyze a table once it holds this many times the pages the planner knows of. */
export const GROWTH_FACTOR = 4;
/** Tables smaller than this are left alone (a few rows, any plan is fast). */
export const MIN_PAGES = 4;

export interface PlannerStatsKeeper {
  /** One check now; resolves to the tables analyzed. */
  check(): Promise<string[]>;
  close(): Promise<void>;
}

export interface PlannerStatsOptions {
  everyMs: number;
  log: { info(o: object, msg: string): void; warn(o: object, msg: string): void };
}

/** Tables of the current schema that outgrew what the planner knows of them. */
async function outgrown(db: Kysely<Database>): Promise<{ name: string; known: number; pages: number }[]> {
  const r = await sql<{ name: string; known: number; pages: string }>`
    SELECT c.relname AS name, c.relpages AS known,
           pg_relation_size(c.oid) / current_setting('block_size')::int AS pages
      FROM pg_class c
     WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'`.execute(db);
  return r.rows
    .map((x) => ({ name: x.name, known: x.known, pages: Number(x.pages) }))
    .filter((x) => x.pages >= MIN_PAGES && x.pages >= GROWTH_FACTOR * Math.max(x.known, 1));
}

export function keepPlannerStats(db: Kysely<Database>, opts: PlannerStatsOptions): PlannerStatsKeeper {
  let running: Promise<string[]> | undefined;
  let disabled = false;

  const check = (): Promise<string[]> => {
    running ??= (async () => {
      const analyzed: string[] = [];
      if (disabled) return analyzed;
      for (const t of await outgrown(db)) {
        const started = performance.now();
        try {
          await sql`ANALYZE ${sql.id(t.name)}`.execute(db);
        } catch (err) {
          if ((err as { code?: unknown }).code !== '42501') throw err;
          // Not the table's owner (a deployment with separate roles): autovacuum remains.
          disabled = true;
          opts.log.warn({ err, table: t.name }, 'not allowed to ANALYZE; planner statistics are left to autovacuum');
          break;
        }
        analyzed.push(t.name);
        opts.log.info(
          { table: t.name, pagesKnown: t.known, pages: t.pages, ms: Math.round(performance.now() - started) },
          'table outgrew its planner statistics; analyzed',
        );
      }
      return analyzed;
    })().finally(() => (running = undefined));
    return running;
  };

  const timer = setInterval(() => {
    check().catch((err: unknown) => opts.log.warn({ err }, 'planner statistics check failed'));
  }, opts.everyMs);
  timer.unref();

  return {
    check,
    async close() {
      clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
