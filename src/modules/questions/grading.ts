/**
 * Grading: pure functions from a question and a stored response to a score.
 *
 * - Scores are computed in integer hundredths of a point and only divided by
 *   100 at the end, so 0.1 + 0.2 never becomes 0.30000000000000004 and totals
 *   add up exactly. Partial credit rounds half up to 0.01.
 * - A missing, null or malformed response scores 0; grading never throws on
 *   candidate data, because one bad answer must not fail a whole attempt.
 * - Text is compared after Unicode normalisation (see {@link normalizeAnswer}
 *   and {@link exactForm}); regex patterns match the whole answer.
 * - Numeric answers are correct when |value − answer| ≤ tolerance + ε, with
 *   ε = 1e-12 × max(|value|, |answer|, tolerance). Binary floating point
 *   cannot hold 0.1 or 0.3 exactly, so an exact comparison would fail
 *   0.1 + 0.2 against 0.3 and 10.1 against 10 ± 0.1; a relative ε absorbs that
 *   representation noise (≈1e-16 relative) at any magnitude while staying far
 *   below any difference an exam could mean (12 significant digits). An
 *   absolute ε would wrongly accept 0 for an answer of 1e-15.
 */
import { compileAnswerPattern } from './answer-regex.ts';
import { parseResponse, type Question, type QuestionInput, type ResponseValueMap, type ShortTextInput } from './model.ts';

export interface GradeResult {
  score: number;
  maxScore: number;
  /** Full marks. A partially credited answer is not "correct". */
  correct: boolean;
}

export interface QuestionGrade extends GradeResult {
  questionId: string;
  /** A response was present and valid for the question. */
  answered: boolean;
}

export interface AttemptGrade {
  score: number;
  maxScore: number;
  correctCount: number;
  answeredCount: number;
  /** In the order the questions were given. */
  questions: QuestionGrade[];
}

const RELATIVE_EPSILON = 1e-12;

/** Score one response; `value` is whatever was stored (undefined when unanswered). */
export function gradeResponse(question: QuestionInput, value: unknown): GradeResult {
  const { earned, max } = gradeInCents(question, value);
  return { score: earned / 100, maxScore: max / 100, correct: earned === max };
}

/** Score an attempt: one result per question, totals summed exactly. */
export function gradeAttempt(questions: readonly Question[], responses: ReadonlyMap<string, unknown>): AttemptGrade {
  let earnedTotal = 0;
  let maxTotal = 0;
  let correctCount = 0;
  let answeredCount = 0;
  const results = questions.map((question): QuestionGrade => {
    const { earned, max, answered } = gradeInCents(question, responses.get(question.id));
    earnedTotal += earned;
    maxTotal += max;
    if (earned === max) correctCount++;
    if (answered) answeredCount++;
    return { questionId: question.id, score: earned / 100, maxScore: max / 100, correct: earned === max, answered };
  });
  return { score: earnedTotal / 100, maxScore: maxTotal / 100, correctCount, answeredCount, questions: results };
}

function gradeInCents(question: QuestionInput, raw: unknown): { earned: number; max: number; answered: boolean } {
  // Points are validated to 2 decimals; rounding removes the float residue of ×100.
  const max = Math.round(question.points * 100);
  const earned = raw === undefined || raw === null ? undefined : earnedCents(question, raw, max);
  return { earned: earned ?? 0, max, answered: earned !== undefined };
}

/** Hundredths earned, or undefined when `raw` is not a valid answer to `question`. */
function earnedCents(question: QuestionInput, raw: unknown, max: number): number | undefined {
  switch (question.type) {
    case 'single_choice':
      return valid(question, raw, (id) => (id === question.correct ? max : 0));
    case 'true_false':
      return valid(question, raw, (answer) => (answer === question.correct ? max : 0));
    case 'multiple_response':
      return valid(question, raw, (selected) => {
        const correct = new Set(question.correct);
        const right = selected.filter((id) => correct.has(id)).length;
        const wrong = selected.length - right;
        if (question.scoring === 'all_or_nothing') return right === correct.size && wrong === 0 ? max : 0;
        const net = right - wrong;
        return net <= 0 ? 0 : roundHalfUp(max * net, correct.size);
      });
    case 'short_text':
      return valid(question, raw, (text) => (matcherFor(question)(text) ? max : 0));
    case 'numeric':
      return valid(question, raw, (value) => {
        const slack = RELATIVE_EPSILON * Math.max(Math.abs(value), Math.abs(question.answer), question.tolerance);
        return Math.abs(value - question.answer) <= question.tolerance + slack ? max : 0;
      });
  }
}

function valid<Q extends QuestionInput>(
  question: Q,
  raw: unknown,
  grade: (value: ResponseValueMap[Q['type']]) => number,
): number | undefined {
  const parsed = parseResponse(question, raw);
  return parsed.ok ? grade(parsed.value) : undefined;
}

/** numerator / denominator rounded half up, exactly, for non-negative integers. */
function roundHalfUp(numerator: number, denominator: number): number {
  return Math.floor((2 * numerator + denominator) / (2 * denominator));
}

/**
 * The "normalized" comparison form: Unicode NFKC (full-width letters and
 * digits become ASCII, ligatures split), full case folding (upper- then
 * lower-casing, so "STRASSE" matches "Straße"), trimmed, and any run of
 * whitespace collapsed to one space.
 */
export function normalizeAnswer(text: string): string {
  return text.normalize('NFKC').toUpperCase().toLowerCase().normalize('NFKC').trim().replace(/\s+/gu, ' ');
}

/**
 * The "exact" comparison form: case and inner spacing count, but leading and
 * trailing whitespace (invisible on screen) does not, and canonically
 * equivalent spellings (é as one code point or e + accent) are equal.
 * Regex patterns are matched against this form too.
 */
export function exactForm(text: string): string {
  return text.normalize('NFC').trim();
}

type Matcher = (answer: string) => boolean;

// A published question is graded for every candidate; prepare its accepted
// answers once per question object rather than once per response.
const matchers = new WeakMap<ShortTextInput, Matcher>();

function matcherFor(question: ShortTextInput): Matcher {
  let matcher = matchers.get(question);
  if (!matcher) {
    matcher = buildMatcher(question);
    matchers.set(question, matcher);
  }
  return matcher;
}

function buildMatcher(question: ShortTextInput): Matcher {
  switch (question.match) {
    case 'exact': {
      const accepted = new Set(question.accepted.map(exactForm));
      return (answer) => accepted.has(exactForm(answer));
    }
    case 'normalized': {
      const accepted = new Set(question.accepted.map(normalizeAnswer));
      return (answer) => accepted.has(normalizeAnswer(answer));
    }
    case 'regex': {
      const patterns = question.accepted.flatMap((source) => {
        try {
          return [compileAnswerPattern(source, question.caseInsensitive ?? false)];
        } catch {
          return []; // validated when stored; an unreadable pattern simply matches nothing
        }
      });
      return (answer) => {
        const subject = exactForm(answer);
        return patterns.some((pattern) => pattern.test(subject));
      };
    }
  }
}
