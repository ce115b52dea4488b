/**
 * Assessment routes: drafts, publishing, frozen versions, manual result release.
 * Authors and admins only; ownership is enforced by the service.
 */
import { z } from 'zod';
import { exportQtiPackage } from '../qti/export.ts';
import type { AppContext } from '../../context.ts';
import { who } from '../../http/auth.ts';
import type { App } from '../../http/types.ts';
import { pageQuery } from '../questions/listing.ts';
import { assessmentDetail, assessmentInput, assessmentPatch, assessmentView, versionSummary, releasePolicies } from './schema.ts';

const tags = ['assessments'];
const security = [{ bearer: [] }];
const idParams = z.object({ id: z.guid() });

const versionContent = z.object({
  title: z.string(),
  description: z.string(),
  timeLimitS: z.number().int(),
  shuffleItems: z.boolean(),
  shuffleOptions: z.boolean(),
  releasePolicy: z.enum(releasePolicies),
  sections: z.array(
    z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('fixed'), questionId: z.string() }),
      z.object({ kind: z.literal('random'), tag: z.string(), count: z.number().int(), poolIds: z.array(z.string()) }),
    ]),
  ),
  /** Frozen questions with their answers; their shape is the question bank's. */
  questions: z.record(z.string(), z.looseObject({ id: z.string(), type: z.string() })),
});

/** Registration is synchronous; the Promise matches the other route plugins' signature. */
/** A file-name-safe form of a title. */
function slug(title: string): string {
  return (
    title
      .normalize('NFKD')
      .replace(/[^\w\s-]/g, '')
      .trim()
      .replace(/[\s_]+/g, '-')
      .toLowerCase()
      .slice(0, 60) || 'assessment'
  );
}

export function assessmentRoutes(app: App, ctx: AppContext): Promise<void> {
  const staff = app.requireRole('author', 'admin');

  app.post(
    '/assessments',
    {
      onRequest: staff,
      schema: {
        tags,
        security,
        summary: 'Create a draft assessment',
        body: assessmentInput,
        response: { 201: assessmentView },
      },
    },
    async (req, reply) => reply.status(201).send(await ctx.assessments.create(who(req), req.body)),
  );

  app.get(
    '/assessments',
    {
      onRequest: staff,
      schema: {
        tags,
        security,
        summary: 'List assessments, newest first (authors: their own; admins: all)',
        querystring: z.object({ ...pageQuery, q: z.string().max(200).optional() }),
        response: { 200: z.object({ items: z.array(assessmentView), nextCursor: z.string().nullable() }) },
      },
    },
    (req) => ctx.assessments.list(who(req), req.query),
  );

  app.get(
    '/assessments/:id',
    {
      onRequest: staff,
      schema: {
        tags,
        security,
        summary: 'An assessment draft with its published versions',
        params: idParams,
        response: { 200: assessmentDetail },
      },
    },
    (req) => ctx.assessments.get(who(req), req.params.id),
  );

  app.patch(
    '/assessments/:id',
    {
      onRequest: staff,
      schema: {
        tags,
        security,
        summary: 'Edit the draft (published versions never change)',
        params: idParams,
        body: assessmentPatch,
        response: { 200: assessmentView },
      },
    },
    (req) => ctx.assessments.update(who(req), req.params.id, req.body),
  );

  app.delete(
    '/assessments/:id',
    {
      onRequest: staff,
      schema: {
        tags,
        security,
        summary: 'Delete an assessment that no exam session uses',
        params: idParams,
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      await ctx.assessments.remove(who(req), req.params.id);
      return reply.status(204).send(null);
    },
  );

  app.post(
    '/assessments/:id/publish',
    {
      onRequest: staff,
      schema: {
        tags,
        security,
        summary: 'Freeze the draft as the next immutable version',
        params: idParams,
        response: { 201: versionSummary },
      },
    },
    async (req, reply) => reply.status(201).send(await ctx.assessments.publish(who(req), req.params.id)),
  );

  app.get(
    '/assessments/:id/versions/:version',
    {
      onRequest: staff,
      schema: {
        tags,
        security,
        summary: 'A published version, frozen content with answers',
        params: z.object({ id: z.guid(), version: z.coerce.number().int().min(1).max(2_147_483_647) }),
        response: { 200: versionSummary.extend({ assessmentId: z.string(), content: versionContent }) },
      },
    },
    (req) => ctx.assessments.getVersion(who(req), req.params.id, req.params.version),
  );

  app.get(
    '/assessments/:id/versions/:version/qti',
    {
      onRequest: staff,
      schema: {
        tags,
        security,
        summary: 'Download a published version as a QTI 2.1 content package (zip)',
        description:
          'An IMS content package with imsmanifest.xml, one assessmentItem per question and an assessmentTest; every file validates against the QTI 2.1 and IMS CP 1.1 schemas.',
        params: z.object({ id: z.guid(), version: z.coerce.number().int().min(1).max(2_147_483_647) }),
      },
    },
    async (req, reply) => {
      const v = await ctx.assessments.getVersion(who(req), req.params.id, req.params.version);
      const stream = exportQtiPackage(v.content, {
        identifier: v.id,
        title: v.content.title,
        modifiedAt: new Date(v.publishedAt),
      });
      const name = `${slug(v.content.title)}-v${v.version}-qti21.zip`;
      return reply
        .type('application/zip')
        .header('content-disposition', `attachment; filename="${name}"`)
        .send(stream);
    },
  );

  app.post(
    '/assessments/:id/release-results',
    {
      onRequest: staff,
      schema: {
        tags,
        security,
        summary: 'Release results of a manually released assessment',
        params: idParams,
        response: { 200: assessmentView },
      },
    },
    (req) => ctx.assessments.releaseResults(who(req), req.params.id),
  );
  return Promise.resolve();
}
