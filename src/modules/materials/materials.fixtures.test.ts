/**
 * Real-world PDFs from ../shared/fixtures/pdfs through the whole pipeline
 * with the offline generator: every good file ends ready with valid
 * citations, every bad file failed with its specific code — all uploaded at
 * once, so a bad file is seen not to disturb the good ones. Skips with a
 * notice when the fixtures folder is absent.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createTestApp, type Actor, type TestApp } from '../../testing/app.ts';
import { dbTargets } from '../../testing/db.ts';
import type { MaterialView } from './model.ts';
import { assertCitationsValid, upload, waitFor } from './testing.ts';

const fixturesRoot = process.env.EXAMDAY_FIXTURES ?? join(import.meta.dirname, '../../../../shared/fixtures');
const pdfDir = join(fixturesRoot, 'pdfs');
const haveFixtures = existsSync(join(pdfDir, 'good')) && existsSync(join(pdfDir, 'bad'));
if (!haveFixtures) console.log(`# notice: real-world PDF pipeline tests skipped: ${pdfDir} not found (set EXAMDAY_FIXTURES)`);

/** The code each bad file must end with (the same table as the extractor's own test). */
const BAD: Record<string, string> = {
  'libreoffice-writer-password.pdf': 'pdf_encrypted',
  'empty.pdf': 'pdf_no_text',
  'scan-bad.pdf': 'pdf_no_text',
  'helloworld-bad.pdf': 'pdf_no_text',
  'pdfjsbad1586.pdf': 'pdf_no_text',
  'GHOSTSCRIPT-698804-1-fuzzed.pdf': 'pdf_no_text',
  'PDFBOX-3148-2-fuzzed.pdf': 'pdf_no_text',
  'poppler-395-0-fuzzed.pdf': 'pdf_invalid',
  'poppler-937-0-fuzzed.pdf': 'pdf_invalid',
};

const SUBSTANTIVE = new Set(['tracemonkey.pdf', 'GeoTopo-komprimiert.pdf']);

for (const target of dbTargets()) {
  describe(`materials pipeline on real PDFs (${target.name})`, { skip: haveFixtures ? false : `no ${pdfDir}` }, () => {
    let t: TestApp;
    let author: Actor;

    before(async () => {
      t = await createTestApp(target, { PDF_WORKERS: '2' });
      t.ctx.startWorkers();
      author = await t.staff('author');
      await t.ctx.db.kysely.updateTable('users').set({ plan: 'unlimited' }).where('id', '=', author.id).execute();
    });
    after(() => t.close());

    it('good and bad files uploaded together: good ones ready with valid citations, bad ones failed with their code', async () => {
      const good = (await readdir(join(pdfDir, 'good'))).filter((f) => f.endsWith('.pdf')).sort();
      const bad = (await readdir(join(pdfDir, 'bad'))).filter((f) => f.endsWith('.pdf')).sort();
      assert.deepEqual(bad, Object.keys(BAD).sort());
      const uploads = await Promise.all(
        [...good.map((f) => ['good', f] as const), ...bad.map((f) => ['bad', f] as const)].map(async ([dir, name]) => {
          const res = await upload(t, author, await readFile(join(pdfDir, dir, name)), name, { count: '3' });
          assert.equal(res.statusCode, 201, `${name}: ${res.body}`);
          return { dir, name, id: res.json<MaterialView>().id };
        }),
      );
      const outcomes = await Promise.all(uploads.map(async (u) => ({ ...u, m: await waitFor(t, author, u.id, undefined, 240_000) })));
      for (const { dir, name, id, m } of outcomes) {
        if (dir === 'bad') {
          assert.equal(m.status, 'failed', `${name} should fail`);
          assert.equal(m.error?.code, BAD[name], `${name}: ${JSON.stringify(m.error)}`);
          assert.ok((m.error?.message.length ?? 0) > 20, `${name} has an author-facing message`);
          continue;
        }
        assert.equal(m.status, 'ready', `${name}: ${JSON.stringify(m.error)}`);
        // Lorem ipsum and a four-word Arabic note carry nothing to ask about; real course text must yield questions.
        if (SUBSTANTIVE.has(name)) assert.ok(m.questions.created >= 10, `${name} yields questions (${m.questions.created})`);
        const questions = await assertCitationsValid(t, author, id);
        assert.equal(questions.length, m.questions.created, name);
      }
    });
  });
}
