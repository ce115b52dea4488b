/**
 * Exam sessions: a time window in one district with a seat count, pinned to
 * a published assessment version. Authors manage their own sessions, admins
 * all; candidates see the open sessions of their district. Booking lives in
 * `booking.ts`, bulk booking in `bulk.ts`.
 *
 * A session belongs to the owner of its assessment (also when an admin
 * creates it), so the author always sees and manages it.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.ts';
import { AppError, notFound } from '../../http/errors.ts';
import type { Principal } from '../auth/tokens.ts';
import { CHECK_VIOLATION, isDbError } from '../users/db-errors.ts';
import { decodeCursor, page } from '../users/keyset.ts';
import { createBookingOps } from './booking.ts';
import { createBulkBooking } from './bulk.ts';
import { selectSessions, toSessionView, type SessionView } from './views.ts';

export type { BookingView, SessionView } from './views.ts';

export interface SessionInput {
  assessmentId: string;
  district: string;
  title?: string | undefined;
  startsAt: Date;
  endsAt: Date;
  capacity: number;
}

export interface SessionPatch {
  title?: string | undefined;
  startsAt?: Date | undefined;
  endsAt?: Date | undefined;
  capacity?: number | undefined;
}

export interface SessionListQuery {
  assessmentId?: string | undefined;
  district?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** The CHECK (booked >= 0 AND booked <= capacity); PostgreSQL names unnamed table CHECKs in order. */
const SEATS_CHECK = 'exam_sessions_check1';

const windowInvalid = (detail: string) =>
  new AppError('validation_failed', detail, { errors: [{ path: 'endsAt', message: 'must be after startsAt' }] });

