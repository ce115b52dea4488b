/**
 * A real examday app on a fresh real database, for HTTP tests through
 * `app.inject()`. Nothing is mocked: the SQL queue runs on the same database.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { loadConfig, type Config } from '../config.ts';
import { createContext, type AppContext, type ContextOptions } from '../context.ts';
import { buildApp } from '../http/app.ts';
import type { App } from '../http/types.ts';
import { hashPassword } from '../modules/auth/service.ts';
import type { Role } from '../platform/db/schema.ts';
import type { DbTarget } from './db.ts';

export interface TestApp {
  app: App;
  ctx: AppContext;
  /** Create a staff user directly in the database and sign in; returns its bearer header and id. */
  staff(role: Exclude<Role, 'candidate'>, email?: string): Promise<Actor>;
  /** Create a candidate with an access code and sign in with it. */
  candidate(district?: string, name?: string): Promise<Actor & { accessCode: string }>;
  close(): Promise<void>;
}

export interface Actor {
  id: string;
  headers: { authorization: string };
  token: string;
}

let counter = 0;

export async function createTestApp(
  target: DbTarget,
  env: Record<string, string> = {},
  opts: Pick<ContextOptions, 'gradingsHeld'> = {},
): Promise<TestApp> {
  const db = await target.open();
  // The PostgreSQL target runs in distributed mode: BullMQ queues and shared
  // rate limits on Redis, under a prefix of its own so parallel test files
  // never take each other's jobs.
  const redis = target.name === 'postgres' && process.env.REDIS_URL
    ? { REDIS_URL: process.env.REDIS_URL, REDIS_PREFIX: `examday-test-${randomBytes(4).toString('hex')}` }
    : {};
  const config: Config = loadConfig({
    LOG_LEVEL: 'silent',
    EXAMDAY_DATA_DIR: '/nonexistent-test-data-dir',
    JWT_SECRET: 'test-secret-test-secret-test-secret-0123456789',
    SEED_DEMO: 'false',
    LOGIN_RATE_LIMIT_PER_MIN: '1000',
    ...redis,
    ...env,
  });
  const ctx = await createContext(config, { ...opts, db, log: pino({ level: 'silent' }), skipMigrate: true });
  const app = await buildApp(ctx);
  await app.ready();

  async function signIn(path: string, body: Record<string, string>): Promise<string> {
    const res = await app.inject({ method: 'POST', url: `/api/v1/auth/${path}`, payload: body });
    if (res.statusCode !== 200) throw new Error(`sign-in failed: ${res.statusCode} ${res.body}`);
    return res.json<{ accessToken: string }>().accessToken;
  }

  return {
    app,
    ctx,
    async staff(role, email = `${role}${++counter}@test.examday`) {
      const password = 'correct horse battery staple';
      const user = await db.kysely
        .insertInto('users')
        .values({ role, email, name: `${role} ${counter}`, password_hash: await hashPassword(password) })
        .returning('id')
        .executeTakeFirstOrThrow();
      const token = await signIn('login', { email, password });
      return { id: user.id, token, headers: { authorization: `Bearer ${token}` } };
    },
    async candidate(district = 'north', name = `Candidate ${++counter}`) {
      const { user, accessCode } = await ctx.users.createCandidateWithCode({ name, email: null, district });
      const token = await signIn('access-code', { code: accessCode });
      return { id: user.id, token, accessCode, headers: { authorization: `Bearer ${token}` } };
    },
    async close() {
      await app.close();
      await ctx.close();
      await db.close();
    },
  };
}
