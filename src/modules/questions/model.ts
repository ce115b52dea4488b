/**
 * The question model: what an author may write, how it is stored, what a
 * candidate sees and what a candidate may answer. Pure: no I/O.
 *
 * Decisions worth knowing (the HTTP layer and the UI rely on them):
 * - Authoring objects are strict: an unknown field (a typo such as `feedbak`,
 *   or `status`, which only changes through review) is an error that names
 *   the field, never silently dropped.
 * - Tags are normalised so filtering is predictable: Unicode NFKC, trimmed,
 *   lower-cased, inner whitespace collapsed to one space, duplicates removed.
 * - Points have at most 2 decimals, because the column is numeric(8, 2) and a
 *   silently rounded score would surprise the author.
 * - short_text `match` defaults to "normalized"; `caseInsensitive` exists only
 *   for "regex" ("normalized" is already case-insensitive, "exact" is not).
 * - numeric answers may be sent as numbers or as text with `.` or `,` as the
 *   decimal separator ("3,5" is 3.5). There are no thousands separators, so
 *   "1,000" is 1; the exam UI should use a numeric input to avoid the confusion.
 */
import { z } from 'zod';
import { checkAnswerPattern, MAX_REGEX_SUBJECT_LENGTH } from './answer-regex.ts';

export const QUESTION_TYPES = ['single_choice', 'multiple_response', 'true_false', 'short_text', 'numeric'] as const;
export type QuestionType = (typeof QUESTION_TYPES)[number];
export const DIFFICULTIES = ['easy', 'medium', 'hard'] as const;
export type Difficulty = (typeof DIFFICULTIES)[number];
export const SCORING_MODES = ['all_or_nothing', 'partial'] as const;
export const MATCH_MODES = ['exact', 'normalized', 'regex'] as const;

/** Longest short_text answer a candidate may submit; also bounds regex work. */
export const MAX_TEXT_ANSWER_LENGTH = MAX_REGEX_SUBJECT_LENGTH;
export const MAX_OPTIONS = 20;
const MAX_STEM_LENGTH = 10_000;
const MAX_FEEDBACK_LENGTH = 5_000;
const MAX_OPTION_TEXT_LENGTH = 2_000;
const MAX_TAGS = 50;
const MAX_TAG_LENGTH = 64;
const MAX_ACCEPTED = 50;
const MAX_POINTS = 1000;
/** A numeric answer typed as text longer than this is noise, not a number. */
const MAX_NUMERIC_TEXT_LENGTH = 64;

export type Result<T, E = string> = { ok: true; value: T } | { ok: false; error: E };

// ─── Field schemas (no defaults: the patch schema reuses them) ──────────────

const nonBlank = (s: string): boolean => s.trim().length > 0;
const quoteList = (values: readonly string[]): string => values.map((v) => `"${v}"`).join(', ');
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: `must be one of ${quoteList(values)}` });

/** Type errors that say what is missing or what to write instead. */
const expecting = (what: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : `must be ${what}`),
});

const typeField = oneOf(QUESTION_TYPES);
const stemField = z
  .string(expecting('text'))
  .max(MAX_STEM_LENGTH, `must be at most ${MAX_STEM_LENGTH} characters`)
  .refine(nonBlank, 'must not be empty');
const pointsField = z
  .number(expecting('a number'))
  .positive('must be greater than 0')
  .max(MAX_POINTS, `must be at most ${MAX_POINTS}`)
  .refine(
    (v) => Math.abs(v * 100 - Math.round(v * 100)) < 1e-6,
    'must have at most 2 decimal places (scores are kept to 0.01)',
  )
  // 0.1 + 0.2 arrives as 0.30000000000000004; store the 0.3 the author meant.
  .overwrite((v) => Math.round(v * 100) / 100);
const feedbackField = z.string(expecting('text')).max(MAX_FEEDBACK_LENGTH, `must be at most ${MAX_FEEDBACK_LENGTH} characters`);
const tagField = z
  .string(expecting('text'))
  .normalize('NFKC')
  .trim()
  .toLowerCase()
  .overwrite((s) => s.replace(/\s+/gu, ' '))
  .min(1, 'must not be empty')
  .max(MAX_TAG_LENGTH, `must be at most ${MAX_TAG_LENGTH} characters`);
const tagsField = z
  .array(tagField, expecting('a list of tags'))
  .max(MAX_TAGS, `at most ${MAX_TAGS} tags`)
  .overwrite((tags) => [...new Set(tags)]);
