/**
 * The content pipeline's stages, each a job on the `pipeline` queue:
 * extract → generate (one job per chunk) → finalize, then retention later.
 *
 * Every handler is idempotent, because the queue delivers at least once and
 * a worker may die anywhere: pages are replaced in one transaction; a chunk
 * counts as done once (material_chunks) in the same transaction that adds
 * its questions, whose `generation_key` is unique; follow-up jobs carry
 * idempotency keys. A handler that finds its material failed or finished
 * does nothing.
 */
import { createHash } from 'node:crypto';
import { Counter } from 'prom-client';
import { sql, type Kysely, type UpdateObject } from 'kysely';
import type { Database, MaterialStage } from '../../platform/db/schema.ts';
import type { BlobStore } from '../../platform/blobs/index.ts';
import type { ProviderBudget } from '../../platform/budget/index.ts';
import { chunkPages, type Chunk } from '../../platform/generator/chunking.ts';
import { validateCitations } from '../../platform/generator/citations.ts';
import { GeneratorError, type GeneratedQuestion, type GenerationUsage, type QuestionGenerator } from '../../platform/generator/index.ts';
import { PDF_ERROR_MESSAGES, PdfError, type PdfExtractor } from '../../platform/pdf/index.ts';
import { RetryLaterError, type EnqueueOptions, type Job, type JobQueue, type JsonValue } from '../../platform/queue/index.ts';
import type { Metrics } from '../../platform/metrics.ts';
import { questionBody } from '../questions/model.ts';
import { createCircuitBreaker, type BreakerState, type CircuitBreaker } from './breaker.ts';
import { FAILURE_MESSAGES, readParams, type MaterialParams, type MaterialRow } from './model.ts';
import { planLimits } from './plans.ts';

export const PIPELINE_QUEUE = 'pipeline';
/** Characters of text per generate job: a few pages, well inside any model's context. */
export const CHUNK_CHARS = 6000;
const MB = 1024 * 1024;

type StageJob = 'extract' | 'generate' | 'finalize' | 'retention';

/** Retry budgets per stage. Generation gets more: provider hiccups are common and the breaker absorbs outages. */
const JOB_OPTIONS: { readonly [J in StageJob]: Pick<EnqueueOptions, 'maxAttempts' | 'backoffMs'> } = {
  extract: { maxAttempts: 3, backoffMs: 2000 },
  generate: { maxAttempts: 8, backoffMs: 1000 },
  finalize: { maxAttempts: 5, backoffMs: 1000 },
  retention: { maxAttempts: 10, backoffMs: 60_000 },
};

/** Small documents first: a one-page handout should not wait behind a textbook. */
export const priorityFor = (sizeBytes: number): number => 1 + Math.floor(sizeBytes / MB);

/** Job keys of a retried material get the retry number, so the queue does not return the earlier (finished) job. */
const keyFor = (base: string, retries: number): string => (retries > 0 ? `${base}-r${retries}` : base);

export function enqueueStage(
  queue: JobQueue,
  job: StageJob,
  m: Pick<MaterialRow, 'id' | 'priority' | 'retries'>,
  extra: { chunk?: number; runAt?: Date } = {},
): Promise<{ id: string; created: boolean }> {
  const base = job === 'generate' ? `gen-${m.id}-${extra.chunk ?? 0}` : `${job}-${m.id}`;
  const data: { [key: string]: JsonValue } = { materialId: m.id };
  if (extra.chunk !== undefined) data.chunk = extra.chunk;
  return queue.enqueue(PIPELINE_QUEUE, job, data, {
    ...JOB_OPTIONS[job],
    priority: m.priority,
    idempotencyKey: job === 'retention' ? base : keyFor(base, m.retries),
    ...(extra.runAt ? { runAt: extra.runAt } : {}),
  });
}

