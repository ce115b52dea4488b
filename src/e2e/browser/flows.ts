/**
 * What a teacher and a candidate do in the web app, step by step, through
 * the page as a person would (labels and button names, not CSS classes).
 * Shared by the browser tests and scripts/screenshots.ts; `shot` is called
 * at the moments worth a screenshot.
 */
import assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';

export type Shot = (name: string) => Promise<void>;
const none: Shot = async () => {};

export const DEMO_PASSWORD = 'examday-demo-2026';

export async function signInStaff(page: Page, base: string, email: string, password = DEMO_PASSWORD): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

export async function signInWithCode(page: Page, base: string, code: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByLabel('Access code').fill(code);
  await page.getByRole('button', { name: 'Sign in with code' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

export async function signOut(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in', exact: true }).waitFor();
}

async function nav(page: Page, name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
}

/** Upload a PDF and follow its processing live until it is ready; returns the statuses seen on the card, in order. */
export async function uploadMaterial(page: Page, pdfPath: string, filename: string, shot: Shot = none, perSection = 2): Promise<string[]> {
  await nav(page, 'Materials');
  await page.getByRole('heading', { name: 'Course materials' }).waitFor();
  await page.getByLabel('PDF file').setInputFiles(pdfPath);
  await page.getByText('Question settings (optional)').click();
  await page.getByLabel('Questions per section of text').fill(String(perSection));
  await page.getByText('Question settings (optional)').click();
  await page.getByRole('button', { name: 'Upload and write questions' }).click();
  await page.getByText(`${filename} is uploaded`).waitFor({ timeout: 60_000 });
  const card = page.locator('li.material', { hasText: filename }).first();
  const seen: string[] = [];
  const deadline = Date.now() + 120_000;
  let shotTaken = false;
  for (;;) {
    const status = (await card.getAttribute('data-status')) ?? '';
    if (seen.at(-1) !== status) seen.push(status);
    if (!shotTaken && (status === 'extracting' || status === 'generating')) {
      shotTaken = true;
      await shot('author-materials-processing');
    }
    if (status === 'ready' || status === 'failed') break;
    assert.ok(Date.now() < deadline, `material still ${status} after 120 s`);
    await page.waitForTimeout(100);
  }
  assert.equal(seen.at(-1), 'ready', `processing ended ${seen.join(' → ')}`);
  await card.getByText(/Ready: \d+ questions? to review/).waitFor();
  return seen;
}

/** Open a material's questions, check the cited passage is highlighted, edit and approve one, then bulk-approve the rest. */
export async function reviewAndApprove(page: Page, filename: string, shot: Shot = none): Promise<{ edited: string; approved: number }> {
  await page.getByRole('link', { name: `Review questions from ${filename}` }).click();
  await page.getByRole('heading', { name: `Review questions: ${filename}` }).waitFor();
  const passage = page.locator('.passage-text mark');
  await passage.first().waitFor();
  assert.ok(((await passage.first().textContent()) ?? '').length > 10, 'the cited passage is highlighted');
  await shot('author-review');

  const edited = 'Which kind of information do compilers for statically typed languages rely on to generate efficient machine code?';
  await page.getByLabel('Question text').fill(edited);
  await page.getByRole('button', { name: 'Approve', exact: true }).click();
  await page.getByText('Question approved.').waitFor();

  const bulk = page.getByRole('button', { name: /^Approve all drafts \(\d+\)$/ });
  const label = (await bulk.textContent()) ?? '';
  const drafts = Number(/\((\d+)\)/.exec(label)?.[1] ?? '0');
  assert.ok(drafts > 0, 'there are drafts left to bulk-approve');
  await bulk.click();
  await page.getByText(`${drafts} ${drafts === 1 ? 'question' : 'questions'} approved.`).waitFor();
  await page.getByRole('button', { name: 'Draft (0)' }).waitFor();
  const approvedLabel = (await page.getByRole('button', { name: /^Approved \(\d+\)$/ }).textContent()) ?? '';
  return { edited, approved: Number(/\((\d+)\)/.exec(approvedLabel)?.[1] ?? '0') };
}

/** Create an assessment from the first `count` approved questions and publish it. */
export async function buildAndPublish(page: Page, title: string, count: number, shot: Shot = none): Promise<void> {
  await nav(page, 'Assessments');
  await page.getByRole('heading', { name: 'Assessments', exact: true }).waitFor();
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('Time limit (minutes)').fill('30');
  const boxes = page.locator('.picker-list input[type="checkbox"]');
  await boxes.first().waitFor();
  for (let i = 0; i < count; i++) await boxes.nth(i).check();
  await page.getByRole('button', { name: 'Create assessment' }).click();
  await page.getByText(`Assessment “${title}” created as a draft`).waitFor();
  await page.getByRole('button', { name: `Publish ${title}` }).click();
  await page.getByText(`“${title}” version 1 is published.`).waitFor();
  await shot('author-assessments');
}

/** Schedule a session of the assessment, open from now for two hours. */
export async function schedule(page: Page, assessmentTitle: string, district: string, sessionTitle: string, seats: number, shot: Shot = none): Promise<void> {
  await nav(page, 'Sessions');
  await page.getByRole('heading', { name: 'Exam sessions' }).waitFor();
  await page.getByLabel('Assessment').selectOption({ label: assessmentTitle });
  await page.getByLabel('District').fill(district);
  await page.getByLabel('Session name (optional)').fill(sessionTitle);
  await page.getByLabel('Seats').fill(String(seats));
  await page.getByRole('button', { name: 'Schedule session' }).click();
  await page.getByText(`Session “${sessionTitle}” scheduled for ${district}.`).waitFor();
  await page.locator('tr', { hasText: sessionTitle }).getByText('Open now').waitFor();
  await shot('author-sessions');
}

/** Import candidates from pasted CSV; returns the access codes shown in the report, by line. */
export async function importCandidates(page: Page, csv: string, shot: Shot = none): Promise<Map<number, string>> {
  await nav(page, 'Candidates');
  await page.getByRole('heading', { name: 'Candidates', exact: true }).waitFor();
  await page.getByLabel('Or paste the CSV here').fill(csv);
  await page.getByRole('button', { name: 'Import candidates' }).click();
  await page.getByRole('heading', { name: 'Import report' }).waitFor();
  const codes = new Map<number, string>();
  for (const row of await page.locator('table.import-report tbody tr').all()) {
    const line = Number(await row.locator('td').first().textContent());
    const code = row.locator('[data-testid="access-code"]');
    if (await code.count()) codes.set(line, ((await code.textContent()) ?? '').trim());
  }
  await shot('author-candidates');
  return codes;
}

/** Book a seat in the named session; checks the live seat count goes down by one. */
export async function book(page: Page, sessionTitle: string, shot: Shot = none): Promise<void> {
  await page.getByRole('heading', { name: 'Book a session' }).waitFor();
  const row = page.locator('tr', { hasText: sessionTitle });
  const before = (await row.getByTestId('seats-left').textContent()) ?? '';
  const m = /(\d+) of (\d+) seats left/.exec(before);
  assert.ok(m, `seat count shown: ${before}`);
  await page.getByRole('button', { name: `Book ${sessionTitle}` }).click();
  await page.getByText(`You are booked for ${sessionTitle}.`).waitFor();
  await row.getByTestId('seats-left').getByText(`${Number(m[1]) - 1} of ${m[2]} seats left`).waitFor();
  await shot('candidate-home');
}

export async function startExam(page: Page): Promise<string> {
  await page.getByRole('button', { name: 'Start exam' }).click();
  await page.getByRole('dialog', { name: 'Start the exam now?' }).getByRole('button', { name: 'Start now' }).click();
  await page.waitForURL(/\/exam\//);
  await page.getByTestId('timer').waitFor();
  return new URL(page.url()).pathname.split('/').pop()!;
}

/** Answer the question on screen; returns the value the server should store. */
export async function answerCurrent(page: Page, i: number): Promise<unknown> {
  const section = page.locator('section.question');
  const radios = section.locator('input[type="radio"]');
  const boxes = section.locator('input[type="checkbox"]');
  const text = section.locator('textarea');
  const num = section.locator('input.input-number');
  if ((await radios.count()) > 0) {
    const n = await radios.count();
    const r = radios.nth(i % n);
    await r.check();
    const value = await r.getAttribute('value');
    const label = (await section.locator('label.choice').nth(i % n).textContent()) ?? '';
    // true/false radios carry no value attribute: their label says which.
    return value && value !== 'on' ? value : /true/i.test(label);
  }
  if ((await boxes.count()) > 0) {
    await boxes.first().check();
    return [await boxes.first().getAttribute('value')];
  }
  if ((await num.count()) > 0) {
    await num.fill(String(40 + i));
    return 40 + i;
  }
  const answer = `answer number ${i + 1}`;
  await text.fill(answer);
  return answer;
}

export async function saveState(page: Page): Promise<{ state: string; waiting: number; text: string }> {
  const s = page.getByTestId('save-status');
  return {
    state: (await s.getAttribute('data-state')) ?? '',
    waiting: Number(await s.getAttribute('data-waiting')),
    text: ((await s.textContent()) ?? '').trim(),
  };
}

/** Wait until the indicator says every answer is on the server. */
export async function waitAllSaved(page: Page, timeoutMs = 30_000): Promise<void> {
  const saved = page.locator('[data-testid="save-status"][data-state="idle"][data-waiting="0"]');
  await saved.waitFor({ timeout: timeoutMs });
  await saved.getByText('All answers saved').waitFor();
}

export async function next(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Next' }).click();
}

/**
 * Take the exam: answer `online` questions, lose the network, answer
 * `offline` more (they wait in the browser), get the network back.
 * Returns the answers by question id.
 */
export async function takeExamThroughAnOutage(
  page: Page,
  context: BrowserContext,
  opts: { online: number; offline: number },
  shot: Shot = none,
): Promise<Map<string, unknown>> {
  const answers = new Map<string, unknown>();
  const answerHere = async (i: number): Promise<void> => {
    const id = await page.locator('section.question').getAttribute('data-question-id');
    answers.set(id!, await answerCurrent(page, i));
  };
  let i = 0;
  for (; i < opts.online; i++) {
    await answerHere(i);
    await next(page);
  }
  await waitAllSaved(page);
  await shot('candidate-exam');

  await context.setOffline(true);
  for (let k = 0; k < opts.offline; k++, i++) {
    await answerHere(i);
    if (k < opts.offline - 1) await next(page);
  }
  await page.getByTestId('save-status').getByText(`Offline — ${opts.offline} answers waiting`).waitFor();
  const offline = await saveState(page);
  assert.equal(offline.state, 'offline');
  assert.equal(offline.waiting, opts.offline);
  await shot('candidate-exam-offline');

  await context.setOffline(false);
  await waitAllSaved(page);
  return answers;
}

export async function submitExam(page: Page, shot: Shot = none): Promise<void> {
  await page.getByRole('button', { name: 'Finish and submit…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Submit your exam?' });
  await dialog.waitFor();
  await shot('candidate-submit');
  await dialog.getByRole('button', { name: 'Submit exam' }).click();
  await page.waitForURL(/\/result\//);
  await page.getByTestId('score').waitFor({ timeout: 30_000 });
}
