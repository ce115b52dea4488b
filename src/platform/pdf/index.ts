/**
 * PdfExtractor port: the text of an uploaded PDF, page by page, read in
 * isolation from the process that asked. One adapter: pdf.js in a pool of
 * worker threads (`pool.ts`, code that runs in the threads in `worker.ts`).
 *
 * Guarantees:
 * - Isolation: the PDF is parsed in a worker thread, never in the caller's
 *   thread. A document that loops, or grows the parser's heap past the pool's
 *   memory cap, costs one worker — it is terminated and replaced — and fails
 *   only its own job, with `pdf_timeout` or `pdf_worker_crashed`. Other jobs,
 *   running or queued, are unaffected. pdf.js is never loaded into the
 *   caller's thread either (its legacy build patches built-ins wherever it
 *   is loaded).
 * - The time limit counts from the moment a worker starts the job, not from
 *   `extract()`: waiting in the queue never times a job out. Queue length is
 *   bounded by the pool's `maxQueue` instead (`pdf_queue_full`).
 * - The memory cap is on the worker's JavaScript heap (V8 old generation),
 *   where pdf.js keeps parsed objects, fonts and text. Decoded stream bytes
 *   live in ArrayBuffers outside that heap and are bounded only by the input
 *   size times the compression ratio; cap upload sizes accordingly.
 * - Deterministic text: the same bytes give the same text on every run and
 *   every machine, so quotes taken from it can be matched against it later.
 *   Per page, from pdf.js's text runs and their positions:
 *   - two runs on one line get a space between them when pdf.js gives none
 *     and the gap is wider than 0.15 × the font size (so a word split over
 *     two runs, e.g. at a font change, stays one word);
 *   - any run of whitespace or control characters becomes one space, and
 *     lines are trimmed;
 *   - a line that continues the previous one — its baseline lower by at most
 *     1.5 × the font size, not indented after a sentence end — is joined to
 *     it with a space, or with nothing after a letter and a hyphen (the
 *     hyphen is kept: "Topo-" + "logie" → "Topo-logie");
 *   - every other line change is a paragraph break, a single "\n".
 *   Text is otherwise pdf.js's: ligatures expanded, right-to-left runs in
 *   logical order.
 * - Failures are `PdfError`s with a stable `code` and a message written for
 *   the author who uploaded the file; nothing else is thrown by `extract`
 *   except `RangeError` for invalid options (a bug in the caller).
 * - `extract` takes ownership of the bytes: when the input view spans its
 *   whole ArrayBuffer (as a Buffer from `fs.readFile` or a blob download
 *   does), that buffer is moved to the worker without copying and the
 *   caller's view is left empty (detached). Pass a copy to keep using it.
 *   Otherwise (a slice of Node's shared Buffer pool) the bytes are copied.
 */

export interface ExtractOptions {
  /** Refuse documents with more pages than this (checked before any page is read). */
  maxPages?: number;
  /** Time limit for this job in ms, counted while it runs; default: the pool's `timeoutMs`. */
  timeoutMs?: number;
  /** Cancels the job: removed from the queue, or its worker terminated if it is running. */
  signal?: AbortSignal;
}

export interface PdfPage {
  /** 1-based page number. */
  page: number;
  /** The page's text as described in the port's guarantees; '' for a page without text. */
  text: string;
}

export interface PdfExtraction {
  /** Every page, in order, one entry per page of the document. */
  pages: PdfPage[];
  pageCount: number;
  /** From the document information dictionary; absent when empty or missing. */
  info: { title?: string; author?: string };
}

export interface PdfPoolStats {
  /** Worker threads alive (starting or ready). */
  workers: number;
  /** Jobs a worker is running now. */
  busy: number;
  /** Jobs accepted and waiting for a worker. */
  queued: number;
  /** Workers terminated and replaced since the pool started (timeouts, crashes, cancelled running jobs). */
  replaced: number;
}

