/**
 * List helpers shared by the question bank and assessment lists.
 *
 * Keyset pagination over `(created_at DESC, id DESC)`. Keyset rather than OFFSET so a page costs the same
 * however deep it is and rows inserted meanwhile never shift or repeat a page.
 *
 * The cursor carries the timestamp as text with microseconds: a JS Date keeps
 * only milliseconds, and rounding would skip rows created in the same ms.
 */
import { sql, type RawBuilder } from 'kysely';
import { z } from 'zod';
import { AppError } from '../../http/errors.ts';
import { isUuid } from '../../lib/uuid.ts';
import { questionPatchSchema } from './model.ts';

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

export const pageQuery = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(200).optional(),
};

/** `created_at` as UTC ISO text with microseconds: exact, and independent of the session's DateStyle/TimeZone. */
export const cursorTimestamp: RawBuilder<string> = sql<string>`to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

const isoMicros = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export function encodeCursor(at: string, id: string): string {
  return Buffer.from(JSON.stringify([at, id])).toString('base64url');
}

function badCursor(): AppError {
  const message = 'not a cursor returned by this list; omit it to start from the first page';
  return new AppError('validation_failed', `invalid querystring: cursor: ${message}`, {
    errors: [{ path: 'cursor', message }],
  });
}

/** Decodes a client cursor; anything malformed is a 400, never a database error. */
export function decodeCursor(cursor: string): { at: string; id: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== 'string' ||
    typeof parsed[1] !== 'string' ||
    !isoMicros.test(parsed[0]) ||
    Number.isNaN(Date.parse(parsed[0])) ||
    !isUuid(parsed[1])
  ) {
    throw badCursor();
  }
  return { at: parsed[0], id: parsed[1] };
}

/** The keyset condition: rows strictly after the cursor in `created_at DESC, id DESC` order. */
export function afterCursor(cursor: { at: string; id: string }): RawBuilder<boolean> {
  return sql<boolean>`(created_at, id) < (${cursor.at}::timestamptz, ${cursor.id}::uuid)`;
}

/**
 * Turns `limit + 1` fetched rows into a page: the extra row only tells us
 * whether there is a next page.
 */
export function toPage<R extends { id: string; cursor_ts: string }, T>(rows: R[], limit: number, map: (row: R) => T): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept.at(-1);
  return { items: kept.map(map), nextCursor: more && last ? encodeCursor(last.cursor_ts, last.id) : null };
}

/** Escapes LIKE wildcards so a search for "50%" means those characters, not a pattern. */
export function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * One tag, normalised by the model's rule (NFKC, trimmed, lower case, single
 * spaces), so a filter or a random section matches what was stored.
 */
export const tagSchema = questionPatchSchema.shape.tags.unwrap().element;
