/**
 * Publishing: freezes the current draft into an immutable version N+1.
 *
 * Rules, checked together so the author sees every problem at once:
 * - at least one item;
 * - each `{questionId}` is an APPROVED question of the assessment's owner
 *   (an admin publishing someone's assessment uses that author's bank);
 * - each `{tag, count}` freezes the owner's approved questions with that tag
 *   into a pool of at least `count`, all worth the same points, so every
 *   candidate can score the same maximum whatever they draw.
 *
 * Pools exclude the fixed questions and the questions of earlier pools: then
 * `drawQuestionIds` never has to skip a taken id, and every candidate gets
 * exactly `count` questions from each section.
 *
 * Everything happens in one transaction with the assessment row locked, so
 * two concurrent publishes cannot both become version N+1.
 */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import { AppError, notFound } from '../../http/errors.ts';
import type { Principal } from '../auth/tokens.ts';
import type { AssessmentsTable, Database, QuestionsTable } from '../../platform/db/schema.ts';
import { fromRow, type Question } from '../questions/model.ts';
import type { Section, VersionContent } from './content.ts';
import type { AssessmentItem, VersionSummary } from './schema.ts';

type QuestionRow = Selectable<QuestionsTable>;

/** How many ids a problem message lists before "and N more" (the full lists are in the problem's fields). */
const LISTED = 10;

export async function publishAssessment(db: Kysely<Database>, p: Principal, id: string): Promise<VersionSummary> {
  return db.transaction().execute(async (trx) => {
    const assessment = await trx
      .selectFrom('assessments')
      .selectAll()
      .where('id', '=', id)
      .$if(p.role !== 'admin', (qb) => qb.where('owner_id', '=', p.id))
      .forUpdate()
      .executeTakeFirst();
    if (!assessment) throw notFound(`assessment ${id}`);

    const { content, maxScore, questionCount } = await freeze(trx, assessment);
    const version = assessment.latest_version + 1;
    const row = await trx
      .insertInto('assessment_versions')
      .values({
        assessment_id: assessment.id,
        version,
        content: JSON.stringify(content),
        max_score: maxScore,
      })
      .returning(['id', 'version', 'published_at', 'max_score'])
      .executeTakeFirstOrThrow();
    await trx.updateTable('assessments').set({ latest_version: version }).where('id', '=', assessment.id).execute();
    return {
      id: row.id,
      version: row.version,
      publishedAt: row.published_at.toISOString(),
      maxScore: Number(row.max_score),
      questionCount,
    };
  });
}

interface Frozen {
  content: VersionContent<Question>;
  maxScore: number;
  /** Questions each candidate gets. */
  questionCount: number;
}

async function freeze(trx: Transaction<Database>, a: Selectable<AssessmentsTable>): Promise<Frozen> {
  const items = a.items as AssessmentItem[];
  if (items.length === 0) {
    throw new AppError('not_publishable', `assessment ${a.id} has no items; add questions or tag sections before publishing`, {
      problems: ['no items'],
    });
  }
  const fixedWanted = items.flatMap((i) => ('questionId' in i ? [i.questionId.toLowerCase()] : []));
  const tags = items.flatMap((i) => ('tag' in i ? [i.tag] : []));

  const fixedRows = fixedWanted.length
    ? await trx.selectFrom('questions').selectAll().where('owner_id', '=', a.owner_id).where('id', 'in', fixedWanted).execute()
    : [];
  const poolRows = tags.length
    ? await trx
        .selectFrom('questions')
        .selectAll()
        .where('owner_id', '=', a.owner_id)
        .where('status', '=', 'approved')
        // One array parameter (the builder would expand a JS array into a list); && uses the GIN index.
        .where(sql<boolean>`tags && ${sql.val(tags)}::text[]`)
        // A stable order makes the frozen pool, and so every seeded draw, reproducible.
        .orderBy('created_at')
        .orderBy('id')
        .execute()
    : [];

  const problems: string[] = [];
  const byId = new Map(fixedRows.map((r) => [r.id, r]));
  const missing = fixedWanted.filter((qid) => !byId.has(qid));
  const notApproved = fixedWanted.filter((qid) => byId.get(qid) && byId.get(qid)?.status !== 'approved');
  if (missing.length) problems.push(`question${missing.length === 1 ? '' : 's'} not found in the bank: ${list(missing)}`);
  if (notApproved.length) {
    problems.push(`question${notApproved.length === 1 ? '' : 's'} not approved yet: ${list(notApproved)}`);
  }

  // Frozen with its source citation (material, page, quote): authors and the
  // QTI export see where a question came from; candidates' papers never do.
  const questions: Record<string, Question & { source?: unknown }> = {};
  const sections: Section[] = [];
  const claimed = new Set(fixedWanted);
  let maxCents = 0;
  let questionCount = 0;
  for (const item of items) {
    if ('questionId' in item) {
      const row = byId.get(item.questionId.toLowerCase());
      if (!row) continue;
      questions[row.id] = frozen(row);
      sections.push({ kind: 'fixed', questionId: row.id });
      maxCents += cents(row);
      questionCount += 1;
      continue;
    }
    const tagged = poolRows.filter((r) => r.tags.includes(item.tag));
    const pool = tagged.filter((r) => !claimed.has(r.id));
    for (const r of pool) claimed.add(r.id);
    if (pool.length < item.count) {
      const used = tagged.length - pool.length;
      problems.push(
        `tag "${item.tag}" has ${pool.length} approved question${pool.length === 1 ? '' : 's'} available, the section draws ${item.count}` +
          (used ? ` (${used} more already used by a fixed item or an earlier section)` : ''),
      );
      continue;
    }
    const points = new Set(pool.map(cents));
    if (points.size > 1) {
      problems.push(
        `tag "${item.tag}" mixes questions worth ${[...points].map((c) => c / 100).join(', ')} points; ` +
          'candidates drawing different questions would have different maximum scores, so give them equal points or split the tag',
      );
      continue;
    }
    for (const r of pool) questions[r.id] = frozen(r);
    sections.push({ kind: 'random', tag: item.tag, count: item.count, poolIds: pool.map((r) => r.id) });
    maxCents += item.count * (pool[0] ? cents(pool[0]) : 0);
    questionCount += item.count;
  }

  if (problems.length) {
    throw new AppError('not_publishable', `assessment ${a.id} cannot be published: ${problems.join('; ')}`, {
      problems,
      missing,
      notApproved,
    });
  }
  const content: VersionContent<Question> = {
    title: a.title,
    description: a.description,
    timeLimitS: a.time_limit_s,
    shuffleItems: a.shuffle_items,
    shuffleOptions: a.shuffle_options,
    releasePolicy: a.release_policy,
    sections,
    questions,
  };
  return { content, maxScore: maxCents / 100, questionCount };
}

/** Points as integer cents (numeric(8,2)), so sums are exact. */
function cents(row: QuestionRow): number {
  return Math.round(Number(row.points) * 100);
}

function list(ids: string[]): string {
  const shown = ids.slice(0, LISTED).join(', ');
  return ids.length > LISTED ? `${shown} and ${ids.length - LISTED} more` : shown;
}

function frozen(row: Parameters<typeof fromRow>[0] & { source: unknown }): Question & { source?: unknown } {
  return row.source == null ? fromRow(row) : { ...fromRow(row), source: row.source };
}
