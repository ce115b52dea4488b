/**
 * Candidate import from CSV. The file is read whole (≤ 2 MB, ≤ 10,000 rows),
 * every row is validated and reported by its line number; rows with errors
 * are skipped and every valid row is created in one transaction, so a file
 * is never half-imported. A candidate whose email already exists is reused,
 * not duplicated, so importing the same file twice is harmless.
 */
import { randomUUID } from 'node:crypto';
import { parse, CsvError } from 'csv-parse/sync';
import type { Kysely, Transaction } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../platform/db/schema.ts';
import { AppError } from '../../http/errors.ts';
import { hashAccessCode, newAccessCode } from '../auth/tokens.ts';
import { normalizeEmail } from './model.ts';

export const IMPORT_MAX_ROWS = 10_000;
export const IMPORT_MAX_BYTES = 2 * 1024 * 1024;
export const NAME_MAX = 200;
export const DISTRICT_MAX = 100;
// Bounded batches keep each statement far below PostgreSQL's 65,535 parameters.
const BATCH = 1000;

export interface ImportRow {
  /** 1-based line in the file where the record starts (the header is line 1). */
  line: number;
  status: 'created' | 'existing' | 'error';
  error?: string;
  userId?: string;
  /** Only for created candidates: shown once, stored only as a hash. */
  accessCode?: string;
}

export interface ImportReport {
  /** Data rows read (blank lines not counted). */
  total: number;
  created: number;
  existing: number;
  errors: number;
  rows: ImportRow[];
}

interface ValidRow {
  line: number;
  name: string;
  email: string | null;
  district: string;
}

const REQUIRED = ['name', 'district'] as const;
const KNOWN = new Set(['name', 'email', 'district']);
const EXPECTED = 'expected a header row "name,email,district" (email may be left empty; header names are case-insensitive)';
const email = z.email();
// Control characters (a newline inside a quoted field, a tab) make a name unprintable on lists and tickets.
const CONTROL = /\p{Cc}/u;

interface CsvRecord {
  record: string[];
  info: { lines: number };
  raw: string;
}

function readRecords(text: string): CsvRecord[] {
  try {
    // Line endings normalised first: csv-parse guesses one delimiter per file and mixed endings would merge rows.
    return parse(text.replace(/\r\n?/g, '\n'), {
      bom: true,
      info: true,
      raw: true,
      record_delimiter: '\n',
      relax_column_count: true,
      skip_empty_lines: true,
    }) as unknown as CsvRecord[];
  } catch (err) {
    if (err instanceof CsvError) {
      const line = typeof err.lines === 'number' ? ` near line ${err.lines}` : '';
      throw new AppError('csv_invalid', `the file is not valid CSV${line}: ${err.message}`);
    }
    throw err;
  }
}

/** The line a record starts on: csv-parse reports where it ends, and a quoted field may span lines. */
function startLine(r: CsvRecord): number {
  const body = r.raw.replace(/^\n+/, '').replace(/\n$/, '');
  return r.info.lines - (body.match(/\n/g)?.length ?? 0);
}

/** Map header names to column positions, or say exactly what is wrong with the header. */
function readHeader(header: string[]): Map<string, number> {
  const names = header.map((h) => h.trim().toLowerCase());
  const positions = new Map<string, number>();
  const problems: string[] = [];
  names.forEach((n, i) => {
    if (!KNOWN.has(n)) problems.push(n ? `unknown column "${header[i]!.trim()}"` : `column ${i + 1} has no name`);
    else if (positions.has(n)) problems.push(`column "${n}" appears twice`);
    else positions.set(n, i);
  });
  const missing = REQUIRED.filter((c) => !positions.has(c));
  if (missing.length) problems.unshift(`missing column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')}`);
  if (problems.length) throw new AppError('csv_invalid', `the header is not valid: ${problems.join('; ')}; ${EXPECTED}`);
  return positions;
}

