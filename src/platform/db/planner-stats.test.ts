/** The planner-statistics keeper: a statement planned on an empty table stops scanning it once the table has filled. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { dbTargets } from '../../testing/db.ts';
import { keepPlannerStats } from './planner-stats.ts';

const silent = { info: () => undefined, warn: () => undefined };

for (const target of dbTargets()) {
  describe(`planner statistics keeper (${target.name})`, () => {
    it('re-analyzes a table that filled after its statements were planned, so they use its index again', async () => {
      const db = await target.open();
      try {
        await db.execScript(`
          CREATE TABLE planner_probe (id int PRIMARY KEY, note text NOT NULL);
          ANALYZE planner_probe;`);
        // One connection throughout: a prepared statement lives on the connection that prepared it.
        // The keeper shares it too: PGlite has only the one.
        const plans = await db.kysely.connection().execute(async (c) => {
          const keeper = keepPlannerStats(c, { everyMs: 3_600_000, log: silent });
          const plan = async () => {
            const r = await sql<{ 'QUERY PLAN': string }>`EXPLAIN EXECUTE probe(42)`.execute(c);
            return r.rows.map((x) => x['QUERY PLAN']).join('\n');
          };
          await sql`SET plan_cache_mode = force_generic_plan`.execute(c);
          await sql`PREPARE probe(int) AS SELECT note FROM planner_probe WHERE id = $1`.execute(c);
          const empty = await plan();
          await sql`INSERT INTO planner_probe SELECT g, repeat('x', 40) FROM generate_series(1, 5000) g`.execute(c);
          const filled = await plan();
          const analyzed = await keeper.check();
          const after = await plan();
          const again = await keeper.check();
          await sql`DEALLOCATE probe`.execute(c);
          await sql`RESET plan_cache_mode`.execute(c);
          await keeper.close();
          return { empty, filled, analyzed, after, again };
        });
        assert.match(plans.empty, /Seq Scan on planner_probe/, 'planned on an empty table: a scan costs nothing');
        assert.match(plans.filled, /Seq Scan on planner_probe/, 'the cached plan outlives the table filling up');
        assert.ok(plans.analyzed.includes('planner_probe'), `analyzed: ${plans.analyzed.join(', ')}`);
        assert.match(plans.after, /Index Scan using planner_probe_pkey/, plans.after);
        assert.deepEqual(plans.again, [], 'nothing has grown since');
      } finally {
        await db.close();
      }
    });

    it('re-analyzes the state columns of a table whose rows changed state without it growing', async () => {
      const db = await target.open();
      try {
        await db.execScript(`
          CREATE TABLE state_probe (id int PRIMARY KEY, status text NOT NULL, note text NOT NULL);
          CREATE INDEX state_probe_status_idx ON state_probe (status);
          INSERT INTO state_probe SELECT g, 'open', repeat('x', 40) FROM generate_series(1, 5000) g;`);
        const result = await db.kysely.connection().execute(async (c) => {
          // The insert's row counts reach the statistics before the analysis, as they would minutes later.
          await sql`SELECT pg_stat_force_next_flush()`.execute(c);
          await sql`ANALYZE state_probe`.execute(c);
          const keeper = keepPlannerStats(c, { everyMs: 3_600_000, log: silent, stateColumns: { state_probe: ['status'] }, stateEveryMs: 0 });
          const plan = async () => {
            const r = await sql<{ 'QUERY PLAN': string }>`EXPLAIN EXECUTE probe('{1,2,3,4,5,6,7,8,9,10}')`.execute(c);
            return r.rows.map((x) => x['QUERY PLAN']).join('\n');
          };
          // The shape of the grading statement: a batch of ids, and only those in a given state.
          await sql`SET plan_cache_mode = force_generic_plan`.execute(c);
          await sql`PREPARE probe(int[]) AS
            SELECT p.id FROM state_probe p JOIN unnest($1) AS u(id) ON p.id = u.id WHERE p.status = 'closed'`.execute(c);
          const idle = await keeper.check();
          // Every row changes state: the table does not grow.
          await sql`UPDATE state_probe SET status = 'closed'`.execute(c);
          await sql`SELECT pg_stat_force_next_flush()`.execute(c);
          const stalePlan = await plan();
          const analyzed = await keeper.check();
          const after = await plan();
          const known = await sql<{ v: string }>`
            SELECT most_common_vals::text AS v FROM pg_stats WHERE tablename = 'state_probe' AND attname = 'status'`.execute(c);
          const again = await keeper.check();
          // Changed again right after an analysis: a keeper that analyzes state at most every hour waits.
          const hourly = keepPlannerStats(c, { everyMs: 3_600_000, log: silent, stateColumns: { state_probe: ['status'] }, stateEveryMs: 3_600_000 });
          await sql`UPDATE state_probe SET status = 'open'`.execute(c);
          await sql`SELECT pg_stat_force_next_flush()`.execute(c);
          const first = await hourly.check();
          await sql`UPDATE state_probe SET status = 'closed'`.execute(c);
          await sql`SELECT pg_stat_force_next_flush()`.execute(c);
          const tooSoon = await hourly.check();
          await hourly.close();
          await sql`DEALLOCATE probe`.execute(c);
          await sql`RESET plan_cache_mode`.execute(c);
          await keeper.close();
          return { idle, stalePlan, analyzed, after, known: known.rows[0]?.v, again, first, tooSoon };
        });
        assert.deepEqual(result.idle, [], 'nothing changed since the analysis');
        assert.doesNotMatch(result.stalePlan, /state_probe_pkey/, `stale statistics: no row is closed, so the state decides\n${result.stalePlan}`);
        assert.deepEqual(result.analyzed, ['state_probe']);
        assert.equal(result.known, '{closed}');
        assert.match(result.after, /Index Scan using state_probe_pkey/, result.after);
        assert.deepEqual(result.again, [], 'nothing changed since');
        assert.deepEqual(result.first, ['state_probe'], 'its first analysis comes at once');
        assert.deepEqual(result.tooSoon, [], 'the next waits for the interval');
      } finally {
        await db.close();
      }
    });
  });
}
