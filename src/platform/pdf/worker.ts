/**
 * Runs inside a pool worker thread (see `pool.ts`): pdf.js reads one document
 * per task and turns its text items into the page text the port promises.
 * Never import this module from the main thread: loading pdf.js's legacy
 * build patches built-ins of the realm it runs in (below).
 */
import type { MessagePort } from 'node:worker_threads';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as PdfjsModule from 'pdfjs-dist/legacy/build/pdf.mjs';
import { countVisibleChars, minTextChars, type PdfErrorCode, type PdfPage } from './index.ts';

/** What `pool.ts` sends for one job. */
export interface ExtractTask {
  data: Uint8Array;
  maxPages: number | null;
  /** Told when this worker starts on the task (pdf.js loaded), so the time limit counts running time only. */
  started: MessagePort;
}

/** Codes the worker decides itself; time limits and crashes are judged by the pool. */
export type DocumentErrorCode = Extract<PdfErrorCode, 'pdf_invalid' | 'pdf_encrypted' | 'pdf_no_text' | 'pdf_too_many_pages'>;

/**
 * Failures travel as data, not as thrown errors: a structured clone of an
 * Error keeps its message but drops fields such as `code`.
 */
export type ExtractReply =
  | { ok: true; pages: PdfPage[]; pageCount: number; info: { title?: string; author?: string } }
  | { ok: false; code: DocumentErrorCode; reason: string; pageCount?: number };

// piscina loads this module with require() first (Node 20 can require ES
// modules; tsx compiles this file to CommonJS on that path), so it must not
// use top-level await or import.meta.resolve. pdf.js starts loading when
// the module does, and tasks wait for it.
const ready = loadPdfjs();
ready.catch(() => {
  // Reported to each task that awaits it; a rejection nobody awaited yet must not kill the thread.
});

async function loadPdfjs(): Promise<{ pdfjs: Pdfjs; options: DocumentOptions }> {
  // tsx turns source maps on, and Node then parses the 10 MB of maps that
  // pdfjs-dist ships: 28 MB more heap per worker, kept for its lifetime, and
  // slower start. Stack traces of pdf.js internals are not worth that.
  // (This thread only: the main thread keeps its source maps.)
  process.setSourceMapsEnabled(false);

  // Node 20 has DecompressionStream, and with it pdf.js inflates every
  // stream asynchronously on libuv's thread pool. For the many small streams
  // of a PDF the round trips cost more than pdf.js's own synchronous inflate
  // (117-page book: 2.5 s → 1.85 s), and staying on this thread keeps all
  // the work under the worker's time and memory limits.
  delete (globalThis as { DecompressionStream?: unknown }).DecompressionStream;

  // pdf.js's legacy build bundles core-js, which replaces Array.prototype.push
  // with a spec-pedantic JavaScript version on Node 20 (about 10 % of the
  // extraction time), and JSON.parse/stringify. pdf.js does not depend on the
  // edge cases they fix, so the native functions are put back after loading.
  const nativePush = Array.prototype.push;
  const nativeJsonParse = JSON.parse;
  const nativeJsonStringify = JSON.stringify;
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  // With the worker half loaded in this thread, pdf.js runs its "fake
  // worker" here instead of importing it by URL on the first document.
  const workerModule: string = 'pdfjs-dist/legacy/build/pdf.worker.mjs';
  await import(workerModule);
  Object.defineProperty(Array.prototype, 'push', { value: nativePush, writable: true, configurable: true, enumerable: false });
  JSON.parse = nativeJsonParse;
  JSON.stringify = nativeJsonStringify;

  // pdf.js reads these with fs.readFile in Node: plain paths with a trailing slash.
  const root = path.dirname(createRequire(import.meta.url).resolve('pdfjs-dist/package.json'));
  const dataDir = (name: string): string => path.join(root, name) + path.sep;
  const options = {
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    // Fonts a PDF names without embedding them (Helvetica, Times…) and CJK
    // CMaps come from pdfjs-dist itself: nothing is fetched from the network.
    standardFontDataUrl: dataDir('standard_fonts'),
    cMapUrl: dataDir('cmaps'),
    cMapPacked: true,
    wasmUrl: dataDir('wasm'),
    iccUrl: dataDir('iccs'),
    verbosity: pdfjs.VerbosityLevel.ERRORS,
  };
  return { pdfjs, options };
}

type Pdfjs = typeof PdfjsModule;
type DocumentOptions = Omit<NonNullable<Parameters<Pdfjs['getDocument']>[0]> & object, 'data'>;
type PdfDocument = Awaited<ReturnType<Pdfjs['getDocument']>['promise']>;
type TextContentItem = Awaited<ReturnType<Awaited<ReturnType<PdfDocument['getPage']>>['getTextContent']>>['items'][number];

