/**
 * The exam's start storm in few statements: the starts of one turn of the
 * event loop insert their attempts together, each straight from its booking,
 * the booking's session and the paper's time limit.
 */
import { randomInt } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.ts';

export interface StartInput {
  bookingId: string;
  candidateId: string;
}

/** A new attempt's row, as the start inserted it. */
export interface StartedRow {
  id: string;
  booking_id: string;
  candidate_id: string;
  session_id: string;
  assessment_version_id: string;
  seed: number;
  started_at: Date;
  deadline_at: Date;
}

/**
 * Insert the attempts of these starts where each holds: the candidate's own
 * active booking, its session open now, no attempt yet. Each booking is held
 * FOR SHARE, so a concurrent cancel either waits for the attempt (and is
 * refused) or wins first (and no attempt is created). Rows are inserted in
 * booking order, so two batches that share bookings (a candidate's double
 * click landing on two processes) wait for each other in the same order and
 * never deadlock. Per input: its new row, or undefined when something did not
 * hold (the caller's checked path then says what). A booking asked for twice
 * in one batch is inserted once; both inputs get it.
 */
export async function insertAttempts(db: Kysely<Database>, inputs: readonly StartInput[]): Promise<(StartedRow | undefined)[]> {
  const now = new Date();
  const r = await sql<StartedRow>`
    INSERT INTO attempts (booking_id, candidate_id, session_id, assessment_version_id, seed, deadline_at)
    SELECT b.id, b.candidate_id, b.session_id, s.assessment_version_id, i.seed,
           LEAST(${now}::timestamptz + make_interval(secs => (v.content->>'timeLimitS')::int), s.ends_at)
    FROM unnest(${inputs.map((i) => i.bookingId)}::uuid[], ${inputs.map((i) => i.candidateId)}::uuid[],
                ${inputs.map(() => randomInt(0, 2 ** 31 - 1))}::int[]) AS i(booking_id, candidate_id, seed)
    JOIN bookings b ON b.id = i.booking_id AND b.candidate_id = i.candidate_id
    JOIN exam_sessions s ON s.id = b.session_id
    JOIN assessment_versions v ON v.id = s.assessment_version_id
    WHERE b.status = 'active' AND s.starts_at <= ${now}::timestamptz AND s.ends_at > ${now}::timestamptz
    ORDER BY b.id
    FOR SHARE OF b
    ON CONFLICT (booking_id) DO NOTHING
    RETURNING id::text, booking_id::text, candidate_id::text, session_id::text, assessment_version_id::text, seed, started_at, deadline_at`.execute(db);
  const byBooking = new Map(r.rows.map((row) => [`${row.booking_id}/${row.candidate_id}`, row]));
  return inputs.map((i) => byBooking.get(`${i.bookingId}/${i.candidateId}`));
}
