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
  });
}
