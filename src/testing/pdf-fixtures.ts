/**
 * A tiny PDF writer for tests that must always run: documents made at test
 * time, with known text at known positions, plus malformed variants.
 *
 * Text uses the standard Helvetica font, not embedded (every reader has its
 * metrics), in WinAnsi encoding. The font dictionary gives every character
 * the same advance, `CHAR_WIDTH` × the font size, so tests can place runs
 * exactly: `textWidth('abc', 12)` is where a run of "abc" at size 12 ends.
 */
import { deflateSync } from 'node:zlib';

/** Advance of every character, in text-space units (1/1000 of the font size). */
export const CHAR_WIDTH = 500;

export interface TextRun {
  text: string;
  /** Baseline origin in points from the page's bottom-left corner. */
  x: number;
  y: number;
  /** Font size in points (default 12). */
  size?: number;
}

export interface FixturePage {
  runs?: TextRun[];
  /** Draw a filled rectangle too: a page with graphics but no text, like a scan. */
  drawing?: boolean;
  /**
   * Raw content-stream operators appended after the runs, for documents a
   * reader must work hard on (set font /F1 first to show text).
   */
  rawContent?: string;
}

export interface FixtureOptions {
  title?: string;
  author?: string;
  /**
   * Add a standard security handler whose user password is not empty (the
   * check values are random), so readers ask for a password. The content is
   * not actually encrypted: no reader gets that far.
   */
  encrypted?: boolean;
  /** Flate-compress content streams (default true). */
  compress?: boolean;
}

const PAGE_WIDTH = 612;
const PAGE_HEIGHT = 792;

export function textWidth(text: string, size = 12): number {
  return (text.length * CHAR_WIDTH * size) / 1000;
}

/** A page of lines set top-down from (72, 720), 12 pt on 14 pt leading. */
export function linesPage(lines: string[], size = 12): FixturePage {
  return { runs: lines.map((text, i) => ({ text, x: 72, y: 720 - i * size * (14 / 12), size })) };
}

/** Pages given as arrays of lines (see `linesPage`) or as explicit runs. */
export function makePdf(pages: (string[] | FixturePage)[], opts: FixtureOptions = {}): Buffer {
  const compress = opts.compress ?? true;
  const objects: Buffer[] = [];
  const add = (body: Buffer | string): number => {
    objects.push(typeof body === 'string' ? Buffer.from(body, 'latin1') : body);
    return objects.length;
  };
  const reserve = (): number => add('');

  const catalog = reserve();
  const pagesRoot = reserve();
  const widths = Array.from({ length: 256 - 32 }, () => CHAR_WIDTH).join(' ');
  const font = add(
    `<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding /FirstChar 32 /LastChar 255 /Widths [${widths}] >>`,
  );
  const kids: number[] = [];
  for (const spec of pages) {
    const page = Array.isArray(spec) ? linesPage(spec) : spec;
    const content = contentStream(page);
    const data = compress ? deflateSync(content) : content;
    const stream = add(
      Buffer.concat([
        Buffer.from(`<< /Length ${data.length}${compress ? ' /Filter /FlateDecode' : ''} >>\nstream\n`, 'latin1'),
        data,
        Buffer.from('\nendstream', 'latin1'),
      ]),
    );
    kids.push(
      add(
        `<< /Type /Page /Parent ${pagesRoot} 0 R /MediaBox [0 0 ${PAGE_WIDTH} ${PAGE_HEIGHT}] /Resources << /Font << /F1 ${font} 0 R >> >> /Contents ${stream} 0 R >>`,
      ),
    );
  }
  objects[catalog - 1] = Buffer.from(`<< /Type /Catalog /Pages ${pagesRoot} 0 R >>`, 'latin1');
  objects[pagesRoot - 1] = Buffer.from(`<< /Type /Pages /Kids [${kids.map((k) => `${k} 0 R`).join(' ')}] /Count ${kids.length} >>`, 'latin1');

  const infoEntries = [
    opts.title === undefined ? '' : `/Title ${pdfString(opts.title)}`,
    opts.author === undefined ? '' : `/Author ${pdfString(opts.author)}`,
    '/Producer (examday test fixtures)',
  ].join(' ');
  const info = add(`<< ${infoEntries} >>`);
  const id = fixedHex(16, 7);
  const encrypt = opts.encrypted
    ? add(`<< /Filter /Standard /V 1 /R 2 /Length 40 /P -44 /O <${fixedHex(32, 11)}> /U <${fixedHex(32, 13)}> >>`)
    : null;

  return serialize(objects, `/Root ${catalog} 0 R /Info ${info} 0 R /ID [<${id}> <${id}>]${encrypt === null ? '' : ` /Encrypt ${encrypt} 0 R`}`);
}

