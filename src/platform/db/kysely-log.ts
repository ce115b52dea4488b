import type { LogEvent } from 'kysely';
import type { DbOptions } from './index.ts';

/** Kysely log hook shared by both adapters: reports slow and failed queries. */
export function queryLogger(opts: DbOptions) {
  return (event: LogEvent): void => {
    if (event.level === 'error') {
      opts.onQueryError?.({ sql: event.query.sql, error: event.error });
    } else if (event.queryDurationMillis >= opts.slowQueryMs) {
      opts.onSlowQuery?.({ sql: event.query.sql, ms: event.queryDurationMillis });
    }
  };
}