/** Validate the file; no database access. Errors are per row except for the file's shape (header, size, syntax). */
export function parseCandidateCsv(text: string): { total: number; valid: ValidRow[]; errors: ImportRow[] } {
  if (Buffer.byteLength(text, 'utf8') > IMPORT_MAX_BYTES) {
    throw new AppError('payload_too_large', `the CSV file is larger than ${IMPORT_MAX_BYTES / 1024 / 1024} MB; split it into smaller files`);
  }
  const nul = text.indexOf('\u0000');
  if (nul >= 0) {
    const line = text.slice(0, nul).split('\n').length;
    throw new AppError('csv_invalid', `line ${line} contains the character U+0000 (NUL), which cannot be stored; save the file as plain UTF-8 text`);
  }
  const records = readRecords(text);
  const [header, ...rows] = records;
  if (!header) throw new AppError('csv_invalid', `the file is empty; ${EXPECTED}`);
  const cols = readHeader(header.record);
  const data = rows.filter((r) => r.record.some((v) => v.trim() !== ''));
  if (data.length > IMPORT_MAX_ROWS) {
    throw new AppError('csv_invalid', `the file has ${data.length} rows; at most ${IMPORT_MAX_ROWS} rows can be imported at once — split it`);
  }

  const valid: ValidRow[] = [];
  const errors: ImportRow[] = [];
  const firstLineOfEmail = new Map<string, number>();
  for (const r of data) {
    const line = startLine(r);
    const value = (col: string): string => {
      const i = cols.get(col);
      return i === undefined ? '' : (r.record[i] ?? '').trim();
    };
    const problems: string[] = [];
    if (r.record.length > header.record.length) {
      problems.push(`expected ${header.record.length} values, found ${r.record.length} (quote values that contain commas)`);
    }
    const name = value('name');
    const district = value('district');
    const rawEmail = value('email');
    if (!name) problems.push('name is required');
    else if (name.length > NAME_MAX) problems.push(`name is longer than ${NAME_MAX} characters`);
    else if (CONTROL.test(name)) problems.push('name must be one line without control characters');
    if (!district) problems.push('district is required');
    else if (district.length > DISTRICT_MAX) problems.push(`district is longer than ${DISTRICT_MAX} characters`);
    else if (CONTROL.test(district)) problems.push('district must be one line without control characters');
    const mail = rawEmail ? normalizeEmail(rawEmail) : null;
    if (mail !== null && !email.safeParse(mail).success) problems.push(`email "${rawEmail}" is not a valid email address`);
    if (!problems.length && mail !== null) {
      const first = firstLineOfEmail.get(mail);
      if (first !== undefined) problems.push(`email ${mail} already appears on line ${first}`);
      else firstLineOfEmail.set(mail, line);
    }
    if (problems.length) errors.push({ line, status: 'error', error: problems.join('; ') });
    else valid.push({ line, name, email: mail, district });
  }
  return { total: data.length, valid, errors };
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function accountsByEmail(tx: Transaction<Database>, emails: string[]): Promise<Map<string, { id: string; role: string }>> {
  const found = new Map<string, { id: string; role: string }>();
  for (const batch of chunks(emails, BATCH)) {
    const rows = await tx
      .selectFrom('users')
      .select(['id', 'role', 'email'])
      .where((eb) => eb(eb.fn('lower', ['email']), 'in', batch))
      .execute();
    for (const r of rows) if (r.email) found.set(r.email.toLowerCase(), { id: r.id, role: r.role });
  }
  return found;
}

/** Validate `text`, then create every valid row in one transaction. */
export async function importCandidates(db: Kysely<Database>, text: string): Promise<ImportReport> {
  const { total, valid, errors } = parseCandidateCsv(text);
  const results = valid.length === 0 ? [] : await db.transaction().execute(async (tx) => {
    const out: ImportRow[] = [];
    const existingOrError = (row: ValidRow, account: { id: string; role: string }): ImportRow =>
      account.role === 'candidate'
        ? { line: row.line, status: 'existing', userId: account.id }
        : { line: row.line, status: 'error', error: `email ${row.email} belongs to a staff account` };

    const known = await accountsByEmail(tx, valid.flatMap((r) => (r.email ? [r.email] : [])));
    const fresh: (ValidRow & { id: string })[] = [];
    for (const row of valid) {
      const account = row.email ? known.get(row.email) : undefined;
      if (account) out.push(existingOrError(row, account));
      else fresh.push({ ...row, id: randomUUID() });
    }

    // Ids are chosen here so rows map back to lines without relying on RETURNING order.
    // DO NOTHING: an email inserted by a concurrent import since the lookup is reused below.
    const inserted = new Set<string>();
    for (const batch of chunks(fresh, BATCH)) {
      const rows = await tx
        .insertInto('users')
        .values(batch.map((r) => ({ id: r.id, role: 'candidate' as const, name: r.name, email: r.email, district: r.district })))
        .onConflict((oc) => oc.doNothing())
        .returning('id')
        .execute();
      for (const r of rows) inserted.add(r.id);
    }
    const raced = fresh.filter((r) => !inserted.has(r.id));
    if (raced.length) {
      const now = await accountsByEmail(tx, raced.flatMap((r) => (r.email ? [r.email] : [])));
      for (const row of raced) {
        const account = row.email ? now.get(row.email) : undefined;
        out.push(account ? existingOrError(row, account) : { line: row.line, status: 'error', error: 'could not be created; import the row again' });
      }
    }

    const created = fresh.filter((r) => inserted.has(r.id)).map((r) => ({ row: r, code: newAccessCode() }));
    for (const batch of chunks(created, BATCH)) {
      await tx
        .insertInto('access_codes')
        .values(batch.map((c) => ({ code_hash: hashAccessCode(c.code), user_id: c.row.id })))
        .execute();
    }
    for (const c of created) out.push({ line: c.row.line, status: 'created', userId: c.row.id, accessCode: c.code });
    return out;
  });

  const rows = [...errors, ...results].sort((a, b) => a.line - b.line);
  const count = (s: ImportRow['status']) => rows.filter((r) => r.status === s).length;
  return { total, created: count('created'), existing: count('existing'), errors: count('error'), rows };
}