const difficultyField = oneOf(DIFFICULTIES);

const OPTION_ID = /^[A-Za-z0-9_-]{1,32}$/;
const optionIdField = z.string(expecting('text')).regex(OPTION_ID, 'must be 1 to 32 characters from A-Z, a-z, 0-9, "_" and "-"');
const optionSchema = strict(
  {
    id: optionIdField,
    text: z
      .string(expecting('text'))
      .max(MAX_OPTION_TEXT_LENGTH, `must be at most ${MAX_OPTION_TEXT_LENGTH} characters`)
      .refine(nonBlank, 'must not be empty'),
  },
  'an option',
);
const optionsField = z
  .array(optionSchema, expecting('a list of {id, text} options'))
  .min(2, 'need at least 2 options')
  .max(MAX_OPTIONS, `at most ${MAX_OPTIONS} options`)
  .superRefine((options, ctx) => {
    const firstIndex = new Map<string, number>();
    options.forEach((option, i) => {
      const earlier = firstIndex.get(option.id);
      if (earlier === undefined) firstIndex.set(option.id, i);
      else {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'id'],
          message: `"${option.id}" is used by options ${earlier} and ${i}; option ids must be unique`,
        });
      }
    });
  });
const scoringField = oneOf(SCORING_MODES);
const matchField = oneOf(MATCH_MODES);
const acceptedField = z
  .array(
    z
      .string(expecting('text'))
      .max(MAX_TEXT_ANSWER_LENGTH, `must be at most ${MAX_TEXT_ANSWER_LENGTH} characters`)
      .refine(nonBlank, 'must not be empty'),
    expecting('a list of accepted answers'),
  )
  .min(1, 'need at least 1 accepted answer')
  .max(MAX_ACCEPTED, `at most ${MAX_ACCEPTED} accepted answers`);
const answerField = z.number(expecting('a finite number'));
const toleranceField = z.number(expecting('a finite number')).min(0, 'must be 0 or more');

