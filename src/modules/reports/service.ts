/**
 * Assessment results for authors and admins: per-district score statistics,
 * per-question item analysis, and a CSV export of every attempt.
 *
 * An exam day can leave 100,000 attempts behind, so the statistics are
 * aggregates computed by the database (nothing here loads every attempt or
 * answer), and the export streams keyset pages of attempts session by session.
 * Attempts are reached through `exam_sessions.assessment_id` and
 * `attempts.session_id`, both indexed.
 *
 * Definitions:
 * - Statistics are over graded attempts of every published version; scores
 *   are in points, histogram bins in percent of each attempt's maximum.
 * - Facility = points earned / points possible for the question, over the
 *   graded attempts whose paper had it (unanswered counts as 0).
 * - Discrimination = upper-lower index (Kelley): graded attempts ranked by
 *   score percentage (ties broken by id), the top and bottom 27 % (at least
 *   one each) form the groups; the index is the question's facility in the
 *   upper group minus its facility in the lower group. Null below 4 graded
 *   attempts, or when a group never got the question.
 */
import { sql, type Kysely } from 'kysely';
import { notFound } from '../../http/errors.ts';
import type { Database } from '../../platform/db/schema.ts';
import type { Principal } from '../auth/tokens.ts';
import type { Section } from '../assessments/content.ts';
import { csvRow } from './csv.ts';
import type { AssessmentResults, DistrictResults, QuestionResults } from './schema.ts';

/** Groups for the discrimination index: Kelley's 27 %. */
const GROUP_FRACTION = 0.27;
const MIN_FOR_DISCRIMINATION = 4;
const HISTOGRAM_BINS = 10;
/** Attempts per export page: a page's rows (with their grading) are all this process holds at once. */
const EXPORT_PAGE = 500;

interface AssessmentRef {
  id: string;
  title: string;
  maxScore: number;
}

interface CatalogueEntry {
  questionId: string;
  stem: string;
  type: string;
  points: number;
}

export interface ResultsExport {
  title: string;
  rows: AsyncIterable<string>;
}