export interface PipelineDeps {
  db: Kysely<Database>;
  queue: JobQueue;
  blobs: BlobStore;
  pdf: () => PdfExtractor;
  generator: QuestionGenerator;
  budget: ProviderBudget;
  metrics: Metrics;
  log: { warn(o: object, msg: string): void; error(o: object, msg: string): void };
  /** Tell listeners that a material changed (status, progress). */
  notify(row: MaterialRow): Promise<void>;
  maxPages: number;
  retentionHours: number;
  breaker?: { threshold: number; openMs: number };
}

export interface Pipeline {
  handle(job: Job): Promise<void>;
  /** Mark a material failed (first failure wins) and schedule its source's deletion. */
  fail(id: string, stage: MaterialStage, code: string, message: string): Promise<void>;
  breakerState(): BreakerState;
}

interface JobData {
  materialId: string;
  chunk?: number;
}

function jobData(data: unknown): JobData {
  const d = (data ?? {}) as Partial<JobData>;
  if (typeof d.materialId !== 'string') throw new Error('pipeline job has no materialId');
  if (d.chunk !== undefined && (!Number.isInteger(d.chunk) || d.chunk < 0)) throw new Error('pipeline job has an invalid chunk');
  return d.chunk === undefined ? { materialId: d.materialId } : { materialId: d.materialId, chunk: d.chunk };
}

interface CachedResult {
  questions: unknown[];
  dropped: number;
}

