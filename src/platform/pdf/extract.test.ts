/**
 * PdfExtractor on its one adapter (pdf.js in a piscina pool).
 *
 * Always run: documents written at test time by `src/testing/pdf-fixtures.ts`
 * and malformed variants of them. With `../shared/fixtures/pdfs` (or
 * `$EXAMDAY_FIXTURES/pdfs`) present, real-world PDFs too; without it those
 * tests are skipped with a notice.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { flippedBytes, linesPage, makePdf, textWidth, truncated } from '../../testing/pdf-fixtures.ts';
import { PdfError, type PdfErrorCode, type PdfExtractor } from './index.ts';
import { createPdfPool } from './pool.ts';

async function rejectsWith(promise: Promise<unknown>, code: PdfErrorCode): Promise<PdfError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof PdfError, `expected a PdfError ${code}, got ${String(error)}`);
    assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message} ${JSON.stringify(error.details)}`);
    return error;
  }
  assert.fail(`expected ${code}, but extraction succeeded`);
}

async function waitFor(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const BIOLOGY = [
  ['Photosynthesis converts light energy into chemical energy.', 'Chlorophyll absorbs mostly blue and red light.'],
  ['The Calvin cycle fixes carbon dioxide into sugar.'],
  ['Cellular respiration releases the energy stored in glucose.'],
];
const biologyPdf = (): Buffer => makePdf(BIOLOGY, { title: 'Biology 101', author: 'Ada Lovelace' });

/** One page whose text stream has `items` separate runs: slow to read and large in memory. */
function hugePdf(items: number): Buffer {
  const ops = ['BT /F1 10 Tf 72 720 Td'];
  for (let i = 0; i < items; i++) ops.push(`(w${i % 1000}) Tj 0 -0.01 Td`);
  ops.push('ET');
  return makePdf([{ rawContent: ops.join('\n') }]);
}

