/**
 * PdfExtractor adapter: pdf.js in a piscina pool of worker threads.
 *
 * piscina gives what the port needs: `resourceLimits` per worker, and
 * aborting a task that is already running terminates its worker and starts
 * a replacement — which is the only way to stop pdf.js stuck in synchronous
 * parsing. What piscina does not tell is when a queued task starts, so each
 * task carries a MessagePort on which the worker says so; the time limit
 * starts then, and time spent queued never counts.
 */
import { availableParallelism } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import {
  checkExtractOptions,
  PDF_ERROR_MESSAGES,
  PdfError,
  type ExtractOptions,
  type PdfExtraction,
  type PdfExtractor,
  type PdfPoolStats,
} from './index.ts';
import type { ExtractReply, ExtractTask } from './worker.ts';

export interface PdfPoolOptions {
  /** Worker threads, all kept started (default min(2, available CPUs)). */
  workers?: number;
  /** Time limit per job in ms, counted while it runs (default 60 000); `extract` may lower or raise it per job. */
  timeoutMs?: number;
  /** Heap cap per worker in MB: V8's old generation, where pdf.js keeps its objects (default 512). */
  maxMemoryMb?: number;
  /** Jobs allowed to wait beyond one per worker; more fail with `pdf_queue_full` (default: no limit). */
  maxQueue?: number;
}

/**
 * A worker holds about 20 MB of heap once pdf.js is loaded; below this cap it
 * could not start, or read anything but the smallest file. (The 117-page
 * textbook in the fixtures needs a 26 MB cap.)
 */
export const MIN_MEMORY_MB = 32;

// pdf.js makes many short-lived objects per text operator. A young
// generation of 96 MB (two 32 MB semi-spaces) lets more of them die young
// than a worker's default (48 MB): on the 117-page book the median run was
// about 15 % faster in our A/B runs, for about 30 MB more RSS per worker.
// It is not part of `maxMemoryMb`, which caps the old generation only.
const YOUNG_GENERATION_MB = 96;

const WORKER_URL = new URL('./worker.ts', import.meta.url);

// A worker thread runs with the flags given here, but not with loader hooks
// registered at run time (bin/examday.mjs registers tsx with
// `register()`), so tsx is passed as a flag every worker applies itself,
// resolved to a file URL so it does not depend on the working directory.
const WORKER_EXEC_ARGV = ['--import', import.meta.resolve('tsx')];

type JobState = 'queued' | 'running';
type StopReason = 'timeout' | 'aborted' | 'closed';

interface Job {
  state: JobState;
  stop: StopReason | null;
  controller: AbortController;
}

