/**
 * CSV cells and rows (RFC 4180: comma-separated, CRLF line ends, a field
 * quoted when it holds a comma, quote or line break, quotes doubled).
 *
 * Text that a spreadsheet would read as a formula (starting with = + - @, or
 * a tab or carriage return that some spreadsheets skip before looking) is
 * prefixed with a single quote, so a candidate named "=HYPERLINK(…)" stays
 * text when an author opens the export. Numbers are written as they are.
 */

const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export type CsvValue = string | number | null | undefined;

export function csvCell(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  const text = FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvRow(values: readonly CsvValue[]): string {
  return `${values.map(csvCell).join(',')}\r\n`;
}