/** Rejects unknown keys with a message that lists the fields that do exist. */
function strict<T extends z.core.$ZodLooseShape>(shape: T, what: string) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown field${issue.keys.length > 1 ? 's' : ''} ${quoteList(issue.keys)}; ${what} has: ${allowed}`
        : undefined,
  });
}

// ─── Type-specific bodies ───────────────────────────────────────────────────

const bodyShapes = {
  single_choice: { options: optionsField, correct: z.string(expecting('the id of one option')) },
  multiple_response: {
    options: optionsField,
    correct: z
      .array(z.string(expecting('an option id')), expecting('a list of option ids'))
      .min(1, 'need at least 1 correct option'),
    scoring: scoringField.default('all_or_nothing'),
  },
  true_false: { correct: z.boolean(expecting('true or false')) },
  short_text: {
    accepted: acceptedField,
    match: matchField.default('normalized'),
    caseInsensitive: z.boolean(expecting('true or false')).optional(),
  },
  numeric: { answer: answerField, tolerance: toleranceField.default(0) },
} as const;

type Ctx = z.RefinementCtx;
const notAnOption = (id: string, options: readonly { id: string }[]): string =>
  `"${id}" is not one of the option ids ${options.map((o) => o.id).join(', ')}`;

/** Rules that span several fields; shared by authoring input and stored bodies. */
const bodyChecks = {
  single_choice: (v: { options: readonly { id: string }[]; correct: string }, ctx: Ctx): void => {
    if (!v.options.some((o) => o.id === v.correct)) {
      ctx.addIssue({ code: 'custom', path: ['correct'], message: notAnOption(v.correct, v.options) });
    }
  },
  multiple_response: (v: { options: readonly { id: string }[]; correct: readonly string[] }, ctx: Ctx): void => {
    const seen = new Set<string>();
    v.correct.forEach((id, i) => {
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path: ['correct', i], message: `"${id}" is listed twice` });
      else if (!v.options.some((o) => o.id === id)) {
        ctx.addIssue({ code: 'custom', path: ['correct', i], message: notAnOption(id, v.options) });
      }
      seen.add(id);
    });
  },
  short_text: (v: { accepted: readonly string[]; match: string; caseInsensitive?: boolean | undefined }, ctx: Ctx): void => {
    if (v.match !== 'regex') {
      if (v.caseInsensitive === true) {
        ctx.addIssue({
          code: 'custom',
          path: ['caseInsensitive'],
          message: `only applies when match is "regex"; "normalized" already ignores case and "exact" respects it`,
        });
      }
      return;
    }
    v.accepted.forEach((pattern, i) => {
      const check = checkAnswerPattern(pattern, v.caseInsensitive ?? false);
      if (!check.ok) ctx.addIssue({ code: 'custom', path: ['accepted', i], message: check.error });
    });
  },
};

/** Stored `body` column per type: lenient about extra keys so old rows still load. */
export const questionBodySchemas = {
  single_choice: z.object(bodyShapes.single_choice).superRefine(bodyChecks.single_choice),
  multiple_response: z.object(bodyShapes.multiple_response).superRefine(bodyChecks.multiple_response),
  true_false: z.object(bodyShapes.true_false),
  short_text: z.object(bodyShapes.short_text).superRefine(bodyChecks.short_text),
  numeric: z.object(bodyShapes.numeric),
};

// ─── Authoring input ────────────────────────────────────────────────────────

const commonShape = {
  stem: stemField,
  points: pointsField.default(1),
  feedback: feedbackField.optional(),
  tags: tagsField.default([]),
  difficulty: difficultyField.optional(),
};

const inputFor = <T extends QuestionType, S extends z.core.$ZodLooseShape>(type: T, body: S) =>
  strict({ type: z.literal(type), ...commonShape, ...body }, `a ${type} question`);

export const singleChoiceInputSchema = inputFor('single_choice', bodyShapes.single_choice).superRefine(
  bodyChecks.single_choice,
);
export const multipleResponseInputSchema = inputFor('multiple_response', bodyShapes.multiple_response).superRefine(
  bodyChecks.multiple_response,
);
export const trueFalseInputSchema = inputFor('true_false', bodyShapes.true_false);
export const shortTextInputSchema = inputFor('short_text', bodyShapes.short_text).superRefine(bodyChecks.short_text);
export const numericInputSchema = inputFor('numeric', bodyShapes.numeric);

/** What an author sends to create a question (validation + OpenAPI). */
export const questionInputSchema = z.discriminatedUnion(
  'type',
  [singleChoiceInputSchema, multipleResponseInputSchema, trueFalseInputSchema, shortTextInputSchema, numericInputSchema],
  { error: (issue) => (issue.code === 'invalid_union' ? `must be one of ${quoteList(QUESTION_TYPES)}` : undefined) },
);

/** A validated question as authored, defaults applied. */
export type QuestionInput = z.output<typeof questionInputSchema>;
/** What a client may send (defaults still optional). */
export type QuestionInputRaw = z.input<typeof questionInputSchema>;
export type SingleChoiceInput = Extract<QuestionInput, { type: 'single_choice' }>;
export type MultipleResponseInput = Extract<QuestionInput, { type: 'multiple_response' }>;
export type TrueFalseInput = Extract<QuestionInput, { type: 'true_false' }>;
export type ShortTextInput = Extract<QuestionInput, { type: 'short_text' }>;
export type NumericInput = Extract<QuestionInput, { type: 'numeric' }>;
export type Option = z.output<typeof optionSchema>;
/** A stored question ready for grading and display. */
export type Question = QuestionInput & { id: string };

// ─── Partial updates ────────────────────────────────────────────────────────

/** The answer fields each type owns: what `body` holds and a patch may touch. */
export const BODY_FIELDS: { readonly [K in QuestionType]: readonly string[] } = {
  single_choice: ['options', 'correct'],
  multiple_response: ['options', 'correct', 'scoring'],
  true_false: ['correct'],
  short_text: ['accepted', 'match', 'caseInsensitive'],
  numeric: ['answer', 'tolerance'],
};
const ALL_BODY_FIELDS = new Set(Object.values(BODY_FIELDS).flat());

/**
 * A partial update. Fields are checked one by one here; rules that span
 * fields (the correct id exists among the options…) are checked on the merged
 * result by {@link applyQuestionPatch}. `null` clears an optional field.
 */
export const questionPatchSchema = strict(
  {
    type: typeField.optional(),
    stem: stemField.optional(),
    points: pointsField.optional(),
    feedback: feedbackField.nullable().optional(),
    tags: tagsField.optional(),
    difficulty: difficultyField.nullable().optional(),
    options: optionsField.optional(),
    correct: z
      .union([z.string(), z.array(z.string()), z.boolean()], {
        error: 'must be an option id, a list of option ids, or true/false',
      })
      .optional(),
    scoring: scoringField.optional(),
    accepted: acceptedField.optional(),
    match: matchField.optional(),
    caseInsensitive: z.boolean(expecting('true or false')).nullable().optional(),
    answer: answerField.optional(),
    tolerance: toleranceField.optional(),
  },
  'a question patch',
);
export type QuestionPatch = z.output<typeof questionPatchSchema>;

/**
 * Apply a validated patch to the current question and validate the result as
 * a whole. The type never changes: a different question type is a new question.
 */
export function applyQuestionPatch(current: QuestionInput, patch: QuestionPatch): Result<QuestionInput, z.ZodError> {
  const issues: z.core.$ZodIssue[] = [];
  if (patch.type !== undefined && patch.type !== current.type) {
    issues.push({
      code: 'custom',
      path: ['type'],
      message: `cannot change from ${current.type} to ${patch.type}; create a new question instead`,
    });
  }
  const own = BODY_FIELDS[current.type];
  for (const [key, value] of Object.entries(patch)) {
    if (value !== undefined && ALL_BODY_FIELDS.has(key) && !own.includes(key)) {
      issues.push({
        code: 'custom',
        path: [key],
        message: `does not apply to ${current.type} questions (their answer fields are ${own.join(', ')})`,
      });
    }
  }
  if (issues.length > 0) return { ok: false, error: new z.ZodError(issues) };

  // Only the model's own fields: `current` may be a stored Question carrying an id.
  const merged: Record<string, unknown> = {};
  for (const key of ['type', ...Object.keys(commonShape), ...own]) {
    const value = (current as Record<string, unknown>)[key];
    if (value !== undefined) merged[key] = value;
  }
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'type') continue;
    if (value === null) delete merged[key];
    else if (value !== undefined) merged[key] = value;
  }
  const parsed = questionInputSchema.safeParse(merged);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: parsed.error };
}

// ─── Storage ────────────────────────────────────────────────────────────────

export type SingleChoiceBody = z.output<typeof questionBodySchemas.single_choice>;
export type MultipleResponseBody = z.output<typeof questionBodySchemas.multiple_response>;
export type TrueFalseBody = z.output<typeof questionBodySchemas.true_false>;
export type ShortTextBody = z.output<typeof questionBodySchemas.short_text>;
export type NumericBody = z.output<typeof questionBodySchemas.numeric>;
export type QuestionBody = SingleChoiceBody | MultipleResponseBody | TrueFalseBody | ShortTextBody | NumericBody;

/** The `questions` columns a question occupies (owner, status and source are the service's). */
export interface QuestionColumns {
  type: QuestionType;
  stem: string;
  points: number;
  feedback: string | null;
  tags: string[];
  difficulty: Difficulty | null;
  body: QuestionBody;
}

/** Split a question into its columns; `body` gets only the type's answer fields. */
export function questionBody(input: QuestionInput): QuestionColumns {
  return {
    type: input.type,
    stem: input.stem,
    points: input.points,
    feedback: input.feedback ?? null,
    tags: [...input.tags],
    difficulty: input.difficulty ?? null,
    body: bodyOf(input),
  };
}

function bodyOf(input: QuestionInput): QuestionBody {
  switch (input.type) {
    case 'single_choice':
      return { options: copyOptions(input.options), correct: input.correct };
    case 'multiple_response':
      return { options: copyOptions(input.options), correct: [...input.correct], scoring: input.scoring };
    case 'true_false':
      return { correct: input.correct };
    case 'short_text':
      return input.caseInsensitive === undefined
        ? { accepted: [...input.accepted], match: input.match }
        : { accepted: [...input.accepted], match: input.match, caseInsensitive: input.caseInsensitive };
    case 'numeric':
      return { answer: input.answer, tolerance: input.tolerance };
  }
}

const copyOptions = (options: readonly Option[]): Option[] => options.map(({ id, text }) => ({ id, text }));

/** Columns as read back: numeric arrives as a string, nullable columns as null. */
export interface StoredQuestionColumns {
  type: string;
  stem: string;
  points: number | string;
  feedback: string | null;
  tags: readonly string[];
  difficulty: string | null;
  body: unknown;
}

/** A `questions` row as the repository returns it. */
export interface QuestionRow extends StoredQuestionColumns {
  id: string;
  status?: string;
  source?: unknown;
}

/** A stored question failed validation: a bug or a manual edit, never user input. */
export class InvalidQuestionRowError extends Error {
  constructor(
    readonly questionId: string | undefined,
    readonly problems: string[],
  ) {
    super(`stored question${questionId ? ` ${questionId}` : ''} is invalid: ${problems.join('; ')}`);
    this.name = 'InvalidQuestionRowError';
  }
}

/**
 * The inverse of {@link questionBody}: columns back to a validated question.
 * Throws {@link InvalidQuestionRowError}, because a bad stored row is a server
 * fault that must be noticed, not a client mistake.
 */
export function toQuestionInput(columns: StoredQuestionColumns, questionId?: string): QuestionInput {
  const type = typeField.safeParse(columns.type);
  if (!type.success) throw new InvalidQuestionRowError(questionId, formatIssues(type.error, ['type']));
  const body = questionBodySchemas[type.data].safeParse(columns.body);
  if (!body.success) throw new InvalidQuestionRowError(questionId, formatIssues(body.error, ['body']));
  const parsed = questionInputSchema.safeParse({
    ...body.data,
    type: type.data,
    stem: columns.stem,
    points: typeof columns.points === 'string' ? Number(columns.points) : columns.points,
    tags: columns.tags,
    // NULL columns become absent fields, not `undefined` values that a spread would carry.
    ...(columns.feedback === null ? {} : { feedback: columns.feedback }),
    ...(columns.difficulty === null ? {} : { difficulty: columns.difficulty }),
  });
  if (!parsed.success) throw new InvalidQuestionRowError(questionId, formatIssues(parsed.error));
  return parsed.data;
}

/** A row from the `questions` table as a {@link Question}; see {@link toQuestionInput}. */
export function fromRow(row: QuestionRow): Question {
  return { ...toQuestionInput(row, row.id), id: row.id };
}

/**
 * A {@link Question} that was serialised as JSON (e.g. frozen into a
 * published assessment version) back to a validated object. Throws
 * {@link InvalidQuestionRowError} like {@link fromRow}.
 */
export function fromContent(id: string, raw: unknown): Question {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidQuestionRowError(id, ['expected a question object']);
  }
  // `source` (the citation) is frozen beside the question by publishing; it is not part of the question itself.
  const { id: _storedId, source: _source, ...input } = raw as Record<string, unknown>;
  const parsed = questionInputSchema.safeParse(input);
  if (!parsed.success) throw new InvalidQuestionRowError(id, formatIssues(parsed.error));
  return { ...parsed.data, id };
}

// ─── Candidate responses ────────────────────────────────────────────────────

/** The value a candidate submits, per question type. */
export interface ResponseValueMap {
  single_choice: string;
  multiple_response: string[];
  true_false: boolean;
  short_text: string;
  numeric: number;
}
export type ResponseValue = ResponseValueMap[QuestionType];

/**
 * Wire shapes of a response value per type, for OpenAPI and early rejection.
 * {@link parseResponse} is the authority: it also checks option ids against
 * the question and turns numeric text into a number.
 */
export const responseValueSchemas = {
  single_choice: optionIdField,
  multiple_response: z.array(optionIdField).max(MAX_OPTIONS),
  true_false: z.boolean(),
  short_text: z.string().max(MAX_TEXT_ANSWER_LENGTH),
  numeric: z.union([z.number(), z.string().max(MAX_NUMERIC_TEXT_LENGTH)]),
};
/** Any response value, for an autosave body that does not know the question type. */
export const responseValueSchema = z.union([
  z.boolean(),
  z.number(),
  z.string().max(MAX_TEXT_ANSWER_LENGTH),
  z.array(optionIdField).max(MAX_OPTIONS),
]);

/**
 * Validate what a candidate submitted for `question` and bring it to its
 * canonical form. Errors are one sentence the client can show or log.
 */
export function parseResponse<Q extends QuestionInput>(question: Q, raw: unknown): Result<ResponseValueMap[Q['type']]>;
export function parseResponse(question: QuestionInput, raw: unknown): Result<ResponseValue> {
  switch (question.type) {
    case 'single_choice':
      if (typeof raw !== 'string') return fail(`expected an option id (a string), got ${describe(raw)}`);
      if (!question.options.some((o) => o.id === raw)) return fail(notAnOption(raw, question.options));
      return { ok: true, value: raw };
    case 'multiple_response':
      return parseSelection(question.options, raw);
    case 'true_false':
      return typeof raw === 'boolean' ? { ok: true, value: raw } : fail(`expected true or false, got ${describe(raw)}`);
    case 'short_text':
      if (typeof raw !== 'string') return fail(`expected text, got ${describe(raw)}`);
      if (raw.length > MAX_TEXT_ANSWER_LENGTH) {
        return fail(`answer is ${raw.length} characters long; the limit is ${MAX_TEXT_ANSWER_LENGTH}`);
      }
      return { ok: true, value: raw };
    case 'numeric':
      return parseNumber(raw);
  }
}

function parseSelection(options: readonly Option[], raw: unknown): Result<string[]> {
  if (!Array.isArray(raw)) return fail(`expected a list of option ids, got ${describe(raw)}`);
  const seen = new Set<string>();
  for (const [i, id] of (raw as unknown[]).entries()) {
    if (typeof id !== 'string') return fail(`item ${i}: expected an option id (a string), got ${describe(id)}`);
    if (seen.has(id)) return fail(`"${id}" is selected twice`);
    if (!options.some((o) => o.id === id)) return fail(notAnOption(id, options));
    seen.add(id);
  }
  return { ok: true, value: [...seen] };
}

// One decimal separator, either "." or ","; an optional exponent for science.
const NUMERIC_TEXT = /^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:e[+-]?\d+)?$/i;

function parseNumber(raw: unknown): Result<number> {
  if (typeof raw === 'number') {
    return Number.isFinite(raw) ? { ok: true, value: raw } : fail(`expected a finite number, got ${raw}`);
  }
  if (typeof raw !== 'string') return fail(`expected a number, got ${describe(raw)}`);
  // NFKC turns full-width digits (３.５) into ASCII; U+2212 is the typographic minus.
  const text = raw.normalize('NFKC').trim().replace(/^\u2212/, '-');
  const value = text.length <= MAX_NUMERIC_TEXT_LENGTH && NUMERIC_TEXT.test(text) ? Number(text.replace(',', '.')) : NaN;
  if (!Number.isFinite(value)) {
    return fail(`"${raw.slice(0, 40)}" is not a number; write it like 3.5 or 3,5 (no thousands separators)`);
  }
  return { ok: true, value };
}

const fail = (error: string): { ok: false; error: string } => ({ ok: false, error });

function describe(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return `text "${value.slice(0, 40)}"`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${typeof value} ${value}`;
    case 'undefined':
      return 'nothing';
    case 'object':
      return value === null ? 'null' : Array.isArray(value) ? 'a list' : 'an object';
    default:
      return `a ${typeof value}`;
  }
}

