/**
 * An attempt's result as its reader may see it: the marks once graded and
 * released by the assessment's policy (on submit, after the session, or by
 * the author), else why not and when to ask again.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.ts';
import { BatchLoader } from './batch-loader.ts';
import type { AttemptStatus } from './facts.ts';
import { GRADING_MAX_HOLD_MS } from './grading.ts';

/** A result page is never told to wait longer than this. */
const ASK_AGAIN_MAX_S = 30;
/** When to ask for a result first after a submit: marking usually takes a second or two. */
const FIRST_RESULT_ASK_S = 3;
/** …and while gradings are held: after the longest hold. */
const HELD_RESULT_ASK_S = Math.ceil(GRADING_MAX_HOLD_MS / 1000) + 1;

/**
 * When a submit's answer tells the result page to ask first. At the end of an
 * exam the result pages of thousands of candidates ask together; while
 * gradings are held, an ask before the hold ends is wasted.
 */
export const firstResultAskS = (gradingsHeld: boolean): number => (gradingsHeld ? HELD_RESULT_ASK_S : FIRST_RESULT_ASK_S);

export type ResultView =
  | { status: AttemptStatus; released: false; reason: string; askAgainInS?: number }
  | { status: AttemptStatus; released: true; score: number; maxScore: number; gradedAt: string | null; grading: unknown };

export function createResultReader(db: Kysely<Database>) {
  /**
   * Result reads of one turn in one statement: after the submit wave every
   * candidate's result page asks until its attempt is graded.
   */
  const results = new BatchLoader(async (ids: string[]) => {
    const found = await db
      .selectFrom('attempts as a')
      .innerJoin('exam_sessions as s', 's.id', 'a.session_id')
      .innerJoin('assessments as asm', 'asm.id', 's.assessment_id')
      .select([
        'a.id',
        'a.status',
        'a.score',
        'a.max_score',
        'a.grading',
        'a.graded_at',
        'a.submitted_at',
        's.ends_at',
        'asm.release_policy',
        'asm.results_released_at',
      ])
      .where('a.id', 'in', ids)
      .execute();
    return new Map(found.map((r) => [r.id, r]));
  });

  /** The result of an attempt its reader may see (staff: the author or an admin); undefined when there is none. */
  return async function resultOf(attemptId: string, staff: boolean): Promise<ResultView | undefined> {
    const a = await results.load(attemptId);
    if (!a) return undefined;
    if (a.status !== 'graded') {
      // Marking is queued at the submit and may be held while the machine is busy.
      const dueMs = a.submitted_at ? a.submitted_at.getTime() + GRADING_MAX_HOLD_MS + 1000 - Date.now() : 0;
      const askAgainInS = Math.min(ASK_AGAIN_MAX_S, Math.max(1, Math.ceil(dueMs / 1000)));
      return { status: a.status, released: false, reason: 'the attempt is not graded yet', askAgainInS };
    }
    const released =
      staff ||
      a.release_policy === 'on_submit' ||
      (a.release_policy === 'after_session' && Date.now() >= a.ends_at.getTime()) ||
      (a.release_policy === 'manual' && a.results_released_at !== null);
    if (!released) {
      const reason =
        a.release_policy === 'after_session'
          ? `results are released when the session ends at ${a.ends_at.toISOString()}`
          : 'results are released by the author';
      return { status: a.status, released: false, reason };
    }
    return {
      status: a.status,
      released: true,
      score: Number(a.score),
      maxScore: Number(a.max_score),
      gradedAt: a.graded_at?.toISOString() ?? null,
      grading: a.grading,
    };
  };
}