describe('PdfExtractor: generated documents', () => {
  let pool: PdfExtractor;
  before(() => {
    pool = createPdfPool({ workers: 2, timeoutMs: 30_000 });
  });
  after(() => pool.close());

  it('extracts each page, in order, with title and author', async () => {
    const result = await pool.extract(biologyPdf());
    assert.equal(result.pageCount, 3);
    assert.deepEqual(result.info, { title: 'Biology 101', author: 'Ada Lovelace' });
    assert.deepEqual(result.pages, [
      { page: 1, text: 'Photosynthesis converts light energy into chemical energy. Chlorophyll absorbs mostly blue and red light.' },
      { page: 2, text: 'The Calvin cycle fixes carbon dioxide into sugar.' },
      { page: 3, text: 'Cellular respiration releases the energy stored in glucose.' },
    ]);
  });

  it('spaces runs by their gaps, joins lines into paragraphs and keeps paragraph breaks as newlines', async () => {
    const x = 72;
    const pdf = makePdf([
      {
        runs: [
          // A word split over two runs (a font change mid-word) stays one word; a gap makes a space.
          { text: 'Topo', x, y: 700 },
          { text: 'logie', x: x + textWidth('Topo'), y: 700 },
          { text: 'und', x: x + textWidth('Topologie') + 4, y: 700 },
          { text: 'Geometrie', x: 300, y: 700 },
          // Next line, normal leading: same paragraph. A hyphen at the end of a line joins without a space.
          { text: 'ist schön und wohl-', x, y: 686 },
          { text: 'bekannt.', x, y: 672 },
          // Indented after a full stop: a new paragraph.
          { text: 'Ein neuer   Absatz,', x: x + 18, y: 658 },
          { text: 'der weitergeht.', x, y: 644 },
          // Far below: a new paragraph (a heading), then its body.
          { text: 'Kapitel 2', x, y: 560, size: 18 },
          { text: 'Text nach der Überschrift.', x, y: 520 },
        ],
      },
      { runs: [] },
    ]);
    const result = await pool.extract(pdf);
    assert.deepEqual(result.pages, [
      {
        page: 1,
        text: [
          'Topologie und Geometrie ist schön und wohl-bekannt.',
          'Ein neuer Absatz, der weitergeht.',
          'Kapitel 2',
          'Text nach der Überschrift.',
        ].join('\n'),
      },
      { page: 2, text: '' },
    ]);
  });

  it('gives the same text for the same bytes every time', async () => {
    const [a, b] = await Promise.all([pool.extract(biologyPdf()), pool.extract(biologyPdf())]);
    assert.deepEqual(a, b);
  });

  it('moves a whole buffer to the worker and copies a slice of a shared one', async () => {
    const whole = biologyPdf();
    const owned = new Uint8Array(whole.length);
    owned.set(whole);
    await pool.extract(owned);
    assert.equal(owned.byteLength, 0, 'the caller’s view is detached: the bytes were moved, not copied');

    const shared = Buffer.concat([Buffer.from('prefix'), whole]);
    const slice = shared.subarray(6);
    const result = await pool.extract(slice);
    assert.equal(result.pageCount, 3);
    assert.equal(slice.byteLength, whole.length, 'a view into a larger buffer is copied and left intact');
  });

  describe('bad input ends in its specific code', () => {
    const good = biologyPdf();
    const cases: [string, () => Uint8Array, PdfErrorCode][] = [
      ['an empty file', () => new Uint8Array(0), 'pdf_invalid'],
      ['a PNG image', () => Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), Buffer.alloc(200, 7)]), 'pdf_invalid'],
      ['a PDF header and nothing else', () => Buffer.from('%PDF-1.7\n'), 'pdf_invalid'],
      ['the first 10 % of a PDF', () => truncated(good, 0.1), 'pdf_invalid'],
      ['the first 50 % of a PDF', () => truncated(good, 0.5), 'pdf_invalid'],
      ['the first 80 % of a PDF', () => truncated(good, 0.8), 'pdf_invalid'],
      ['every byte after the header flipped', () => flippedBytes(good), 'pdf_invalid'],
      ['every 7th byte flipped', () => flippedBytes(good, { every: 7 }), 'pdf_invalid'],
      // Structure survives, but the flips land in every text string's font and content.
      ['every 50th byte flipped', () => flippedBytes(good, { every: 50 }), 'pdf_no_text'],
      ['pages with a drawing and no text (a scan)', () => makePdf([{ drawing: true }, { drawing: true }]), 'pdf_no_text'],
      ['a document with no pages', () => makePdf([]), 'pdf_no_text'],
      ['too little text to be course material', () => makePdf([['Hello, world!']]), 'pdf_no_text'],
      ['a page number on each of 20 otherwise empty pages', () => makePdf(Array.from({ length: 20 }, (_, i) => [String(i + 1)])), 'pdf_no_text'],
      ['a password-protected PDF', () => makePdf(BIOLOGY, { encrypted: true }), 'pdf_encrypted'],
    ];
    for (const [name, make, code] of cases) {
      it(`${name} → ${code}`, async () => {
        const error = await rejectsWith(pool.extract(make()), code);
        assert.equal(error.retryable, false);
        assert.ok(error.message.length > 20, 'a message the author can act on');
      });
    }

    it('says what an author needs to hear', async () => {
      assert.match((await rejectsWith(pool.extract(makePdf(BIOLOGY, { encrypted: true })), 'pdf_encrypted')).message, /password-protected/);
      assert.match((await rejectsWith(pool.extract(makePdf([{ drawing: true }])), 'pdf_no_text')).message, /no extractable text: it looks scanned or empty/);
    });

    it('a file cut just before its cross-reference table is rebuilt, as readers do', async () => {
      const cut = good.subarray(0, good.lastIndexOf('xref'));
      const result = await pool.extract(cut);
      assert.deepEqual(
        result.pages.map((p) => p.text),
        (await pool.extract(biologyPdf())).pages.map((p) => p.text),
      );
    });
  });

  it('refuses more pages than maxPages before reading them', async () => {
    const pdf = makePdf(Array.from({ length: 12 }, (_, i) => linesPage([`Page ${i + 1} has some text on it for the test.`])));
    const error = await rejectsWith(pool.extract(pdf, { maxPages: 10 }), 'pdf_too_many_pages');
    assert.equal(error.details.pageCount, 12);
    assert.equal(error.details.maxPages, 10);
    assert.match(error.message, /12 pages; at most 10/);
    const ok = await pool.extract(makePdf(BIOLOGY), { maxPages: 3 });
    assert.equal(ok.pageCount, 3);
  });

  it('rejects invalid options as a caller bug', async () => {
    await assert.rejects(pool.extract(biologyPdf(), { maxPages: 0 }), RangeError);
    await assert.rejects(pool.extract(biologyPdf(), { timeoutMs: -1 }), RangeError);
    assert.throws(() => createPdfPool({ workers: 0 }), RangeError);
    assert.throws(() => createPdfPool({ maxMemoryMb: 8 }), RangeError);
  });

  it('a cancelled job ends in pdf_aborted, queued or running', async () => {
    const before = new AbortController();
    before.abort();
    await rejectsWith(pool.extract(biologyPdf(), { signal: before.signal }), 'pdf_aborted');
    const during = new AbortController();
    const job = pool.extract(hugePdf(100_000), { signal: during.signal });
    setTimeout(() => during.abort(), 100);
    const error = await rejectsWith(job, 'pdf_aborted');
    assert.equal(error.retryable, false);
    assert.equal((await pool.extract(biologyPdf())).pageCount, 3);
  });
});

