/**
 * An author uploads while a service the upload needs cannot be reached —
 * file storage (S3), or Redis (the upload slots and the job queue): 503
 * `unavailable` naming it, with Retry-After, and nothing half written (no
 * material row). The endpoints are closed ports.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { freePort } from '../../lib/free-port.ts';
import { createTestApp } from '../../testing/app.ts';
import { openTestPglite } from '../../testing/db.ts';
import { makePdf } from '../../testing/pdf-fixtures.ts';
import { API, COURSE_PAGES, upload } from './testing.ts';

async function uploadWith(env: Record<string, string>): Promise<{ status: number; retryAfter: unknown; type: unknown; code: string; detail: string; rows: number }> {
  const t = await createTestApp({ name: 'pglite', open: () => openTestPglite() }, env);
  try {
    const author = await t.staff('author');
    const res = await upload(t, author, makePdf([COURSE_PAGES[0]!]), 'notes.pdf');
    const body = res.json<{ code: string; detail: string }>();
    const list = await t.app.inject({ method: 'GET', url: `${API}/materials`, headers: author.headers });
    assert.deepEqual(list.json<{ items: unknown[] }>().items, [], 'the author sees no material');
    const rows = await t.ctx.db.kysely.selectFrom('materials').select('id').execute();
    return { status: res.statusCode, retryAfter: res.headers['retry-after'], type: res.headers['content-type'], code: body.code, detail: body.detail, rows: rows.length };
  } finally {
    await t.close();
  }
}

describe('upload while a service it needs is unreachable', () => {
  it('file storage: 503 unavailable naming it, nothing stored', async () => {
    const r = await uploadWith({ S3_ENDPOINT: `http://127.0.0.1:${await freePort()}`, S3_BUCKET: 'examday', S3_ACCESS_KEY_ID: 'x', S3_SECRET_ACCESS_KEY: 'y', S3_FORCE_PATH_STYLE: 'true' });
    assert.deepEqual({ ...r, type: String(r.type).split(';')[0], detail: /file storage/.test(r.detail) }, { status: 503, retryAfter: '2', type: 'application/problem+json', code: 'unavailable', detail: true, rows: 0 });
  });

  it('Redis: 503 unavailable naming it, nothing stored', async () => {
    const r = await uploadWith({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    assert.deepEqual({ ...r, type: String(r.type).split(';')[0], detail: /Redis/.test(r.detail) }, { status: 503, retryAfter: '2', type: 'application/problem+json', code: 'unavailable', detail: true, rows: 0 });
  });
});
