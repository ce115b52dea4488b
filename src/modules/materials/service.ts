/**
 * Materials: uploads, their progress, their text and questions, and the
 * admin's retry. Authors see only their own materials (someone else's id
 * answers 404); admins see all. The stages themselves run as jobs
 * (`pipeline.ts`); this service only stores the upload and queues the first.
 */
import { randomUUID } from 'node:crypto';
import { pipeline as pipe, type Readable } from 'node:stream';
import { sql, type Kysely } from 'kysely';
import { AppError, notFound } from '../../http/errors.ts';
import type { Principal } from '../auth/tokens.ts';
import type { Database } from '../../platform/db/schema.ts';
import { BlobTooLargeError } from '../../platform/blobs/index.ts';
import type { PubSub } from '../../platform/pubsub/index.ts';
import type { Job } from '../../platform/queue/index.ts';
import { afterCursor, cursorTimestamp, decodeCursor, toPage, type Page } from '../questions/listing.ts';
import { fromRow, type Question } from '../questions/model.ts';
import {
  authorChannel,
  FAILURE_MESSAGES,
  materialChannel,
  toMaterialView,
  type MaterialParams,
  type MaterialRow,
  type MaterialView,
} from './model.ts';
import { createPipeline, enqueueStage, priorityFor, type PipelineDeps } from './pipeline.ts';
import { planLimits, type PlanLimits } from './plans.ts';
import { NotPdfError, pdfMagicCheck } from './upload.ts';
import type { UploadSlots } from './slots.ts';

export interface UploadInput {
  filename: string;
  body: Readable;
  params: MaterialParams;
}

export interface UploadResult {
  material: MaterialView;
  /** False when the owner had uploaded the same bytes before: the earlier material is returned. */
  created: boolean;
  rateLimit: RateLimitInfo;
}

/** What the RateLimit-* headers say about uploads per hour. */
export interface RateLimitInfo {
  limit: number;
  remaining: number;
  /** Seconds until the window frees a slot. */
  resetS: number;
}

export type MaterialQuestion = Question & { status: string; source: unknown; materialId: string | null };

export interface MaterialServiceDeps extends Omit<PipelineDeps, 'notify'> {
  pubsub: PubSub;
  slots: UploadSlots;
  maxBytes: number;
}

const HOUR_MS = 3_600_000;
/** Window under which a user's uploads-per-hour are counted; also what a 429 says to wait at most. */
const UPLOAD_WINDOW = sql`now() - interval '1 hour'`;

