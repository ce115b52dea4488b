/**
 * The grading job: marks submitted attempts against the questions each one
 * drew, a whole batch in three statements (the attempts, their answers, the
 * marks). Idempotent: attempts already graded, still open or unknown are
 * skipped, so a job run twice or queued again by the sweep grades nothing
 * twice.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.ts';
import { isUuid } from '../../lib/uuid.ts';
import { gradeAttempt } from '../questions/grading.ts';
import { layoutFor, type PaperCache } from './papers.ts';

/**
 * Longest a job process holds a grading back while the machine is busy with
 * candidates' requests (its LoadGate): a result asked for while ungraded is
 * told to come back when that hold is over, not every few seconds.
 */
export const GRADING_MAX_HOLD_MS = 30_000;

/** Grade the submitted attempts among `attemptIds`; returns how many it graded. */
export async function gradeAttempts(db: Kysely<Database>, papers: PaperCache, attemptIds: readonly string[]): Promise<number> {
  const ids = [...new Set(attemptIds.map((id) => id.toLowerCase()))].filter(isUuid).sort();
  if (ids.length === 0) return 0;
  const attempts = await db
    .selectFrom('attempts')
    .select(['id', 'seed', 'assessment_version_id'])
    .where('id', '=', sql<string>`ANY(${ids}::uuid[])`)
    .where('status', '=', 'submitted')
    .orderBy('id')
    .execute();
  if (attempts.length === 0) return 0;
  const rows = await db
    .selectFrom('responses')
    .select(['attempt_id', 'question_id', 'value'])
    .where('attempt_id', '=', sql<string>`ANY(${attempts.map((a) => a.id)}::uuid[])`)
    .execute();
  const answers = new Map<string, Map<string, unknown>>();
  for (const r of rows) {
    const mine = answers.get(r.attempt_id) ?? new Map<string, unknown>();
    mine.set(r.question_id, r.value);
    answers.set(r.attempt_id, mine);
  }
  const results = [];
  for (const a of attempts) {
    const paper = await papers.get(a.assessment_version_id);
    const questions = layoutFor(paper, a.seed).questionIds.map((id) => paper.content.questions[id]!);
    results.push({ id: a.id, result: gradeAttempt(questions, answers.get(a.id) ?? new Map()) });
  }
  const graded = await sql`
    UPDATE attempts a
    SET status = 'graded', score = u.score, max_score = u.max_score, grading = u.grading, graded_at = now()
    FROM unnest(${results.map((r) => r.id)}::uuid[], ${results.map((r) => r.result.score)}::numeric[],
                ${results.map((r) => r.result.maxScore)}::numeric[], ${results.map((r) => JSON.stringify(r.result))}::jsonb[])
      AS u(id, score, max_score, grading)
    WHERE a.id = u.id AND a.status = 'submitted'`.execute(db);
  return Number(graded.numAffectedRows ?? 0);
}
