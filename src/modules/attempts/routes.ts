/**
 * Exam-taking routes. The paper and attempt views are sent as pre-serialised
 * JSON: Fastify passes a string with a JSON content type through as it is,
 * so the response schemas here document the views without re-checking them.
 */
import { z } from 'zod';
import type { AppContext } from '../../context.ts';
import { who } from '../../http/auth.ts';
import type { App } from '../../http/types.ts';

const answer = z.strictObject({
  questionId: z.string().min(1).max(64),
  value: z.unknown(),
  seq: z.number().int().min(0).max(2_000_000_000),
});
const answers = z.array(answer).max(200);
const attemptParams = z.object({ id: z.string().min(1).max(64) });

export const attemptView = z.object({
  id: z.string(),
  bookingId: z.string(),
  sessionId: z.string(),
  status: z.enum(['in_progress', 'submitted', 'graded']),
  startedAt: z.string(),
  deadline: z.string(),
  remainingS: z.number(),
  serverTime: z.string(),
  submittedAt: z.string().nullable(),
  askResultInS: z
    .number()
    .int()
    .optional()
    .describe("Only on a submit's answer: seconds until marking should be done — ask for the result no earlier (longer while the server holds gradings back at peak load)"),
  answers: z.array(z.object({ questionId: z.string(), value: z.unknown(), seq: z.number(), savedAt: z.string() })),
});

const includePaper = z.object({ include: z.literal('paper').optional().describe('`paper`: answer with the paper too') });
const attemptWithPaper = attemptView.extend({
  paper: z.record(z.string(), z.unknown()).optional().describe('With `include=paper`: the paper, as `GET /attempts/{id}/paper` answers'),
});

const JSON_TYPE = 'application/json; charset=utf-8';
type AttemptViewOut = z.output<typeof attemptView>;
/** The service's AttemptView JSON text, typed as the view its response schema documents; sent as it is. */
const viewText = (json: string): AttemptViewOut => json as unknown as AttemptViewOut;

export async function attemptRoutes(app: App, ctx: AppContext): Promise<void> {
  const s = ctx.attempts;
  const candidate = app.requireRole('candidate');
  const anyone = app.requireRole('candidate', 'author', 'admin');
  const security = [{ bearer: [] }];

  app.post(
    '/bookings/:bookingId/attempt',
    {
      onRequest: candidate,
      schema: {
        tags: ['attempts'],
        summary: 'Start the attempt for a booking (or resume it: idempotent)',
        description:
          'With `include=paper` the answer also carries the paper, exactly as `GET /attempts/{id}/paper` gives it, ' +
          'so that the exam page needs no request of its own when every candidate starts at once.',
        security,
        params: z.object({ bookingId: z.string().min(1).max(64) }),
        querystring: includePaper,
        response: { 200: attemptWithPaper },
      },
    },
    async (req, reply) => {
      const json = await s.start(who(req), req.params.bookingId, { withPaper: req.query.include === 'paper' });
      return reply.type(JSON_TYPE).send(viewText(json));
    },
  );

  app.get(
    '/attempts',
    {
      onRequest: anyone,
      schema: {
        tags: ['attempts'],
        summary: "List attempts: a candidate's own, an author's sessions', all for admin",
        security,
        querystring: z.object({ sessionId: z.uuid().optional(), limit: z.coerce.number().int().min(1).max(1000).default(100) }),
      },
    },
    (req) => s.list(who(req), req.query),
  );

  app.get(
    '/attempts/:id',
    {
      onRequest: anyone,
      schema: {
        tags: ['attempts'],
        summary: 'Resume: attempt state, saved answers and remaining time by the server clock',
        description: 'With `include=paper` the answer also carries the paper, so that a reloaded exam page asks once.',
        security,
        params: attemptParams,
        querystring: includePaper,
        response: { 200: attemptWithPaper },
      },
    },
    async (req, reply) => reply.type(JSON_TYPE).send(viewText(await s.get(who(req), req.params.id, { withPaper: req.query.include === 'paper' }))),
  );

  app.get(
    '/attempts/:id/paper',
    {
      onRequest: anyone,
      schema: {
        tags: ['attempts'],
        summary: "The candidate's paper: questions without answers, in this candidate's order",
        security,
        params: attemptParams,
      },
    },
    async (req, reply) => {
      const body = await s.paper(who(req), req.params.id);
      return reply.type(JSON_TYPE).header('cache-control', 'private, no-store').send(body);
    },
  );

  app.put(
    '/attempts/:id/answers',
    {
      onRequest: candidate,
      schema: {
        tags: ['attempts'],
        summary: 'Autosave answers; acknowledged only after they are committed',
        description:
          'Each answer carries a per-question sequence number that the client increases on every change. Retries are idempotent and a lower seq never overwrites a higher one.',
        security,
        params: attemptParams,
        body: z.strictObject({ answers: answers.min(1) }),
        response: {
          200: z.object({ acked: z.array(z.object({ questionId: z.string(), seq: z.number() })), serverTime: z.string() }),
        },
      },
    },
    (req) => s.save(who(req), req.params.id, req.body.answers),
  );

  app.post(
    '/attempts/:id/submit',
    {
      onRequest: candidate,
      schema: {
        tags: ['attempts'],
        summary: 'Submit (idempotent); optional final answers are saved first',
        security,
        params: attemptParams,
        body: z.strictObject({ answers: answers.optional() }).optional(),
        response: { 200: attemptView },
      },
    },
    async (req, reply) => reply.type(JSON_TYPE).send(viewText(await s.submit(who(req), req.params.id, req.body?.answers ?? []))),
  );

  app.get(
    '/attempts/:id/result',
    {
      onRequest: anyone,
      schema: {
        tags: ['attempts'],
        summary: "The attempt's result, when the assessment's release policy allows",
        security,
        params: attemptParams,
      },
    },
    (req) => s.result(who(req), req.params.id),
  );
}
