/**
 * The AttemptView the candidate's exam page is built from, written as JSON
 * text: start, resume and submit answer with it as it is, and the paper or
 * the saved answers go in as text already serialised.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.ts';
import { notFound } from '../../http/errors.ts';
import { compiledOnce } from '../../platform/db/compiled-once.ts';
import { answersJson, type AnswerView } from './answers-json.ts';
import type { AttemptStatus } from './facts.ts';

export interface AttemptView {
  id: string;
  bookingId: string;
  sessionId: string;
  status: AttemptStatus;
  startedAt: string;
  deadline: string;
  /** Seconds left by the server's clock (0 once past the deadline). */
  remainingS: number;
  serverTime: string;
  submittedAt: string | null;
  /** On the submit's answer: when to ask for the result first (marking should be done by then). */
  askResultInS?: number;
  answers: AnswerView[];
}

/** The attempt columns a view is made of. */
export interface AttemptViewRow {
  id: string;
  booking_id: string;
  session_id: string;
  status: AttemptStatus;
  started_at: Date;
  deadline_at: Date;
  submitted_at: Date | null;
}

/** An AttemptView as JSON text, with `answers` already serialised (answers-json.ts). */
export function viewJson(a: AttemptViewRow, answers: string, askResultInS?: number): string {
  const now = Date.now();
  const head: Omit<AttemptView, 'answers'> = {
    id: a.id,
    bookingId: a.booking_id,
    sessionId: a.session_id,
    status: a.status,
    startedAt: a.started_at.toISOString(),
    deadline: a.deadline_at.toISOString(),
    remainingS: a.status === 'in_progress' ? Math.max(0, Math.floor((a.deadline_at.getTime() - now) / 1000)) : 0,
    serverTime: new Date(now).toISOString(),
    submittedAt: a.submitted_at?.toISOString() ?? null,
    ...(askResultInS === undefined ? {} : { askResultInS }),
  };
  // The head's JSON ends with its closing brace; the answers go in before it.
  return `${JSON.stringify(head).slice(0, -1)},"answers":${answers}}`;
}

/** An AttemptView's JSON text with the paper's added: the view ends with its closing brace, the paper goes in before it. */
export const withPaper = (view: string, paper: string): string => `${view.slice(0, -1)},"paper":${paper}}`;

/** Reads an attempt with its saved answers, in one round trip, as AttemptView JSON text. */
export function createViewReader(db: Kysely<Database>): (attemptId: string) => Promise<string> {
  // Compiled once: a reloaded exam page runs it.
  const viewQuery = compiledOnce(1, (attemptId: string) =>
    db
      .selectFrom('attempts as a')
      .select([
        'a.id',
        'a.booking_id',
        'a.session_id',
        'a.status',
        'a.started_at',
        'a.deadline_at',
        'a.submitted_at',
        answersJson('a.id').as('answers_json'),
      ])
      .where('a.id', '=', attemptId),
  );
  return async (attemptId) => {
    const [a] = await viewQuery.execute(db, attemptId);
    if (!a) throw notFound('attempt');
    return viewJson(a, a.answers_json);
  };
}
