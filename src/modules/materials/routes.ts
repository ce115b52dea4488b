/**
 * Material routes: upload (multipart, streamed to storage), progress (JSON
 * and Server-Sent Events), extracted text, generated questions, and the
 * admin's retry. Authors and admins only; ownership is the service's.
 */
import multipart from '@fastify/multipart';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../context.ts';
import { who } from '../../http/auth.ts';
import { AppError } from '../../http/errors.ts';
import type { App } from '../../http/types.ts';
import { pageQuery } from '../questions/listing.ts';
import { formatIssues, issueList, QUESTION_TYPES } from '../questions/model.ts';
import { materialView, paramsFrom, uploadFieldsSchema, type MaterialView } from './model.ts';
import type { RateLimitInfo } from './service.ts';
import { createSseStreams } from './sse.ts';

const tags = ['materials'];
const security = [{ bearer: [] }];
const idParams = z.object({ id: z.guid() });

const materialQuestion = z.looseObject({
  id: z.string(),
  type: z.enum(QUESTION_TYPES),
  stem: z.string(),
  status: z.string(),
  source: z.unknown(),
  materialId: z.string().nullable(),
});

function rateLimitHeaders(reply: FastifyReply, info: RateLimitInfo): void {
  reply.header('ratelimit-limit', String(info.limit));
  reply.header('ratelimit-remaining', String(info.remaining));
  reply.header('ratelimit-reset', String(info.resetS));
}

/** Control characters and path separators out, length bounded: the name is shown back, never used as a path. */
function cleanFilename(name: string | undefined): string {
  const cleaned = (name ?? '').replace(/[\p{Cc}\p{Cf}/\\]/gu, '_').trim().slice(0, 255);
  return cleaned || 'upload.pdf';
}

/**
 * The multipart parser's own failures (no boundary in the content type, a
 * malformed part header, a body cut short) carry no status: they are the
 * client's to fix, so they answer 400 rather than 500.
 */
function unreadableForm(err: unknown): AppError | undefined {
  if (!(err instanceof Error) || err instanceof AppError) return undefined;
  const code = (err as { code?: unknown }).code;
  if (code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT') {
    return new AppError('payload_too_large', `the form has too many parts (${err.message}); send at most the fields count, types and difficulty, then one file`);
  }
  if ((err as { statusCode?: unknown }).statusCode !== undefined) return undefined;
  if (!/^Multipart: |^Malformed part header|^Unexpected end of (form|multipart data)/.test(err.message)) return undefined;
  return new AppError('bad_request', `the multipart/form-data body cannot be read (${err.message}); send it as a browser's FormData does, with a boundary in the Content-Type`);
}

