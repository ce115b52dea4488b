/**
 * The web app in a real browser (Debian's Chromium through playwright-core)
 * against a real `examday all` process:
 * - an author uploads a PDF, follows its processing live, reviews the
 *   questions beside their highlighted source, approves them, builds and
 *   publishes an assessment, schedules a session and imports a candidate;
 * - the candidate books (the seat count drops), starts, answers, loses the
 *   network mid-exam, answers more, gets it back; every answer is then on the
 *   server, the exam resumes after a reload and on another device, is
 *   submitted, and the result shows;
 * - the admin's operations and results pages show the day.
 * axe-core must find no serious or critical violation on any main screen.
 *
 * Skips with a notice when Chromium is not installed (.ci/run installs it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { linesPage, makePdf } from '../../testing/pdf-fixtures.ts';
import { COURSE_PAGES } from '../../modules/materials/testing.ts';
import { SIGN_IN_REQUESTS } from '../../loadtest/client-paths.ts';
import { CHROMIUM, apiCall, describeViolations, ensureWebBuild, haveChromium, launchBrowser, ROOT, seriousViolations, startServer, type Server } from './harness.ts';
import * as flow from './flows.ts';

if (!haveChromium) console.log(`# notice: browser tests skipped: ${CHROMIUM} not found (apt-get install chromium, or set EXAMDAY_CHROMIUM)`);

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

const SHARED_PDF = path.join(ROOT, '../shared/fixtures/pdfs/good/tracemonkey.pdf');

/** tracemonkey.pdf when ../shared is there, else a small PDF made here with enough text to write questions from. */
async function pdfToUpload(dir: string): Promise<{ file: string; name: string; perSection: number }> {
  if (existsSync(SHARED_PDF)) return { file: SHARED_PDF, name: 'tracemonkey.pdf', perSection: 2 };
  const sentences = [
    'Compilers for statically typed languages rely on type information to generate efficient machine code.',
    'A trace is a sequence of instructions recorded while a loop runs, and it is compiled once it becomes hot.',
    'Photosynthesis converts light energy into chemical energy stored in glucose inside the chloroplast.',
    'The French Revolution began in 1789 and ended the absolute monarchy of the Bourbon kings.',
    'Water boils at one hundred degrees Celsius at sea level because of the pressure of the atmosphere.',
    'The mitochondrion is often called the powerhouse of the cell because it produces most of its energy.',
  ];
  // With the course pages the pipeline tests use; one section of text, so ask for ten questions from it.
  const pdf = makePdf([linesPage(sentences.slice(0, 3)), linesPage(sentences.slice(3)), ...COURSE_PAGES], { title: 'Course notes' });
  const file = path.join(dir, 'course-notes.pdf');
  await writeFile(file, pdf);
  return { file, name: 'course-notes.pdf', perSection: 10 };
}

