/**
 * "A service examday depends on cannot be reached right now": a connection
 * refused, reset or timed out, a name that does not resolve for the moment.
 * Nothing the request carried took effect (or its client was never told it
 * did), so it is safe to retry once the service is back; the HTTP layer
 * answers 503 `unavailable` with Retry-After, naming the service.
 */
export type Dependency = 'database' | 'file storage' | 'Redis';

export class DependencyUnavailable extends Error {
  constructor(
    readonly dependency: Dependency,
    options: { cause: unknown },
  ) {
    super(`${dependency} cannot be reached: ${options.cause instanceof Error ? options.cause.message : String(options.cause)}`, options);
    this.name = 'DependencyUnavailable';
  }
}

/** Socket errors of a connection that could not be opened or was cut. */
const UNREACHABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** True for a socket error that says the other side could not be reached or went away. */
export function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && UNREACHABLE_ERRNO.has(code);
}

/**
 * True for ioredis's errors when Redis cannot be reached: a command that
 * waited through its reconnection attempts (`maxRetriesPerRequest`), or one
 * sent on a connection already closed.
 */
export function isRedisUnreachable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return err.name === 'MaxRetriesPerRequestError' || err.message === 'Connection is closed.';
}
