/**
 * buildApp(ctx): the HTTP surface, without listening. Tests call
 * `app.inject()`; `main.ts` calls `listen()`.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { randomUUID } from 'node:crypto';
import type { AppContext } from '../context.ts';
import { LogBudget } from '../lib/log-budget.ts';
import { isDatabaseOverloaded, isDatabaseUnavailable } from '../platform/db/index.ts';
import { DependencyUnavailable, isRedisUnreachable } from '../platform/unavailable.ts';
import { authPlugin } from './auth.ts';
import { AppError, errorCodes, problem, type ErrorCode } from './errors.ts';
import { answerClientError } from './client-errors.ts';
import { registerRoutes } from './routes.ts';
import { findUnstorableJson } from '../lib/storable-text.ts';
import { registerArrivalGate } from './arrival-gate.ts';
import { registerShedding } from './shedding.ts';
import { requestLogger } from './request-logger.ts';
import type { App } from './types.ts';

/** Lines a second of each repeated warning (slow request, database saturated). */
const LOG_LINES_PER_S = 10;
/** Longest path parameter routed (Fastify's default); ids are 36 characters. */
const MAX_PARAM_LENGTH = 100;

const fastifyErrorCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'bad_request',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_request',
  FST_ERR_VALIDATION: 'validation_failed',
};

/** The registry's code for a plugin's 4xx that has none of its own (e.g. @fastify/multipart's limits, 413). */
function codeForStatus(status: number): ErrorCode {
  if (status === 404) return 'not_found';
  if (status === 413) return 'payload_too_large';
  if (status === 415) return 'unsupported_media_type';
  if (status === 429) return 'rate_limited';
  return 'bad_request';
}

