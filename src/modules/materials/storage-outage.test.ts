/**
 * An author uploads while file storage (S3) cannot be reached: 503
 * `unavailable` naming file storage, with Retry-After, and nothing half
 * written (no material row). The endpoint is a closed port.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freePort } from '../../lib/free-port.ts';
import { createTestApp } from '../../testing/app.ts';
import { openTestPglite } from '../../testing/db.ts';
import { makePdf } from '../../testing/pdf-fixtures.ts';
import { API, COURSE_PAGES, upload } from './testing.ts';

describe('upload while file storage is unreachable', () => {
  it('is 503 unavailable naming file storage, and stores nothing', async () => {
    const t = await createTestApp(
      { name: 'pglite', open: () => openTestPglite() },
      { S3_ENDPOINT: `http://127.0.0.1:${await freePort()}`, S3_BUCKET: 'examday', S3_ACCESS_KEY_ID: 'x', S3_SECRET_ACCESS_KEY: 'y', S3_FORCE_PATH_STYLE: 'true' },
    );
    try {
      const author = await t.staff('author');
      const res = await upload(t, author, makePdf([COURSE_PAGES[0]!]), 'notes.pdf');
      assert.equal(res.statusCode, 503, res.body);
      assert.equal(res.headers['retry-after'], '2');
      assert.match(String(res.headers['content-type']), /application\/problem\+json/);
      const body = res.json<{ code: string; detail: string }>();
      assert.equal(body.code, 'unavailable');
      assert.match(body.detail, /file storage/);
      const list = await t.app.inject({ method: 'GET', url: `${API}/materials`, headers: author.headers });
      assert.deepEqual(list.json<{ items: unknown[] }>().items, []);
      const rows = await t.ctx.db.kysely.selectFrom('materials').select('id').execute();
      assert.deepEqual(rows, [], "no material row");
    } finally {
      await t.close();
    }
  });
});
