/**
 * The question bank. Authors see and change only their own questions; admins
 * see every bank. Someone else's question answers 404, never 403, so an id
 * does not reveal that a question exists.
 *
 * Validation rules live in model.ts; this service stores what the model
 * accepted and never re-implements a rule. Editing an approved question is
 * allowed: published assessment versions hold frozen copies.
 */
import { sql, type Kysely, type Selectable } from 'kysely';
import type { z } from 'zod';
import { AppError, notFound } from '../../http/errors.ts';
import type { Principal } from '../auth/tokens.ts';
import type { Database, QuestionsTable, QuestionStatus, QuestionType } from '../../platform/db/schema.ts';
import { afterCursor, containsPattern, cursorTimestamp, decodeCursor, toPage, type Page } from './listing.ts';
import {
  applyQuestionPatch,
  fromRow,
  questionBody,
  type Difficulty,
  type Question,
  type QuestionInput,
  type QuestionPatch,
} from './model.ts';

/** Where a generated question came from; set by the generation pipeline, shown to reviewers. */
export type QuestionSource = Record<string, unknown>;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** A question as the API returns it to its author: answers included, absent optional fields as null. */
export type QuestionView = DistributiveOmit<Question, 'feedback' | 'difficulty'> & {
  feedback: string | null;
  difficulty: Difficulty | null;
  status: QuestionStatus;
  source: QuestionSource | null;
  ownerId: string;
  createdAt: string;
  updatedAt: string;
};

export interface QuestionListQuery {
  limit: number;
  cursor?: string | undefined;
  status?: QuestionStatus | undefined;
  type?: QuestionType | undefined;
  tag?: string | undefined;
  /** Case-insensitive substring of the stem. */
  q?: string | undefined;
}

export interface BulkApproveResult {
  /** Questions that changed from draft or rejected to approved. */
  approved: number;
  /** Given ids that were approved already (left untouched). */
  alreadyApproved: string[];
  /** Given ids that do not exist in the caller's bank. */
  notFound: string[];
}

type QuestionRow = Selectable<QuestionsTable>;

