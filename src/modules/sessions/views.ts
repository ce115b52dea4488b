/** What the API shows of exam sessions and bookings, and the queries that read them. */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../../platform/db/schema.ts';
import { microsUtc } from '../users/keyset.ts';

export interface SessionView {
  id: string;
  assessmentId: string;
  /** The published version candidates of this session sit; pinned when the session is created. */
  assessmentVersionId: string;
  assessmentTitle: string;
  ownerId: string;
  title: string;
  district: string;
  startsAt: string;
  endsAt: string;
  capacity: number;
  booked: number;
  seatsLeft: number;
  createdAt: string;
}

export interface BookingView {
  id: string;
  sessionId: string;
  assessmentId: string;
  candidateId: string;
  status: 'active' | 'cancelled';
  createdAt: string;
  cancelledAt: string | null;
  /** Set once the candidate has started the exam; the booking can no longer be cancelled. */
  attemptId: string | null;
  /** That attempt's status, so a candidate's dashboard needs no second request. */
  attemptStatus: 'in_progress' | 'submitted' | 'graded' | null;
  candidate: { id: string; name: string; email: string | null };
  session: { id: string; title: string; district: string; startsAt: string; endsAt: string };
}

type Q = Kysely<Database> | Transaction<Database>;

export function selectSessions(db: Q) {
  return db
    .selectFrom('exam_sessions as s')
    .innerJoin('assessments as a', 'a.id', 's.assessment_id')
    .select([
      's.id',
      's.assessment_id',
      's.assessment_version_id',
      'a.title as assessment_title',
      's.owner_id',
      's.title',
      's.district',
      's.starts_at',
      's.ends_at',
      's.capacity',
      's.booked',
      's.created_at',
      microsUtc('s.starts_at').as('cursor_t'),
    ]);
}

type SessionRow = Awaited<ReturnType<ReturnType<typeof selectSessions>['executeTakeFirstOrThrow']>>;

export function toSessionView(r: SessionRow): SessionView {
  return {
    id: r.id,
    assessmentId: r.assessment_id,
    assessmentVersionId: r.assessment_version_id,
    assessmentTitle: r.assessment_title,
    ownerId: r.owner_id,
    title: r.title,
    district: r.district,
    startsAt: r.starts_at.toISOString(),
    endsAt: r.ends_at.toISOString(),
    capacity: r.capacity,
    booked: r.booked,
    seatsLeft: Math.max(0, r.capacity - r.booked),
    createdAt: r.created_at.toISOString(),
  };
}

export function selectBookings(db: Q) {
  return db
    .selectFrom('bookings as b')
    .innerJoin('exam_sessions as s', 's.id', 'b.session_id')
    .innerJoin('users as u', 'u.id', 'b.candidate_id')
    .leftJoin('attempts as t', 't.booking_id', 'b.id')
    .select([
      'b.id',
      'b.session_id',
      'b.assessment_id',
      'b.candidate_id',
      'b.status',
      'b.created_at',
      'b.cancelled_at',
      't.id as attempt_id',
      't.status as attempt_status',
      'u.name as candidate_name',
      'u.email as candidate_email',
      's.title as session_title',
      's.district',
      's.starts_at',
      's.ends_at',
      microsUtc('b.created_at').as('cursor_t'),
    ]);
}

type BookingRow = Awaited<ReturnType<ReturnType<typeof selectBookings>['executeTakeFirstOrThrow']>>;

export function toBookingView(r: BookingRow): BookingView {
  return {
    id: r.id,
    sessionId: r.session_id,
    assessmentId: r.assessment_id,
    candidateId: r.candidate_id,
    status: r.status,
    createdAt: r.created_at.toISOString(),
    cancelledAt: r.cancelled_at ? r.cancelled_at.toISOString() : null,
    attemptId: r.attempt_id,
    attemptStatus: r.attempt_status,
    candidate: { id: r.candidate_id, name: r.candidate_name, email: r.candidate_email },
    session: {
      id: r.session_id,
      title: r.session_title,
      district: r.district,
      startsAt: r.starts_at.toISOString(),
      endsAt: r.ends_at.toISOString(),
    },
  };
}
