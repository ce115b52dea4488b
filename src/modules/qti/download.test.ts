import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dbTargets } from '../../testing/db.ts';
import { createTestApp, type TestApp } from '../../testing/app.ts';
import { makePdf } from '../../testing/pdf-fixtures.ts';
import { COURSE_PAGES, upload, waitFor } from '../materials/testing.ts';
import type { MaterialView } from '../materials/model.ts';

const target = dbTargets()[0]!;
const fixtures = process.env.EXAMDAY_FIXTURES ?? path.join(import.meta.dirname, '../../../../shared/fixtures');
const xsdDir = path.join(fixtures, 'qti', 'xsd');
const QTI_XSD = path.join(xsdDir, 'qtiv2p1', 'imsqti_v2p1.xsd');
const CP_XSD = path.join(xsdDir, 'imscp_v1p1.xsd');
const TRACEMONKEY = path.join(fixtures, 'pdfs', 'good', 'tracemonkey.pdf');
const haveXmllint = spawnSync('xmllint', ['--version']).status === 0;
const noXsd = !haveXmllint ? 'xmllint not installed (Debian package libxml2-utils)' : existsSync(QTI_XSD) && existsSync(CP_XSD) ? false : `QTI schemas not found in ${xsdDir}`;
if (noXsd) console.log(`# notice: generated-assessment QTI validation skipped: ${noXsd}`);

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

  it('a PDF turned into questions by the generator, approved, published: its QTI package validates against the official XSDs', { skip: noXsd }, async () => {
    t.ctx.startWorkers();
    const author = await t.staff('author');
    const pdf = existsSync(TRACEMONKEY) ? await readFile(TRACEMONKEY) : makePdf(COURSE_PAGES, { title: 'Biology' });
    const uploaded = await upload(t, author, pdf, 'source.pdf', { count: '4', types: 'single_choice,multiple_response,true_false,short_text' });
    assert.equal(uploaded.statusCode, 201, uploaded.body);
    const material = await waitFor(t, author, uploaded.json<MaterialView>().id, undefined, 120_000);
    assert.equal(material.status, 'ready', JSON.stringify(material.error));

    const listed = await t.app.inject({ method: 'GET', url: `/api/v1/materials/${material.id}/questions`, headers: author.headers });
    const ids = listed.json<{ items: { id: string }[] }>().items.map((q) => q.id);
    assert.ok(ids.length >= 4, `${ids.length} generated questions`);
    const post = (url: string, payload?: object) => t.app.inject({ method: 'POST', url: `/api/v1${url}`, headers: author.headers, ...(payload ? { payload } : {}) });
    assert.equal((await post('/questions/bulk-approve', { ids })).statusCode, 200);
    const a = (await post('/assessments', { title: 'Generated from a PDF', timeLimitS: 1800, items: ids.map((questionId) => ({ questionId })) })).json<{ id: string }>();
    assert.ok((await post(`/assessments/${a.id}/publish`)).statusCode < 300);

    const res = await t.app.inject({ method: 'GET', url: `/api/v1/assessments/${a.id}/versions/1/qti`, headers: author.headers });
    assert.equal(res.statusCode, 200);
    const zip = path.join(dir, 'generated.zip');
    const out = path.join(dir, 'generated');
    await writeFile(zip, res.rawPayload);
    execFileSync('python3', ['-m', 'zipfile', '-e', zip, out]);
    const items = (await readdir(path.join(out, 'items'))).map((f) => path.join(out, 'items', f));
    assert.equal(items.length, ids.length);
    const xmllint = (schema: string, files: string[]) => spawnSync('xmllint', ['--noout', '--nonet', '--schema', schema, ...files], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const qti = xmllint(QTI_XSD, [path.join(out, 'assessmentTest.xml'), ...items]);
    assert.equal(qti.status, 0, qti.stderr);
    const cp = xmllint(CP_XSD, [path.join(out, 'imsmanifest.xml')]);
    assert.equal(cp.status, 0, cp.stderr);
    // Every item carries its source: the material, the page and the quote.
    for (const item of items) assert.match(await readFile(item, 'utf8'), new RegExp(`Source: material ${material.id}, page \\d+`));
  });
});
