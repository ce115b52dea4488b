/**
 * Exam sessions (authors and admins manage; candidates browse their
 * district's), booking and cancelling seats, bulk booking a district.
 */
import type { AppContext } from '../../context.ts';
import { who } from '../../http/auth.ts';
import type { App } from '../../http/types.ts';
import {
  bookBody,
  bookedResponse,
  bookingListQuery,
  bookingPage,
  bookingSchema,
  bulkBookBody,
  bulkBookResponse,
  createSessionBody,
  idParams,
  patchSessionBody,
  sessionListQuery,
  sessionPage,
  sessionSchema,
} from './schema.ts';

const security = [{ bearer: [] }];
const sessionsTag = ['sessions'];
const bookingsTag = ['bookings'];
const date = (s: string | undefined): Date | undefined => (s === undefined ? undefined : new Date(s));

// Returns a promise to match the other route modules; nothing here is asynchronous.
export function sessionRoutes(app: App, ctx: AppContext): Promise<void> {
  const { sessions } = ctx;
  const staff = app.requireRole('author', 'admin');
  const anyone = app.requireRole('author', 'admin', 'candidate');

  app.post(
    '/sessions',
    {
      onRequest: staff,
      schema: {
        tags: sessionsTag,
        summary: 'Schedule a session of a published assessment (pins its latest version)',
        security,
        body: createSessionBody,
        response: { 201: sessionSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const created = await sessions.create(who(req), {
        assessmentId: b.assessmentId,
        district: b.district,
        title: b.title,
        startsAt: new Date(b.startsAt),
        endsAt: new Date(b.endsAt),
        capacity: b.capacity,
      });
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/sessions',
    {
      onRequest: anyone,
      config: { arrival: true },
      schema: {
        tags: sessionsTag,
        summary: "List sessions in start order (authors: own; admins: all; candidates: their district's open ones)",
        security,
        querystring: sessionListQuery,
        response: { 200: sessionPage },
      },
    },
    (req) => sessions.list(who(req), req.query),
  );

  app.post(
    '/sessions/bulk-book',
    {
      onRequest: staff,
      schema: {
        tags: bookingsTag,
        summary: "Book every unbooked candidate of a district into the assessment's sessions, in start order",
        security,
        body: bulkBookBody,
        response: { 200: bulkBookResponse },
      },
    },
    (req) => sessions.bulkBook(who(req), req.body),
  );

  app.get(
    '/sessions/:id',
    {
      onRequest: anyone,
      schema: { tags: sessionsTag, summary: 'Get a session with its seat counts', security, params: idParams, response: { 200: sessionSchema } },
    },
    (req) => sessions.get(who(req), req.params.id),
  );

  app.patch(
    '/sessions/:id',
    {
      onRequest: staff,
      schema: {
        tags: sessionsTag,
        summary: 'Change title, window or capacity (capacity cannot go below the seats booked)',
        security,
        params: idParams,
        body: patchSessionBody,
        response: { 200: sessionSchema },
      },
    },
    (req) =>
      sessions.update(who(req), req.params.id, {
        title: req.body.title,
        startsAt: date(req.body.startsAt),
        endsAt: date(req.body.endsAt),
        capacity: req.body.capacity,
      }),
  );

  app.delete(
    '/sessions/:id',
    {
      onRequest: staff,
      schema: { tags: sessionsTag, summary: 'Delete a session nobody has started', security, params: idParams },
    },
    async (req, reply) => {
      await sessions.delete(who(req), req.params.id);
      return reply.status(204).send();
    },
  );

  app.post(
    '/sessions/:id/bookings',
    {
      onRequest: anyone,
      config: { arrival: true },
      schema: {
        tags: bookingsTag,
        summary: 'Book a seat (candidates: themselves; staff: a given candidate)',
        security,
        params: idParams,
        body: bookBody,
        response: { 201: bookedResponse },
      },
    },
    async (req, reply) => {
      const result = await sessions.book(who(req), req.params.id, req.body?.candidateId);
      return reply.status(201).send(result);
    },
  );

  app.get(
    '/bookings',
    {
      onRequest: anyone,
      config: { arrival: true },
      schema: {
        tags: bookingsTag,
        summary: "List bookings, newest first (candidates: own; authors: their sessions'; admins: all)",
        security,
        querystring: bookingListQuery,
        response: { 200: bookingPage },
      },
    },
    (req) => sessions.listBookings(who(req), req.query),
  );

  app.get(
    '/bookings/:id',
    {
      onRequest: anyone,
      schema: { tags: bookingsTag, summary: 'Get a booking', security, params: idParams, response: { 200: bookingSchema } },
    },
    (req) => sessions.getBooking(who(req), req.params.id),
  );

  app.delete(
    '/bookings/:id',
    {
      onRequest: anyone,
      schema: {
        tags: bookingsTag,
        summary: 'Cancel a booking: frees the seat and revokes its access code (not once the exam was started)',
        security,
        params: idParams,
        response: { 200: bookingSchema },
      },
    },
    (req) => sessions.cancel(who(req), req.params.id),
  );
  return Promise.resolve();
}
