/**
 * The durability check behind `lost_answers`: every answer the server
 * acknowledged is read back from the database after the run and compared
 * with the latest acknowledged seq and value for its (attempt, question).
 *
 * Lost: the row is missing, holds a lower seq, or holds the acknowledged seq
 * with a different value. A higher seq than acknowledged is not lost — a
 * save whose response never arrived (timeout) may still have committed.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.ts';
import type { AckedChunk } from './protocol.ts';

export interface LostAnswersReport {
  /** (attempt, question) pairs with an acknowledged answer. */
  acked_answers: number;
  lost_answers: number;
  /** Pairs where the database holds a newer seq than was acknowledged (an unanswered save that committed). */
  newer_on_server: number;
  examples: string[];
}

const ATTEMPTS_PER_QUERY = 2000;

export async function checkLostAnswers(db: Kysely<Database>, acked: AckedChunk[]): Promise<LostAnswersReport> {
  const byAttempt = new Map<string, Map<string, { seq: number; value: string }>>();
  let ackedAnswers = 0;
  for (const c of acked) {
    for (let i = 0; i < c.attempt.length; i++) {
      let m = byAttempt.get(c.attempt[i]!);
      if (!m) byAttempt.set(c.attempt[i]!, (m = new Map<string, { seq: number; value: string }>()));
      const prev = m.get(c.question[i]!);
      if (!prev) ackedAnswers++;
      if (!prev || prev.seq < c.seq[i]!) m.set(c.question[i]!, { seq: c.seq[i]!, value: c.value[i]! });
    }
  }
  const report: LostAnswersReport = { acked_answers: ackedAnswers, lost_answers: 0, newer_on_server: 0, examples: [] };
  const lost = (msg: string): void => {
    report.lost_answers++;
    if (report.examples.length < 10) report.examples.push(msg);
  };
  const ids = [...byAttempt.keys()];
  for (let start = 0; start < ids.length; start += ATTEMPTS_PER_QUERY) {
    const slice = ids.slice(start, start + ATTEMPTS_PER_QUERY);
    const rows = await sql<{ attempt_id: string; question_id: string; seq: number; value: unknown }>`
      SELECT attempt_id::text, question_id, seq, value FROM responses WHERE attempt_id = ANY(${slice}::uuid[])`.execute(db);
    const found = new Map<string, { seq: number; value: unknown }>();
    for (const r of rows.rows) found.set(`${r.attempt_id}/${r.question_id}`, r);
    for (const attemptId of slice) {
      for (const [questionId, want] of byAttempt.get(attemptId)!) {
        const got = found.get(`${attemptId}/${questionId}`);
        if (!got) lost(`attempt ${attemptId} question ${questionId}: acknowledged seq ${want.seq}, no row in the database`);
        else if (got.seq < want.seq) lost(`attempt ${attemptId} question ${questionId}: acknowledged seq ${want.seq}, database holds seq ${got.seq}`);
        else if (got.seq > want.seq) report.newer_on_server++;
        else if (JSON.stringify(got.value) !== want.value) {
          lost(`attempt ${attemptId} question ${questionId}: seq ${want.seq} acknowledged with ${want.value}, database holds ${JSON.stringify(got.value)}`);
        }
      }
    }
  }
  return report;
}