describe('PdfExtractor: limits and isolation', () => {
  it('a job over its time limit ends in pdf_timeout; its worker is replaced and the pool goes on', async () => {
    const pool = createPdfPool({ workers: 1 });
    try {
      await pool.extract(biologyPdf()); // the worker is up
      const error = await rejectsWith(pool.extract(hugePdf(100_000), { timeoutMs: 150 }), 'pdf_timeout');
      assert.equal(error.retryable, true);
      assert.equal(pool.stats().replaced, 1);
      assert.equal((await pool.extract(biologyPdf())).pageCount, 3);
      assert.deepEqual(pool.stats(), { workers: 1, busy: 0, queued: 0, replaced: 1 });
    } finally {
      await pool.close();
    }
  });

  it('time spent waiting in the queue does not count against the limit', async () => {
    const pool = createPdfPool({ workers: 1 });
    try {
      await pool.extract(biologyPdf()); // the worker is up
      // The small job waits behind the slow one for over 3 s (its limit, then
      // a worker restart): longer than its own 2 s limit, which it needs only a fraction of.
      const slow = pool.extract(hugePdf(100_000), { timeoutMs: 3000 });
      const small = pool.extract(biologyPdf(), { timeoutMs: 2000 });
      await waitFor(() => pool.stats().busy === 1);
      assert.deepEqual(pool.stats(), { workers: 1, busy: 1, queued: 1, replaced: 0 });
      await rejectsWith(slow, 'pdf_timeout');
      assert.equal((await small).pageCount, 3);
    } finally {
      await pool.close();
    }
  });

  it('a job over the memory cap ends in pdf_worker_crashed; its worker is replaced and the pool goes on', async () => {
    // About 300 000 text items on one page need well over 100 MB of heap; a small document fits in 32 MB.
    const pool = createPdfPool({ workers: 1, maxMemoryMb: 32 });
    try {
      const error = await rejectsWith(pool.extract(hugePdf(100_000), { timeoutMs: 60_000 }), 'pdf_worker_crashed');
      assert.equal(error.retryable, true);
      assert.equal(error.details.maxMemoryMb, 32);
      assert.match(error.message, /more memory than allowed/);
      assert.equal(pool.stats().replaced, 1);
      assert.equal((await pool.extract(biologyPdf())).pageCount, 3);
    } finally {
      await pool.close();
    }
  });

  it('a failing job does not disturb the others running beside it', async () => {
    const pool = createPdfPool({ workers: 2 });
    try {
      const expected = (await pool.extract(biologyPdf())).pages;
      const results = await Promise.allSettled([
        pool.extract(hugePdf(100_000), { timeoutMs: 100 }),
        ...Array.from({ length: 6 }, () => pool.extract(biologyPdf())),
        pool.extract(makePdf(BIOLOGY, { encrypted: true })),
        pool.extract(truncated(biologyPdf(), 0.3)),
      ]);
      const codes = results.map((r) => (r.status === 'rejected' && r.reason instanceof PdfError ? r.reason.code : 'ok'));
      assert.deepEqual(codes, ['pdf_timeout', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'pdf_encrypted', 'pdf_invalid']);
      for (const r of results.slice(1, 7)) assert.deepEqual(r.status === 'fulfilled' && r.value.pages, expected);
    } finally {
      await pool.close();
    }
  });

  it('a full queue answers pdf_queue_full at once', async () => {
    const pool = createPdfPool({ workers: 1, maxQueue: 1 });
    try {
      const running = pool.extract(biologyPdf());
      const queued = pool.extract(biologyPdf());
      const error = await rejectsWith(pool.extract(biologyPdf()), 'pdf_queue_full');
      assert.equal(error.retryable, true);
      await Promise.all([running, queued]);
    } finally {
      await pool.close();
    }
  });

  it('close() fails jobs in flight and later ones with pdf_pool_closed', async () => {
    const pool = createPdfPool({ workers: 1 });
    const running = rejectsWith(pool.extract(hugePdf(100_000)), 'pdf_pool_closed');
    const queued = rejectsWith(pool.extract(biologyPdf()), 'pdf_pool_closed');
    await new Promise((r) => setTimeout(r, 50));
    await pool.close();
    await running;
    await queued;
    const error = await rejectsWith(pool.extract(biologyPdf()), 'pdf_pool_closed');
    assert.equal(error.retryable, true);
    await pool.close(); // idempotent
  });
});

