/**
 * Assessments: an editable draft (title, settings, items) plus immutable
 * published versions. Authors see only their own; admins see every one.
 * Someone else's assessment answers 404, so ids do not reveal what exists.
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import { AppError, notFound } from '../../http/errors.ts';
import type { Principal } from '../auth/tokens.ts';
import type { AssessmentsTable, Database } from '../../platform/db/schema.ts';
import { afterCursor, containsPattern, cursorTimestamp, decodeCursor, toPage, type Page } from '../questions/listing.ts';
import type { Question } from '../questions/model.ts';
import type { VersionContent } from './content.ts';
import { publishAssessment } from './publish.ts';
import type {
  AssessmentDetail,
  AssessmentInput,
  AssessmentItem,
  AssessmentPatch,
  AssessmentView,
  VersionSummary,
} from './schema.ts';

export interface AssessmentListQuery {
  limit: number;
  cursor?: string | undefined;
  /** Case-insensitive substring of the title. */
  q?: string | undefined;
}

export interface PublishedVersion extends VersionSummary {
  assessmentId: string;
  content: VersionContent<Question>;
}

type AssessmentRow = Selectable<AssessmentsTable>;

export function createAssessmentService({ db }: { db: Kysely<Database> }) {
  /** Authors are confined to their own rows; admins are not. */
  function visible(p: Principal) {
    return db.selectFrom('assessments').$if(p.role !== 'admin', (qb) => qb.where('owner_id', '=', p.id));
  }

  async function load(p: Principal, id: string): Promise<AssessmentRow> {
    const row = await visible(p).selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound(`assessment ${id}`);
    return row;
  }

  async function versions(assessmentId: string): Promise<VersionSummary[]> {
    const rows = await db
      .selectFrom('assessment_versions')
      .select(['id', 'version', 'published_at', 'max_score', questionCount.as('question_count')])
      .where('assessment_id', '=', assessmentId)
      .orderBy('version', 'asc')
      .execute();
    return rows.map((r) => ({
      id: r.id,
      version: r.version,
      publishedAt: r.published_at.toISOString(),
      maxScore: Number(r.max_score),
      questionCount: r.question_count,
    }));
  }

  return {
    async create(p: Principal, input: AssessmentInput): Promise<AssessmentView> {
      const row = await db
        .insertInto('assessments')
        .values({
          owner_id: p.id,
          title: input.title,
          description: input.description,
          time_limit_s: input.timeLimitS,
          shuffle_items: input.shuffleItems,
          shuffle_options: input.shuffleOptions,
          release_policy: input.releasePolicy,
          items: JSON.stringify(input.items),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toView(row);
    },

    async list(p: Principal, query: AssessmentListQuery): Promise<Page<AssessmentView>> {
      const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const rows = await visible(p)
        .selectAll()
        .select(cursorTimestamp.as('cursor_ts'))
        .$if(query.q !== undefined && query.q !== '', (qb) => qb.where('title', 'ilike', containsPattern(query.q ?? '')))
        .$if(cursor !== undefined, (qb) => qb.where(afterCursor(cursor!)))
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(query.limit + 1)
        .execute();
      return toPage(rows, query.limit, toView);
    },

    async get(p: Principal, id: string): Promise<AssessmentDetail> {
      const row = await load(p, id);
      return { ...toView(row), versions: await versions(row.id) };
    },

    async update(p: Principal, id: string, patch: AssessmentPatch): Promise<AssessmentView> {
      const row = await db
        .updateTable('assessments')
        .set({
          ...(patch.title !== undefined ? { title: patch.title } : {}),
          ...(patch.description !== undefined ? { description: patch.description } : {}),
          ...(patch.timeLimitS !== undefined ? { time_limit_s: patch.timeLimitS } : {}),
          ...(patch.shuffleItems !== undefined ? { shuffle_items: patch.shuffleItems } : {}),
          ...(patch.shuffleOptions !== undefined ? { shuffle_options: patch.shuffleOptions } : {}),
          ...(patch.releasePolicy !== undefined ? { release_policy: patch.releasePolicy } : {}),
          ...(patch.items !== undefined ? { items: JSON.stringify(patch.items) } : {}),
          updated_at: sql`now()`,
        })
        .where('id', '=', id)
        .$if(p.role !== 'admin', (qb) => qb.where('owner_id', '=', p.id))
        .returningAll()
        .executeTakeFirst();
      if (!row) throw notFound(`assessment ${id}`);
      return toView(row);
    },

    /**
     * Refused while exam sessions use it: deleting would cascade to their
     * bookings and attempts. The row lock makes the check and the delete one
     * step against a session being created at the same moment (that insert
     * takes a key-share lock on this row, which FOR UPDATE waits for).
     */
    async remove(p: Principal, id: string): Promise<void> {
      await db.transaction().execute(async (trx) => {
        const row = await trx
          .selectFrom('assessments')
          .select('id')
          .where('id', '=', id)
          .$if(p.role !== 'admin', (qb) => qb.where('owner_id', '=', p.id))
          .forUpdate()
          .executeTakeFirst();
        if (!row) throw notFound(`assessment ${id}`);
        const sessions = await trx
          .selectFrom('exam_sessions')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('assessment_id', '=', id)
          .executeTakeFirstOrThrow();
        const n = Number(sessions.n);
        if (n > 0) {
          throw new AppError(
            'conflict',
            `assessment ${id} has ${n} exam session${n === 1 ? '' : 's'}; delete those sessions first`,
            { sessions: n },
          );
        }
        await trx.deleteFrom('assessments').where('id', '=', id).execute();
      });
    },

    /** Publishes the current draft as version latest+1; see publish.ts for the rules. */
    async publish(p: Principal, id: string): Promise<VersionSummary> {
      return publishAssessment(db, p, id);
    },

    async getVersion(p: Principal, id: string, version: number): Promise<PublishedVersion> {
      const assessment = await load(p, id);
      const row = await db
        .selectFrom('assessment_versions')
        .select(['id', 'version', 'published_at', 'max_score', 'content', questionCount.as('question_count')])
        .where('assessment_id', '=', assessment.id)
        .where('version', '=', version)
        .executeTakeFirst();
      if (!row) throw notFound(`version ${version} of assessment ${id}`);
      return {
        id: row.id,
        assessmentId: assessment.id,
        version: row.version,
        publishedAt: row.published_at.toISOString(),
        maxScore: Number(row.max_score),
        questionCount: row.question_count,
        content: row.content as VersionContent<Question>,
      };
    },

    /**
     * Releases results of a manually released assessment. Allowed when the
     * draft or any published version says 'manual': candidates sit a version,
     * and its frozen policy is what they were promised. Releasing twice keeps
     * the first release time.
     */
    async releaseResults(p: Principal, id: string): Promise<AssessmentView> {
      const assessment = await load(p, id);
      if (assessment.release_policy !== 'manual') {
        const manualVersion = await db
          .selectFrom('assessment_versions')
          .select('version')
          .where('assessment_id', '=', id)
          .where(sql<boolean>`content->>'releasePolicy' = 'manual'`)
          .executeTakeFirst();
        if (!manualVersion) {
          throw new AppError(
            'conflict',
            `assessment ${id} releases results automatically (releasePolicy "${assessment.release_policy}"); only "manual" results are released by hand`,
          );
        }
      }
      const row = await db
        .updateTable('assessments')
        .set({ results_released_at: sql`coalesce(results_released_at, now())`, updated_at: sql`now()` })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      if (!row) throw notFound(`assessment ${id}`);
      return toView(row);
    },
  };
}

export type AssessmentService = ReturnType<typeof createAssessmentService>;

/** Questions each candidate gets: one per fixed section, `count` per random one. */
const questionCount = sql<number>`(
  SELECT coalesce(sum(CASE WHEN s->>'kind' = 'random' THEN (s->>'count')::int ELSE 1 END), 0)::int
  FROM jsonb_array_elements(content->'sections') AS s
)`;

function toView(row: AssessmentRow): AssessmentView {
  return {
    id: row.id,
    ownerId: row.owner_id,
    title: row.title,
    description: row.description,
    timeLimitS: row.time_limit_s,
    shuffleItems: row.shuffle_items,
    shuffleOptions: row.shuffle_options,
    releasePolicy: row.release_policy,
    // Written only by this service from validated input.
    items: row.items as AssessmentItem[],
    latestVersion: row.latest_version,
    resultsReleasedAt: row.results_released_at?.toISOString() ?? null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}
