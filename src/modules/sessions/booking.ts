/**
 * Booking one candidate into a session, cancelling, and listing bookings.
 *
 * Seats and uniqueness are guaranteed by the database, never by a read
 * followed by a write: the seat is taken with a conditional UPDATE
 * (`booked < capacity`, backed by the table's CHECK) and the partial unique
 * index allows one active booking per candidate and assessment. Reads done
 * before them only choose a clearer error message.
 *
 * Lock order, everywhere in this module and in `bulk.ts`: session rows first,
 * then booking rows. Keeping one order is what makes concurrent book, cancel
 * and bulk-book calls unable to deadlock one another.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.ts';
import { AppError, forbidden, notFound } from '../../http/errors.ts';
import { TurnBatcher } from '../../lib/turn-batcher.ts';
import { compiledOnce } from '../../platform/db/compiled-once.ts';
import { hashAccessCode, newAccessCode, type Principal } from '../auth/tokens.ts';
import { FOREIGN_KEY_VIOLATION, UNIQUE_VIOLATION, isDbError } from '../users/db-errors.ts';
import { decodeCursor, page } from '../users/keyset.ts';
import { selectBookings, toBookingView, type BookingView } from './views.ts';

export interface BookingListQuery {
  sessionId?: string | undefined;
  candidateId?: string | undefined;
  status?: 'active' | 'cancelled' | undefined;
  limit: number;
  cursor?: string | undefined;
}

const alreadyBooked = (extra: Record<string, unknown> = {}) =>
  new AppError('already_booked', 'the candidate already has an active booking for this assessment; cancel it first to move to another session', extra);

export function createBookingOps(db: Kysely<Database>) {
  async function bookingFor(by: Principal, id: string): Promise<BookingView> {
    const row = await selectBookings(db)
      .where('b.id', '=', id)
      .$if(by.role === 'candidate', (qb) => qb.where('b.candidate_id', '=', by.id))
      .$if(by.role === 'author', (qb) => qb.where('s.owner_id', '=', by.id))
      .executeTakeFirst();
    if (!row) throw notFound('booking');
    return toBookingView(row);
  }

  type Page = { items: BookingView[]; nextCursor: string | null };

  type BookingStatus = 'active' | 'cancelled';
  type OwnAsk = { candidateId: string; limit: number; status: BookingStatus | undefined };

  /**
   * The first page of each candidate's own bookings — the dashboard every
   * candidate opens after signing in — for the requests of one turn, one
   * statement per status asked for (the web app always asks for the active ones).
   */
  async function ownFirstPages(asks: OwnAsk[]): Promise<Page[]> {
    const out = new Array<Page>(asks.length);
    const byStatus = new Map<BookingStatus | undefined, number[]>();
    asks.forEach((a, i) => byStatus.set(a.status, [...(byStatus.get(a.status) ?? []), i]));
    await Promise.all(
      [...byStatus].map(async ([status, at]) => {
        const pages = await ownFirstPagesWith(at.map((i) => asks[i]!), status);
        at.forEach((i, j) => (out[i] = pages[j]!));
      }),
    );
    return out;
  }

  /** The first `take` bookings of each candidate in `ids` (of one status, if given), by rank. */
  const firstPagesOf = (ids: string[], take: number, status?: BookingStatus) => {
    const ranked = selectBookings(db)
      .select(sql<string>`row_number() OVER (PARTITION BY b.candidate_id ORDER BY b.created_at DESC, b.id DESC)`.as('rank'))
      .where('b.candidate_id', '=', sql<string>`ANY(${ids}::uuid[])`)
      .$if(status !== undefined, (qb) => qb.where('b.status', '=', status!));
    return db.selectFrom(ranked.as('x')).selectAll().where(sql<boolean>`x.rank <= ${take}::int`).orderBy('x.rank');
  };
  // Compiled once each: every sign-in's answer runs one of them.
  const anyStatusPages = compiledOnce(2, (ids: string[], take: number) => firstPagesOf(ids, take));
  const statusPages = compiledOnce(3, (ids: string[], take: number, status: BookingStatus) => firstPagesOf(ids, take, status));

  async function ownFirstPagesWith(asks: OwnAsk[], status: BookingStatus | undefined): Promise<Page[]> {
    const take = Math.max(...asks.map((a) => a.limit)) + 1;
    const ids = [...new Set(asks.map((a) => a.candidateId))];
    const rows = status === undefined ? await anyStatusPages.execute(db, ids, take) : await statusPages.execute(db, ids, take, status);
    const byCandidate = new Map<string, typeof rows>();
    for (const r of rows) {
      const list = byCandidate.get(r.candidate_id);
      if (list) list.push(r);
      else byCandidate.set(r.candidate_id, [r]);
    }
    return asks.map((a) => {
      const p = page((byCandidate.get(a.candidateId) ?? []).slice(0, a.limit + 1), a.limit);
      return { items: p.rows.map(toBookingView), nextCursor: p.nextCursor };
    });
  }
  const ownPages = new TurnBatcher(ownFirstPages);

  return {
    /**
     * Book a seat. Candidates book themselves into an open session of their
     * district; authors (own sessions) and admins book a given candidate.
     * Returns a sign-in code bound to this booking, shown once; it expires
     * when the session ends.
     */
    async book(by: Principal, sessionId: string, candidateId?: string): Promise<{ booking: BookingView; accessCode: string }> {
      let targetId: string;
      if (by.role === 'candidate') {
        if (candidateId && candidateId !== by.id) throw forbidden('candidates can only book for themselves');
        targetId = by.id;
      } else if (candidateId) {
        targetId = candidateId;
      } else {
        throw new AppError('validation_failed', 'candidateId is required when staff book a seat', {
          errors: [{ path: 'candidateId', message: 'required' }],
        });
      }

      const accessCode = newAccessCode();
      const bookingId = await db.transaction().execute(async (tx) => {
        const session = await tx
          .selectFrom('exam_sessions')
          .select(['id', 'assessment_id', 'owner_id', 'district', 'ends_at'])
          .where('id', '=', sessionId)
          .executeTakeFirst();
        if (!session || (by.role === 'author' && session.owner_id !== by.id)) throw notFound('session');
        const candidate = await tx
          .selectFrom('users')
          .select(['id', 'role', 'district', 'disabled_at'])
          .where('id', '=', targetId)
          .executeTakeFirst();
        if (!candidate || candidate.role !== 'candidate') throw notFound('candidate');
        if (candidate.disabled_at) throw new AppError('forbidden', 'the candidate account is disabled');
        if (candidate.district !== session.district) {
          const whose = by.role === 'candidate' ? 'your district is' : 'the candidate is registered in';
          throw new AppError(
            'district_mismatch',
            `this session is for candidates of district "${session.district}"; ${whose} ${candidate.district ? `"${candidate.district}"` : 'no district'}`,
          );
        }
        if (session.ends_at.getTime() <= Date.now()) {
          throw new AppError('booking_closed', `this session ended at ${session.ends_at.toISOString()}; choose another session`);
        }
        const held = await tx
          .selectFrom('bookings')
          .select(['id', 'session_id'])
          .where('assessment_id', '=', session.assessment_id)
          .where('candidate_id', '=', targetId)
          .where('status', '=', 'active')
          .executeTakeFirst();
        if (held) throw alreadyBooked({ bookingId: held.id, sessionId: held.session_id });

        // The seat: one conditional UPDATE; concurrent bookers queue on the row lock and re-check `booked < capacity`.
        const seat = await tx
          .updateTable('exam_sessions')
          .set((eb) => ({ booked: eb('booked', '+', 1) }))
          .where('id', '=', sessionId)
          .where((eb) => eb('booked', '<', eb.ref('capacity')))
          .where('ends_at', '>', sql<Date>`now()`)
          .returning('booked')
          .executeTakeFirst();
        if (!seat) throw new AppError('session_full', 'every seat of this session is taken; choose another session');

        try {
          const booking = await tx
            .insertInto('bookings')
            .values({ session_id: sessionId, assessment_id: session.assessment_id, candidate_id: targetId })
            .returning('id')
            .executeTakeFirstOrThrow();
          await tx
            .insertInto('access_codes')
            .values({ code_hash: hashAccessCode(accessCode), user_id: targetId, booking_id: booking.id, expires_at: session.ends_at })
            .execute();
          return booking.id;
        } catch (err) {
          // Throwing rolls the transaction back, seat included.
          if (isDbError(err, UNIQUE_VIOLATION, 'bookings_one_active_per_assessment')) throw alreadyBooked();
          if (isDbError(err, FOREIGN_KEY_VIOLATION)) throw notFound('candidate');
          throw err;
        }
      });
      return { booking: await bookingFor(by, bookingId), accessCode };
    },

    /**
     * Cancel a booking: frees the seat and revokes the booking's access code,
     * in one transaction. Idempotent. Refused once the exam was started;
     * candidates may not cancel after the session ended (staff may).
     */
    async cancel(by: Principal, bookingId: string): Promise<BookingView> {
      await db.transaction().execute(async (tx) => {
        const found = await tx
          .selectFrom('bookings as b')
          .innerJoin('exam_sessions as s', 's.id', 'b.session_id')
          .select(['b.session_id', 'b.candidate_id', 's.owner_id'])
          .where('b.id', '=', bookingId)
          .executeTakeFirst();
        const allowed =
          found &&
          (by.role === 'admin' ||
            (by.role === 'author' && found.owner_id === by.id) ||
            (by.role === 'candidate' && found.candidate_id === by.id));
        if (!allowed) throw notFound('booking');

        const session = await tx
          .selectFrom('exam_sessions')
          .select(['id', 'ends_at'])
          .where('id', '=', found.session_id)
          .forUpdate()
          .executeTakeFirstOrThrow();
        const booking = await tx
          .selectFrom('bookings')
          .select(['id', 'status'])
          .where('id', '=', bookingId)
          .forUpdate()
          .executeTakeFirstOrThrow();
        if (booking.status === 'cancelled') return;
        const attempt = await tx.selectFrom('attempts').select('id').where('booking_id', '=', bookingId).executeTakeFirst();
        if (attempt) throw new AppError('conflict', 'the exam was already started with this booking, so it cannot be cancelled');
        if (by.role === 'candidate' && session.ends_at.getTime() <= Date.now()) {
          throw new AppError('booking_closed', 'the session is over; the booking can no longer be cancelled');
        }
        await tx
          .updateTable('bookings')
          .set({ status: 'cancelled', cancelled_at: new Date() })
          .where('id', '=', bookingId)
          .execute();
        await tx
          .updateTable('exam_sessions')
          .set((eb) => ({ booked: eb('booked', '-', 1) }))
          .where('id', '=', session.id)
          .execute();
        await tx
          .updateTable('access_codes')
          .set({ revoked_at: new Date() })
          .where('booking_id', '=', bookingId)
          .where('revoked_at', 'is', null)
          .execute();
      });
      return bookingFor(by, bookingId);
    },

    getBooking: bookingFor,

    /** Newest first. Candidates: their own; authors: bookings of their sessions; admins: all. */
    async listBookings(by: Principal, query: BookingListQuery): Promise<Page> {
      const filtered = query.sessionId !== undefined || query.candidateId !== undefined || query.cursor;
      if (by.role === 'candidate' && !filtered) return ownPages.run({ candidateId: by.id, limit: query.limit, status: query.status });
      if (query.sessionId && by.role === 'author') {
        // Someone else's session is absent rather than empty, the same answer as GET /sessions/:id.
        const own = await db
          .selectFrom('exam_sessions')
          .select('id')
          .where('id', '=', query.sessionId)
          .where('owner_id', '=', by.id)
          .executeTakeFirst();
        if (!own) throw notFound('session');
      }
      const cursor = query.cursor ? decodeCursor(query.cursor) : undefined;
      const rows = await selectBookings(db)
        .$if(by.role === 'candidate', (qb) => qb.where('b.candidate_id', '=', by.id))
        .$if(by.role === 'author', (qb) => qb.where('s.owner_id', '=', by.id))
        .$if(query.sessionId !== undefined, (qb) => qb.where('b.session_id', '=', query.sessionId!))
        .$if(query.candidateId !== undefined, (qb) => qb.where('b.candidate_id', '=', query.candidateId!))
        .$if(query.status !== undefined, (qb) => qb.where('b.status', '=', query.status!))
        .$if(cursor !== undefined, (qb) =>
          qb.where(sql<boolean>`(b.created_at, b.id) < (${cursor!.t}::timestamptz, ${cursor!.id}::uuid)`),
        )
        .orderBy('b.created_at', 'desc')
        .orderBy('b.id', 'desc')
        .limit(query.limit + 1)
        .execute();
      const p = page(rows, query.limit);
      return { items: p.rows.map(toBookingView), nextCursor: p.nextCursor };
    },
  };
}