// ─── Candidate view ─────────────────────────────────────────────────────────

const publicOptionSchema = z.object({ id: z.string(), text: z.string() });
/** What a candidate may see of a question: never answers, tolerance or feedback. */
export const publicQuestionSchema = z.union([
  z.object({
    id: z.string(),
    type: z.enum(['single_choice', 'multiple_response']),
    stem: z.string(),
    points: z.number(),
    options: z.array(publicOptionSchema),
  }),
  z.object({
    id: z.string(),
    type: z.enum(['true_false', 'short_text', 'numeric']),
    stem: z.string(),
    points: z.number(),
  }),
]);
export type PublicQuestion = z.output<typeof publicQuestionSchema>;

/**
 * The candidate's view. Built field by field from an allow-list, so a field
 * added to the model later stays private until someone adds it here.
 */
export function publicView(question: Question): PublicQuestion {
  const base = { id: question.id, stem: question.stem, points: question.points };
  switch (question.type) {
    case 'single_choice':
    case 'multiple_response':
      return { ...base, type: question.type, options: copyOptions(question.options) };
    case 'true_false':
    case 'short_text':
    case 'numeric':
      return { ...base, type: question.type };
  }
}

// ─── Errors ─────────────────────────────────────────────────────────────────

/**
 * Field problems in the shape of `ProblemDetails.errors`, with paths written
 * like the HTTP layer writes schema errors (`options.2.id`, `(root)`).
 */
export function issueList(error: z.ZodError, under: readonly PropertyKey[] = []): { path: string; message: string }[] {
  return error.issues.map((issue) => ({
    path: [...under, ...issue.path].map(String).join('.') || '(root)',
    message: issue.message,
  }));
}

/** One line per problem: `correct: "c" is not one of the option ids a, b`. */
export function formatIssues(error: z.ZodError, under: readonly PropertyKey[] = []): string[] {
  return issueList(error, under).map(({ path, message }) => (path === '(root)' ? message : `${path}: ${message}`));
}
