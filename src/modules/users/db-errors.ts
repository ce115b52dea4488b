/**
 * Reading database errors without driver types: node-postgres and PGlite both
 * raise errors carrying the SQLSTATE in `code` and the violated constraint's
 * name in `constraint`. Constraints, not read-then-write checks, are what
 * guarantee uniqueness and seat counts under concurrency; these helpers let a
 * service turn such a violation into a clear 4xx.
 */

export const UNIQUE_VIOLATION = '23505';
export const CHECK_VIOLATION = '23514';
export const FOREIGN_KEY_VIOLATION = '23503';

function field(err: unknown, name: 'code' | 'constraint'): string | undefined {
  if (typeof err !== 'object' || err === null || !(name in err)) return undefined;
  const value = (err as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

/** True when `err` is a database error with this SQLSTATE (and, if given, on this constraint). */
export function isDbError(err: unknown, sqlState: string, constraint?: string): boolean {
  return field(err, 'code') === sqlState && (constraint === undefined || field(err, 'constraint') === constraint);
}