const fixturesRoot = process.env.EXAMDAY_FIXTURES ?? join(import.meta.dirname, '../../../../shared/fixtures');
const pdfDir = join(fixturesRoot, 'pdfs');
const haveFixtures = existsSync(join(pdfDir, 'good')) && existsSync(join(pdfDir, 'bad'));
if (!haveFixtures) console.log(`# real-world PDF tests skipped: ${pdfDir} not found (set EXAMDAY_FIXTURES)`);

/** What each real file must give: page count and a phrase for good ones, the code for bad ones. */
const GOOD: Record<string, { pages: number; contains: string; title?: string }> = {
  'tracemonkey.pdf': { pages: 14, contains: 'TraceMonkey' },
  'GeoTopo-komprimiert.pdf': { pages: 117, contains: 'Topologie', title: 'Geometrie und Topologie' },
  'pdflatex-4-pages.pdf': { pages: 4, contains: 'here is some text without a meaning' },
  'pdflatex-outline.pdf': { pages: 4, contains: 'Foo' },
  'multicolumn.pdf': { pages: 3, contains: 'Lorem ipsum dolor sit amet' },
  'google-doc-document.pdf': { pages: 1, contains: 'Beautiful is better than ugly.' },
  '002-trivial-libre-office-writer.pdf': { pages: 1, contains: 'Lorem ipsum dolor sit amet' },
  'habibi.pdf': { pages: 1, contains: 'habibi' },
};
const BAD: Record<string, PdfErrorCode> = {
  'libreoffice-writer-password.pdf': 'pdf_encrypted',
  'empty.pdf': 'pdf_no_text',
  'scan-bad.pdf': 'pdf_no_text',
  'helloworld-bad.pdf': 'pdf_no_text',
  'pdfjsbad1586.pdf': 'pdf_no_text',
  // pdf.js opens these two to one page whose content yields no text at all.
  'GHOSTSCRIPT-698804-1-fuzzed.pdf': 'pdf_no_text',
  'PDFBOX-3148-2-fuzzed.pdf': 'pdf_no_text',
  // Root reference broken beyond repair.
  'poppler-395-0-fuzzed.pdf': 'pdf_invalid',
  // Opens, but its only page cannot be parsed.
  'poppler-937-0-fuzzed.pdf': 'pdf_invalid',
};

