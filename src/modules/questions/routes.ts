/**
 * Question bank routes. Authors and admins only; ownership is enforced by the
 * service. Bodies are validated by the model's schemas, so the OpenAPI
 * document shows exactly what each question type accepts.
 */
import { z } from 'zod';
import type { AppContext } from '../../context.ts';
import { who } from '../../http/auth.ts';
import type { App } from '../../http/types.ts';
import { QUESTION_TYPES, questionInputSchema, questionPatchSchema } from './model.ts';
import { pageQuery, tagSchema } from './listing.ts';

const tags = ['questions'];
const security = [{ bearer: [] }];
const idParams = z.object({ id: z.guid() });
const statuses = ['draft', 'approved', 'rejected'] as const;

/**
 * The common fields, typed; the type-specific answer fields (options,
 * correct, accepted, …) pass through as the model defined them.
 */
const questionView = z.looseObject({
  id: z.string(),
  type: z.enum(QUESTION_TYPES),
  stem: z.string(),
  points: z.number(),
  feedback: z.string().nullable(),
  tags: z.array(z.string()),
  difficulty: z.enum(['easy', 'medium', 'hard']).nullable(),
  status: z.enum(statuses),
  source: z.record(z.string(), z.unknown()).nullable(),
  ownerId: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

/** Registration is synchronous; the Promise matches the other route plugins' signature. */
export function questionRoutes(app: App, ctx: AppContext): Promise<void> {
  const staff = app.requireRole('author', 'admin');

  app.post(
    '/questions',
    {
      onRequest: staff,
      schema: {
        tags,
        security,
        summary: 'Add a draft question to your bank',
        body: questionInputSchema,
        response: { 201: questionView },
      },
    },
    async (req, reply) => reply.status(201).send(await ctx.questions.create(who(req), req.body)),
  );

  app.get(
    '/questions',
    {
      onRequest: staff,
      schema: {
        tags,
        security,
        summary: 'List questions, newest first (authors: their own bank; admins: every bank)',
        querystring: z.object({
          ...pageQuery,
          status: z.enum(statuses).optional(),
          type: z.enum(QUESTION_TYPES).optional(),
          tag: tagSchema.optional(),
          q: z.string().max(200).optional(),
        }),
        response: { 200: z.object({ items: z.array(questionView), nextCursor: z.string().nullable() }) },
      },
    },
    (req) => ctx.questions.list(who(req), req.query),
  );

  app.post(
    '/questions/bulk-approve',
    {
      onRequest: staff,
      schema: {
        tags,
        security,
        summary: 'Approve many questions of your bank at once',
        body: z.strictObject({ ids: z.array(z.guid()).min(1).max(1000) }),
        response: {
          200: z.object({ approved: z.number().int(), alreadyApproved: z.array(z.string()), notFound: z.array(z.string()) }),
        },
      },
    },
    (req) => ctx.questions.bulkApprove(who(req), req.body.ids),
  );

  app.get(
    '/questions/:id',
    {
      onRequest: staff,
      schema: { tags, security, summary: 'One question with its answer', params: idParams, response: { 200: questionView } },
    },
    (req) => ctx.questions.get(who(req), req.params.id),
  );

  app.patch(
    '/questions/:id',
    {
      onRequest: staff,
      schema: {
        tags,
        security,
        summary: 'Edit some fields; the result is validated as a whole and the type cannot change',
        params: idParams,
        body: questionPatchSchema,
        response: { 200: questionView },
      },
    },
    (req) => ctx.questions.update(who(req), req.params.id, req.body),
  );

  app.delete(
    '/questions/:id',
    {
      onRequest: staff,
      schema: { tags, security, summary: 'Delete a question', params: idParams, response: { 204: z.null() } },
    },
    async (req, reply) => {
      await ctx.questions.remove(who(req), req.params.id);
      return reply.status(204).send(null);
    },
  );

  for (const action of ['approve', 'reject'] as const) {
    app.post(
      `/questions/:id/${action}`,
      {
        onRequest: staff,
        schema: {
          tags,
          security,
          summary: action === 'approve' ? 'Approve a question for use in assessments' : 'Reject a question',
          params: idParams,
          response: { 200: questionView },
        },
      },
      (req) => ctx.questions[action](who(req), req.params.id),
    );
  }
  return Promise.resolve();
}