export function createPdfPool(opts: PdfPoolOptions = {}): PdfExtractor {
  const workers = opts.workers ?? Math.min(2, availableParallelism());
  const defaultTimeoutMs = opts.timeoutMs ?? 60_000;
  const maxMemoryMb = opts.maxMemoryMb ?? 512;
  const maxQueue = opts.maxQueue ?? Infinity;
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) throw new RangeError(`workers must be an integer in [1, 256], got ${workers}`);
  checkExtractOptions({ timeoutMs: defaultTimeoutMs });
  if (!Number.isInteger(maxMemoryMb) || maxMemoryMb < MIN_MEMORY_MB) {
    throw new RangeError(`maxMemoryMb must be an integer ≥ ${MIN_MEMORY_MB}, got ${maxMemoryMb}`);
  }
  if (maxQueue !== Infinity && (!Number.isInteger(maxQueue) || maxQueue < 0)) throw new RangeError(`maxQueue must be a non-negative integer, got ${maxQueue}`);

  const piscina = new Piscina<ExtractTask, ExtractReply>({
    filename: WORKER_URL.href,
    minThreads: workers,
    maxThreads: workers,
    concurrentTasksPerWorker: 1,
    // Idle workers wait on their message port rather than blocking in
    // Atomics.wait, so pdf.js's clean-up after a document can still run.
    atomics: 'disabled',
    resourceLimits: { maxOldGenerationSizeMb: maxMemoryMb, maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    execArgv: WORKER_EXEC_ARGV,
  });

  const jobs = new Set<Job>();
  let replaced = 0;
  let closed = false;
  let closing: Promise<void> | null = null;
  /** Set when workers fail while starting: piscina then stops starting new ones, and queued jobs would wait forever. */
  let broken: unknown = null;

  piscina.on('workerDestroy', () => {
    if (!closed) replaced++;
  });
  // An idle worker that dies (no job to fail) is reported here; piscina
  // replaces it, unless it died while starting.
  piscina.on('error', (error: unknown) => {
    if (closed || piscina.threads.length > 0) return;
    broken = error;
    for (const job of jobs) job.controller.abort();
  });

  const countJobs = (state: JobState): number => [...jobs].filter((j) => j.state === state).length;

  async function extract(input: Buffer | Uint8Array, opts: ExtractOptions = {}): Promise<PdfExtraction> {
    checkExtractOptions(opts);
    if (closed) throw new PdfError('pdf_pool_closed', PDF_ERROR_MESSAGES.pdf_pool_closed);
    if (broken !== null) throw crashed(broken);
    if (opts.signal?.aborted) throw new PdfError('pdf_aborted', PDF_ERROR_MESSAGES.pdf_aborted, { cause: opts.signal.reason });
    if (!hasPdfHeader(input)) {
      throw new PdfError('pdf_invalid', PDF_ERROR_MESSAGES.pdf_invalid, { details: { reason: 'no %PDF- header in the first 1024 bytes' } });
    }
    // Counted from accepted jobs rather than from those a worker has reported
    // starting, so the answer does not depend on message timing.
    if (jobs.size >= workers + maxQueue) throw new PdfError('pdf_queue_full', PDF_ERROR_MESSAGES.pdf_queue_full);

    const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
    const maxPages = opts.maxPages ?? null;
    const job: Job = { state: 'queued', stop: null, controller: new AbortController() };
    const stop = (reason: StopReason): void => {
      job.stop ??= reason;
      job.controller.abort();
    };
    const onCallerAbort = (): void => stop('aborted');
    opts.signal?.addEventListener('abort', onCallerAbort, { once: true });

    let timer: NodeJS.Timeout | undefined;
    const { port1, port2 } = new MessageChannel();
    port1.once('message', () => {
      job.state = 'running';
      timer = setTimeout(() => stop('timeout'), timeoutMs);
    });

    const { data, transferList } = takeBytes(input);
    jobs.add(job);
    try {
      const reply = await piscina.run(
        { data, maxPages, started: port2 },
        { signal: job.controller.signal, transferList: [...transferList, port2] },
      );
      if (reply.ok) return { pages: reply.pages, pageCount: reply.pageCount, info: reply.info };
      throw documentError(reply, maxPages);
    } catch (error) {
      if (error instanceof PdfError) throw error;
      if (job.stop === 'closed' || (closed && job.stop === null)) {
        throw new PdfError('pdf_pool_closed', PDF_ERROR_MESSAGES.pdf_pool_closed, { cause: error });
      }
      if (job.stop === 'aborted') throw new PdfError('pdf_aborted', PDF_ERROR_MESSAGES.pdf_aborted, { cause: opts.signal?.reason });
      if (job.stop === 'timeout') {
        throw new PdfError(
          'pdf_timeout',
          `Reading the PDF took longer than ${formatDuration(timeoutMs)} and was stopped. Try again later; if it happens again, upload a smaller or simpler PDF.`,
          { cause: error, details: { timeoutMs } },
        );
      }
      throw crashed(broken ?? error);
    } finally {
      clearTimeout(timer);
      port1.close();
      opts.signal?.removeEventListener('abort', onCallerAbort);
      jobs.delete(job);
    }
  }

  function crashed(error: unknown): PdfError {
    const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : '';
    if (code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return new PdfError('pdf_worker_crashed', PDF_ERROR_MESSAGES.pdf_worker_crashed, { cause: error, details: { maxMemoryMb } });
    }
    return new PdfError('pdf_worker_crashed', 'Reading the PDF stopped unexpectedly. Try again; if it happens again, the PDF is probably damaged.', {
      cause: error,
    });
  }

  return {
    extract,
    stats(): PdfPoolStats {
      return { workers: piscina.threads.length, busy: countJobs('running'), queued: countJobs('queued'), replaced };
    },
    close(): Promise<void> {
      if (closing !== null) return closing;
      closed = true;
      for (const job of jobs) {
        job.stop ??= 'closed';
        job.controller.abort();
      }
      closing = piscina.destroy();
      return closing;
    },
  };
}

function documentError(reply: Extract<ExtractReply, { ok: false }>, maxPages: number | null): PdfError {
  const details: Record<string, number | string> = { reason: reply.reason };
  if (reply.pageCount !== undefined) details.pageCount = reply.pageCount;
  if (reply.code === 'pdf_too_many_pages') {
    details.maxPages = maxPages ?? 0;
    return new PdfError(
      'pdf_too_many_pages',
      `The PDF has ${reply.pageCount ?? 'too many'} pages; at most ${maxPages} are allowed. Split it and upload the parts.`,
      { details },
    );
  }
  return new PdfError(reply.code, PDF_ERROR_MESSAGES[reply.code], { details });
}

/**
 * Readers (pdf.js, Acrobat) accept a header anywhere in the first 1024
 * bytes. Checking here turns an image or an empty upload into `pdf_invalid`
 * without occupying a worker.
 */
function hasPdfHeader(input: Uint8Array): boolean {
  const head = Buffer.from(input.buffer, input.byteOffset, Math.min(input.byteLength, 1024));
  return head.includes('%PDF-', 0, 'latin1');
}

/** Move the bytes to the worker when the view owns its whole buffer; copy them otherwise. */
function takeBytes(input: Uint8Array): { data: Uint8Array; transferList: ArrayBuffer[] } {
  const { buffer } = input;
  if (buffer instanceof ArrayBuffer && input.byteOffset === 0 && input.byteLength === buffer.byteLength) {
    return { data: new Uint8Array(buffer), transferList: [buffer] };
  }
  const copy = new Uint8Array(input.byteLength);
  copy.set(input);
  return { data: copy, transferList: [copy.buffer] };
}

function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}
