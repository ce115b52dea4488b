/**
 * PDF text extraction throughput: examday's pool (pdf.js in worker threads)
 * with 1 and with 2 workers, against `pdftotext` (poppler) on the same file
 * in the same run. The machines are shared and noisy, so the three are
 * measured in interleaved rounds and compared by ratio, never alone.
 *
 *   node --import tsx bench/pdf.ts          (or: npm run bench -- pdf)
 *
 * Env: EXAMDAY_FIXTURES (fixtures root, default ../shared/fixtures),
 * PDF_BENCH_ROUNDS (default 3; each round reads the book 4 times per setup).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PdfExtractor } from '../src/platform/pdf/index.ts';
import { createPdfPool } from '../src/platform/pdf/pool.ts';
import { makePdf } from '../src/testing/pdf-fixtures.ts';

const FILE = 'GeoTopo-komprimiert.pdf';
/** Documents each setup reads per round; the 2-worker pool gets them all at once. */
const DOCS_PER_ROUND = 4;

interface Setup {
  /** Documents read and wall time spent, over all rounds. */
  docs: number;
  ms: number;
  /** Highest RSS of this process (workers included) sampled while this setup ran. */
  peakRssMb: number;
}

export async function run(): Promise<object> {
  const fixtures = process.env.EXAMDAY_FIXTURES ?? join(import.meta.dirname, '../../shared/fixtures');
  const path = join(fixtures, 'pdfs/good', FILE);
  if (!existsSync(path)) throw new Error(`bench/pdf: ${path} not found (set EXAMDAY_FIXTURES to the fixtures root)`);
  const rounds = Number(process.env.PDF_BENCH_ROUNDS ?? 3);
  const bytes = await readFile(path);
  const startRssMb = mb(process.memoryUsage().rss);

  const startedAt = performance.now();
  const one = createPdfPool({ workers: 1 });
  await one.extract(makePdf([['A first small document, so that the worker is up.']]));
  const workerStartMs = performance.now() - startedAt;
  const two = createPdfPool({ workers: 2 });
  await Promise.all([0, 1].map(() => two.extract(makePdf([['A first small document, so that the worker is up.']]))));

  // Warm-up: the first book per worker compiles pdf.js's hot paths.
  const { pageCount, pages } = await one.extract(Buffer.from(bytes));
  await Promise.all([0, 1].map(() => two.extract(Buffer.from(bytes))));
  const ptt = await pdftotext(path);
  const examdayChars = pages.reduce((n, p) => n + p.text.replace(/\s/g, '').length, 0);

  const setups = {
    pdftotext: empty(),
    pdftotextTwoProcesses: empty(),
    examday1Worker: empty(),
    examday2Workers: empty(),
  };
  for (let r = 0; r < rounds; r++) {
    await measure(setups.pdftotext, async () => {
      for (let i = 0; i < DOCS_PER_ROUND; i++) await pdftotext(path);
    });
    await measure(setups.examday1Worker, async () => {
      for (let i = 0; i < DOCS_PER_ROUND; i++) await one.extract(Buffer.from(bytes));
    });
    await measure(setups.examday2Workers, () => readInParallel(two, bytes));
    await measure(setups.pdftotextTwoProcesses, async () => {
      // Two processes at a time, like the two workers.
      const lane = async (): Promise<void> => {
        for (let i = 0; i < DOCS_PER_ROUND / 2; i++) await pdftotext(path);
      };
      await Promise.all([lane(), lane()]);
    });
  }
  const replaced = one.stats().replaced + two.stats().replaced;
  await Promise.all([one.close(), two.close()]);

  const pagesPerSec = (s: Setup): number => round((s.docs * pageCount) / (s.ms / 1000), 1);
  const report = (s: Setup): object => ({ pagesPerSec: pagesPerSec(s), msPerDoc: Math.round(s.ms / s.docs), documents: s.docs, peakRssMb: s.peakRssMb });
  const base = pagesPerSec(setups.pdftotext);
  return {
    file: FILE,
    pages: pageCount,
    machine: { nproc: availableParallelism(), cpu: cpuModel(), node: process.version },
    // pdftotext runs in its own processes: its peak RSS is theirs (GNU time), not this process's.
    pdftotext: { ...report(setups.pdftotext), peakRssMb: ptt.maxRssMb },
    pdftotextTwoProcesses: { ...report(setups.pdftotextTwoProcesses), peakRssMb: ptt.maxRssMb },
    examday1Worker: report(setups.examday1Worker),
    examday2Workers: { ...report(setups.examday2Workers), documentsInParallel: DOCS_PER_ROUND },
    // The target: examday pages/s ÷ pdftotext pages/s ≥ 0.5.
    ratio1Worker: round(pagesPerSec(setups.examday1Worker) / base, 2),
    ratio2Workers: round(pagesPerSec(setups.examday2Workers) / base, 2),
    // Both sides on both cores: the like-for-like comparison for 2 workers.
    ratio2WorkersVs2Processes: round(pagesPerSec(setups.examday2Workers) / pagesPerSec(setups.pdftotextTwoProcesses), 2),
    // From createPdfPool() to the first (tiny) document read: thread, tsx and pdf.js start-up.
    workerStartMs: Math.round(workerStartMs),
    replacedWorkers: replaced,
    // This process with its 3 worker threads (pools of 1 and 2), over the whole run.
    rss: { startMb: startRssMb, peakMb: mb(process.resourceUsage().maxRSS * 1024) },
    // Sanity: both read about the same text (non-whitespace characters).
    chars: { examday: examdayChars, pdftotext: ptt.chars },
  };
}

function empty(): Setup {
  return { docs: 0, ms: 0, peakRssMb: 0 };
}

async function measure(setup: Setup, work: () => Promise<void>): Promise<void> {
  const sample = (): void => {
    setup.peakRssMb = Math.max(setup.peakRssMb, mb(process.memoryUsage().rss));
  };
  const sampler = setInterval(sample, 25);
  const t0 = performance.now();
  try {
    await work();
  } finally {
    setup.ms += performance.now() - t0;
    clearInterval(sampler);
    sample();
  }
  setup.docs += DOCS_PER_ROUND;
}

async function readInParallel(pool: PdfExtractor, bytes: Buffer): Promise<void> {
  await Promise.all(Array.from({ length: DOCS_PER_ROUND }, () => pool.extract(Buffer.from(bytes))));
}

/** One `pdftotext` run; with GNU time present, also its peak RSS. */
function pdftotext(path: string): Promise<{ chars: number; maxRssMb: number | null }> {
  const timed = existsSync('/usr/bin/time');
  const [cmd, args] = timed ? ['/usr/bin/time', ['-f', '%M', 'pdftotext', '-enc', 'UTF-8', path, '-']] : ['pdftotext', ['-enc', 'UTF-8', path, '-']];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let chars = 0;
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      chars += s.replace(/\s/g, '').length;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`pdftotext exited with ${code}: ${stderr}`));
      const kb = timed ? Number(stderr.trim().split('\n').at(-1)) : NaN;
      resolve({ chars, maxRssMb: Number.isFinite(kb) ? Math.round(kb / 1024) : null });
    });
  });
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    return line?.split(':')[1]?.trim() ?? cpus()[0]?.model ?? 'unknown';
  } catch {
    return cpus()[0]?.model ?? 'unknown';
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}

function round(n: number, digits: number): number {
  return Math.round(n * 10 ** digits) / 10 ** digits;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(`${JSON.stringify(await run(), null, 2)}\n`);
}
