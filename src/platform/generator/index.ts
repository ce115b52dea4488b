/**
 * Question generator port: turns one chunk of a document's text into draft
 * questions that cite where their answer stands. Two adapters: `offline.ts`
 * (the default; no network, deterministic) and `openai.ts` (any
 * OpenAI-compatible chat completions endpoint, when AI_BASE_URL is set).
 *
 * Guarantees of `generate`:
 * - Every returned question validates against `questionInputSchema` and cites
 *   a page of the request whose text contains its `quote` (checked with
 *   `validateCitations`, so whitespace, curly quotes, dashes and ligatures
 *   may differ). Questions that fail are left out and listed in `dropped`
 *   with the reason, so callers can count and log them.
 * - At most `count` questions, no two with the same stem; only the requested
 *   types. Fewer (even none) when the text does not support more: a short or
 *   formula-only chunk yields nothing rather than garbage.
 * - The requested mix is honoured as far as the text allows: questions are
 *   spread over `types` round-robin (see `planMix`), so a type listed twice
 *   gets twice the share; when the text cannot support a type, its share
 *   goes to the other requested types.
 * - No retries inside an adapter except one repair request for malformed
 *   output. Rate limits, outages and backoff are the caller's to handle: every
 *   failure is a `GeneratorError` whose `code` and `retryable` say what to do,
 *   with the provider's Retry-After when it sent one.
 * - `usage` counts every request the call made, including a repair request;
 *   a failed call reports what it spent on `GeneratorError.usage`.
 * - The same request may be sent again after a failure; adapters keep no
 *   state between calls, so work keyed by `Chunk.hash` can be cached.
 */
import type { Difficulty, QuestionInput, QuestionType } from '../../modules/questions/model.ts';

/** The text of one page; `page` is 1-based, as in the source document. */
export interface PageText {
  page: number;
  text: string;
}

export interface GenerateRequest {
  materialId: string;
  /** One chunk of the document (see `chunkPages`); page numbers unique. */
  pages: readonly PageText[];
  /** Most questions wanted, 1 to `MAX_QUESTIONS_PER_REQUEST`. */
  count: number;
  /** The requested mix; at least one entry. Repeats weight a type (see `planMix`). */
  types: readonly QuestionType[];
  difficulty?: Difficulty;
  /** Language of the questions (BCP 47 such as "de" or "en-GB"); default: that of the pages. */
  language?: string;
  /** Abort the call (shutdown, job cancelled); the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Where a question's answer stands: `quote` is a passage of that page's text. */
export interface QuestionSource {
  materialId: string;
  page: number;
  quote: string;
}

export type GeneratedQuestion = QuestionInput & { source: QuestionSource };

export interface GenerationUsage {
  promptTokens: number;
  completionTokens: number;
  /** Provider requests made (0 for the offline adapter). */
  requests: number;
}

/** Why `validateCitations` (and so an adapter) left a question out. */
export type DropCode = 'invalid_question' | 'missing_source' | 'unknown_page' | 'quote_too_short' | 'quote_too_long' | 'quote_not_found' | 'duplicate';

export interface DroppedQuestion {
  /** What the provider produced, as it came (it may not be a valid question). */
  question: unknown;
  code: DropCode;
  /** One sentence for logs and for the author. */
  reason: string;
}

export interface GenerateResult {
  questions: GeneratedQuestion[];
  dropped: DroppedQuestion[];
  usage: GenerationUsage;
  /** The model that wrote the questions, as reported by the provider ("offline" for the offline adapter). */
  model: string;
}

export interface QuestionGenerator {
  readonly kind: 'offline' | 'openai';
  /** The configured model name. */
  readonly model: string;
  generate(request: GenerateRequest): Promise<GenerateResult>;
  /** Release connections; pending calls may fail afterwards. */
  close(): Promise<void>;
}

/**
 * - `provider_rate_limited`: 429; wait `retryAfterMs` when given. Retryable,
 *   except an exhausted account quota, which is reported as `provider_auth`.
 * - `provider_unavailable`: 5xx, 408/409, timeout, connection failure. Retryable;
 *   the signal a circuit breaker counts.
 * - `provider_bad_output`: the reply was not the JSON asked for, even after one
 *   repair request. Retryable (sampling differs next time) but says nothing
 *   about the provider's health.
 * - `provider_auth`: 401/403 or exhausted quota; an operator must act. Not retryable.
 * - `provider_bad_request`: the provider rejected the request itself (400,
 *   404 unknown model, 422, context too long). Not retryable as is.
 */
export type GeneratorErrorCode =
  | 'provider_rate_limited'
  | 'provider_unavailable'
  | 'provider_bad_output'
  | 'provider_auth'
  | 'provider_bad_request';

const RETRYABLE: { readonly [K in GeneratorErrorCode]: boolean } = {
  provider_rate_limited: true,
  provider_unavailable: true,
  provider_bad_output: true,
  provider_auth: false,
  provider_bad_request: false,
};

export interface GeneratorErrorOptions {
  retryable?: boolean;
  retryAfterMs?: number;
  status?: number;
  usage?: GenerationUsage;
  cause?: unknown;
}

export class GeneratorError extends Error {
  readonly retryable: boolean;
  /** How long the provider asked us to wait, when it said (Retry-After). */
  readonly retryAfterMs: number | undefined;
  /** The provider's HTTP status, when there was a response. */
  readonly status: number | undefined;
  /** Tokens and requests spent before failing, for quota accounting. */
  readonly usage: GenerationUsage;

  constructor(
    readonly code: GeneratorErrorCode,
    message: string,
    opts: GeneratorErrorOptions = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'GeneratorError';
    this.retryable = opts.retryable ?? RETRYABLE[code];
    this.retryAfterMs = opts.retryAfterMs;
    this.status = opts.status;
    this.usage = opts.usage ?? { promptTokens: 0, completionTokens: 0, requests: 0 };
  }
}

/** Bounds one call's output, so one request cannot ask a provider for a whole bank. */
export const MAX_QUESTIONS_PER_REQUEST = 50;

/**
 * Check a request the same way in every adapter, so a caller's mistake fails
 * identically whichever adapter is configured. Throws RangeError: a bad
 * request is a bug in the caller, not a provider failure.
 */
export function checkRequest(request: GenerateRequest): void {
  const { count, types, pages } = request;
  if (!Number.isInteger(count) || count < 1 || count > MAX_QUESTIONS_PER_REQUEST) {
    throw new RangeError(`count must be an integer in [1, ${MAX_QUESTIONS_PER_REQUEST}], got ${count}`);
  }
  if (types.length === 0) throw new RangeError('types must name at least one question type');
  const seen = new Set<number>();
  for (const { page } of pages) {
    if (!Number.isInteger(page) || page < 1) throw new RangeError(`page numbers must be positive integers, got ${page}`);
    if (seen.has(page)) throw new RangeError(`page ${page} appears twice in one request`);
    seen.add(page);
  }
}

/**
 * How many questions of each type `count` asks for: round-robin over `types`
 * in the order given (so ['single_choice', 'single_choice', 'true_false']
 * with count 6 is 4 + 2). Types that get no share are absent.
 */
export function planMix(count: number, types: readonly QuestionType[]): Map<QuestionType, number> {
  const plan = new Map<QuestionType, number>();
  if (types.length === 0) return plan;
  for (let i = 0; i < count; i++) {
    const type = types[i % types.length] as QuestionType;
    plan.set(type, (plan.get(type) ?? 0) + 1);
  }
  return plan;
}

export const emptyUsage = (): GenerationUsage => ({ promptTokens: 0, completionTokens: 0, requests: 0 });