export async function materialRoutes(app: App, ctx: AppContext): Promise<void> {
  await app.register(async (plugin) => {
    const scope = plugin as App;
    const staff = scope.requireRole('author', 'admin');
    const streams = createSseStreams();
    // Open event streams would keep the server from closing; end them first.
    scope.addHook('preClose', async () => streams.closeAll());
    await scope.register(multipart, {
      // One byte over the storage limit, so the store's own check (and its 413) is the one that fires.
      limits: { fileSize: ctx.config.pdf.maxBytes + 1, fields: 10, fieldSize: 1024, parts: 20 },
    });

    scope.post(
      '/materials',
      {
        onRequest: staff,
        schema: {
          tags,
          security,
          summary: 'Upload a PDF (multipart/form-data: optional fields count, types, difficulty, then the file). Processing runs in the background.',
          consumes: ['multipart/form-data'],
          response: { 200: materialView, 201: materialView },
        },
      },
      async (req, reply) => {
        if (!req.isMultipart()) throw new AppError('unsupported_media_type', 'send the PDF as multipart/form-data with a file field');
        const fields: Record<string, string> = {};
        let result;
        try {
          for await (const part of req.parts()) {
            if (part.type === 'field') {
              fields[part.fieldname] = String(part.value);
              continue;
            }
            if (result) {
              // One file per upload; extra files are read and discarded.
              part.file.resume();
              continue;
            }
            const parsed = uploadFieldsSchema.safeParse(fields);
            if (!parsed.success) {
              part.file.resume();
              throw new AppError('validation_failed', `invalid form fields: ${formatIssues(parsed.error).join('; ')}`, { errors: issueList(parsed.error) });
            }
            result = await ctx.materials.upload(who(req), { filename: cleanFilename(part.filename), body: part.file, params: paramsFrom(parsed.data) });
          }
        } catch (err) {
          const info = err instanceof AppError ? (err.extra.rateLimit as RateLimitInfo | undefined) : undefined;
          if (info) rateLimitHeaders(reply, info);
          throw unreadableForm(err) ?? err;
        }
        if (!result) throw new AppError('validation_failed', 'the form has no file; send the PDF in a file field');
        rateLimitHeaders(reply, result.rateLimit);
        return reply.status(result.created ? 201 : 200).send(result.material);
      },
    );

    scope.get(
      '/materials',
      {
        onRequest: staff,
        schema: {
          tags,
          security,
          summary: 'Your materials, newest first',
          querystring: z.object(pageQuery),
          response: { 200: z.object({ items: z.array(materialView), nextCursor: z.string().nullable() }) },
        },
      },
      (req) => ctx.materials.list(who(req), req.query),
    );

    scope.get(
      '/materials/events',
      {
        onRequest: staff,
        schema: {
          tags,
          security,
          summary: 'Server-Sent Events: a snapshot of your latest materials, then every change to any of them',
          produces: ['text/event-stream'],
        },
      },
      async (req, reply) => {
        const p = who(req);
        await streams.serve(req, reply, {
          subscribe: (onChange) => ctx.materials.watch({ ownerId: p.id }, onChange),
          snapshot: () => ctx.materials.list(p, { limit: 50 }),
          versions: (page) => new Map(page.items.map((m: MaterialView) => [m.id, m.updatedAt])),
        });
      },
    );

    scope.get(
      '/materials/:id',
      {
        onRequest: staff,
        schema: { tags, security, summary: 'Status and progress of one material', params: idParams, response: { 200: materialView } },
      },
      (req) => ctx.materials.get(who(req), req.params.id),
    );

    scope.get(
      '/materials/:id/events',
      {
        onRequest: staff,
        schema: {
          tags,
          security,
          summary: 'Server-Sent Events: the material now (snapshot), then one event per status or progress change',
          params: idParams,
          produces: ['text/event-stream'],
        },
      },
      async (req, reply) => {
        const p = who(req);
        const id = req.params.id;
        await streams.serve(req, reply, {
          subscribe: (onChange) => ctx.materials.watch({ materialId: id }, onChange),
          snapshot: () => ctx.materials.snapshot(p, id),
          versions: (m: MaterialView) => new Map([[m.id, m.updatedAt]]),
        });
      },
    );

    scope.get(
      '/materials/:id/pages/:page',
      {
        onRequest: staff,
        schema: {
          tags,
          security,
          summary: 'The extracted text of one page (to check a citation)',
          params: z.object({ id: z.guid(), page: z.coerce.number().int().min(1).max(100_000) }),
          response: { 200: z.object({ materialId: z.string(), page: z.number(), text: z.string() }) },
        },
      },
      (req) => ctx.materials.page(who(req), req.params.id, req.params.page),
    );

    scope.get(
      '/materials/:id/questions',
      {
        onRequest: staff,
        schema: {
          tags,
          security,
          summary: 'The questions generated from a material, each with its citation (page and quote)',
          params: idParams,
          response: { 200: z.object({ items: z.array(materialQuestion) }) },
        },
      },
      async (req) => ({ items: await ctx.materials.questions(who(req), req.params.id) }),
    );

    scope.post(
      '/materials/:id/retry',
      {
        onRequest: scope.requireRole('admin'),
        schema: {
          tags,
          security,
          summary: 'Admin: resume a failed material from the stage that failed',
          params: idParams,
          response: { 200: materialView },
        },
      },
      (req) => ctx.materials.retry(req.params.id),
    );
  });
}
