/**
 * The citation check every generated question must pass before anyone sees
 * it: the question is a valid authoring object, and its quote really stands
 * on the page it names. A model that invents a quote, or quotes the wrong
 * page, loses the question rather than misleading a reviewer. Pure: no I/O.
 */
import { formatIssues, questionInputSchema } from '../../modules/questions/model.ts';
import { findUnstorableJson } from '../../lib/storable-text.ts';
import type { DroppedQuestion, GeneratedQuestion, PageText } from './index.ts';

export interface CitationReport {
  kept: GeneratedQuestion[];
  dropped: DroppedQuestion[];
}

/** A quote shorter than this (after normalising) proves nothing: "the" is on every page. */
export const MIN_QUOTE_CHARS = 10;
/** A quote longer than this is a page dump, not a citation a reviewer can check. */
export const MAX_QUOTE_CHARS = 1000;

/**
 * Keep each question only if it validates against `questionInputSchema`, its
 * `source.page` is one of `pages`, and its `source.quote` occurs in that
 * page's text once both are normalised by {@link normalizeForMatch}. A
 * question whose stem repeats an earlier kept one (case and spacing aside) is
 * dropped as a duplicate. Kept questions come back parsed (defaults applied,
 * unknown fields rejected), with the quote trimmed.
 *
 * Input is `unknown` on purpose: this is where untrusted model output becomes
 * typed, so nothing about it is assumed.
 */
export function validateCitations(questions: readonly unknown[], pages: readonly PageText[]): CitationReport {
  const pageIndex = new Map<number, PageForms>();
  for (const { page, text } of pages) pageIndex.set(page, pageForms(text));

  const kept: GeneratedQuestion[] = [];
  const dropped: DroppedQuestion[] = [];
  const stems = new Set<string>();
  for (const question of questions) {
    const checked = checkOne(question, pageIndex);
    if (!checked.ok) {
      dropped.push({ question, code: checked.code, reason: checked.reason });
      continue;
    }
    const stemKey = normalizeForMatch(checked.value.stem).toLowerCase();
    if (stems.has(stemKey)) {
      dropped.push({ question, code: 'duplicate', reason: 'the same stem was already generated' });
      continue;
    }
    stems.add(stemKey);
    kept.push(checked.value);
  }
  return { kept, dropped };
}

type Check = { ok: true; value: GeneratedQuestion } | { ok: false; code: DroppedQuestion['code']; reason: string };

function checkOne(question: unknown, pages: ReadonlyMap<number, PageForms>): Check {
  if (typeof question !== 'object' || question === null || Array.isArray(question)) {
    return { ok: false, code: 'invalid_question', reason: 'not a question object' };
  }
  // A provider's text may hold U+0000 or a lone surrogate: valid JSON, but not storable.
  const unstorable = findUnstorableJson(JSON.stringify(question), question);
  if (unstorable) return { ok: false, code: 'invalid_question', reason: `not storable: ${unstorable.path} ${unstorable.message}` };
  const { source, ...input } = question as Record<string, unknown>;
  const parsed = questionInputSchema.safeParse(input);
  if (!parsed.success) {
    return { ok: false, code: 'invalid_question', reason: `not a valid question: ${formatIssues(parsed.error).join('; ')}` };
  }
  if (typeof source !== 'object' || source === null) return { ok: false, code: 'missing_source', reason: 'has no source' };
  const { materialId, page, quote } = source as Record<string, unknown>;
  if (typeof materialId !== 'string' || typeof page !== 'number' || typeof quote !== 'string') {
    return { ok: false, code: 'missing_source', reason: 'source needs materialId (text), page (number) and quote (text)' };
  }
  const forms = pages.get(page);
  if (!forms) return { ok: false, code: 'unknown_page', reason: `cites page ${page}, which is not among the pages given` };

  const wanted = normalizeForMatch(trimQuote(quote));
  const minChars = Math.min(MIN_QUOTE_CHARS, forms.plain.length);
  if (wanted.length < minChars || wanted.length === 0) {
    return { ok: false, code: 'quote_too_short', reason: `quote "${wanted}" is too short to show where the answer stands` };
  }
  if (wanted.length > MAX_QUOTE_CHARS) {
    return { ok: false, code: 'quote_too_long', reason: `quote is ${wanted.length} characters; the limit is ${MAX_QUOTE_CHARS}` };
  }
  if (!forms.all.some((form) => form.includes(wanted))) {
    return { ok: false, code: 'quote_not_found', reason: `quote "${clip(wanted)}" does not occur on page ${page}` };
  }
  return { ok: true, value: { ...parsed.data, source: { materialId, page, quote: quote.trim() } } };
}

interface PageForms {
  plain: string;
  /** The page as normalised, plus its two readings of hyphens at line ends. */
  all: string[];
}

/**
 * Extracted text breaks words at line ends ("gen-\nerated"), while a model
 * quoting the page writes "generated" — or "well-known" for "well-\nknown".
 * Both readings are kept, so either quote matches; the plain form matches a
 * quote copied with the break in it.
 */
function pageForms(text: string): PageForms {
  const plain = normalizeForMatch(text);
  const hyphenBreak = /(\p{L})[-\u00AD\u2010]\s*\n\s*(\p{L})/gu;
  const joined = normalizeForMatch(text.replace(hyphenBreak, '$1$2'));
  const kept = normalizeForMatch(text.replace(hyphenBreak, '$1-$2'));
  return { plain, all: [...new Set([plain, joined, kept])] };
}

const QUOTE_MARKS = /[\u2018\u2019\u201A\u201B\u2032\u0060\u00B4]/gu;
const DOUBLE_QUOTE_MARKS = /[\u201C\u201D\u201E\u201F\u2033\u00AB\u00BB\u2039\u203A]/gu;
const DASHES = /[\u2010\u2011\u2012\u2013\u2014\u2015\u2212\uFE58\uFE63\uFF0D]/gu;

/**
 * The form in which quotes and pages are compared: Unicode NFKC (ligatures
 * such as "ﬁ" become "fi", full-width forms become ASCII), invisible format
 * characters removed (bidi marks around Arabic text, soft hyphens, zero-width
 * spaces — a model never reproduces them), typographic quotes and dashes
 * made ASCII, and runs of whitespace collapsed to one space. Case is kept: a
 * quote is evidence, and a changed word is not the same evidence.
 */
export function normalizeForMatch(text: string): string {
  return text
    .normalize('NFKC')
    .replace(/\p{Cf}/gu, '')
    .replace(QUOTE_MARKS, "'")
    .replace(DOUBLE_QUOTE_MARKS, '"')
    .replace(DASHES, '-')
    .replace(/\s+/gu, ' ')
    .trim();
}

/** Models wrap quotes in quotation marks or mark a cut with "…"; neither is part of the text. */
function trimQuote(quote: string): string {
  return quote
    .trim()
    .replace(/^(?:["'“”„‘’«»]|\.\.\.|…)+/u, '')
    .replace(/(?:["'“”„‘’«»]|\.\.\.|…)+$/u, '')
    .trim();
}

const clip = (s: string): string => (s.length > 80 ? `${s.slice(0, 77)}...` : s);