export function createSessionService(deps: { db: Kysely<Database> }) {
  const { db } = deps;

  /** Sessions `by` may see: authors their own, admins all, candidates those of their district. */
  function visible(by: Principal) {
    return selectSessions(db)
      .$if(by.role === 'author', (qb) => qb.where('s.owner_id', '=', by.id))
      .$if(by.role === 'candidate', (qb) => qb.where('s.district', '=', by.district ?? ''));
  }

  async function get(by: Principal, id: string): Promise<SessionView> {
    const row = await visible(by).where('s.id', '=', id).executeTakeFirst();
    if (!row) throw notFound('session');
    return toSessionView(row);
  }

  /** The session if `by` may manage it (author: own; admin: any), else 404. */
  async function manageable(by: Principal, id: string) {
    const row = await db
      .selectFrom('exam_sessions')
      .select(['id', 'owner_id', 'starts_at', 'ends_at', 'capacity', 'booked'])
      .where('id', '=', id)
      .$if(by.role !== 'admin', (qb) => qb.where('owner_id', '=', by.id))
      .executeTakeFirst();
    if (!row) throw notFound('session');
    return row;
  }

  return {
    ...createBookingOps(db),
    ...createBulkBooking(db),

    /** Create a session for the latest published version of an assessment `by` owns (admins: any). */
    async create(by: Principal, input: SessionInput): Promise<SessionView> {
      if (input.endsAt <= input.startsAt) throw windowInvalid('endsAt must be after startsAt');
      if (input.endsAt.getTime() <= Date.now()) {
        throw new AppError('validation_failed', 'the session would already be over; check the dates', {
          errors: [{ path: 'endsAt', message: 'must be in the future' }],
        });
      }
      const assessment = await db
        .selectFrom('assessments')
        .select(['id', 'owner_id', 'latest_version'])
        .where('id', '=', input.assessmentId)
        .$if(by.role !== 'admin', (qb) => qb.where('owner_id', '=', by.id))
        .executeTakeFirst();
      if (!assessment) throw notFound('assessment');
      const version =
        assessment.latest_version > 0
          ? await db
              .selectFrom('assessment_versions')
              .select('id')
              .where('assessment_id', '=', assessment.id)
              .where('version', '=', assessment.latest_version)
              .executeTakeFirst()
          : undefined;
      if (!version) throw new AppError('not_published', 'publish the assessment before scheduling sessions for it');
      const { id } = await db
        .insertInto('exam_sessions')
        .values({
          assessment_id: assessment.id,
          assessment_version_id: version.id,
          owner_id: assessment.owner_id,
          title: input.title?.trim() ?? '',
          district: input.district.trim(),
          starts_at: input.startsAt,
          ends_at: input.endsAt,
          capacity: input.capacity,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      return get(by, id);
    },

    /** In start order. Candidates see only sessions that have not ended. */
    async list(by: Principal, query: SessionListQuery): Promise<{ items: SessionView[]; nextCursor: string | null }> {
      if (by.role === 'candidate' && !by.district) return { items: [], nextCursor: null };
      const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
      const rows = await visible(by)
        .$if(by.role === 'candidate', (qb) => qb.where('s.ends_at', '>', sql<Date>`now()`))
        .$if(query.assessmentId !== undefined, (qb) => qb.where('s.assessment_id', '=', query.assessmentId!))
        .$if(query.district !== undefined, (qb) => qb.where('s.district', '=', query.district!))
        .$if(cursor !== undefined, (qb) =>
          qb.where(sql<boolean>`(s.starts_at, s.id) > (${cursor!.t}::timestamptz, ${cursor!.id}::uuid)`),
        )
        .orderBy('s.starts_at')
        .orderBy('s.id')
        .limit(query.limit + 1)
        .execute();
      const p = page(rows, query.limit);
      return { items: p.rows.map(toSessionView), nextCursor: p.nextCursor };
    },

    get,

    /**
     * Change title, window or capacity. Capacity below the seats already
     * booked is refused by the database's CHECK, whatever races with it.
     */
    async update(by: Principal, id: string, patch: SessionPatch): Promise<SessionView> {
      const current = await manageable(by, id);
      const startsAt = patch.startsAt ?? current.starts_at;
      const endsAt = patch.endsAt ?? current.ends_at;
      if (endsAt <= startsAt) {
        throw windowInvalid(`endsAt (${endsAt.toISOString()}) must be after startsAt (${startsAt.toISOString()})`);
      }
      try {
        await db
          .updateTable('exam_sessions')
          .set({
            ...(patch.title !== undefined ? { title: patch.title.trim() } : {}),
            ...(patch.startsAt ? { starts_at: patch.startsAt } : {}),
            ...(patch.endsAt ? { ends_at: patch.endsAt } : {}),
            ...(patch.capacity !== undefined ? { capacity: patch.capacity } : {}),
          })
          .where('id', '=', id)
          .execute();
      } catch (err) {
        if (isDbError(err, CHECK_VIOLATION, SEATS_CHECK)) {
          const { booked } = await manageable(by, id);
          throw new AppError(
            'conflict',
            `capacity ${patch.capacity} is below the ${booked} seats already booked; cancel bookings first or choose a capacity of at least ${booked}`,
            { booked },
          );
        }
        if (isDbError(err, CHECK_VIOLATION)) throw windowInvalid('endsAt must be after startsAt');
        throw err;
      }
      return get(by, id);
    },

    /** Delete a session and its bookings; refused once any candidate has started it. */
    async delete(by: Principal, id: string): Promise<void> {
      await db.transaction().execute(async (tx) => {
        // The row lock makes a concurrent attempt start (which references the session) wait or be seen.
        const row = await tx
          .selectFrom('exam_sessions')
          .select('id')
          .where('id', '=', id)
          .$if(by.role !== 'admin', (qb) => qb.where('owner_id', '=', by.id))
          .forUpdate()
          .executeTakeFirst();
        if (!row) throw notFound('session');
        const started = await tx.selectFrom('attempts').select('id').where('session_id', '=', id).limit(1).executeTakeFirst();
        if (started) {
          throw new AppError('conflict', 'candidates have already started this session, so it cannot be deleted; its results would be lost');
        }
        await tx.deleteFrom('exam_sessions').where('id', '=', id).execute();
      });
    },
  };
}

export type SessionService = ReturnType<typeof createSessionService>;
