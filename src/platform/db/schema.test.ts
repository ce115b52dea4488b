/** Schema invariants that every migration must keep, checked on the migrated database. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { dbTargets } from '../../testing/db.ts';

for (const target of dbTargets()) {
  describe(`schema (${target.name})`, () => {
    it('indexes the column of every foreign key that a delete cascades through or sets to null', async () => {
      const db = await target.open();
      try {
        // confdeltype: c = cascade, n = set null, d = set default. Only single-column keys exist here.
        const { rows } = await sql<{ fk: string }>`
          SELECT c.conrelid::regclass::text || '.' || a.attname AS fk
          FROM pg_constraint c
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
          WHERE c.contype = 'f' AND c.confdeltype IN ('c', 'n', 'd')
            AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])
          ORDER BY 1`.execute(db.kysely);
        assert.deepEqual(
          rows.map((r) => r.fk),
          [],
          'each of these is scanned in full for every row a delete cascades to: add an index on it',
        );
      } finally {
        await db.close();
      }
    });
  });
}