export function createPipeline(deps: PipelineDeps): Pipeline {
  const { db, queue, blobs, generator, budget, log } = deps;
  const calls = new Counter({
    name: 'examday_ai_provider_calls_total',
    help: 'Question generator provider calls by outcome (ok or a GeneratorError code)',
    labelNames: ['outcome'],
    registers: [deps.metrics.registry],
  });
  const cacheHits = new Counter({ name: 'examday_generation_cache_hits_total', help: 'Chunks served from the generation cache', registers: [deps.metrics.registry] });
  const breaker: CircuitBreaker = createCircuitBreaker({
    threshold: deps.breaker?.threshold ?? 3,
    openMs: deps.breaker?.openMs ?? 5000,
    onChange: (state) => log.warn({ state }, 'AI provider circuit breaker changed state'),
  });
  const BREAKER_VALUE: { readonly [S in BreakerState]: number } = { closed: 0, half_open: 1, open: 2 };
  deps.metrics.gauge('examday_ai_circuit_state', 'AI provider circuit breaker: 0 closed, 1 half-open, 2 open', [], (g) => {
    g.set(BREAKER_VALUE[breaker.state()]);
  });

  const load = (id: string) => db.selectFrom('materials').selectAll().where('id', '=', id).executeTakeFirst();

  async function update(id: string, set: UpdateObject<Database, 'materials'>): Promise<MaterialRow | undefined> {
    const row = await db.updateTable('materials').set(set).set({ updated_at: sql`now()` }).where('id', '=', id).returningAll().executeTakeFirst();
    if (row) await deps.notify(row);
    return row;
  }

  async function fail(id: string, stage: MaterialStage, code: string, message: string): Promise<void> {
    const row = await db
      .updateTable('materials')
      .set({ status: 'failed', failed_stage: stage, error_code: code, error_message: message, updated_at: sql`now()` })
      .where('id', '=', id)
      .where('status', 'not in', ['ready', 'failed'])
      .returningAll()
      .executeTakeFirst();
    if (!row) return;
    await deps.notify(row);
    await scheduleRetention(row);
  }

  async function scheduleRetention(row: MaterialRow): Promise<void> {
    const runAt = new Date(Date.now() + deps.retentionHours * 3_600_000);
    await enqueueStage(queue, 'retention', row, { runAt });
  }

  async function readBlob(key: string): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of await blobs.get(key)) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  }

  async function extract(id: string): Promise<void> {
    const m = await load(id);
    if (!m) return;
    // Text stored already; a re-run (the worker died while queueing) makes sure every chunk job exists.
    if (m.status === 'generating') return enqueueChunks(m);
    if (m.status !== 'stored' && m.status !== 'extracting') return;
    if (m.source_deleted_at) return fail(id, 'extract', 'source_deleted', FAILURE_MESSAGES.source_deleted!);
    if (m.status === 'stored') await update(id, { status: 'extracting' });

    let pages;
    try {
      pages = (await deps.pdf().extract(await readBlob(m.object_key), { maxPages: deps.maxPages })).pages;
    } catch (err) {
      if (err instanceof PdfError && !err.retryable) return fail(id, 'extract', err.code, err.message || PDF_ERROR_MESSAGES[err.code as keyof typeof PDF_ERROR_MESSAGES]);
      throw err;
    }

    await db.transaction().execute(async (trx) => {
      await trx.deleteFrom('material_pages').where('material_id', '=', id).execute();
      for (let i = 0; i < pages.length; i += 500) {
        await trx
          .insertInto('material_pages')
          .values(pages.slice(i, i + 500).map((p) => ({ material_id: id, page: p.page, text: p.text })))
          .execute();
      }
    });
    const chunks = chunkPages(pages, { maxChars: CHUNK_CHARS });
    if (chunks.length === 0) return fail(id, 'extract', 'pdf_no_text', PDF_ERROR_MESSAGES.pdf_no_text);
    // Status first, jobs second: a chunk job that starts at once must find the material generating.
    const counted = await update(id, { page_count: pages.length, chunks_total: chunks.length, status: 'generating' });
    if (counted) await enqueueChunks(counted);
  }

  async function enqueueChunks(m: MaterialRow): Promise<void> {
    for (let i = 0; i < m.chunks_total; i++) await enqueueStage(queue, 'generate', m, { chunk: i });
  }

  async function chunkOf(id: string, index: number): Promise<Chunk | undefined> {
    const pages = await db.selectFrom('material_pages').select(['page', 'text']).where('material_id', '=', id).orderBy('page').execute();
    return chunkPages(pages, { maxChars: CHUNK_CHARS })[index];
  }

  function cacheKey(chunk: Chunk, params: MaterialParams): string {
    return createHash('sha256')
      .update(JSON.stringify([chunk.hash, params.count, params.types, params.difficulty ?? null, generator.kind, generator.model]))
      .digest('hex');
  }

  async function recordUsage(userId: string, usage: GenerationUsage, questions: number, trx: Kysely<Database> = db): Promise<void> {
    if (usage.requests === 0 && usage.promptTokens === 0 && usage.completionTokens === 0 && questions === 0) return;
    await trx
      .insertInto('ai_usage')
      .values({
        user_id: userId,
        day: sql<string>`(now() AT TIME ZONE 'UTC')::date`,
        requests: usage.requests,
        prompt_tokens: usage.promptTokens,
        completion_tokens: usage.completionTokens,
        questions,
      })
      .onConflict((oc) =>
        oc.columns(['user_id', 'day']).doUpdateSet({
          requests: sql`ai_usage.requests + excluded.requests`,
          prompt_tokens: sql`ai_usage.prompt_tokens + excluded.prompt_tokens`,
          completion_tokens: sql`ai_usage.completion_tokens + excluded.completion_tokens`,
          questions: sql`ai_usage.questions + excluded.questions`,
        }),
      )
      .execute();
  }

  async function questionsToday(userId: string): Promise<number> {
    const row = await db
      .selectFrom('ai_usage')
      .select('questions')
      .where('user_id', '=', userId)
      .where('day', '=', sql<Date>`(now() AT TIME ZONE 'UTC')::date`)
      .executeTakeFirst();
    return row?.questions ?? 0;
  }

  /** Rough token cost of a call, reserved before it and corrected after: prompt ≈ chars / 4, ~120 tokens per question out. */
  const estimateTokens = (chunk: Chunk, params: MaterialParams): number => Math.ceil(chunk.chars / 4) + 400 + params.count * 120;
  const spent = (u: GenerationUsage): number => u.promptTokens + u.completionTokens;

  /** Calls the provider within the breaker and the shared budget; throws RetryLaterError when either says wait. */
  async function callProvider(m: MaterialRow, chunk: Chunk, params: MaterialParams) {
    const request = { materialId: m.id, pages: chunk.pages, count: params.count, types: params.types, ...(params.difficulty ? { difficulty: params.difficulty } : {}) };
    if (generator.kind === 'offline') return generator.generate(request);
    const wait = breaker.admit();
    if (wait > 0) throw new RetryLaterError(wait, `AI provider circuit open; retry in ${wait} ms`);
    const estimate = estimateTokens(chunk, params);
    const reservation = await deps.budget.reserve(1, estimate);
    if (!reservation.ok) {
      // A probe that never went out must not leave the breaker half-open forever.
      if (breaker.state() === 'half_open') breaker.success();
      throw new RetryLaterError(reservation.retryAfterMs + Math.floor(Math.random() * 250), 'provider budget exhausted for this window');
    }
    try {
      const result = await generator.generate(request);
      breaker.success();
      calls.inc({ outcome: 'ok' });
      await budget.commit(reservation.id, spent(result.usage) - estimate);
      return result;
    } catch (err) {
      if (!(err instanceof GeneratorError)) throw err;
      calls.inc({ outcome: err.code });
      await budget.commit(reservation.id, spent(err.usage) - estimate).catch(() => {});
      await recordUsage(m.owner_id, err.usage, 0).catch(() => {});
      if (err.code === 'provider_unavailable') breaker.failure();
      else breaker.success();
      throw err;
    }
  }

  async function generate(id: string, index: number): Promise<void> {
    const m = await load(id);
    if (!m || m.status !== 'generating') return;
    const done = await db.selectFrom('material_chunks').select('chunk').where('material_id', '=', id).where('chunk', '=', index).executeTakeFirst();
    if (done) return maybeFinalize(m);

    const chunk = await chunkOf(id, index);
    if (!chunk) return fail(id, 'generate', 'internal', FAILURE_MESSAGES.internal!);
    const params = readParams(m.params);
    const owner = await db.selectFrom('users').select('plan').where('id', '=', m.owner_id).executeTakeFirst();
    if ((await questionsToday(m.owner_id)) >= planLimits(owner?.plan ?? 'standard').questionsPerDay) {
      return fail(id, 'generate', 'quota_exceeded', FAILURE_MESSAGES.quota_exceeded!);
    }

    const key = cacheKey(chunk, params);
    let questions: GeneratedQuestion[];
    let dropped: number;
    let usage: GenerationUsage = { promptTokens: 0, completionTokens: 0, requests: 0 };
    const cached = await db.selectFrom('generation_cache').select('result').where('key', '=', key).executeTakeFirst();
    if (cached) {
      cacheHits.inc();
      const result = cached.result as CachedResult;
      // Re-checked against this material's pages: the cache is only trusted as far as its quotes still stand.
      const rewritten = result.questions.map((q) => ({ ...(q as object), source: { ...((q as { source?: object }).source ?? {}), materialId: id } }));
      const report = validateCitations(rewritten, chunk.pages);
      questions = report.kept;
      dropped = result.dropped + report.dropped.length;
    } else {
      let result;
      try {
        result = await callProvider(m, chunk, params);
      } catch (err) {
        if (!(err instanceof GeneratorError)) throw err;
        if (err.code === 'provider_rate_limited') throw new RetryLaterError(err.retryAfterMs ?? 5000, err.message);
        if (err.retryable) throw err;
        return fail(id, 'generate', err.code, FAILURE_MESSAGES[err.code] ?? err.message);
      }
      questions = result.questions;
      dropped = result.dropped.length;
      usage = result.usage;
      const stored: CachedResult = { questions, dropped };
      await db
        .insertInto('generation_cache')
        .values({ key, result: JSON.stringify(stored) })
        .onConflict((oc) => oc.column('key').doNothing())
        .execute();
    }

    const after = await db.transaction().execute(async (trx) => {
      const claimed = await trx
        .insertInto('material_chunks')
        .values({ material_id: id, chunk: index, questions: questions.length, dropped })
        .onConflict((oc) => oc.columns(['material_id', 'chunk']).doNothing())
        .returning('chunk')
        .executeTakeFirst();
      if (!claimed) return undefined;
      let inserted = 0;
      if (questions.length > 0) {
        const rows = await trx
          .insertInto('questions')
          .values(
            questions.map((q, n) => {
              const { source, ...input } = q;
              const c = questionBody(input);
              return {
                owner_id: m.owner_id,
                type: c.type,
                stem: c.stem,
                body: JSON.stringify(c.body),
                points: c.points,
                feedback: c.feedback,
                tags: c.tags,
                difficulty: c.difficulty ?? params.difficulty ?? null,
                source: JSON.stringify({ materialId: id, page: source.page, quote: source.quote }),
                material_id: id,
                generation_key: `${id}:${index}:${n}`,
              };
            }),
          )
          .onConflict((oc) => oc.column('generation_key').where('generation_key', 'is not', null).doNothing())
          .returning('id')
          .execute();
        inserted = rows.length;
      }
      await recordUsage(m.owner_id, usage, inserted, trx);
      return trx
        .updateTable('materials')
        .set({
          chunks_done: sql`chunks_done + 1`,
          questions_created: sql`questions_created + ${inserted}`,
          questions_dropped: sql`questions_dropped + ${dropped}`,
          updated_at: sql`now()`,
        })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
    });
    if (!after) return;
    await deps.notify(after);
    await maybeFinalize(after);
  }

  async function maybeFinalize(m: MaterialRow): Promise<void> {
    if (m.chunks_total > 0 && m.chunks_done >= m.chunks_total) await enqueueStage(queue, 'finalize', m);
  }

  async function finalize(id: string): Promise<void> {
    const row = await db
      .updateTable('materials')
      .set({ status: 'ready', processed_at: sql`now()`, updated_at: sql`now()` })
      .where('id', '=', id)
      .where('status', '=', 'generating')
      .where(sql<boolean>`chunks_done >= chunks_total`)
      .returningAll()
      .executeTakeFirst();
    if (row) await deps.notify(row);
    const current = row ?? (await load(id));
    if (current?.status === 'ready') await scheduleRetention(current);
  }

  async function retention(id: string): Promise<void> {
    const m = await load(id);
    if (!m || m.source_deleted_at) return;
    await blobs.delete(m.object_key);
    await update(id, { source_deleted_at: sql`now()` });
  }

  const STAGE: { readonly [J in StageJob]: MaterialStage | null } = { extract: 'extract', generate: 'generate', finalize: 'finalize', retention: null };

  return {
    fail,
    breakerState: () => breaker.state(),
    async handle(job) {
      const { materialId, chunk } = jobData(job.data);
      const name = job.name as StageJob;
      try {
        switch (name) {
          case 'extract':
            return await extract(materialId);
          case 'generate':
            return await generate(materialId, chunk ?? 0);
          case 'finalize':
            return await finalize(materialId);
          case 'retention':
            return await retention(materialId);
          default:
            throw new Error(`unknown pipeline job ${String(job.name)}`);
        }
      } catch (err) {
        const stage = STAGE[name];
        // The queue is about to dead-letter this job: say so on the material, with the last error, before it does.
        if (stage && !(err instanceof RetryLaterError) && job.attempt >= job.maxAttempts) {
          const code = err instanceof PdfError || err instanceof GeneratorError ? err.code : 'internal';
          const message = err instanceof PdfError ? err.message : (FAILURE_MESSAGES[code] ?? FAILURE_MESSAGES.internal!);
          await fail(materialId, stage, code, message).catch((e: unknown) => log.error({ err: e }, 'could not mark material failed'));
        }
        throw err;
      }
    },
  };
}