export async function buildApp(ctx: AppContext): Promise<App> {
  // Widened on purpose: the app's type uses Fastify's logger interface, not pino's.
  const logger: FastifyBaseLogger = ctx.log;
  const app = Fastify({
    loggerInstance: logger,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    },
    bodyLimit: 1024 * 1024,
    // Fastify's default is no limit at all: a client gone mid-body (a laptop shut
    // during an autosave) held its connection and its place among the requests
    // in progress (shedding.ts) until the process ended. Idle, not total: a slow
    // upload that keeps moving is not cut; event streams send a ping every 15 s.
    connectionTimeout: ctx.config.http.idleTimeoutS * 1000,
    trustProxy: true,
    // Two log lines per request cost ~10% of a process at exam-day rates;
    // by default only errors (error handler) and slow requests (onResponse) are logged.
    logController: new LogController({ disableRequestLogging: !ctx.config.log.requests }),
    childLoggerFactory: requestLogger,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: false } },
    // Errors Fastify meets before routing (a URL that is not valid percent-encoding,
    // a path segment past maxParamLength) get the same problem+json as every other.
    frameworkErrors: (err, req, reply) => {
      const tooLong = err.code === 'FST_ERR_MAX_PARAM_LENGTH';
      const body = tooLong
        ? problem('uri_too_long', `a path segment is longer than ${MAX_PARAM_LENGTH} characters; no examday id is that long`, { instance: req.url })
        : problem('bad_request', 'the URL is not valid percent-encoding (a "%" must be followed by two hex digits of UTF-8); encode path and query values with encodeURIComponent', { instance: req.url });
      void (reply as FastifyReply).status(body.status).header('x-request-id', req.id).type('application/problem+json').send(body);
    },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    clientErrorHandler: answerClientError,
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  // The hooks every request runs are callback-style: an async hook costs a
  // promise and a microtask turn each, on every request.
  app.addHook('onRequest', (req, reply, done) => {
    reply.header('x-request-id', req.id);
    // No path or query value can hold U+0000 (storable-text.ts); the database would refuse it.
    if (req.url.includes('%00')) {
      done(new AppError('bad_request', 'the URL contains %00 (the character U+0000), which no path or query value can hold; remove it'));
      return;
    }
    done();
  });

  // Fastify's own JSON parser (prototype poisoning refused), then a check for
  // strings the database cannot store, so that they fail this request with the
  // field named instead of a statement shared with other requests.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    void parseJson(req, text, (err, value) => {
      if (err) return done(err, undefined);
      const bad = findUnstorableJson(text, value);
      if (!bad) return done(null, value);
      done(new AppError('validation_failed', `invalid body: ${bad.path}: ${bad.message}`, { errors: [bad] }), undefined);
    });
  });

  // Before shedding: an arrival waiting at the gate is not yet a request in progress.
  registerArrivalGate(app, { ...ctx.config.arrivals, registry: ctx.metrics.registry });
  await registerShedding(app, {
    ...ctx.config.shed,
    // On the embedded database queries run on the event loop, so its delay measures them, not overload.
    eventLoopDelayMs: ctx.db.kind === 'pglite' ? 0 : ctx.config.shed.eventLoopDelayMs,
    registry: ctx.metrics.registry,
  });

  // Graceful shutdown: requests already running finish, but their keep-alive
  // connections must not outlive them, or close() would wait for clients to
  // hang up (undici keeps a socket ~70 s).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });

  // In an overload every request is slow: a few lines a second say so (LogBudget).
  const slowLines = new LogBudget(LOG_LINES_PER_S);
  const databaseBusy = {
    code: 'overloaded',
    detail: 'the database is busy; retry in 2 s',
    logLine: 'database saturated; answered 503',
    lines: new LogBudget(LOG_LINES_PER_S),
  } as const;
  const databaseGone = {
    code: 'unavailable',
    detail: 'the database cannot be reached; retry in 2 s',
    logLine: 'database unreachable; answered 503',
    lines: new LogBudget(LOG_LINES_PER_S),
  } as const;
  const redisGone = {
    code: 'unavailable',
    detail: 'Redis (queues and shared counters) cannot be reached; retry in 2 s',
    logLine: 'Redis unreachable; answered 503',
    lines: new LogBudget(LOG_LINES_PER_S),
  } as const;
  const storageGone = {
    code: 'unavailable',
    detail: 'file storage cannot be reached; retry in 2 s',
    logLine: 'file storage unreachable; answered 503',
    lines: new LogBudget(LOG_LINES_PER_S),
  } as const;
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    ctx.metrics.httpRequests.inc({ method: req.method, route, status: String(reply.statusCode) });
    ctx.metrics.httpDuration.observe({ method: req.method, route }, reply.elapsedTime / 1000);
    if (!ctx.config.log.requests && reply.elapsedTime > ctx.config.log.slowRequestMs) {
      const held = slowLines.take();
      if (held >= 0) {
        const line = { method: req.method, url: req.url, statusCode: reply.statusCode, ms: Math.round(reply.elapsedTime) };
        req.log.warn(held > 0 ? { ...line, heldBack: held } : line, 'slow request');
      }
    }
    done();
  });

  app.setErrorHandler((err: FastifyError | AppError | Error, req, reply) => {
    if (err instanceof AppError) {
      const retryAfterS = err.extra.retryAfterS;
      if (typeof retryAfterS === 'number') reply.header('retry-after', String(retryAfterS));
      return reply
        .status(err.status)
        .type('application/problem+json')
        .send(problem(err.code, err.message, { ...err.extra, instance: req.url }));
    }
    if (hasZodFastifySchemaValidationErrors(err)) {
      const errors = (err.validation as { instancePath?: string; message?: string }[]).map((v) => ({
        path: (v.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.') || '(root)',
        message: v.message ?? 'invalid',
      }));
      const where = err.validationContext ?? 'body';
      return reply
        .status(400)
        .type('application/problem+json')
        .send(
          problem(
            'validation_failed',
            `invalid ${where}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
            { errors, instance: req.url },
          ),
        );
    }
    const fe = err as FastifyError;
    if (fe.code === 'FST_ERR_RATE_LIMIT' || fe.statusCode === 429) {
      return reply
        .status(429)
        .type('application/problem+json')
        .send(problem('rate_limited', fe.message || 'too many requests; wait and retry', { instance: req.url }));
    }
    const mapped = fe.code ? fastifyErrorCodes[fe.code] : undefined;
    if (mapped || (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500)) {
      const code: ErrorCode = mapped ?? codeForStatus(fe.statusCode!);
      const status = fe.statusCode ?? errorCodes[code].status;
      // The body's status is the one sent, also for a 4xx without a code of its own.
      return reply
        .status(status)
        .type('application/problem+json')
        .send(problem(code, fe.message, { status, instance: req.url }));
    }
    // The database saturated, or it, file storage or Redis gone for a while (a restart, a failover): every request fails
    // the same way until it is over, so a few lines a second say so and the client retries.
    const retryLater = isDatabaseOverloaded(err)
      ? databaseBusy
      : err instanceof DependencyUnavailable && err.dependency === 'file storage'
        ? storageGone
        : isRedisUnreachable(err)
          ? redisGone
          : err instanceof DependencyUnavailable || isDatabaseUnavailable(err)
            ? databaseGone
            : undefined;
    if (retryLater) {
      const held = retryLater.lines.take();
      if (held >= 0) req.log.warn(held > 0 ? { err, heldBack: held } : { err }, retryLater.logLine);
      return reply
        .status(503)
        .header('retry-after', '2')
        .type('application/problem+json')
        .send(problem(retryLater.code, retryLater.detail, { retryAfterS: 2, instance: req.url }));
    }
    req.log.error({ err }, 'unhandled error');
    return reply
      .status(500)
      .type('application/problem+json')
      .send(problem('internal', `an internal error occurred; quote request id ${req.id}`, { instance: req.url }));
  });

  app.setNotFoundHandler((req, reply) =>
    reply
      .status(404)
      .type('application/problem+json')
      .send(problem('not_found', `no route ${req.method} ${req.url.split('?')[0]}`, { instance: req.url })),
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'examday API',
        version: '1',
        description:
          'Self-hostable assessment platform built for exam day. Errors are application/problem+json with a stable `code`.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());

  await app.register(authPlugin, { tokens: ctx.tokens });
  await registerRoutes(app, ctx);
  return app;
}