describe('PdfExtractor: real-world PDFs', { skip: haveFixtures ? false : `no ${pdfDir} (set EXAMDAY_FIXTURES)` }, () => {
  let pool: PdfExtractor;
  const read = (dir: 'good' | 'bad', name: string): Promise<Buffer> => readFile(join(pdfDir, dir, name));
  before(() => {
    pool = createPdfPool({ workers: 2 });
  });
  after(() => pool.close());

  it('knows every file in the fixture folders', async () => {
    assert.deepEqual((await readdir(join(pdfDir, 'good'))).sort(), Object.keys(GOOD).sort());
    assert.deepEqual((await readdir(join(pdfDir, 'bad'))).sort(), Object.keys(BAD).sort());
  });

  for (const [name, want] of Object.entries(GOOD)) {
    it(`good/${name}: ${want.pages} pages of text containing "${want.contains}"`, async () => {
      const result = await pool.extract(await read('good', name));
      assert.equal(result.pageCount, want.pages);
      assert.equal(result.pages.length, want.pages);
      assert.deepEqual(
        result.pages.map((p) => p.page),
        Array.from({ length: want.pages }, (_, i) => i + 1),
      );
      const all = result.pages.map((p) => p.text).join('\n');
      assert.ok(all.includes(want.contains), `"${want.contains}" not in the text`);
      assert.doesNotMatch(all, /[ \t]{2,}|\n\n| \n|\n /, 'whitespace is normalised');
      if (want.title !== undefined) assert.equal(result.info.title, want.title);
    });
  }

  for (const [name, code] of Object.entries(BAD)) {
    it(`bad/${name} → ${code}`, async () => {
      await rejectsWith(pool.extract(await read('bad', name)), code);
    });
  }

  it('good and bad files read at the same time: every result as when read alone', async () => {
    const alone = new Map<string, string>();
    for (const name of ['tracemonkey.pdf', 'multicolumn.pdf', 'pdflatex-4-pages.pdf']) {
      alone.set(name, JSON.stringify(await pool.extract(await read('good', name))));
    }
    const jobs: Promise<string>[] = [];
    for (const name of Object.keys(BAD)) {
      jobs.push(pool.extract(await read('bad', name)).then(() => `${name}: ok`, (e: PdfError) => `${name}: ${e.code}`));
    }
    for (const name of alone.keys()) jobs.push(pool.extract(await read('good', name)).then((r) => `${name}: ${JSON.stringify(r)}`));
    const results = await Promise.all(jobs);
    assert.deepEqual(results, [...Object.entries(BAD).map(([n, c]) => `${n}: ${c}`), ...[...alone].map(([n, r]) => `${n}: ${r}`)]);
  });

  it('the 117-page book with a tiny time limit → pdf_timeout; the pool goes on', async () => {
    const limited = createPdfPool({ workers: 1 });
    try {
      await limited.extract(await read('good', 'habibi.pdf'));
      await rejectsWith(limited.extract(await read('good', 'GeoTopo-komprimiert.pdf'), { timeoutMs: 50 }), 'pdf_timeout');
      assert.equal(limited.stats().replaced, 1);
      assert.equal((await limited.extract(await read('good', 'tracemonkey.pdf'))).pageCount, 14);
    } finally {
      await limited.close();
    }
  });

  it('real documents need little heap: the 117-page book reads under a 32 MB cap', async () => {
    // The crash side of the cap is tested on a generated document above: the
    // book needs about 26 MB, too close to what pdf.js itself takes (about
    // 20 MB) to make a test that fails it reliably.
    const capped = createPdfPool({ workers: 1, maxMemoryMb: 32 });
    try {
      assert.equal((await capped.extract(await read('good', 'GeoTopo-komprimiert.pdf'))).pageCount, 117);
      assert.equal(capped.stats().replaced, 0);
    } finally {
      await capped.close();
    }
  });
});