describe('web app in Chromium', { skip: haveChromium ? false : `no ${CHROMIUM}` }, () => {
  let server: Server;
  let browser: Browser;
  let tmp: string;
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  const axeFindings: string[] = [];

  // Shared between the steps, which run in order.
  const assessmentTitle = 'Browser test exam';
  const sessionTitle = 'Morning session';
  const district = 'west';
  let candidateCode = '';
  let attemptId = '';
  let answers = new Map<string, unknown>();

  async function axe(page: Page, screen: string): Promise<void> {
    const v = await seriousViolations(page);
    if (v.length) axeFindings.push(`${screen}:\n${describeViolations(v)}`);
    assert.deepEqual(v.map((x) => `${x.id} (${x.impact})`), [], `${screen}: axe found\n${describeViolations(v)}`);
  }

  async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    context.setDefaultTimeout(20_000);
    const page = await context.newPage();
    pages.push(page);
    return { context, page };
  }

  /** On failure, keep what each open page showed: a screenshot and its text, under the OS temp dir. */
  const pages: Page[] = [];
  async function step(name: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'examday-browser-failure-'));
      for (const [i, p] of pages.entries()) {
        if (p.isClosed()) continue;
        await p.screenshot({ path: path.join(dir, `${i}.png`), fullPage: true }).catch(() => undefined);
        const text = await p.locator('body').innerText().catch(() => '');
        await writeFile(path.join(dir, `${i}.txt`), `${p.url()}\n\n${text}`).catch(() => undefined);
      }
      await writeFile(path.join(dir, 'server.log'), server.log()).catch(() => undefined);
      console.log(`# ${name} failed; page screenshots, their text and the server log in ${dir}`);
      throw err;
    } finally {
      for (const p of pages.splice(0)) await p.context().close().catch(() => undefined);
    }
  }

  before(async () => {
    let s = Date.now();
    ensureWebBuild();
    timings.build = Date.now() - s;
    s = Date.now();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'examday-browser-files-'));
    // Access tokens live 30 s (the shortest allowed), so the steps below also
    // go through the app's token refresh.
    [server, browser] = await Promise.all([startServer({ ACCESS_TOKEN_TTL_S: '30' }), launchBrowser()]);
    timings.startup = Date.now() - s;
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
    timings.total = Date.now() - t0;
    console.log(`# browser suite timings (ms): ${JSON.stringify(timings)}`);
  });

  it('serves the app with long-lived caching for hashed assets and the SPA at deep links', async () => {
    const index = await fetch(`${server.base}/`);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(asset, 'index.html references a hashed script');
    const js = await fetch(`${server.base}${asset}`);
    assert.equal(js.status, 200);
    assert.equal(js.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    const deep = await fetch(`${server.base}/exam/123`, { headers: { accept: 'text/html' } });
    assert.equal(deep.status, 200);
    assert.match(await deep.text(), /<div id="root">/);
    const api404 = await fetch(`${server.base}/api/v1/nope`, { headers: { accept: 'text/html' } });
    assert.equal(api404.status, 404);
    assert.match(api404.headers.get('content-type') ?? '', /problem\+json/);
  });

  it('sign-in page: both ways in, demo accounts listed', () => step('sign-in', async () => {
    const { context, page } = await newPage();
    await page.goto(`${server.base}/`);
    await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
    await page.getByRole('heading', { name: 'Demo accounts' }).waitFor();
    await page.getByRole('button', { name: 'Use author@examday.local' }).click();
    assert.equal(await page.getByLabel('Email').inputValue(), 'author@examday.local');
    await axe(page, 'sign-in');
    await page.getByLabel('Access code').fill('NOPE-NOPE-NOPE');
    await page.getByRole('button', { name: 'Sign in with code' }).click();
    await page.getByRole('alert').waitFor();
    await context.close();
  }));

  // The load harness's figures hold for the web app only if a candidate's
  // sign-in costs the server the same requests in both.
  it('exam day: a booked candidate signs in and starts with the requests the load harness makes', () => step('exam-day requests', async () => {
    const config = (await (await fetch(`${server.base}/app-config.json`)).json()) as { demoAccounts: { role: string; secret: string }[] };
    const booked = config.demoAccounts.find((a) => a.role.includes(', booked'));
    assert.ok(booked, 'the demo data has a booked candidate');
    const { page } = await newPage();
    const asked: string[] = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (!u.pathname.startsWith('/api/v1/')) return;
      asked.push(`${r.method()} ${u.pathname.slice('/api/v1'.length)}${u.search}`.replace(UUID, ':id'));
    });
    await flow.signInWithCode(page, server.base, booked.secret);
    await page.getByRole('button', { name: 'Show sessions to book' }).waitFor();
    await axe(page, 'candidate home (exam ahead)');
    await flow.startExam(page);
    await page.locator('section.question').waitFor();
    // Token refreshes come on their own clock in both, not per sign-in.
    assert.deepEqual(asked.filter((a) => !a.startsWith('POST /auth/refresh')), SIGN_IN_REQUESTS);
    // The session list is still there on request, and polls only then.
    await page.goto(`${server.base}/`);
    await page.getByRole('button', { name: 'Resume exam' }).waitFor();
    asked.length = 0;
    await page.getByRole('button', { name: 'Show sessions to book' }).click();
    await page.locator('table.sessions-table').waitFor();
    assert.ok(asked.includes('GET /sessions?limit=200'), asked.join(', '));
  }));

  it('author: upload, live pipeline, review, approve, publish, schedule, import', () => step('author', async () => {
    const s = Date.now();
    const { context, page } = await newPage();
    const pdf = await pdfToUpload(tmp);
    await flow.signInStaff(page, server.base, 'author@examday.local');
    await axe(page, 'author materials');
    const seen = await flow.uploadMaterial(page, pdf.file, pdf.name, undefined, pdf.perSection);
    assert.equal(seen.at(-1), 'ready');
    console.log(`# material states seen live on the page: ${seen.join(' → ')}`);
    await axe(page, 'author materials (processed)');
    const { approved } = await flow.reviewAndApprove(page, pdf.name);
    assert.ok(approved >= 6, `approved ${approved}`);
    await axe(page, 'author review');
    await flow.buildAndPublish(page, assessmentTitle, 6);
    await axe(page, 'author assessments');
    await flow.schedule(page, assessmentTitle, district, sessionTitle, 5);
    await axe(page, 'author sessions');
    const codes = await flow.importCandidates(page, 'name,email,district\nWendy West,wendy@example.org,west\nNo District,,\n');
    const report = page.locator('table.import-report');
    await report.locator('tr[data-status="error"]').waitFor();
    candidateCode = codes.get(2) ?? '';
    assert.match(candidateCode, /^[A-Z0-9-]{8,}$/);
    await axe(page, 'author candidates');
    await context.close();
    timings.author = Date.now() - s;
  }));

  it('candidate: book, take the exam through a network outage, resume elsewhere, submit, see the result', () => step('candidate', async () => {
    assert.ok(candidateCode, 'the author step produced an access code');
    const s = Date.now();
    const { context, page } = await newPage();
    // The storm: the first sign-in and the first start are each answered with a busy server's
    // 503. The page says it is still trying, waits the Retry-After and sends them again itself.
    const busy = (code: string) => ({
      status: 503,
      headers: { 'retry-after': '1', 'content-type': 'application/problem+json' },
      body: JSON.stringify({ type: `https://examday.dev/problems/${code}`, title: 'The server is busy; retry shortly', status: 503, code, detail: 'retry in 1 s' }),
    });
    const signInUrl = '**/api/v1/auth/access-code';
    let signIns = 0;
    await page.route(signInUrl, (route) => (signIns++ === 0 ? route.fulfill(busy('overloaded')) : route.continue()));
    await page.goto(`${server.base}/`);
    await page.getByLabel('Access code').fill(candidateCode);
    await page.getByRole('button', { name: 'Sign in with code' }).click();
    await page.getByRole('status').getByText('The server is busy. Still trying to sign you in').waitFor();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.unroute(signInUrl);
    assert.equal(signIns, 2, 'the sign-in was refused once, then sent again by the page');
    await page.getByRole('heading', { name: 'Hello, Wendy West' }).waitFor();
    await axe(page, 'candidate home');
    await flow.book(page, sessionTitle);
    const startUrl = '**/api/v1/bookings/*/attempt?include=paper';
    let starts = 0;
    await page.route(startUrl, (route) => (starts++ === 0 ? route.fulfill(busy('unavailable')) : route.continue()));
    await page.getByRole('button', { name: 'Start exam' }).click();
    await page.getByRole('dialog', { name: 'Start the exam now?' }).getByRole('button', { name: 'Start now' }).click();
    await page.getByRole('status').getByText('The exam server is busy. Still trying to start your exam').waitFor();
    await page.waitForURL(/\/exam\//);
    await page.getByTestId('timer').waitFor();
    attemptId = new URL(page.url()).pathname.split('/').pop()!;
    await page.unroute(startUrl);
    assert.equal(starts, 2, 'the start was refused once, then sent again by the page');
    await axe(page, 'exam');

    answers = await flow.takeExamThroughAnOutage(page, context, { online: 2, offline: 2 });
    assert.equal(answers.size, 4);
    // The server has all four now, exactly as answered.
    const { accessToken } = await apiCall<{ accessToken: string }>(server.base, 'POST', '/auth/access-code', undefined, { code: candidateCode });
    const stored = await apiCall<{ answers: { questionId: string; value: unknown }[] }>(server.base, 'GET', `/attempts/${attemptId}`, accessToken);
    assert.equal(stored.answers.length, 4);

    // A reload resumes on the same question with every answer in place.
    const summary = page.getByRole('navigation', { name: 'Questions' }).getByText(/answered/);
    await page.reload();
    await summary.getByText('4 of 6 answered').waitFor();

    // Another device: a fresh browser signs in with the same code and resumes.
    const other = await newPage();
    await flow.signInWithCode(other.page, server.base, candidateCode);
    await other.page.getByRole('button', { name: 'Resume exam' }).click();
    await other.page.getByRole('navigation', { name: 'Questions' }).getByText('4 of 6 answered').waitFor();
    await other.context.close();

    // Two more answers, then submit with the confirmation.
    await page.getByRole('button', { name: /^Question 5,/ }).click();
    answers.set((await page.locator('section.question').getAttribute('data-question-id'))!, await flow.answerCurrent(page, 4));
    await flow.next(page);
    answers.set((await page.locator('section.question').getAttribute('data-question-id'))!, await flow.answerCurrent(page, 5));
    await flow.waitAllSaved(page);
    await page.getByRole('button', { name: 'Finish and submit…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Submit your exam?' });
    await dialog.getByText('You answered 6 of 6 questions.').waitFor();
    await axe(page, 'submit dialog');
    const asked: string[] = [];
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.pathname.startsWith('/api/v1/') && !u.pathname.endsWith('/auth/refresh')) asked.push(`${r.method()} ${u.pathname.slice('/api/v1'.length)}`.replace(UUID, ':id'));
    });
    await dialog.getByRole('button', { name: 'Submit exam' }).click();
    await page.waitForURL(/\/result\//);
    await page.getByTestId('score').waitFor({ timeout: 30_000 });
    // The result page has the submitted attempt and the paper from the exam page; it only asks for the score.
    assert.equal(asked[0], 'POST /attempts/:id/submit', asked.join(', '));
    assert.ok(asked.length >= 2 && asked.slice(1).every((a) => a === 'GET /attempts/:id/result'), asked.join(', '));
    await page.getByText(/^Submitted /).waitFor();
    assert.match((await page.getByTestId('score').textContent()) ?? '', /of \d+ points/);
    await axe(page, 'result');

    // After submit, every answer is stored as given.
    const final = await apiCall<{ status: string; answers: { questionId: string; value: unknown }[] }>(server.base, 'GET', `/attempts/${attemptId}`, accessToken);
    assert.notEqual(final.status, 'in_progress');
    assert.equal(final.answers.length, answers.size);
    for (const a of final.answers) {
      const expected = answers.get(a.questionId);
      assert.ok(answers.has(a.questionId), `unexpected answer to ${a.questionId}`);
      if (typeof expected === 'number') assert.equal(Number(a.value), expected);
      else assert.deepEqual(a.value, expected, `answer to ${a.questionId}`);
    }
    // Nothing is left waiting in the browser.
    const left = await page.evaluate(() =>
      Object.keys((globalThis as unknown as { localStorage: Record<string, string> }).localStorage).filter((k) => k.startsWith('examday.outbox.')),
    );
    assert.deepEqual(left, []);
    await context.close();
    timings.candidate = Date.now() - s;
  }));

  it('admin: operations and results pages', () => step('admin', async () => {
    const s = Date.now();
    const { context, page } = await newPage();
    await flow.signInStaff(page, server.base, 'admin@examday.local');
    await page.getByRole('heading', { name: 'Operations' }).waitFor();
    await page.getByRole('heading', { name: 'Job queues' }).waitFor();
    await page.getByText('Exams in progress').waitFor();
    await axe(page, 'admin operations');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Results', exact: true }).click();
    await page.getByLabel('Assessment').selectOption({ label: assessmentTitle });
    await page.getByRole('heading', { name: `District ${district}` }).waitFor();
    await page.getByRole('heading', { name: 'Question statistics' }).waitFor();
    await axe(page, 'admin results');
    await context.close();
    // With 30-second access tokens the steps above only worked because the app refreshed them.
    const metrics = await (await fetch(`${server.base}/metrics`)).text();
    const refreshed = /examday_http_requests_total\{method="POST",route="\/api\/v1\/auth\/refresh",status="200"\} (\d+)/.exec(metrics);
    assert.ok(refreshed && Number(refreshed[1]) > 0, 'the app refreshed its access tokens');
    timings.admin = Date.now() - s;
  }));
});
