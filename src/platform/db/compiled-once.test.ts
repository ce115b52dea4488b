/** Queries compiled once: each call binds its own values and gets what a freshly built query gets. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { dbTargets } from '../../testing/db.ts';
import { compiledOnce } from './compiled-once.ts';

type Probe = {
  compiled_probe: { id: number; owner: string; status: string };
};

for (const target of dbTargets()) {
  describe(`compiledOnce (${target.name})`, () => {
    it('builds once and binds each call its own arguments, constants of the query left as they are', async () => {
      const db = await target.open();
      try {
        await db.execScript(`
          CREATE TABLE compiled_probe (id int PRIMARY KEY, owner text NOT NULL, status text NOT NULL);
          INSERT INTO compiled_probe SELECT g, 'o' || (g % 7), CASE WHEN g % 3 = 0 THEN 'closed' ELSE 'open' END
          FROM generate_series(1, 200) g;`);
        const k = db.kysely.withTables<Probe>();
        const fresh = (owners: string[], limit: number, status: string) =>
          k
            .selectFrom('compiled_probe')
            .select(['id', 'owner'])
            .where('owner', '=', sql<string>`ANY(${owners}::text[])`)
            .where('status', '=', status)
            .where('id', '>', 10) // a constant: stays the query's own parameter
            .orderBy('id')
            .limit(limit);
        let builds = 0;
        const once = compiledOnce(3, (owners: string[], limit: number, status: string) => {
          builds++;
          return fresh(owners, limit, status);
        });
        const cases: [string[], number, string][] = [
          [['o1', 'o2'], 5, 'open'],
          [['o3'], 100, 'closed'],
          [['o4', 'o5', 'o6'], 1, 'open'],
          [[], 10, 'open'],
        ];
        for (const [owners, limit, status] of cases) {
          const got = await once.execute(k, owners, limit, status);
          const want = await fresh(owners, limit, status).execute();
          assert.deepEqual(got, want, `${owners.join(',')} ${limit} ${status}`);
          if (owners.length > 0) assert.ok(got.length > 0, 'the probe finds rows');
        }
        assert.equal(builds, 1, 'built and compiled once');
        const a = once.bind(['o1'], 3, 'open');
        const b = once.bind(['o2'], 4, 'closed');
        assert.equal(a.sql, b.sql);
        assert.notEqual(a.queryId, b.queryId, 'each execution is its own query for plugins');
        assert.deepEqual(a.parameters.slice(0, 3), [['o1'], 'open', 10]);
      } finally {
        await db.close();
      }
    });
  });
}

describe('compiledOnce, misuse', () => {
  it('refuses an argument that does not become exactly one parameter', async () => {
    const target = dbTargets()[0]!;
    const db = await target.open();
    try {
      const k = db.kysely.withTables<Probe>();
      const twice = compiledOnce(1, (owner: string) => k.selectFrom('compiled_probe').select('id').where('owner', '=', owner).where('status', '=', owner));
      assert.throws(() => twice.bind('o1'), /argument 0 became 2 parameters/);
      const unused = compiledOnce(2, (owner: string, _status: string) => k.selectFrom('compiled_probe').select('id').where('owner', '=', owner));
      assert.throws(() => unused.bind('o1', 'open'), /argument 1 became 0 parameters/);
    } finally {
      await db.close();
    }
  });
});
