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
 *
 * A table can also go stale without growing. `attempts.status` moves from
 * in_progress to submitted to graded for every candidate within the submit
 * wave; statistics taken before it say no attempt is submitted, and the
 * grading statement (`… FROM unnest(ids) WHERE a.id = u.id AND a.status =
 * 'submitted'`) was then planned as a walk over every submitted attempt for
 * each id in the batch: measured on PGlite with 16,000 attempts, 1.1 s per
 * batch of 100 instead of 10–25 ms, every second of the wave with the event
 * loop stopped. The next exam day in the same database starts with the
 * opposite picture (everything graded). So for the columns named in
 * `STATE_COLUMNS` the keeper also analyzes once a tenth of the table's rows
 * changed since the last analysis (autovacuum's rule, without its one-minute
 * nap), and only those columns: 15–20 ms on that table instead of 115 ms.
 * `attempts.status` has a statistics target of 10 (migration 0005), so each
 * of those samples 3,000 rows rather than 30,000.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.ts';

/** Re-analyze a table once it holds this many times the pages the planner knows of. */
export const GROWTH_FACTOR = 4;
/** Tables smaller than this are left alone (a few rows, any plan is fast). */
export const MIN_PAGES = 4;

/** Columns whose values change in bulk on exam day and that hot statements filter on, by table. */
export const STATE_COLUMNS: Readonly<Record<string, readonly string[]>> = { attempts: ['status'] };
/** Share of a table's rows changed (inserted, updated, deleted) since its last analysis that makes its state columns stale. */
export const CHANGED_SHARE = 0.1;
/** Fewer changed rows than this never count as stale (small tables). */
export const MIN_CHANGED = 50;
/**
 * A table's state columns are analyzed at most this often. Inserts count as
 * changes, so while `attempts` fills in the storm a tenth of it changes every
 * second or two; its new rows are all in progress and the statistics need not
 * follow each one. In the wave the first analysis comes at once (the last was
 * long before), and one that shows a tenth of the attempts submitted is enough
 * for the planner to go by primary key.
 */
export const STATE_EVERY_MS = 10_000;

export interface PlannerStatsKeeper {
  /** One check now; resolves to the tables analyzed. */
  check(): Promise<string[]>;
  close(): Promise<void>;
}

export interface PlannerStatsOptions {
  everyMs: number;
  log: { info(o: object, msg: string): void; warn(o: object, msg: string): void };
  /** Overrides `STATE_COLUMNS` (tests). */
  stateColumns?: Readonly<Record<string, readonly string[]>>;
  /** Overrides `STATE_EVERY_MS` (tests). */
  stateEveryMs?: number;
}

interface Stale {
  name: string;
  /** Pages the planner knows of, and has now. */
  known: number;
  pages: number;
  /** PostgreSQL's count of rows changed since the table's last full analysis. */
  changed: number;
  /** The columns to analyze; all of them when the table grew. */
  columns: readonly string[] | 'all';
}

/**
 * Tables of the current schema that outgrew what the planner knows of them,
 * or whose state columns changed. `counted` is each table's change count when
 * its state columns were last analyzed: an analysis of some columns leaves
 * PostgreSQL's count as it was (it is reset only by a full one).
 */
async function stale(
  db: Kysely<Database>,
  stateColumns: Readonly<Record<string, readonly string[]>>,
  counted: ReadonlyMap<string, number>,
): Promise<Stale[]> {
  const r = await sql<{ name: string; known: number; pages: string; tuples: number; changed: string | null }>`
    SELECT c.relname AS name, c.relpages AS known,
           pg_relation_size(c.oid) / current_setting('block_size')::int AS pages,
           c.reltuples AS tuples, s.n_mod_since_analyze AS changed
      FROM pg_class c
      LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
     WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'`.execute(db);
  const out: Stale[] = [];
  for (const x of r.rows) {
    const pages = Number(x.pages);
    const changed = Number(x.changed ?? 0);
    const base = { name: x.name, known: x.known, pages, changed };
    const before = counted.get(x.name) ?? 0;
    // Below the last look: a full analysis (ours or autovacuum's) started the count again.
    const since = before <= changed ? changed - before : changed;
    if (pages >= MIN_PAGES && pages >= GROWTH_FACTOR * Math.max(x.known, 1)) {
      out.push({ ...base, columns: 'all' });
    } else if (stateColumns[x.name] && since >= Math.max(MIN_CHANGED, CHANGED_SHARE * Math.max(x.tuples, 0))) {
      out.push({ ...base, columns: stateColumns[x.name]! });
    }
  }
  return out;
}

export function keepPlannerStats(db: Kysely<Database>, opts: PlannerStatsOptions): PlannerStatsKeeper {
  let running: Promise<string[]> | undefined;
  let disabled = false;
  /** Change count of each table when its state columns were last analyzed. */
  const counted = new Map<string, number>();
  /** When each table was last analyzed, whole or its state columns (performance.now()). */
  const analyzedAt = new Map<string, number>();
  const stateEveryMs = opts.stateEveryMs ?? STATE_EVERY_MS;

  const check = (): Promise<string[]> => {
    running ??= (async () => {
      const analyzed: string[] = [];
      if (disabled) return analyzed;
      for (const t of await stale(db, opts.stateColumns ?? STATE_COLUMNS, counted)) {
        const started = performance.now();
        if (t.columns !== 'all' && started - (analyzedAt.get(t.name) ?? -Infinity) < stateEveryMs) continue;
        const target = t.columns === 'all' ? sql.id(t.name) : sql`${sql.id(t.name)} (${sql.join(t.columns.map((c) => sql.id(c)))})`;
        try {
          await sql`ANALYZE ${target}`.execute(db);
        } catch (err) {
          if ((err as { code?: unknown }).code !== '42501') throw err;
          // Not the table's owner (a deployment with separate roles): autovacuum remains.
          disabled = true;
          opts.log.warn({ err, table: t.name }, 'not allowed to ANALYZE; planner statistics are left to autovacuum');
          break;
        }
        analyzed.push(t.name);
        analyzedAt.set(t.name, performance.now());
        if (t.columns === 'all') counted.delete(t.name);
        else counted.set(t.name, t.changed);
        const ms = Math.round(performance.now() - started);
        if (t.columns === 'all') {
          opts.log.info({ table: t.name, pagesKnown: t.known, pages: t.pages, ms }, 'table outgrew its planner statistics; analyzed');
        } else {
          opts.log.info({ table: t.name, columns: t.columns, changedRows: t.changed, ms }, 'state columns changed since their statistics; analyzed');
        }
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