export function createReportService({ db }: { db: Kysely<Database> }) {
  /** The assessment if this principal may see its results: its author, or an admin. */
  async function assessmentFor(p: Principal, id: string): Promise<AssessmentRef> {
    const row = await db
      .selectFrom('assessments as a')
      .leftJoin('assessment_versions as v', (j) => j.onRef('v.assessment_id', '=', 'a.id').onRef('v.version', '=', 'a.latest_version'))
      .select(['a.id', 'a.title', 'v.max_score'])
      .where('a.id', '=', id)
      .$if(p.role !== 'admin', (qb) => qb.where('a.owner_id', '=', p.id))
      .executeTakeFirst();
    if (!row) throw notFound(`assessment ${id}`);
    return { id: row.id, title: row.title, maxScore: row.max_score === null ? 0 : Number(row.max_score) };
  }

  /**
   * Every question any version froze, with the stem and points of the latest
   * version that has it, in paper order: the latest version's sections
   * first, then questions only older versions had.
   */
  async function catalogue(assessmentId: string): Promise<CatalogueEntry[]> {
    const questions = await sql<{ question_id: string; stem: string | null; type: string | null; points: number | null }>`
      SELECT DISTINCT ON (q.key) q.key AS question_id, q.value->>'stem' AS stem, q.value->>'type' AS type,
             (q.value->>'points')::float8 AS points
      FROM assessment_versions v
      CROSS JOIN LATERAL jsonb_each(v.content->'questions') AS q(key, value)
      WHERE v.assessment_id = ${assessmentId}
      ORDER BY q.key, v.version DESC`.execute(db);
    const sections = await sql<{ sections: Section[] | null }>`
      SELECT content->'sections' AS sections FROM assessment_versions
      WHERE assessment_id = ${assessmentId} ORDER BY version DESC`.execute(db);
    const order = new Map<string, number>();
    for (const { sections: list } of sections.rows) {
      for (const s of list ?? []) {
        for (const qid of s.kind === 'fixed' ? [s.questionId] : s.poolIds) if (!order.has(qid)) order.set(qid, order.size);
      }
    }
    const rank = (qid: string): number => order.get(qid) ?? Number.MAX_SAFE_INTEGER;
    return questions.rows
      .map((r) => ({ questionId: r.question_id, stem: r.stem ?? '', type: r.type ?? '', points: r.points ?? 0 }))
      .sort((a, b) => rank(a.questionId) - rank(b.questionId) || a.questionId.localeCompare(b.questionId));
  }

  async function districts(assessmentId: string): Promise<DistrictResults[]> {
    const stats = await sql<{
      district: string;
      candidates: number;
      attempts: number;
      submitted: number;
      graded: number;
      mean: number | null;
      median: number | null;
      min: number | null;
      max: number | null;
    }>`
      SELECT s.district,
             count(DISTINCT a.candidate_id)::int AS candidates,
             count(*)::int AS attempts,
             count(*) FILTER (WHERE a.status <> 'in_progress')::int AS submitted,
             count(*) FILTER (WHERE a.status = 'graded')::int AS graded,
             round(avg(a.score) FILTER (WHERE a.status = 'graded'), 2)::float8 AS mean,
             round((percentile_cont(0.5) WITHIN GROUP (ORDER BY a.score) FILTER (WHERE a.status = 'graded'))::numeric, 2)::float8 AS median,
             (min(a.score) FILTER (WHERE a.status = 'graded'))::float8 AS min,
             (max(a.score) FILTER (WHERE a.status = 'graded'))::float8 AS max
      FROM exam_sessions s
      JOIN attempts a ON a.session_id = s.id
      WHERE s.assessment_id = ${assessmentId}
      GROUP BY s.district
      ORDER BY s.district`.execute(db);
    // Bin k holds percentages in [10k, 10k + 10); a full score falls in the last bin.
    const bins = await sql<{ district: string; bin: number; n: number }>`
      SELECT s.district, least(floor(a.score * ${sql.lit(HISTOGRAM_BINS)} / a.max_score), ${sql.lit(HISTOGRAM_BINS - 1)})::int AS bin, count(*)::int AS n
      FROM exam_sessions s
      JOIN attempts a ON a.session_id = s.id
      WHERE s.assessment_id = ${assessmentId} AND a.status = 'graded' AND a.max_score > 0
      GROUP BY 1, 2`.execute(db);
    const width = 100 / HISTOGRAM_BINS;
    return stats.rows.map((d) => {
      const histogram = Array.from({ length: HISTOGRAM_BINS }, (_, k) => ({ from: k * width, to: (k + 1) * width, count: 0 }));
      for (const b of bins.rows) if (b.district === d.district && histogram[b.bin]) histogram[b.bin]!.count = b.n;
      return {
        district: d.district,
        candidates: d.candidates,
        attempts: d.attempts,
        submitted: d.submitted,
        graded: d.graded,
        mean: d.mean,
        median: d.median,
        min: d.min,
        max: d.max,
        histogram,
      };
    });
  }

  /** Item analysis from the per-question grades each graded attempt stores (`attempts.grading`). */
  async function questionStats(assessmentId: string) {
    const rows = await sql<{
      question_id: string;
      given: number;
      responses: number;
      facility: number | null;
      discrimination: number | null;
    }>`
      WITH ranked AS (
        SELECT a.id,
               row_number() OVER (ORDER BY a.score / a.max_score DESC, a.id) AS rk,
               count(*) OVER () AS n
        FROM exam_sessions s
        JOIN attempts a ON a.session_id = s.id
        WHERE s.assessment_id = ${assessmentId} AND a.status = 'graded' AND a.max_score > 0
      ),
      -- Materialized so the group is decided once per attempt, not re-evaluated for every grade it is joined to.
      grouped AS MATERIALIZED (
        SELECT id,
               CASE
                 WHEN n < ${sql.lit(MIN_FOR_DISCRIMINATION)} THEN 0
                 WHEN rk <= greatest(1, round(n * ${sql.lit(GROUP_FRACTION)})) THEN 1
                 WHEN rk > n - greatest(1, round(n * ${sql.lit(GROUP_FRACTION)})) THEN -1
                 ELSE 0
               END AS grp
        FROM ranked
      ),
      -- The one pass over every grade (attempts × questions): a few plain aggregates per question and group.
      per_group AS (
        SELECT q."questionId" AS question_id, g.grp,
               count(*) AS given,
               count(*) FILTER (WHERE q.answered) AS responses,
               sum(q.score) AS earned,
               sum(q."maxScore") AS possible
        FROM grouped g
        JOIN attempts a ON a.id = g.id
        CROSS JOIN LATERAL jsonb_to_recordset(a.grading->'questions')
          AS q("questionId" text, score numeric, "maxScore" numeric, answered boolean)
        GROUP BY 1, 2
      )
      SELECT question_id,
             sum(given)::int AS given,
             sum(responses)::int AS responses,
             round(sum(earned) / nullif(sum(possible), 0), 4)::float8 AS facility,
             round(
               sum(earned) FILTER (WHERE grp = 1) / nullif(sum(possible) FILTER (WHERE grp = 1), 0)
               - sum(earned) FILTER (WHERE grp = -1) / nullif(sum(possible) FILTER (WHERE grp = -1), 0),
               4
             )::float8 AS discrimination
      FROM per_group
      GROUP BY question_id`.execute(db);
    return new Map(rows.rows.map((r) => [r.question_id, r]));
  }

  return {
    async results(p: Principal, id: string): Promise<AssessmentResults> {
      const a = await assessmentFor(p, id);
      const [byDistrict, items, stats] = await Promise.all([districts(a.id), catalogue(a.id), questionStats(a.id)]);
      const questions: QuestionResults[] = items.map((q) => {
        const s = stats.get(q.questionId);
        return {
          ...q,
          given: s?.given ?? 0,
          responses: s?.responses ?? 0,
          facility: s?.facility ?? null,
          discrimination: s?.discrimination ?? null,
        };
      });
      const sum = (f: (d: DistrictResults) => number): number => byDistrict.reduce((n, d) => n + f(d), 0);
      return {
        assessmentId: a.id,
        title: a.title,
        maxScore: a.maxScore,
        attempts: sum((d) => d.attempts),
        submitted: sum((d) => d.submitted),
        graded: sum((d) => d.graded),
        districts: byDistrict,
        questions,
      };
    },

    /**
     * The results as CSV, one row per attempt: checked for access before the
     * first byte, then produced page by page as the client reads.
     */
    async exportCsv(p: Principal, id: string): Promise<ResultsExport> {
      const a = await assessmentFor(p, id);
      const items = await catalogue(a.id);
      return { title: a.title, rows: csvRows(db, a.id, items) };
    },
  };
}

