/**
 * Each request's logger (`req.log`), made only when something is logged.
 *
 * Fastify gives every request a child of the app's logger bound to its
 * request id. With per-request log lines off (the default: only errors and
 * slow requests are logged) almost no request ever writes through it, yet
 * making a pino child — its bindings serialised and redacted up front — was
 * a few per cent of a cheap request's CPU. This stand-in holds the parent and
 * the bindings and makes the real child on the first call.
 */
import type { FastifyBaseLogger, FastifyLogFn } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export class RequestLogger implements FastifyBaseLogger {
  #child: FastifyBaseLogger | undefined;
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #opts: ChildLoggerOptions;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#opts = opts;
  }

  /** The pino child, made on first use. */
  get real(): FastifyBaseLogger {
    return (this.#child ??= this.#parent.child(this.#bindings, this.#opts));
  }

  get level(): string {
    return this.#child?.level ?? this.#opts.level ?? this.#parent.level;
  }

  set level(level: string) {
    this.real.level = level;
  }

  declare fatal: FastifyLogFn;
  declare error: FastifyLogFn;
  declare warn: FastifyLogFn;
  declare info: FastifyLogFn;
  declare debug: FastifyLogFn;
  declare trace: FastifyLogFn;
  declare silent: FastifyLogFn;

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.real.child(bindings, options);
  }
}

// On the prototype, not per instance: a request that logs nothing allocates one small object.
for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly Level[]) {
  Object.defineProperty(RequestLogger.prototype, level, {
    value: function (this: RequestLogger, ...args: unknown[]): void {
      const real = this.real;
      Reflect.apply(real[level], real, args);
    },
    writable: true,
    configurable: true,
  });
}

/** Fastify's `childLoggerFactory`. */
export function requestLogger(parent: FastifyBaseLogger, bindings: Bindings, opts: ChildLoggerOptions): FastifyBaseLogger {
  return new RequestLogger(parent, bindings, opts);
}
