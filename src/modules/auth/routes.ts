/**
 * Sign-in routes. Login attempts are rate limited per identity (email or code),
 * not per IP: a whole school signs in from one NAT address at 09:00.
 * With REDIS_URL the counters are shared by every API process.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppContext } from '../../context.ts';
import { AppError } from '../../http/errors.ts';
import { batchedRedisStore } from '../../http/rate-limit-store.ts';
import { who } from '../../http/auth.ts';
import { LogBudget } from '../../lib/log-budget.ts';
import type { App } from '../../http/types.ts';
import { bookingPage } from '../sessions/schema.ts';
import { sha256 } from './tokens.ts';

/** What a candidate's start page asks for (`GET /bookings?status=active&limit=100`). */
const START_PAGE = { status: 'active', limit: 100 } as const;

const sessionSchema = z.object({
  accessToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int(),
  refreshToken: z.string(),
  user: z.object({
    id: z.string(),
    role: z.enum(['admin', 'author', 'candidate']),
    name: z.string(),
    email: z.string().nullable(),
    district: z.string().nullable(),
  }),
  bookingId: z.string().nullable().optional(),
});

/** The identity a sign-in attempt is counted against (the body is validated after this runs). */
function bodyField(req: FastifyRequest, name: string): string {
  const v = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof v === 'string' ? v : '';
}

const refreshBody = z.strictObject({ refreshToken: z.string().min(16).max(200) });

export async function authRoutes(app: App, ctx: AppContext): Promise<void> {
  // While Redis is away each process counts on its own; a few lines a second say so.
  const fallbackLines = new LogBudget(1);
  const onFallback = (err: Error): void => {
    const held = fallbackLines.take();
    if (held >= 0) app.log.warn({ err, heldBack: held }, 'sign-in rate limit counted in this process: Redis unreachable');
  };
  await app.register(rateLimit, {
    global: false,
    // Shared by every API process through Redis, one script call per turn (rate-limit-store.ts).
    ...(ctx.redis ? { store: batchedRedisStore(ctx.redis, `${ctx.config.redis.prefix}:rl:login:`, { onFallback }) } : {}),
    errorResponseBuilder: (_req, c) =>
      new AppError('rate_limited', `too many sign-in attempts; retry in ${Math.ceil(c.ttl / 1000)} s`, {
        retryAfterS: Math.ceil(c.ttl / 1000),
      }),
  });

  const limit = (identity: (req: FastifyRequest) => string) => ({
    rateLimit: {
      max: ctx.config.auth.loginRateLimitPerMin,
      timeWindow: 60_000,
      hook: 'preHandler' as const,
      keyGenerator: (req: FastifyRequest) => sha256(`${req.routeOptions.url}:${identity(req)}`),
    },
  });

  app.post(
    '/auth/login',
    {
      config: { ...limit((req) => bodyField(req, 'email').toLowerCase()), arrival: true },
      schema: {
        tags: ['auth'],
        summary: 'Staff sign-in with email and password',
        body: z.strictObject({ email: z.string().min(3).max(320), password: z.string().min(1).max(1024) }),
        response: { 200: sessionSchema },
      },
    },
    (req) => ctx.auth.loginWithPassword(req.body.email, req.body.password),
  );

  app.post(
    '/auth/access-code',
    {
      config: { ...limit((req) => bodyField(req, 'code').toUpperCase()), arrival: true },
      schema: {
        tags: ['auth'],
        summary: 'Candidate sign-in with an access code',
        description:
          "The answer carries the candidate's active bookings, as `GET /bookings?status=active&limit=100` would, " +
          'so that the start page needs no request of its own when every candidate signs in at once.',
        body: z.strictObject({ code: z.string().min(4).max(64) }),
        response: { 200: sessionSchema.extend({ bookings: bookingPage.optional() }) },
      },
    },
    async (req) => {
      const session = await ctx.auth.loginWithAccessCode(req.body.code);
      const { id, role, district } = session.user;
      if (role !== 'candidate') return session;
      return { ...session, bookings: await ctx.sessions.listBookings({ id, role, district }, START_PAGE) };
    },
  );

  app.post(
    '/auth/refresh',
    {
      schema: {
        tags: ['auth'],
        summary: 'Exchange a refresh token for a new access token and refresh token (rotation)',
        body: refreshBody,
        response: { 200: sessionSchema },
      },
    },
    (req) => ctx.auth.refresh(req.body.refreshToken),
  );

  app.post(
    '/auth/logout',
    { schema: { tags: ['auth'], summary: 'Revoke this sign-in (its refresh-token family)', body: refreshBody } },
    async (req, reply) => {
      await ctx.auth.logout(req.body.refreshToken);
      return reply.status(204).send();
    },
  );

  app.get(
    '/me',
    {
      onRequest: app.requireRole('admin', 'author', 'candidate'),
      schema: { tags: ['auth'], summary: 'The signed-in account', security: [{ bearer: [] }] },
    },
    async (req) => {
      try {
        return await ctx.users.get(who(req).id);
      } catch (err) {
        // A valid token for an account deleted since: the token is what is wrong.
        if (err instanceof AppError && err.code === 'not_found') throw new AppError('token_invalid', 'the account no longer exists');
        throw err;
      }
    },
  );
}