export type ReportService = ReturnType<typeof createReportService>;

async function* csvRows(db: Kysely<Database>, assessmentId: string, items: CatalogueEntry[]): AsyncGenerator<string> {
  yield csvRow([
    'candidate_id',
    'candidate_name',
    'district',
    'version',
    'status',
    'score',
    'max_score',
    'submitted_at',
    ...items.map((q, i) => `Q${i + 1} ${q.stem.length > 60 ? `${q.stem.slice(0, 59)}…` : q.stem}`),
  ]);
  const sessions = await db
    .selectFrom('exam_sessions')
    .select('id')
    .where('assessment_id', '=', assessmentId)
    .orderBy('starts_at')
    .orderBy('id')
    .execute();
  for (const session of sessions) {
    let after: string | undefined;
    for (;;) {
      const page = await attemptPage(db, session.id, after);
      let chunk = '';
      for (const r of page) {
        const points = new Map((r.grades ?? []).map((g) => [g.questionId, g.score]));
        const graded = r.status === 'graded';
        chunk += csvRow([
          r.candidate_id,
          r.name,
          r.district,
          r.version,
          r.status,
          graded && r.score !== null ? Number(r.score) : null,
          Number(r.max_score),
          r.submitted_at?.toISOString() ?? null,
          ...items.map((q) => (graded ? points.get(q.questionId) : null)),
        ]);
      }
      if (chunk) yield chunk;
      const last = page.at(-1);
      if (page.length < EXPORT_PAGE || !last) break;
      after = last.id;
    }
  }
}

/** One keyset page of a session's attempts, in id order. */
function attemptPage(db: Kysely<Database>, sessionId: string, after: string | undefined) {
  const query = db
    .selectFrom('attempts as a')
    .innerJoin('users as u', 'u.id', 'a.candidate_id')
    .innerJoin('exam_sessions as s', 's.id', 'a.session_id')
    .innerJoin('assessment_versions as v', 'v.id', 'a.assessment_version_id')
    .select([
      'a.id',
      'a.candidate_id',
      'u.name',
      's.district',
      'v.version',
      'a.status',
      'a.score',
      'v.max_score',
      'a.submitted_at',
      sql<{ questionId: string; score: number }[] | null>`a.grading->'questions'`.as('grades'),
    ])
    .where('a.session_id', '=', sessionId)
    .orderBy('a.id')
    .limit(EXPORT_PAGE);
  return (after === undefined ? query : query.where('a.id', '>', after)).execute();
}