export function createMaterialService(deps: MaterialServiceDeps) {
  const { db, queue, blobs, pubsub } = deps;

  function visible(p: Principal) {
    return db.selectFrom('materials').$if(p.role !== 'admin', (qb) => qb.where('owner_id', '=', p.id));
  }

  async function load(p: Principal, id: string): Promise<MaterialRow> {
    const row = await visible(p).selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw notFound(`material ${id}`);
    return row;
  }

  /** Publishes a material's new state on its own channel and its author's. */
  async function notify(row: MaterialRow): Promise<void> {
    const message = JSON.stringify(toMaterialView(row));
    await Promise.all([pubsub.publish(materialChannel(row.id), message), pubsub.publish(authorChannel(row.owner_id), message)]);
  }

  /** Uploads in the last hour and storage in use, from the database so every node sees the same numbers. */
  async function usage(trx: Kysely<Database>, ownerId: string): Promise<{ lastHour: number; oldestMs: number; bytes: number }> {
    const row = await trx
      .selectFrom('materials')
      .select([
        sql<number>`count(*) FILTER (WHERE created_at > ${UPLOAD_WINDOW})::int`.as('last_hour'),
        sql<Date | null>`min(created_at) FILTER (WHERE created_at > ${UPLOAD_WINDOW})`.as('oldest'),
        sql<number>`coalesce(sum(size_bytes) FILTER (WHERE source_deleted_at IS NULL), 0)::float8`.as('bytes'),
      ])
      .where('owner_id', '=', ownerId)
      .executeTakeFirstOrThrow();
    return { lastHour: row.last_hour, oldestMs: row.oldest ? new Date(row.oldest).getTime() : Date.now(), bytes: Number(row.bytes) };
  }

  function checkLimits(limits: PlanLimits, u: { lastHour: number; oldestMs: number; bytes: number }, addBytes: number): RateLimitInfo {
    const resetS = Math.max(1, Math.ceil((u.oldestMs + HOUR_MS - Date.now()) / 1000));
    const info: RateLimitInfo = { limit: limits.uploadsPerHour, remaining: Math.max(0, limits.uploadsPerHour - u.lastHour), resetS };
    if (u.lastHour >= limits.uploadsPerHour) {
      throw new AppError('rate_limited', `your plan allows ${limits.uploadsPerHour} uploads per hour; try again in ${resetS} s`, {
        retryAfterS: resetS,
        rateLimit: info,
      });
    }
    if (u.bytes + addBytes > limits.storageBytes) {
      throw new AppError(
        'quota_exceeded',
        `your plan allows ${limits.storageBytes} bytes of stored PDFs and ${u.bytes} are in use; space frees as processed PDFs are deleted`,
        { retryAfterS: 3600, rateLimit: info },
      );
    }
    return info;
  }

  async function planOf(trx: Kysely<Database>, userId: string, lock: boolean): Promise<PlanLimits> {
    const row = await trx
      .selectFrom('users')
      .select('plan')
      .where('id', '=', userId)
      .$if(lock, (qb) => qb.forUpdate())
      .executeTakeFirst();
    if (!row) throw new AppError('unauthenticated', 'the account no longer exists');
    return planLimits(row.plan);
  }

  const pipeline = createPipeline({ ...deps, notify });

  async function store(input: UploadInput, key: string) {
    try {
      // pipeline() carries a failure of either side (client abort, size limit, not a PDF) to the stream storage reads.
      const checked = pipe(input.body, pdfMagicCheck(), () => {});
      return await blobs.put(key, checked, { maxBytes: deps.maxBytes, contentType: 'application/pdf' });
    } catch (err) {
      await blobs.delete(key).catch(() => {});
      if (err instanceof NotPdfError) throw new AppError('not_a_pdf', `${input.filename} is not a PDF: ${err.message}`);
      const code = (err as { code?: unknown }).code;
      if (err instanceof BlobTooLargeError || code === 'FST_REQ_FILE_TOO_LARGE') {
        throw new AppError('payload_too_large', `the file is larger than the limit of ${deps.maxBytes} bytes`, { maxBytes: deps.maxBytes });
      }
      throw err;
    }
  }

  return {
    /** The pipeline queue's handler (see pipeline.ts); run by worker processes. */
    runJob: (job: Job): Promise<void> => pipeline.handle(job),
    breakerState: () => pipeline.breakerState(),

    /**
     * Streams the upload into object storage (checking it is a PDF on the
     * way), de-duplicates by SHA-256 per owner, records the material and
     * queues its extraction. Never waits for processing.
     */
    async upload(p: Principal, input: UploadInput): Promise<UploadResult> {
      const limits = await planOf(db, p.id, false);
      checkLimits(limits, await usage(db, p.id), 0);
      if (!(await deps.slots.acquire(p.id, limits.concurrentUploads))) {
        throw new AppError('rate_limited', `your plan allows ${limits.concurrentUploads} uploads at a time; wait for one to finish`, {
          retryAfterS: 1,
        });
      }
      try {
        const id = randomUUID();
        const key = `materials/${p.id}/${id}.pdf`;
        const put = await store(input, key);
        const outcome = await db.transaction().execute(async (trx) => {
          // The owner's row lock serialises concurrent uploads by one owner across nodes, so the limits hold exactly.
          const locked = await planOf(trx, p.id, true);
          const existing = await trx.selectFrom('materials').selectAll().where('owner_id', '=', p.id).where('sha256', '=', put.sha256).executeTakeFirst();
          if (existing) return { row: existing, created: false, rateLimit: checkLimitsSoft(locked, await usage(trx, p.id)) };
          const rateLimit = checkLimits(locked, await usage(trx, p.id), put.size);
          const row = await trx
            .insertInto('materials')
            .values({
              id,
              owner_id: p.id,
              filename: input.filename,
              object_key: key,
              sha256: put.sha256,
              size_bytes: put.size,
              params: JSON.stringify(input.params),
              priority: priorityFor(put.size),
            })
            .returningAll()
            .executeTakeFirstOrThrow();
          return { row, created: true, rateLimit: { ...rateLimit, remaining: Math.max(0, rateLimit.remaining - 1) } };
        }).catch(async (err: unknown) => {
          await blobs.delete(key).catch(() => {});
          throw err;
        });
        if (!outcome.created) {
          await blobs.delete(key);
          return { material: toMaterialView(outcome.row), created: false, rateLimit: outcome.rateLimit };
        }
        try {
          await enqueueStage(queue, 'extract', outcome.row);
        } catch (err) {
          // Stored but not queued: leave it retryable by an admin rather than stuck in "stored".
          await pipeline.fail(outcome.row.id, 'extract', 'internal', FAILURE_MESSAGES.internal!);
          throw err;
        }
        await notify(outcome.row).catch(() => {});
        return { material: toMaterialView(outcome.row), created: true, rateLimit: outcome.rateLimit };
      } finally {
        await deps.slots.release(p.id).catch(() => {});
      }
    },

    async get(p: Principal, id: string): Promise<MaterialView> {
      return toMaterialView(await load(p, id));
    },

    /** Row-level access check for the live stream; returns the current state as its snapshot. */
    async snapshot(p: Principal, id: string): Promise<MaterialView> {
      return toMaterialView(await load(p, id));
    },

    async list(p: Principal, query: { limit: number; cursor?: string | undefined }): Promise<Page<MaterialView>> {
      const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
      const rows = await db
        .selectFrom('materials')
        .selectAll()
        .select(cursorTimestamp.as('cursor_ts'))
        .where('owner_id', '=', p.id)
        .$if(cursor !== undefined, (qb) => qb.where(afterCursor(cursor!)))
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(query.limit + 1)
        .execute();
      return toPage(rows, query.limit, toMaterialView);
    },

    async page(p: Principal, id: string, page: number): Promise<{ materialId: string; page: number; text: string }> {
      await load(p, id);
      const row = await db.selectFrom('material_pages').select('text').where('material_id', '=', id).where('page', '=', page).executeTakeFirst();
      if (!row) throw notFound(`page ${page} of material ${id}`);
      return { materialId: id, page, text: row.text };
    },

    async questions(p: Principal, id: string): Promise<MaterialQuestion[]> {
      await load(p, id);
      const rows = await db.selectFrom('questions').selectAll().where('material_id', '=', id).orderBy('generation_key').execute();
      return rows.map((r) => ({ ...fromRow(r), status: r.status, source: r.source, materialId: r.material_id }));
    },

    /** Admin: resume a failed material from the stage that failed, with fresh job keys. */
    async retry(id: string): Promise<MaterialView> {
      const m = await db.selectFrom('materials').selectAll().where('id', '=', id).executeTakeFirst();
      if (!m) throw notFound(`material ${id}`);
      if (m.status !== 'failed') throw new AppError('conflict', `material ${id} is ${m.status}; only failed materials can be retried`);
      const stage = m.failed_stage ?? 'extract';
      if (stage === 'extract' && m.source_deleted_at) {
        throw new AppError('conflict', 'the uploaded PDF was already deleted (retention); upload it again instead');
      }
      const row = await db
        .updateTable('materials')
        .set({
          status: stage === 'extract' ? 'stored' : 'generating',
          failed_stage: null,
          error_code: null,
          error_message: null,
          retries: sql`retries + 1`,
          updated_at: sql`now()`,
        })
        .where('id', '=', id)
        .where('status', '=', 'failed')
        .returningAll()
        .executeTakeFirst();
      if (!row) throw new AppError('conflict', `material ${id} changed meanwhile; reload and try again`);
      if (stage === 'extract') await enqueueStage(queue, 'extract', row);
      else {
        const done = new Set(
          (await db.selectFrom('material_chunks').select('chunk').where('material_id', '=', id).execute()).map((c) => c.chunk),
        );
        const missing = Array.from({ length: row.chunks_total }, (_, i) => i).filter((i) => !done.has(i));
        for (const chunk of missing) await enqueueStage(queue, 'generate', row, { chunk });
        if (missing.length === 0) await enqueueStage(queue, 'finalize', row);
      }
      await notify(row);
      return toMaterialView(row);
    },

    /**
     * Deletes the stored PDFs of a user's materials. The users module calls
     * this before deleting an account (rows then go with the account by
     * cascade; the objects in storage would not).
     */
    async purgeOwner(userId: string): Promise<number> {
      const rows = await db.selectFrom('materials').select(['id', 'object_key']).where('owner_id', '=', userId).where('source_deleted_at', 'is', null).execute();
      for (const r of rows) {
        await blobs.delete(r.object_key);
        await db.updateTable('materials').set({ source_deleted_at: sql`now()`, updated_at: sql`now()` }).where('id', '=', r.id).execute();
      }
      return rows.length;
    },

    /** Live updates of one material or of all of an author's; returns the unsubscribe function. */
    watch(channel: { materialId: string } | { ownerId: string }, onChange: (view: MaterialView) => void): Promise<() => Promise<void>> {
      const name = 'materialId' in channel ? materialChannel(channel.materialId) : authorChannel(channel.ownerId);
      return pubsub.subscribe(name, (message) => onChange(JSON.parse(message) as MaterialView));
    },
  };
}

/** Headers for a re-upload that changed nothing: the numbers, without refusing. */
function checkLimitsSoft(limits: PlanLimits, u: { lastHour: number; oldestMs: number }): RateLimitInfo {
  return {
    limit: limits.uploadsPerHour,
    remaining: Math.max(0, limits.uploadsPerHour - u.lastHour),
    resetS: Math.max(1, Math.ceil((u.oldestMs + HOUR_MS - Date.now()) / 1000)),
  };
}

export type MaterialService = ReturnType<typeof createMaterialService>;
