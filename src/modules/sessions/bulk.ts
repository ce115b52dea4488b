/**
 * Bulk booking: every candidate of a district without an active booking for
 * the assessment is placed into that district's sessions, in start order,
 * until the seats run out. Set-based: one INSERT … SELECT for all sessions,
 * so 40,000 candidates cost a few statements, not 40,000 round trips.
 *
 * The sessions are locked up front in start order (the module's lock order:
 * sessions, then bookings), so free seats cannot change underneath; the
 * capacity CHECK stays the final guard. Bulk-booked candidates sign in with
 * their general access code, so no per-booking codes are issued.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.ts';
import { AppError, notFound } from '../../http/errors.ts';
import type { Principal } from '../auth/tokens.ts';
import { CHECK_VIOLATION, FOREIGN_KEY_VIOLATION, isDbError } from '../users/db-errors.ts';

export interface BulkBookInput {
  assessmentId: string;
  district: string;
  /** Restrict to these sessions (they must be open sessions of the assessment in the district). */
  sessionIds?: string[] | undefined;
}

export interface BulkBookResult {
  /** Bookings made by this call. */
  booked: number;
  /** Eligible candidates still without a booking because the seats ran out. */
  unplaced: number;
  perSession: { sessionId: string; booked: number }[];
}

export function createBulkBooking(db: Kysely<Database>) {
  return {
    async bulkBook(by: Principal, input: BulkBookInput): Promise<BulkBookResult> {
      const assessment = await db
        .selectFrom('assessments')
        .select('id')
        .where('id', '=', input.assessmentId)
        .$if(by.role !== 'admin', (qb) => qb.where('owner_id', '=', by.id))
        .executeTakeFirst();
      if (!assessment) throw notFound('assessment');
      const district = input.district.trim();
      const wanted = input.sessionIds ? [...new Set(input.sessionIds)] : undefined;

      try {
        return await db.transaction().execute(async (tx) => {
          const sessions = await tx
            .selectFrom('exam_sessions')
            .select(['id', 'capacity', 'booked'])
            .where('assessment_id', '=', assessment.id)
            .where('district', '=', district)
            .where('ends_at', '>', sql<Date>`now()`)
            .$if(wanted !== undefined && wanted.length > 0, (qb) => qb.where('id', 'in', wanted!))
            .orderBy('starts_at')
            .orderBy('id')
            .forUpdate()
            .execute();
          if (wanted?.length) {
            const found = new Set(sessions.map((s) => s.id));
            const missing = wanted.filter((id) => !found.has(id));
            if (missing.length) {
              throw new AppError(
                'validation_failed',
                `not an open session of this assessment in district "${district}": ${missing.join(', ')}`,
                { errors: missing.map((id) => ({ path: 'sessionIds', message: `${id} is not an open session of this assessment in the district` })) },
              );
            }
          }

          // Without fresh statistics (PGlite has no autovacuum; a district imported a minute ago has none)
          // the planner may pick a nested-loop anti-join, quadratic in candidates × bookings. Hash and
          // merge joins are linear whatever the statistics say; SET LOCAL ends with the transaction.
          await sql`SET LOCAL enable_nestloop = off`.execute(tx);

          // Consecutive rank ranges, one per session in start order: ranks (lo, hi] go to that session.
          const slots: { id: string; lo: number; hi: number }[] = [];
          let seatsFree = 0;
          for (const s of sessions) {
            const free = Math.max(0, s.capacity - s.booked);
            if (free > 0) slots.push({ id: s.id, lo: seatsFree, hi: seatsFree + free });
            seatsFree += free;
          }

          const eligible = sql`
            SELECT u.id, u.name FROM users u
            WHERE u.role = 'candidate' AND u.district = ${district} AND u.disabled_at IS NULL
              AND NOT EXISTS (
                SELECT 1 FROM bookings b
                WHERE b.assessment_id = ${assessment.id} AND b.candidate_id = u.id AND b.status = 'active')`;

          const placed = new Map<string, number>();
          let eligibleCount: number;
          if (slots.length === 0) {
            const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM (${eligible}) e`.execute(tx);
            eligibleCount = rows[0]!.n;
          } else {
            const values = sql.join(slots.map((s) => sql`(${s.id}::uuid, ${s.lo}::int, ${s.hi}::int)`));
            // One statement: rank once (alphabetically), insert every placement, bump each session's count.
            // DO NOTHING skips a candidate who booked themself meanwhile; the capacity CHECK is the final guard.
            const { rows } = await sql<{ session_id: string | null; n: number | null; eligible: number }>`
              WITH slots (session_id, lo, hi) AS (VALUES ${values}),
              eligible AS (${eligible}),
              ranked AS (
                SELECT id, row_number() OVER (ORDER BY lower(name), id) AS rn
                FROM (SELECT id, name FROM eligible ORDER BY lower(name), id LIMIT ${seatsFree}) top
              ),
              ins AS (
                INSERT INTO bookings (session_id, assessment_id, candidate_id)
                SELECT s.session_id, ${assessment.id}::uuid, r.id
                FROM ranked r JOIN slots s ON r.rn > s.lo AND r.rn <= s.hi
                ON CONFLICT DO NOTHING
                RETURNING session_id
              ),
              counts AS (SELECT session_id, count(*)::int AS n FROM ins GROUP BY session_id),
              upd AS (
                UPDATE exam_sessions x SET booked = x.booked + c.n
                FROM counts c WHERE x.id = c.session_id
                RETURNING x.id AS session_id, c.n
              )
              SELECT upd.session_id, upd.n, total.eligible
              FROM (SELECT count(*)::int AS eligible FROM eligible) total
              LEFT JOIN upd ON true`.execute(tx);
            eligibleCount = rows[0]!.eligible;
            for (const r of rows) if (r.session_id) placed.set(r.session_id, r.n ?? 0);
          }

          const perSession = sessions.map((s) => ({ sessionId: s.id, booked: placed.get(s.id) ?? 0 }));
          const total = perSession.reduce((sum, p) => sum + p.booked, 0);
          // Everyone eligible beyond the free seats; a candidate skipped by DO NOTHING has a booking already.
          return { booked: total, unplaced: Math.max(0, eligibleCount - seatsFree), perSession };
        });
      } catch (err) {
        // Accounts deleted or seats changed by a concurrent operation the locks do not cover: nothing was written.
        if (isDbError(err, FOREIGN_KEY_VIOLATION) || isDbError(err, CHECK_VIOLATION)) {
          throw new AppError('conflict', 'candidates or sessions changed while booking; nothing was booked — try again');
        }
        throw err;
      }
    },
  };
}
