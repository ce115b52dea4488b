/** Request and response schemas of the sessions and bookings routes. */
import { z } from 'zod';

export const MAX_CAPACITY = 100_000;

const instant = z.iso.datetime({ offset: true }).describe('ISO 8601 with Z or an offset');
const capacity = z.number().int().min(1).max(MAX_CAPACITY);
const title = z.string().trim().max(200);
const district = z.string().trim().min(1, 'district is required').max(100);

export const idParams = z.object({ id: z.uuid() });

export const sessionSchema = z.object({
  id: z.string(),
  assessmentId: z.string(),
  assessmentVersionId: z.string(),
  assessmentTitle: z.string(),
  ownerId: z.string(),
  title: z.string(),
  district: z.string(),
  startsAt: z.string(),
  endsAt: z.string(),
  capacity: z.number().int(),
  booked: z.number().int(),
  seatsLeft: z.number().int(),
  createdAt: z.string(),
});

export const createSessionBody = z.strictObject({
  assessmentId: z.uuid(),
  district,
  title: title.optional(),
  startsAt: instant,
  endsAt: instant,
  capacity,
});

export const patchSessionBody = z
  .strictObject({ title: title.optional(), startsAt: instant.optional(), endsAt: instant.optional(), capacity: capacity.optional() })
  .refine((b) => Object.values(b).some((v) => v !== undefined), 'send at least one of title, startsAt, endsAt, capacity');

const limit = z.coerce.number().int().min(1).max(500).default(50);
const cursor = z.string().max(500).optional().describe('nextCursor of the previous page');

export const sessionListQuery = z.object({ assessmentId: z.uuid().optional(), district: district.optional(), limit, cursor });
export const sessionPage = z.object({ items: z.array(sessionSchema), nextCursor: z.string().nullable() });

export const bookingSchema = z.object({
  id: z.string(),
  sessionId: z.string(),
  assessmentId: z.string(),
  candidateId: z.string(),
  status: z.enum(['active', 'cancelled']),
  createdAt: z.string(),
  cancelledAt: z.string().nullable(),
  attemptId: z.string().nullable(),
  attemptStatus: z.enum(['in_progress', 'submitted', 'graded']).nullable(),
  candidate: z.object({ id: z.string(), name: z.string(), email: z.string().nullable() }),
  session: z.object({ id: z.string(), title: z.string(), district: z.string(), startsAt: z.string(), endsAt: z.string() }),
});

export const bookBody = z
  .strictObject({ candidateId: z.uuid().optional().describe('staff only: the candidate to book; candidates book themselves') })
  // A candidate's POST usually has no body at all.
  .nullish();

export const bookedResponse = z.object({
  booking: bookingSchema,
  accessCode: z.string().describe('signs the candidate straight in to this booking; shown once, valid until the session ends'),
});

export const bookingListQuery = z.object({
  sessionId: z.uuid().optional(),
  candidateId: z.uuid().optional(),
  status: z.enum(['active', 'cancelled']).optional(),
  limit,
  cursor,
});
export const bookingPage = z.object({ items: z.array(bookingSchema), nextCursor: z.string().nullable() });

export const bulkBookBody = z.strictObject({
  assessmentId: z.uuid(),
  district,
  sessionIds: z.array(z.uuid()).min(1).max(1000).optional().describe("default: every open session of the assessment in the district"),
});

export const bulkBookResponse = z.object({
  booked: z.number().int(),
  unplaced: z.number().int().describe('eligible candidates left without a seat'),
  perSession: z.array(z.object({ sessionId: z.string(), booked: z.number().int() })),
});