export interface PdfExtractor {
  extract(input: Buffer | Uint8Array, opts?: ExtractOptions): Promise<PdfExtraction>;
  stats(): PdfPoolStats;
  /**
   * Stop at once: every job not finished (queued or running) rejects with
   * `pdf_pool_closed` and the workers are terminated. PDF extraction is
   * CPU-bound and safe to re-run, so shutdown does not wait for it; close the
   * job queue first when running jobs should finish. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * - `pdf_invalid`: not a PDF, or too broken to read. Never retryable.
 * - `pdf_encrypted`: needs a password to open. Never retryable.
 * - `pdf_no_text`: opened, but (almost) no text — a scan, an image-only or
 *   empty document. "Almost" is fewer visible characters than
 *   `minTextChars(pageCount)`. Never retryable: OCR is out of scope.
 * - `pdf_too_many_pages`: more pages than `maxPages`. Never retryable.
 * - `pdf_timeout`: the job ran longer than its time limit; its worker was
 *   terminated and replaced. Retryable once: a busy machine may have slowed
 *   it, but a document that times out twice will time out again.
 * - `pdf_worker_crashed`: the worker ran out of its memory cap or died; it
 *   was replaced. Retryable once, for the same reason.
 * - `pdf_queue_full`: the pool's queue is at `maxQueue`. Retryable (later).
 * - `pdf_aborted`: the caller's signal cancelled the job. Not retryable: the
 *   caller chose to stop.
 * - `pdf_pool_closed`: the pool is shutting down. Retryable (on another
 *   process, or after restart), as the document itself was never judged.
 */
export type PdfErrorCode =
  | 'pdf_invalid'
  | 'pdf_encrypted'
  | 'pdf_no_text'
  | 'pdf_too_many_pages'
  | 'pdf_timeout'
  | 'pdf_worker_crashed'
  | 'pdf_queue_full'
  | 'pdf_aborted'
  | 'pdf_pool_closed';

const RETRYABLE: { readonly [K in PdfErrorCode]: boolean } = {
  pdf_invalid: false,
  pdf_encrypted: false,
  pdf_no_text: false,
  pdf_too_many_pages: false,
  pdf_timeout: true,
  pdf_worker_crashed: true,
  pdf_queue_full: true,
  pdf_aborted: false,
  pdf_pool_closed: true,
};

/** Default messages, written for the author who uploaded the file. */
export const PDF_ERROR_MESSAGES: { readonly [K in Exclude<PdfErrorCode, 'pdf_too_many_pages' | 'pdf_timeout'>]: string } = {
  pdf_invalid: 'The file is not a readable PDF: it is damaged or not a PDF at all. Export it again as PDF and upload that.',
  pdf_encrypted: 'The PDF is password-protected. Remove the password (or export an unprotected copy) and upload it again.',
  pdf_no_text:
    'The PDF has no extractable text: it looks scanned or empty. Upload a PDF whose text can be selected, or run it through text recognition (OCR) first.',
  pdf_worker_crashed: 'Reading the PDF needed more memory than allowed and was stopped. Try a smaller or simpler PDF.',
  pdf_queue_full: 'Too many PDFs are being read right now. Try again in a minute.',
  pdf_aborted: 'Reading the PDF was cancelled.',
  pdf_pool_closed: 'The PDF reader is shutting down. Try again in a minute.',
};

export class PdfError extends Error {
  override name = 'PdfError';
  readonly retryable: boolean;
  /** Facts behind the error for logs and API details, e.g. `{ pageCount, maxPages }`. */
  readonly details: Record<string, number | string>;

  constructor(
    readonly code: PdfErrorCode,
    message: string,
    opts: { cause?: unknown; details?: Record<string, number | string> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.retryable = RETRYABLE[code];
    this.details = opts.details ?? {};
  }
}

/**
 * Fewer visible characters than this (whitespace and invisible format marks
 * such as bidi controls not counted) in the whole document means `pdf_no_text`.
 * 16 in total lets a one-line document through ("Hello, world!" has 12 and
 * is not course material; a four-word Arabic title has 18), and 4 per page on
 * average catches a scanned book whose only text is page numbers or a stamp.
 */
export function minTextChars(pageCount: number): number {
  return Math.max(16, 4 * pageCount);
}

/** Visible characters as counted by `minTextChars`. */
export function countVisibleChars(text: string): number {
  let n = 0;
  for (const _ of text.matchAll(/[^\s\p{Cf}\p{Cc}]/gu)) n++;
  return n;
}

/** Options checked the same way whatever the adapter, so a caller's mistake fails early and clearly. */
export function checkExtractOptions(opts: ExtractOptions): void {
  if (opts.maxPages !== undefined && (!Number.isInteger(opts.maxPages) || opts.maxPages < 1)) {
    throw new RangeError(`maxPages must be a positive integer, got ${opts.maxPages}`);
  }
  if (opts.timeoutMs !== undefined && (!Number.isInteger(opts.timeoutMs) || opts.timeoutMs < 1 || opts.timeoutMs > 2 ** 31 - 1)) {
    throw new RangeError(`timeoutMs must be an integer in [1, ${2 ** 31 - 1}], got ${opts.timeoutMs}`);
  }
}
