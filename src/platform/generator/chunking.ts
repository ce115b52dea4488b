/**
 * Splitting a document into pieces a generator call can take, and the
 * sentence segmentation that splitting (and the offline generator) rely on.
 * Pure: no I/O.
 */
import { createHash } from 'node:crypto';
import type { PageText } from './index.ts';

export interface Chunk {
  /** Whole pages in document order; a page longer than `maxChars` is split into parts that keep its number. */
  pages: PageText[];
  /** Total characters of the chunk's text. */
  chars: number;
  /**
   * sha256 (hex) of the page numbers and texts, so identical work can be
   * cached by the caller. It depends only on the content, never on position
   * in the document or on `maxChars`.
   */
  hash: string;
}

export interface ChunkOptions {
  /** Most characters per chunk (≥ 100); never exceeded, since even an over-long sentence is cut. */
  maxChars: number;
}

/**
 * Pack pages into chunks of at most `maxChars` characters without splitting
 * a page, because a citation names one page and a question is best written
 * from whole pages. A page longer than `maxChars` is split at sentence
 * boundaries (at whitespace inside a sentence that is itself too long), and
 * each part keeps the page's number. Every part is a slice of the page's
 * text, so a quote taken from a part is also a quote from the page.
 * Blank pages are left out: they carry nothing to ask about.
 */
export function chunkPages(pages: readonly PageText[], { maxChars }: ChunkOptions): Chunk[] {
  if (!Number.isInteger(maxChars) || maxChars < 100) throw new RangeError(`maxChars must be an integer ≥ 100, got ${maxChars}`);
  const pieces: PageText[] = [];
  for (const { page, text } of pages) {
    if (text.trim() === '') continue;
    if (text.length <= maxChars) pieces.push({ page, text });
    else for (const part of splitText(text, maxChars)) pieces.push({ page, text: part });
  }

  const chunks: Chunk[] = [];
  let current: PageText[] = [];
  let chars = 0;
  const flush = (): void => {
    if (current.length > 0) chunks.push({ pages: current, chars, hash: chunkHash(current) });
    current = [];
    chars = 0;
  };
  for (const piece of pieces) {
    if (chars + piece.text.length > maxChars) flush();
    current.push(piece);
    chars += piece.text.length;
  }
  flush();
  return chunks;
}

export function chunkHash(pages: readonly PageText[]): string {
  // JSON keeps the boundary between page number and text unambiguous.
  return createHash('sha256')
    .update(JSON.stringify(pages.map(({ page, text }) => [page, text])))
    .digest('hex');
}

/** Cut `text` into slices of at most `maxChars`, preferring sentence ends, then whitespace. */
function splitText(text: string, maxChars: number): string[] {
  const parts: string[] = [];
  let start = 0;
  let end = start;
  for (const span of sentenceSpans(text)) {
    if (span.end - start <= maxChars) {
      end = span.end;
      continue;
    }
    if (end > start) parts.push(text.slice(start, end));
    start = end;
    // One sentence longer than the limit: cut it at whitespace.
    while (span.end - start > maxChars) {
      const cut = cutPoint(text, start, start + maxChars);
      parts.push(text.slice(start, cut));
      start = cut;
    }
    end = span.end;
  }
  if (end > start) parts.push(text.slice(start, end));
  if (end < text.length && text.slice(end).trim() !== '') parts.push(text.slice(end));
  // Trimming keeps each part a slice of the page (a quote from it is a quote from the page).
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

function cutPoint(text: string, start: number, limit: number): number {
  for (let i = limit; i > start + 1; i--) if (/\s/u.test(text[i - 1] ?? '')) return i;
  // No whitespace at all: cut at the limit, but never inside a surrogate pair.
  const code = text.charCodeAt(limit - 1);
  return code >= 0xd800 && code <= 0xdbff ? limit - 1 : limit;
}

export interface SentenceSpan {
  /** Offsets into the text: `text.slice(start, end)` is the sentence with its end punctuation, trimmed. */
  start: number;
  end: number;
}

// Abbreviations that end in a period without ending a sentence (English and German).
const ABBREVIATIONS = new Set([
  'e.g', 'i.e', 'etc', 'vs', 'cf', 'fig', 'figs', 'al', 'eq', 'eqs', 'sec', 'no', 'nos', 'vol', 'pp', 'p', 'dr', 'mr', 'mrs', 'ms',
  'prof', 'st', 'resp', 'approx', 'z.b', 'bzw', 'd.h', 'usw', 'vgl', 'abb', 'nr', 'ca', 'u.a', 'evtl', 'ggf', 'inkl', 'bspw',
  's', 'sog', 'z', 'dh', 'bsp', 'def', 'kap', 'tab',
]);
const TERMINATOR = /[.!?؟。！？]+["'”’»)\]]*(?=\s|$)/gu;
const PARAGRAPH_BREAK = /\n[ \t\f\r]*\n/gu;

/**
 * Sentences of `text` as offsets, covering every non-blank character once.
 * A sentence ends at terminal punctuation followed by whitespace and a
 * character that can open a sentence, or at a paragraph break (a blank
 * line), which is how extracted PDF text separates headings and captions.
 */
export function sentenceSpans(text: string): SentenceSpan[] {
  const ends = new Set<number>();
  for (const m of text.matchAll(PARAGRAPH_BREAK)) ends.add(m.index);
  for (const m of text.matchAll(TERMINATOR)) {
    const end = m.index + m[0].length;
    if (m[0].startsWith('.') && isAbbreviation(text, m.index)) continue;
    const next = /\S/u.exec(text.slice(end, end + 20));
    if (next && !/[\p{Lu}\p{Lo}\p{N}"'“„«([]/u.test(next[0])) continue;
    ends.add(end);
  }
  ends.add(text.length);

  const spans: SentenceSpan[] = [];
  let start = 0;
  for (const end of [...ends].sort((a, b) => a - b)) {
    let s = start;
    while (s < end && /\s/u.test(text[s] ?? '')) s++;
    let e = end;
    while (e > s && /\s/u.test(text[e - 1] ?? '')) e--;
    if (e > s) spans.push({ start: s, end: e });
    start = end;
  }
  return spans;
}

function isAbbreviation(text: string, periodAt: number): boolean {
  const before = /[\p{L}.]+$/u.exec(text.slice(Math.max(0, periodAt - 12), periodAt));
  if (!before) return false;
  const word = before[0].replace(/^\.+/u, '').toLowerCase();
  // A lone capital is an initial ("R. Haghighat"); a lone lower-case letter is a list item or variable.
  return ABBREVIATIONS.has(word) || /^\p{L}$/u.test(word);
}
