/**
 * Environment → typed, documented configuration. Parsed once at boot; every
 * problem is listed together so an operator fixes them in one go.
 * This is the only module that reads `process.env` (through `loadConfig`).
 */
import path from 'node:path';
import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const url = (protocols: string[]) =>
  z.string().refine((v) => {
    try {
      return protocols.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, `must be a URL starting with ${protocols.map((p) => p + '//').join(' or ')}`);

/** Every environment variable examday reads, with its default. README's table mirrors this. */
export const envSchema = z.object({
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  EXAMDAY_DATA_DIR: z.string().min(1).default('./data'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PUBLIC_URL: z.string().optional(),

  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  DATABASE_POOL_MAX: int(1, 500).default(20),
  DATABASE_STATEMENT_TIMEOUT_MS: int(0, 600_000).default(10_000),
  DATABASE_SLOW_QUERY_MS: int(1, 600_000).default(250),

  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only').default('examday'),

  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  ACCESS_TOKEN_TTL_S: int(30, 86_400).default(900),
  REFRESH_TOKEN_TTL_S: int(60, 90 * 86_400).default(14 * 86_400),
  LOGIN_RATE_LIMIT_PER_MIN: int(1, 100_000).default(10),

  ATTEMPT_GRACE_S: int(0, 3600).default(30),
  AUTOSAVE_FLUSH_MS: int(0, 1000).default(4),
  AUTOSAVE_MAX_BATCH: int(1, 10_000).default(500),

  WORKER_CONCURRENCY: int(1, 256).default(4),
  JOB_LEASE_MS: int(1000, 3_600_000).default(60_000),
  SEED_DEMO: bool.optional(),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  http: { port: number; host: string; publicUrl: string | undefined };
  dataDir: string;
  log: { level: Env['LOG_LEVEL'] };
  db: { url: string | undefined; poolMax: number; statementTimeoutMs: number; slowQueryMs: number };
  /** `prefix` namespaces every key, so several deployments (or test runs) can share one Redis. */
  redis: { url: string | undefined; prefix: string };
  auth: {
    jwtSecret: string | undefined;
    accessTokenTtlS: number;
    refreshTokenTtlS: number;
    loginRateLimitPerMin: number;
  };
  exam: { graceS: number; autosaveFlushMs: number; autosaveMaxBatch: number };
  worker: { concurrency: number; leaseMs: number };
  /** Seed demo data on first start. Defaults to true on the embedded database only. */
  seedDemo: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parse an environment (default: `process.env`); throws ConfigError listing every problem. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const relevant: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = source[key];
    if (value !== undefined && value !== '') relevant[key] = value;
  }
  const parsed = envSchema.safeParse(relevant);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  return {
    http: { port: e.PORT, host: e.HOST, publicUrl: e.PUBLIC_URL },
    dataDir: path.resolve(e.EXAMDAY_DATA_DIR),
    log: { level: e.LOG_LEVEL },
    db: {
      url: e.DATABASE_URL,
      poolMax: e.DATABASE_POOL_MAX,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
      slowQueryMs: e.DATABASE_SLOW_QUERY_MS,
    },
    redis: { url: e.REDIS_URL, prefix: e.REDIS_PREFIX },
    auth: {
      jwtSecret: e.JWT_SECRET,
      accessTokenTtlS: e.ACCESS_TOKEN_TTL_S,
      refreshTokenTtlS: e.REFRESH_TOKEN_TTL_S,
      loginRateLimitPerMin: e.LOGIN_RATE_LIMIT_PER_MIN,
    },
    exam: { graceS: e.ATTEMPT_GRACE_S, autosaveFlushMs: e.AUTOSAVE_FLUSH_MS, autosaveMaxBatch: e.AUTOSAVE_MAX_BATCH },
    worker: { concurrency: e.WORKER_CONCURRENCY, leaseMs: e.JOB_LEASE_MS },
    seedDemo: e.SEED_DEMO ?? e.DATABASE_URL === undefined,
  };
}
