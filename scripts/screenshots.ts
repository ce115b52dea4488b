/**
 * Screenshots of every main screen for the README (docs/screenshots/*.png),
 * taken from a real `examday all` with the demo data, driven through the same
 * steps as the browser tests. Needs Chromium (apt-get install chromium).
 *
 *   npm run screenshots
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { apiCall, CHROMIUM, ensureWebBuild, haveChromium, launchBrowser, ROOT, startServer } from '../src/e2e/browser/harness.ts';
import * as flow from '../src/e2e/browser/flows.ts';
import { linesPage, makePdf } from '../src/testing/pdf-fixtures.ts';

const OUT = path.join(ROOT, 'docs/screenshots');

interface PaperQuestion {
  id: string;
  type: string;
  options?: { id: string }[];
}

/** A plausible answer: right about two times in three, by a seeded rule so the screenshots are stable. */
function answerFor(q: PaperQuestion, k: number): unknown {
  const good = (k * 7 + q.id.charCodeAt(0)) % 3 !== 0;
  switch (q.type) {
    case 'single_choice':
      return good && q.id ? (q.options?.[1]?.id ?? 'a') : (q.options?.[0]?.id ?? 'a');
    case 'multiple_response':
      return good ? ['a', 'c'] : ['b'];
    case 'true_false':
      return good;
    case 'numeric':
      return good ? 42 : 40;
    default:
      return good ? 'Paris' : 'Lyon';
  }
}

/** Let the demo candidates of every district take the demo exam, so the results page has something to show. */
async function demoCandidatesTakeTheExam(base: string): Promise<void> {
  const config = (await (await fetch(`${base}/app-config.json`)).json()) as { demoAccounts: { role: string; login: string; secret: string }[] };
  let k = 0;
  for (const a of config.demoAccounts.filter((x) => x.role.startsWith('candidate'))) {
    k++;
    const { accessToken: tok } = await apiCall<{ accessToken: string }>(base, 'POST', '/auth/access-code', undefined, { code: a.secret });
    let bookings = (await apiCall<{ items: { id: string }[] }>(base, 'GET', '/bookings', tok)).items;
    if (!bookings.length) {
      const sessions = (await apiCall<{ items: { id: string }[] }>(base, 'GET', '/sessions', tok)).items;
      if (!sessions[0]) continue;
      await apiCall(base, 'POST', `/sessions/${sessions[0].id}/bookings`, tok);
      bookings = (await apiCall<{ items: { id: string }[] }>(base, 'GET', '/bookings', tok)).items;
    }
    const attempt = await apiCall<{ id: string }>(base, 'POST', `/bookings/${bookings[0]!.id}/attempt`, tok);
    const paper = await apiCall<{ questions: PaperQuestion[] }>(base, 'GET', `/attempts/${attempt.id}/paper`, tok);
    const answers = paper.questions.filter((_, i) => (i + k) % 5 !== 0).map((q) => ({ questionId: q.id, value: answerFor(q, k), seq: 1 }));
    await apiCall(base, 'POST', `/attempts/${attempt.id}/submit`, tok, { answers });
  }
}

async function main(): Promise<void> {
  if (!haveChromium) throw new Error(`${CHROMIUM} not found: apt-get install chromium (or set EXAMDAY_CHROMIUM)`);
  ensureWebBuild();
  await mkdir(OUT, { recursive: true });
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'examday-shots-'));
  const server = await startServer();
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
    context.setDefaultTimeout(30_000);
    const page = await context.newPage();
    const shot =
      (p: Page) =>
      async (name: string): Promise<void> => {
        await p.waitForTimeout(250);
        await p.screenshot({ path: path.join(OUT, `${name}.png`) });
        process.stdout.write(`  ${name}.png\n`);
      };
    const s = shot(page);

    await page.goto(`${server.base}/`);
    await page.getByRole('heading', { name: 'Demo accounts' }).waitFor();
    await s('sign-in');

    const shared = path.join(ROOT, '../shared/fixtures/pdfs/good/tracemonkey.pdf');
    let pdf = shared;
    let name = 'tracemonkey.pdf';
    if (!existsSync(shared)) {
      pdf = path.join(tmp, 'course-notes.pdf');
      name = 'course-notes.pdf';
      await writeFile(pdf, makePdf([linesPage(['Compilers for statically typed languages rely on type information to generate efficient machine code.'])]));
    }
    await flow.signInStaff(page, server.base, 'author@examday.local');
    await flow.uploadMaterial(page, pdf, name, s);
    await s('author-materials');
    await flow.reviewAndApprove(page, name, s);
    await flow.buildAndPublish(page, 'Dynamic languages quiz', 6, s);
    await flow.schedule(page, 'Dynamic languages quiz', 'west', 'Morning session', 30, s);
    const codes = await flow.importCandidates(page, 'name,email,district\nWendy West,wendy@example.org,west\nWalter White,,west\nNo District,nodistrict@example.org,\n', s);
    await flow.signOut(page);

    await flow.signInWithCode(page, server.base, codes.get(2)!);
    await flow.book(page, 'Morning session', s);
    await flow.startExam(page);
    await flow.takeExamThroughAnOutage(page, context, { online: 2, offline: 2 }, s);
    await flow.answerCurrent(page, 3);
    await flow.waitAllSaved(page);
    await flow.submitExam(page, s);
    await s('candidate-result');
    await flow.signOut(page);

    await demoCandidatesTakeTheExam(server.base);
    await flow.signInStaff(page, server.base, 'admin@examday.local');
    await page.getByText('Exams in progress').waitFor();
    await s('admin-operations');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Results', exact: true }).click();
    await page.getByLabel('Assessment').selectOption({ label: 'Demo exam: general knowledge' });
    await page.getByRole('heading', { name: 'District north' }).waitFor();
    await page.setViewportSize({ width: 1280, height: 1250 });
    await s('admin-results');
  } finally {
    await browser.close();
    await server.stop();
    await rm(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
