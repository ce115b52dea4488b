/**
 * Materials as the API shows them, the generation parameters an author may
 * set, and the author-facing messages for every way processing can end.
 * Pure: no I/O.
 */
import { z } from 'zod';
import type { Selectable } from 'kysely';
import type { MaterialsTable, MaterialStage, MaterialStatus } from '../../platform/db/schema.ts';
import { DIFFICULTIES, QUESTION_TYPES } from '../questions/model.ts';

export type MaterialRow = Selectable<MaterialsTable>;

export const MAX_COUNT_PER_CHUNK = 20;

/** What to generate from every chunk of the document. */
export const materialParamsSchema = z.object({
  count: z.number().int().min(1).max(MAX_COUNT_PER_CHUNK),
  types: z.array(z.enum(QUESTION_TYPES)).min(1).max(10),
  difficulty: z.enum(DIFFICULTIES).optional(),
});
export type MaterialParams = z.output<typeof materialParamsSchema>;

export const DEFAULT_PARAMS: MaterialParams = { count: 5, types: ['single_choice', 'true_false', 'short_text'] };

/** The optional form fields of an upload, as text; errors name the field. */
export const uploadFieldsSchema = z.object({
  count: z
    .string()
    .regex(/^\d{1,2}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().min(1, 'must be at least 1').max(MAX_COUNT_PER_CHUNK, `must be at most ${MAX_COUNT_PER_CHUNK}`))
    .optional(),
  types: z
    .string()
    .transform((s) => s.split(',').map((t) => t.trim()).filter(Boolean))
    .pipe(z.array(z.enum(QUESTION_TYPES, { error: `each type must be one of ${QUESTION_TYPES.join(', ')}` })).min(1, 'name at least one type').max(10))
    .optional(),
  difficulty: z.enum(DIFFICULTIES, { error: `must be one of ${DIFFICULTIES.join(', ')}` }).optional(),
});

export function paramsFrom(fields: z.output<typeof uploadFieldsSchema>): MaterialParams {
  const params: MaterialParams = { count: fields.count ?? DEFAULT_PARAMS.count, types: fields.types ?? DEFAULT_PARAMS.types };
  if (fields.difficulty) params.difficulty = fields.difficulty;
  return params;
}

export function readParams(raw: unknown): MaterialParams {
  const parsed = materialParamsSchema.safeParse(raw);
  return parsed.success ? parsed.data : DEFAULT_PARAMS;
}

export const materialView = z.object({
  id: z.string(),
  filename: z.string(),
  status: z.enum(['stored', 'extracting', 'generating', 'ready', 'failed']),
  /** The stage running now, or the one that failed; null once ready. */
  stage: z.enum(['store', 'extract', 'generate', 'finalize']).nullable(),
  sizeBytes: z.number(),
  sha256: z.string(),
  pageCount: z.number().nullable(),
  chunks: z.object({ done: z.number(), total: z.number() }),
  questions: z.object({ created: z.number(), dropped: z.number() }),
  params: materialParamsSchema,
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  ownerId: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  processedAt: z.string().nullable(),
  sourceDeletedAt: z.string().nullable(),
});
export type MaterialView = z.output<typeof materialView>;

const STAGE_OF: { readonly [S in MaterialStatus]: MaterialView['stage'] } = {
  stored: 'store',
  extracting: 'extract',
  generating: 'generate',
  ready: null,
  failed: null,
};

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

export function toMaterialView(row: MaterialRow): MaterialView {
  const failedStage: MaterialStage | null = row.failed_stage;
  return {
    id: row.id,
    filename: row.filename,
    status: row.status,
    stage: row.status === 'failed' ? failedStage : row.status === 'generating' && row.chunks_total > 0 && row.chunks_done >= row.chunks_total ? 'finalize' : STAGE_OF[row.status],
    sizeBytes: row.size_bytes,
    sha256: row.sha256,
    pageCount: row.page_count,
    chunks: { done: row.chunks_done, total: row.chunks_total },
    questions: { created: row.questions_created, dropped: row.questions_dropped },
    params: readParams(row.params),
    error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? row.error_code },
    ownerId: row.owner_id,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    processedAt: iso(row.processed_at),
    sourceDeletedAt: iso(row.source_deleted_at),
  };
}

/** Messages for failures that are not the PDF reader's (those carry their own, written for authors). */
export const FAILURE_MESSAGES: Record<string, string> = {
  provider_unavailable: 'The question generator was unavailable for too long. An administrator can retry this material.',
  provider_bad_output: 'The question generator kept returning unusable output. An administrator can retry this material.',
  provider_rate_limited: 'The question generator stayed over its rate limit for too long. An administrator can retry this material.',
  provider_auth: 'The question generator refused the configured key or account quota. An administrator must fix the AI settings and retry.',
  provider_bad_request: 'The question generator rejected the text of this material. An administrator can retry it with other settings.',
  quota_exceeded: "Your plan's daily question limit is reached; generation stopped here. An administrator can retry it tomorrow.",
  source_deleted: 'The uploaded PDF was already deleted (retention). Upload it again to process it.',
  internal: 'Processing failed repeatedly because of an internal error. An administrator can retry this material.',
};

/** Channels for live progress: one per material, one per author. */
export const materialChannel = (id: string): string => `material:${id}`;
export const authorChannel = (ownerId: string): string => `author:${ownerId}`;
