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
  HTTP_ACCEPT_LANES: int(0, 64).default(16),
  HTTP_IDLE_TIMEOUT_S: int(0, 3600).default(120),
  WEB_CONCURRENCY: z.string().regex(/^(auto|[1-9]\d?)$/, 'a number of API processes (1-99) or "auto" (one per CPU)').default('1'),
  LOG_REQUESTS: bool.default(false),
  LOG_SLOW_REQUEST_MS: int(1, 600_000).default(1000),
  WORKER_NICE: int(0, 19).default(10),

  ARRIVAL_LAG_MS: int(0, 10_000).default(0),
  ARRIVAL_MAX_WAIT_MS: int(0, 60_000).default(10_000),
  SHED_EVENT_LOOP_DELAY_MS: int(0, 60_000).default(0),
  SHED_HEAP_USED_MB: int(0, 1_000_000).optional(),
  SHED_MAX_IN_FLIGHT: int(0, 1_000_000).default(4000),
  SHED_RETRY_AFTER_S: int(1, 3600).default(5),

  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  DATABASE_POOL_MAX: int(1, 500).default(10),
  DATABASE_POOL_MIN: int(0, 500).optional(),
  DATABASE_STATEMENT_TIMEOUT_MS: int(0, 600_000).default(10_000),
  DATABASE_SLOW_QUERY_MS: int(1, 600_000).default(250),
  DATABASE_PREPARED_STATEMENTS: bool.default(true),

  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - only').default('examday'),

  S3_ENDPOINT: url(['http:', 'https:']).optional(),
  S3_PUBLIC_ENDPOINT: url(['http:', 'https:']).optional(),
  S3_BUCKET: z.string().min(3).max(63).optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: bool.default(false),

  AI_BASE_URL: url(['http:', 'https:']).optional(),
  AI_API_KEY: z.string().min(1).optional(),
  AI_MODEL: z.string().min(1).default('gpt-4o-mini'),
  AI_TIMEOUT_MS: int(1000, 600_000).default(60_000),
  AI_BUDGET_RPM: int(1, 1_000_000).default(60),
  AI_BUDGET_TPM: int(1, 100_000_000).default(200_000),
  AI_BUDGET_TPD: int(1, 10_000_000_000).default(5_000_000),
  AI_BREAKER_FAILURES: int(1, 1000).default(3),
  AI_BREAKER_OPEN_MS: int(100, 3_600_000).default(5000),

  UPLOAD_MAX_BYTES: int(1024, 1024 * 1024 * 1024).default(20 * 1024 * 1024),
  PDF_MAX_PAGES: int(1, 100_000).default(500),
  PDF_WORKERS: int(1, 64).default(2),
  PDF_TIMEOUT_MS: int(1000, 3_600_000).default(60_000),
  PDF_MAX_MEMORY_MB: int(64, 65_536).default(512),
  RETENTION_HOURS: z.coerce.number().min(0).max(24 * 365).default(24),

  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  ACCESS_TOKEN_TTL_S: int(30, 86_400).default(900),
  REFRESH_TOKEN_TTL_S: int(60, 90 * 86_400).default(14 * 86_400),
  REFRESH_REUSE_GRACE_S: int(0, 300).default(30),
  LOGIN_RATE_LIMIT_PER_MIN: int(1, 100_000).default(10),

  ATTEMPT_GRACE_S: int(0, 3600).default(30),
  AUTOSAVE_FLUSH_MS: int(0, 1000).default(16),
  AUTOSAVE_MAX_BATCH: int(1, 10_000).default(500),

  WORKER_CONCURRENCY: int(1, 256).default(4),
  JOB_LEASE_MS: int(1000, 3_600_000).default(60_000),
  SEED_DEMO: bool.optional(),
});

export type Env = z.infer<typeof envSchema>;

