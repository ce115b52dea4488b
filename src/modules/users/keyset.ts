/**
 * Keyset pagination cursors: opaque to clients, `(timestamp, id)` inside.
 * The timestamp travels as text with microseconds because PostgreSQL keeps
 * microseconds and a JS Date does not: rows created in the same millisecond
 * (one transaction inserts thousands) would otherwise repeat or vanish
 * between pages.
 */
import { sql, type RawBuilder } from 'kysely';
import { AppError } from '../../http/errors.ts';
import { isUuid } from '../../lib/uuid.ts';

export interface Keyset {
  /** UTC timestamp with microseconds, as produced by `microsUtc`. */
  t: string;
  id: string;
}

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

/** A timestamptz column as UTC text with microseconds, for building cursors. */
export function microsUtc(column: string): RawBuilder<string> {
  return sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

export function encodeCursor(k: Keyset): string {
  return Buffer.from(JSON.stringify([k.t, k.id])).toString('base64url');
}

export function decodeCursor(cursor: string): Keyset {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2) {
      const [t, id] = parsed as unknown[];
      if (typeof t === 'string' && typeof id === 'string' && TS.test(t) && isUuid(id)) return { t, id };
    }
  } catch {
    // fall through to the client error below
  }
  throw new AppError('validation_failed', 'the cursor is not valid; pass back the nextCursor of a previous page', {
    errors: [{ path: 'cursor', message: 'not a cursor returned by this API' }],
  });
}

/** `limit + 1` rows were fetched: return the page and the cursor of its last row when there is more. */
export function page<R extends { cursor_t: string; id: string }>(rows: R[], limit: number): { rows: R[]; nextCursor: string | null } {
  if (rows.length <= limit) return { rows, nextCursor: null };
  const kept = rows.slice(0, limit);
  const last = kept[kept.length - 1]!;
  return { rows: kept, nextCursor: encodeCursor({ t: last.cursor_t, id: last.id }) };
}
