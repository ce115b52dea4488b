/**
 * An attempt's saved answers as the API sends them, serialised by the
 * database: one JSON text per attempt instead of one row per answer that
 * would be parsed (a jsonb value and four timestamps each), turned into
 * objects and serialised again. Resume and submit answer with it as it is;
 * at the end of an exam every candidate submits within a minute, each with
 * all of their answers.
 */
import { sql, type RawBuilder } from 'kysely';

/** One answer in an attempt view (`savedAt`: ISO 8601, UTC, milliseconds — as `Date#toISOString`). */
export interface AnswerView {
  questionId: string;
  value: unknown;
  seq: number;
  savedAt: string;
}

/**
 * `[{"questionId", "value", "seq", "savedAt"}, …]` in question id order
 * (`[]` when none) for the attempt whose id is in `attemptIdColumn`.
 */
export function answersJson(attemptIdColumn: string): RawBuilder<string> {
  return sql<string>`coalesce((
    SELECT json_agg(json_build_object(
             'questionId', r.question_id, 'value', r.value, 'seq', r.seq,
             'savedAt', to_char(r.saved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
           ORDER BY r.question_id)
    FROM responses r WHERE r.attempt_id = ${sql.ref(attemptIdColumn)}), '[]')::text`;
}
