import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dbTargets } from '../../testing/db.ts';
import { createTestApp, type TestApp } from '../../testing/app.ts';

const target = dbTargets()[0]!;

describe('QTI download route', () => {
  let t: TestApp;
  let dir: string;
  before(async () => {
    t = await createTestApp(target);
    dir = await mkdtemp(path.join(os.tmpdir(), 'examday-qti-'));
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('streams a zip of the published version with manifest, test and one item per question', async () => {
    const author = await t.staff('author');
    const post = (url: string, payload?: object) => t.app.inject({ method: 'POST', url: `/api/v1${url}`, headers: author.headers, ...(payload ? { payload } : {}) });
    const ids: string[] = [];
    for (const q of [
      { type: 'true_false', stem: 'Ice is cold & <wet>?', correct: true },
      { type: 'numeric', stem: 'Half of 3', answer: 1.5, tolerance: 0.01 },
    ]) {
      const r = await post('/questions', q);
      ids.push((r.json() as { id: string }).id);
    }
    await post('/questions/bulk-approve', { ids });
    const a = (await post('/assessments', { title: 'Physics: Week 1', timeLimitS: 600, items: ids.map((questionId) => ({ questionId })) })).json() as { id: string };
    assert.ok((await post(`/assessments/${a.id}/publish`)).statusCode < 300);

    const res = await t.app.inject({ method: 'GET', url: `/api/v1/assessments/${a.id}/versions/1/qti`, headers: author.headers });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'application/zip');
    assert.match(String(res.headers['content-disposition']), /attachment; filename="physics-week-1-v1-qti21\.zip"/);
    const file = path.join(dir, 'package.zip');
    await writeFile(file, res.rawPayload);
    const listing = execFileSync('python3', ['-m', 'zipfile', '-l', file], { encoding: 'utf8' });
    assert.match(listing, /imsmanifest\.xml/);
    assert.match(listing, /assessmentTest\.xml/);
    assert.equal((listing.match(/items\/[^\s]+\.xml/g) ?? []).length, 2);

    const missing = await t.app.inject({ method: 'GET', url: `/api/v1/assessments/${a.id}/versions/9/qti`, headers: author.headers });
    assert.equal(missing.statusCode, 404);
  });
});