/** Writes objects 1..n, a classic cross-reference table with exact byte offsets, and the trailer. */
function serialize(objects: Buffer[], trailerEntries: string): Buffer {
  // The binary comment line tells transfer tools the file is not text.
  const parts: Buffer[] = [Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1')];
  let offset = parts[0]!.length;
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(offset);
    const chunk = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`, 'latin1'), body, Buffer.from('\nendobj\n', 'latin1')]);
    parts.push(chunk);
    offset += chunk.length;
  });
  // Each xref entry is exactly 20 bytes: 10-digit offset, 5-digit generation, type, and a 2-byte end of line.
  const xref = [
    'xref',
    `0 ${objects.length + 1}`,
    '0000000000 65535 f\r',
    ...offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n\r`),
    'trailer',
    `<< /Size ${objects.length + 1} ${trailerEntries} >>`,
    'startxref',
    String(offset),
    '%%EOF',
    '',
  ].join('\n');
  parts.push(Buffer.from(xref, 'latin1'));
  return Buffer.concat(parts);
}

function contentStream(page: FixturePage): Buffer {
  const ops: string[] = [];
  if (page.drawing) ops.push('0.5 g 72 72 468 648 re f');
  for (const run of page.runs ?? []) {
    ops.push(`BT /F1 ${num(run.size ?? 12)} Tf ${num(run.x)} ${num(run.y)} Td ${pdfString(run.text)} Tj ET`);
  }
  if (page.rawContent !== undefined) ops.push(page.rawContent);
  return Buffer.from(ops.join('\n'), 'latin1');
}

/** A PDF literal string in WinAnsi; throws for characters WinAnsi cannot encode rather than writing wrong text. */
export function pdfString(text: string): string {
  let out = '(';
  for (const ch of text) {
    const code = ch.codePointAt(0) ?? 0;
    if (code > 0xff || (code < 0x20 && code !== 0x09)) throw new RangeError(`pdf-fixtures: cannot encode ${JSON.stringify(ch)} in WinAnsi`);
    out += ch === '(' || ch === ')' || ch === '\\' ? `\\${ch}` : ch;
  }
  return `${out})`;
}

function num(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(3);
}

/** Deterministic hex bytes (a fixture must be the same on every run). */
function fixedHex(bytes: number, seed: number): string {
  let x = seed;
  let out = '';
  for (let i = 0; i < bytes; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out += ((x >>> 16) & 0xff).toString(16).padStart(2, '0');
  }
  return out;
}

/** The first `fraction` of the file: a partial upload or a broken download. */
export function truncated(pdf: Uint8Array, fraction: number): Buffer {
  return Buffer.from(pdf.subarray(0, Math.floor(pdf.length * fraction)));
}

/**
 * Every byte from `from` (default: just after the header line) XORed with a
 * deterministic pattern, as a bad disk or a broken transfer leaves a file.
 */
export function flippedBytes(pdf: Uint8Array, opts: { from?: number; every?: number } = {}): Buffer {
  const out = Buffer.from(pdf);
  const from = opts.from ?? out.indexOf(0x0a) + 1;
  const every = opts.every ?? 1;
  let x = 0x2545;
  for (let i = from; i < out.length; i += every) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    out[i] = out[i]! ^ (((x >>> 16) & 0xff) | 1);
  }
  return out;
}