export interface Config {
  /** acceptLanes: extra descriptors of the listening socket, each accepting one connection per event-loop turn (src/http/accept-lanes.ts). */
  /** idleTimeoutS: a connection with a request open and no byte moving either way for this long is closed (a client gone mid-request; 0 = never). */
  http: { port: number; host: string; publicUrl: string | undefined; acceptLanes: number; idleTimeoutS: number };
  /** API processes for `serve`/`all` (node:cluster when more than one). */
  processes: number | 'auto';
  /**
   * CPU priority (nice) of a job-worker-only process: grading and PDF work can
   * wait a second, candidates' requests cannot. 0 = same as the API.
   */
  workerNice: number;
  /**
   * Load shedding: a request is answered 503 + Retry-After while any limit is
   * exceeded (0 = that check is off). heapUsedMb undefined = 90% of V8's heap limit.
   */
  shed: { eventLoopDelayMs: number; heapUsedMb: number | undefined; maxInFlight: number; retryAfterS: number };
  /** Arrival gate (src/http/arrival-gate.ts): sign-ins wait while the event loop lags more than targetLagMs (0 = off). */
  arrivals: { targetLagMs: number; maxWaitMs: number };
  dataDir: string;
  /** `requests`: one line per request; otherwise only errors and requests slower than slowRequestMs. */
  log: { level: Env['LOG_LEVEL']; requests: boolean; slowRequestMs: number };
  /** preparedStatements: each query shape planned once per connection (off behind PgBouncer < 1.21 in transaction mode). */
  db: { url: string | undefined; poolMax: number; poolMin: number; statementTimeoutMs: number; slowQueryMs: number; preparedStatements: boolean };
  /** `prefix` namespaces every key, so several deployments (or test runs) can share one Redis. */
  redis: { url: string | undefined; prefix: string };
  auth: {
    jwtSecret: string | undefined;
    accessTokenTtlS: number;
    refreshTokenTtlS: number;
    /** A used refresh token presented again within this many seconds is a retry, not a theft. */
    refreshReuseGraceS: number;
    loginRateLimitPerMin: number;
  };
  exam: { graceS: number; autosaveFlushMs: number; autosaveMaxBatch: number };
  worker: { concurrency: number; leaseMs: number };
  /** Object storage: S3 when endpoint or bucket is set, else the data dir. */
  s3: {
    endpoint: string | undefined;
    publicEndpoint: string | undefined;
    bucket: string | undefined;
    region: string;
    accessKeyId: string | undefined;
    secretAccessKey: string | undefined;
    forcePathStyle: boolean;
  };
  /** Question generation: an OpenAI-compatible endpoint when baseUrl is set, else the offline generator. */
  ai: {
    baseUrl: string | undefined;
    apiKey: string | undefined;
    model: string;
    timeoutMs: number;
    budget: { requestsPerMinute: number; tokensPerMinute: number; tokensPerDay: number };
    /** Consecutive provider failures that open the breaker, and how long it stays open before a probe. */
    breaker: { threshold: number; openMs: number };
  };
  pdf: { maxBytes: number; maxPages: number; workers: number; timeoutMs: number; maxMemoryMb: number };
  retentionHours: number;
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
  const problems: string[] = [];
  if ((e.S3_ENDPOINT || e.S3_ACCESS_KEY_ID) && !e.S3_BUCKET) problems.push('S3_BUCKET: required when S3_ENDPOINT or S3_ACCESS_KEY_ID is set');
  if (Boolean(e.S3_ACCESS_KEY_ID) !== Boolean(e.S3_SECRET_ACCESS_KEY)) problems.push('S3_SECRET_ACCESS_KEY: give both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither');
  if (problems.length) throw new ConfigError(problems);
  return {
    http: { port: e.PORT, host: e.HOST, publicUrl: e.PUBLIC_URL, acceptLanes: e.HTTP_ACCEPT_LANES, idleTimeoutS: e.HTTP_IDLE_TIMEOUT_S },
    processes: e.WEB_CONCURRENCY === 'auto' ? 'auto' : Number(e.WEB_CONCURRENCY),
    workerNice: e.WORKER_NICE,
    shed: {
      eventLoopDelayMs: e.SHED_EVENT_LOOP_DELAY_MS,
      heapUsedMb: e.SHED_HEAP_USED_MB,
      maxInFlight: e.SHED_MAX_IN_FLIGHT,
      retryAfterS: e.SHED_RETRY_AFTER_S,
    },
    arrivals: { targetLagMs: e.ARRIVAL_LAG_MS, maxWaitMs: e.ARRIVAL_MAX_WAIT_MS },
    dataDir: path.resolve(e.EXAMDAY_DATA_DIR),
    log: { level: e.LOG_LEVEL, requests: e.LOG_REQUESTS, slowRequestMs: e.LOG_SLOW_REQUEST_MS },
    db: {
      url: e.DATABASE_URL,
      poolMax: e.DATABASE_POOL_MAX,
      poolMin: Math.min(e.DATABASE_POOL_MIN ?? e.DATABASE_POOL_MAX, e.DATABASE_POOL_MAX),
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
      preparedStatements: e.DATABASE_PREPARED_STATEMENTS,
      slowQueryMs: e.DATABASE_SLOW_QUERY_MS,
    },
    redis: { url: e.REDIS_URL, prefix: e.REDIS_PREFIX },
    auth: {
      jwtSecret: e.JWT_SECRET,
      accessTokenTtlS: e.ACCESS_TOKEN_TTL_S,
      refreshTokenTtlS: e.REFRESH_TOKEN_TTL_S,
      refreshReuseGraceS: e.REFRESH_REUSE_GRACE_S,
      loginRateLimitPerMin: e.LOGIN_RATE_LIMIT_PER_MIN,
    },
    exam: { graceS: e.ATTEMPT_GRACE_S, autosaveFlushMs: e.AUTOSAVE_FLUSH_MS, autosaveMaxBatch: e.AUTOSAVE_MAX_BATCH },
    worker: { concurrency: e.WORKER_CONCURRENCY, leaseMs: e.JOB_LEASE_MS },
    s3: {
      endpoint: e.S3_ENDPOINT,
      publicEndpoint: e.S3_PUBLIC_ENDPOINT,
      bucket: e.S3_BUCKET,
      region: e.S3_REGION,
      accessKeyId: e.S3_ACCESS_KEY_ID,
      secretAccessKey: e.S3_SECRET_ACCESS_KEY,
      forcePathStyle: e.S3_FORCE_PATH_STYLE,
    },
    ai: {
      baseUrl: e.AI_BASE_URL,
      apiKey: e.AI_API_KEY,
      model: e.AI_MODEL,
      timeoutMs: e.AI_TIMEOUT_MS,
      budget: { requestsPerMinute: e.AI_BUDGET_RPM, tokensPerMinute: e.AI_BUDGET_TPM, tokensPerDay: e.AI_BUDGET_TPD },
      breaker: { threshold: e.AI_BREAKER_FAILURES, openMs: e.AI_BREAKER_OPEN_MS },
    },
    pdf: {
      maxBytes: e.UPLOAD_MAX_BYTES,
      maxPages: e.PDF_MAX_PAGES,
      workers: e.PDF_WORKERS,
      timeoutMs: e.PDF_TIMEOUT_MS,
      maxMemoryMb: e.PDF_MAX_MEMORY_MB,
    },
    retentionHours: e.RETENTION_HOURS,
    seedDemo: e.SEED_DEMO ?? e.DATABASE_URL === undefined,
  };
}