export default async function extractTask(task: ExtractTask): Promise<ExtractReply> {
  const { pdfjs, options } = await ready;
  // The pool closes the channel when the job settles.
  task.started.postMessage(null);
  const loading = pdfjs.getDocument({ ...options, data: task.data });
  let doc: PdfDocument;
  try {
    doc = await loading.promise;
  } catch (error) {
    await loading.destroy();
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return { ok: false, code: error instanceof Error && error.name === 'PasswordException' ? 'pdf_encrypted' : 'pdf_invalid', reason };
  }
  try {
    const pageCount = doc.numPages;
    if (task.maxPages !== null && pageCount > task.maxPages) {
      return { ok: false, code: 'pdf_too_many_pages', reason: `${pageCount} pages`, pageCount };
    }
    const pages: PdfPage[] = [];
    let failed = 0;
    let firstFailure = '';
    for (let n = 1; n <= pageCount; n++) {
      try {
        const page = await doc.getPage(n);
        const content = await page.getTextContent();
        pages.push({ page: n, text: layoutPageText(content.items) });
        page.cleanup();
      } catch (error) {
        // A damaged page must not sink the rest of the document.
        failed++;
        firstFailure ||= error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        pages.push({ page: n, text: '' });
      }
    }
    if (pageCount > 0 && failed === pageCount) {
      return { ok: false, code: 'pdf_invalid', reason: `no page could be read (${firstFailure})`, pageCount };
    }
    const visibleChars = pages.reduce((sum, p) => sum + countVisibleChars(p.text), 0);
    if (visibleChars < minTextChars(pageCount)) {
      return { ok: false, code: 'pdf_no_text', reason: `${visibleChars} visible characters on ${pageCount} pages`, pageCount };
    }
    return { ok: true, pages, pageCount, info: await readInfo(doc) };
  } finally {
    await loading.destroy();
  }
}

async function readInfo(doc: PdfDocument): Promise<{ title?: string; author?: string }> {
  try {
    const info = new Map<string, unknown>(Object.entries((await doc.getMetadata()).info));
    const clean = (v: unknown): string | undefined => {
      if (typeof v !== 'string') return undefined;
      const s = v.replace(/[\s\p{Cc}]+/gu, ' ').trim().slice(0, 500);
      return s === '' ? undefined : s;
    };
    const title = clean(info.get('Title'));
    const author = clean(info.get('Author'));
    return { ...(title === undefined ? {} : { title }), ...(author === undefined ? {} : { author }) };
  } catch {
    // A broken info dictionary is no reason to lose the text.
    return {};
  }
}

interface Line {
  text: string;
  /** Origin of the first run and the unit vector of the writing direction. */
  x: number;
  y: number;
  dirX: number;
  dirY: number;
  /** Largest font size on the line, in page units. */
  size: number;
}

/**
 * Text items → page text, as the port's contract describes. Positions come
 * from each item's transform: its origin (e, f), its writing direction (a, b)
 * and font size |(c, d)|; `width` is its advance along that direction.
 */
function layoutPageText(items: TextContentItem[]): string {
  const lines: Line[] = [];
  let line: Line | null = null;
  let endX = 0;
  let endY = 0;
  let endSize = 0;
  for (const item of items) {
    if (!('str' in item)) continue;
    const [a = 1, b = 0, c = 0, d = 1, e = 0, f = 0] = item.transform as number[];
    const vertical = item.dir === 'ttb';
    const scaleX = Math.hypot(a, b);
    const scaleY = Math.hypot(c, d);
    // Vertical writing advances down the glyph's y axis; horizontal along its x axis.
    const dirX = vertical ? (scaleY ? -c / scaleY : 0) : scaleX ? a / scaleX : 1;
    const dirY = vertical ? (scaleY ? -d / scaleY : -1) : scaleX ? b / scaleX : 0;
    const size = (vertical ? scaleX : scaleY) || item.height || 1;
    const advance = vertical ? item.height : item.width;
    const str = item.str.replace(/[\s\p{Cc}]+/gu, ' ');
    if (str !== '') {
      if (line !== null) {
        const dx = e - endX;
        const dy = f - endY;
        const along = dx * line.dirX + dy * line.dirY;
        const across = dy * line.dirX - dx * line.dirY;
        const ref = Math.max(size, endSize);
        if (Math.abs(across) > 0.5 * ref || along < -ref || line.dirX * dirX + line.dirY * dirY < 0.99) {
          lines.push(line);
          line = null;
        } else if (along > 0.15 * ref && !line.text.endsWith(' ') && !str.startsWith(' ')) {
          line.text += ' ';
        }
      }
      line ??= { text: '', x: e, y: f, dirX, dirY, size };
      line.text += str;
      line.size = Math.max(line.size, size);
      endX = e + dirX * advance;
      endY = f + dirY * advance;
      endSize = size;
    }
    if (item.hasEOL && line !== null) {
      lines.push(line);
      line = null;
    }
  }
  if (line !== null) lines.push(line);
  return joinLines(lines);
}

function joinLines(lines: Line[]): string {
  const paragraphs: string[] = [];
  let current = '';
  let prev: Line | null = null;
  for (const line of lines) {
    const text = line.text.replace(/ +/g, ' ').trim();
    if (text === '') continue;
    if (prev !== null && continuesParagraph(prev, current, line)) {
      current += /\p{L}-$/u.test(current) && /^\p{L}/u.test(text) ? text : ` ${text}`;
    } else {
      if (current !== '') paragraphs.push(current);
      current = text;
    }
    prev = line;
  }
  if (current !== '') paragraphs.push(current);
  return paragraphs.join('\n');
}

/** Whether `next` goes on in the paragraph whose text so far is `text` and whose last line is `prev`. */
function continuesParagraph(prev: Line, text: string, next: Line): boolean {
  if (prev.dirX * next.dirX + prev.dirY * next.dirY < 0.99) return false;
  const dx = next.x - prev.x;
  const dy = next.y - prev.y;
  const size = Math.max(prev.size, next.size);
  const down = dx * prev.dirY - dy * prev.dirX;
  const indent = dx * prev.dirX + dy * prev.dirY;
  if (down <= 0 || down > 1.5 * size) return false;
  if (Math.abs(indent) > 10 * size) return false;
  // An indented line after a sentence end starts a new paragraph (LaTeX, Word).
  return !(indent > 0.8 * size && /[.!?:]["'”’)\]]*$/u.test(text));
}