export function createQuestionService({ db }: { db: Kysely<Database> }) {
  /** Authors are confined to their own bank; admins are not. */
  function visible(p: Principal) {
    return db.selectFrom('questions').$if(p.role !== 'admin', (qb) => qb.where('owner_id', '=', p.id));
  }

  async function load(p: Principal, id: string): Promise<QuestionRow> {
    const row = await visible(p).selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound(`question ${id}`);
    return row;
  }

  async function setStatus(p: Principal, id: string, status: QuestionStatus): Promise<QuestionView> {
    const row = await db
      .updateTable('questions')
      .set({ status, updated_at: sql`now()` })
      .where('id', '=', id)
      .$if(p.role !== 'admin', (qb) => qb.where('owner_id', '=', p.id))
      .returningAll()
      .executeTakeFirst();
    if (!row) throw notFound(`question ${id}`);
    return toView(row);
  }

  return {
    /** Adds a draft question to the caller's bank. */
    async create(p: Principal, input: QuestionInput, source: QuestionSource | null = null): Promise<QuestionView> {
      const columns = questionBody(input);
      const row = await db
        .insertInto('questions')
        .values({
          owner_id: p.id,
          type: columns.type,
          stem: columns.stem,
          body: JSON.stringify(columns.body),
          points: columns.points,
          feedback: columns.feedback,
          tags: columns.tags,
          difficulty: columns.difficulty,
          source: source === null ? null : JSON.stringify(source),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return toView(row);
    },

    async list(p: Principal, query: QuestionListQuery): Promise<Page<QuestionView>> {
      const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const { status, type, tag, q } = query;
      const rows = await visible(p)
        .selectAll()
        .select(cursorTimestamp.as('cursor_ts'))
        .$if(status !== undefined, (qb) => qb.where('status', '=', status!))
        .$if(type !== undefined, (qb) => qb.where('type', '=', type!))
        // `@>` on the array uses the GIN index on tags.
        .$if(tag !== undefined, (qb) => qb.where(sql<boolean>`tags @> ${sql.val([tag!])}::text[]`))
        .$if(q !== undefined && q !== '', (qb) => qb.where('stem', 'ilike', containsPattern(q!)))
        .$if(cursor !== undefined, (qb) => qb.where(afterCursor(cursor!)))
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(query.limit + 1)
        .execute();
      return toPage(rows, query.limit, toView);
    },

    async get(p: Principal, id: string): Promise<QuestionView> {
      return toView(await load(p, id));
    },

    /**
     * Applies a partial edit and validates the merged question as a whole,
     * under a row lock so two concurrent edits cannot each validate against a
     * state the other is about to change. Status is kept: review is a
     * separate, explicit step.
     */
    async update(p: Principal, id: string, patch: QuestionPatch): Promise<QuestionView> {
      return db.transaction().execute(async (trx) => {
        const current = await trx
          .selectFrom('questions')
          .selectAll()
          .where('id', '=', id)
          .$if(p.role !== 'admin', (qb) => qb.where('owner_id', '=', p.id))
          .forUpdate()
          .executeTakeFirst();
        if (!current) throw notFound(`question ${id}`);
        const merged = applyQuestionPatch(fromRow(current), patch);
        if (!merged.ok) throw validationFailed(merged.error);
        const columns = questionBody(merged.value);
        const row = await trx
          .updateTable('questions')
          .set({
            stem: columns.stem,
            body: JSON.stringify(columns.body),
            points: columns.points,
            feedback: columns.feedback,
            tags: columns.tags,
            difficulty: columns.difficulty,
            updated_at: sql`now()`,
          })
          .where('id', '=', id)
          .returningAll()
          .executeTakeFirstOrThrow();
        return toView(row);
      });
    },

    /** Draft assessments that list a deleted question are refused at publish; published versions keep their copy. */
    async remove(p: Principal, id: string): Promise<void> {
      const res = await db
        .deleteFrom('questions')
        .where('id', '=', id)
        .$if(p.role !== 'admin', (qb) => qb.where('owner_id', '=', p.id))
        .executeTakeFirst();
      if (res.numDeletedRows === 0n) throw notFound(`question ${id}`);
    },

    approve: (p: Principal, id: string) => setStatus(p, id, 'approved'),
    reject: (p: Principal, id: string) => setStatus(p, id, 'rejected'),

    async bulkApprove(p: Principal, ids: readonly string[]): Promise<BulkApproveResult> {
      const wanted = [...new Set(ids.map((id) => id.toLowerCase()))];
      return db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('questions')
          .select(['id', 'status'])
          .where('id', 'in', wanted)
          .$if(p.role !== 'admin', (qb) => qb.where('owner_id', '=', p.id))
          .forUpdate()
          .execute();
        const toApprove = existing.filter((r) => r.status !== 'approved').map((r) => r.id);
        if (toApprove.length) {
          await trx
            .updateTable('questions')
            .set({ status: 'approved', updated_at: sql`now()` })
            .where('id', 'in', toApprove)
            .execute();
        }
        const found = new Set(existing.map((r) => r.id));
        return {
          approved: toApprove.length,
          alreadyApproved: existing.filter((r) => r.status === 'approved').map((r) => r.id),
          notFound: wanted.filter((id) => !found.has(id)),
        };
      });
    },
  };
}

export type QuestionService = ReturnType<typeof createQuestionService>;

/** The row as the API shows it: the model's normalised question plus bookkeeping. */
function toView(row: QuestionRow): QuestionView {
  const { feedback, difficulty, ...question } = fromRow(row);
  return {
    ...question,
    feedback: feedback ?? null,
    difficulty: difficulty ?? null,
    status: row.status,
    source: (row.source as QuestionSource | null) ?? null,
    ownerId: row.owner_id,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** Same problem shape as request validation, for rules only checkable after merging a patch. */
function validationFailed(error: z.ZodError): AppError {
  const errors = error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.message,
  }));
  return new AppError('validation_failed', `invalid body: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, {
    errors,
  });
}
