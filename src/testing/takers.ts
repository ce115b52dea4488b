/**
 * Candidates sitting an exam on a real `examday serve` process: seeded with
 * `examday seed`, signed in with their access codes and started, as the
 * durability tests need them; and the read-back of acknowledged answers.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../platform/db/index.ts';
import type { PaperQuestion } from './exam.ts';
import { runExamday, startExamday, type ExamdayProcess } from './processes.ts';

export interface Taker {
  headers: Record<string, string>;
  attemptId: string;
  questions: PaperQuestion[];
}

/** The latest acknowledged answer per `attemptId/questionId`. */
export type Acked = Map<string, { seq: number; value: unknown }>;

async function json<T>(res: Promise<Response>): Promise<T> {
  const r = await res;
  const body = await r.text();
  if (!r.ok) throw new Error(`${r.status} ${body}`);
  return JSON.parse(body) as T;
}

/** Seed `candidates` candidates, start `examday serve`, sign everyone in and start their attempts. */
export async function seatTakers(
  env: NodeJS.ProcessEnv,
  workDir: string,
  candidates: number,
): Promise<{ server: ExamdayProcess; base: string; takers: Taker[] }> {
  const codesFile = path.join(workDir, 'codes.csv');
  await runExamday(['seed', '--candidates', String(candidates), '--districts', '1', '--out', codesFile], env);
  const rows = (await readFile(codesFile, 'utf8')).trim().split('\n').slice(1).map((l) => l.split(','));
  assert.equal(rows.length, candidates);
  const server = await startExamday('serve', env);
  const { base } = server;
  const takers = await Promise.all(
    rows.map(async ([, , , bookingId, code]) => {
      const { accessToken } = await json<{ accessToken: string }>(
        fetch(`${base}/auth/access-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) }),
      );
      const headers = { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' };
      const attempt = await json<{ id: string }>(fetch(`${base}/bookings/${bookingId}/attempt`, { method: 'POST', headers: { authorization: headers.authorization } }));
      const paper = await json<{ questions: PaperQuestion[] }>(fetch(`${base}/attempts/${attempt.id}/paper`, { headers: { authorization: headers.authorization } }));
      return { headers, attemptId: attempt.id, questions: paper.questions };
    }),
  );
  return { server, base, takers };
}

/** Saves one answer; the response as sent. */
export function saveAnswer(base: string, taker: Taker, q: PaperQuestion, value: unknown, seq: number): Promise<Response> {
  return fetch(`${base}/attempts/${taker.attemptId}/answers`, {
    method: 'PUT',
    headers: taker.headers,
    body: JSON.stringify({ answers: [{ questionId: q.id, value, seq }] }),
  });
}

/** Records an acknowledgement, keeping the latest per question. */
export function ack(acked: Acked, taker: Taker, q: PaperQuestion, seq: number, value: unknown): void {
  const key = `${taker.attemptId}/${q.id}`;
  if ((acked.get(key)?.seq ?? -1) < seq) acked.set(key, { seq, value });
}

/** How many acknowledged answers the database does not hold (missing, older, or another value). */
export async function lostAnswers(db: Db, acked: Acked): Promise<number> {
  const stored = await db.kysely.selectFrom('responses').select(['attempt_id', 'question_id', 'seq', 'value']).execute();
  const byKey = new Map(stored.map((r) => [`${r.attempt_id}/${r.question_id}`, r]));
  let lost = 0;
  for (const [key, a] of acked) {
    const s = byKey.get(key);
    if (!s || s.seq < a.seq || (s.seq === a.seq && JSON.stringify(s.value) !== JSON.stringify(a.value))) lost++;
  }
  return lost;
}
