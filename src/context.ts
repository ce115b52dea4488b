/**
 * Composition root: reads the validated config and builds every adapter and
 * service exactly once. Heavy SDKs (pg, BullMQ, ioredis) are imported only
 * when the config chooses them.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { Config } from './config.ts';
import { LOG_REDACT_PATHS } from './lib/log-redact.ts';
import type { Db, DbOptions } from './platform/db/index.ts';
import { migrate } from './platform/db/migrate.ts';
import { createMetrics, type Metrics } from './platform/metrics.ts';
import type { JobQueue } from './platform/queue/index.ts';
import type { BlobStore } from './platform/blobs/index.ts';
import type { QuestionGenerator } from './platform/generator/index.ts';
import type { PdfExtractor } from './platform/pdf/index.ts';
import type { PubSub } from './platform/pubsub/index.ts';
import type { ProviderBudget } from './platform/budget/index.ts';
import { createTokenService, type TokenService } from './modules/auth/tokens.ts';
import { createAuthService, type AuthService } from './modules/auth/service.ts';
import { createUserService, type UserService } from './modules/users/service.ts';
import { createQuestionService, type QuestionService } from './modules/questions/service.ts';
import { createAssessmentService, type AssessmentService } from './modules/assessments/service.ts';
import { createSessionService, type SessionService } from './modules/sessions/service.ts';
import { GRADING_MAX_HOLD_MS } from './modules/attempts/grading.ts';
import { createAttemptService, type AttemptService } from './modules/attempts/service.ts';
import { createMaterialService, type MaterialService } from './modules/materials/service.ts';
import { createUploadSlots } from './modules/materials/slots.ts';
import { createReportService, type ReportService } from './modules/reports/service.ts';
import { createOperationsService, type OperationsService } from './modules/operations/service.ts';
import { QUEUES } from './modules/operations/schema.ts';
import { LoadGate, machineCpuUtilization } from './lib/load-gate.ts';
import { LogBudget } from './lib/log-budget.ts';
import { registerJobHandlers } from './modules/jobs.ts';
import { keepPlannerStats } from './platform/db/planner-stats.ts';

/** How often a worker compares table sizes with the planner's statistics (platform/db/planner-stats.ts). */
const PLANNER_STATS_EVERY_MS = 2_000;
/**
 * A niced job process grades freely while at most half the machine's cores
 * are busy at normal priority, a few jobs per sample up to three quarters,
 * and holds gradings above that (at most 30 s each): at 16,000 candidates on
 * 2 cores the steady state sits near half, the submit wave near all of it.
 */
const MACHINE_IDLE = 0.5;
const MACHINE_BUSY = 0.75;
/** The cores as a niced job process's gate sees them (see above). */
const machineGate = (): LoadGate =>
  new LoadGate({
    utilization: machineCpuUtilization(),
    idleUtilization: MACHINE_IDLE,
    maxUtilization: MACHINE_BUSY,
    maxWaitMs: GRADING_MAX_HOLD_MS,
  });

export interface DemoAccount {
  role: string;
  login: string;
  secret: string;
}

export interface AppContext {
  config: Config;
  log: Logger;
  metrics: Metrics;
  db: Db;
  queue: JobQueue;
  redis: Redis | undefined;
  blobs: BlobStore;
  generator: QuestionGenerator;
  /** The PDF worker pool, started on first use (only processes that extract pay for its threads). */
  pdf(): PdfExtractor;
  /** Live-update fan-out: Redis pub/sub when REDIS_URL is set, in-process otherwise. */
  pubsub: PubSub;
  /** The AI provider's budget, shared by every worker through Redis when configured. */
  budget: ProviderBudget;
  tokens: TokenService;
  auth: AuthService;
  users: UserService;
  questions: QuestionService;
  assessments: AssessmentService;
  sessions: SessionService;
  attempts: AttemptService;
  materials: MaterialService;
  reports: ReportService;
  operations: OperationsService;
  /** Filled by the demo seeder so the landing page can list them. */
  demoAccounts: DemoAccount[];
  /** Each check: 'ok' or what went wrong. */
  readiness(): Promise<Record<string, string>>;
  /**
   * Start job workers in this process (roles `worker` and `all`). `besideHttp`:
   * this process also answers requests (`all`), so gradings wait while its
   * event loop is busy. `niced`: a job-only process running at a lower CPU
   * priority, so gradings wait while the machine's cores are busy at normal
   * priority (its own niced work does not count).
   */
  startWorkers(opts?: { besideHttp?: boolean; niced?: boolean }): void;
  /** Flush pending writes, stop workers, close pools — in that order. */
  close(): Promise<void>;
}

export interface ContextOptions {
  /** Use this database instead of opening one from config (tests). */
  db?: Db;
  log?: Logger;
  /** Skip migrations (tests that pass an already-migrated db). */
  skipMigrate?: boolean;
  /** Whether gradings are held back now (tests; default: the grading gate's state, see gradingGate). */
  gradingsHeld?: () => boolean;
}

export async function createContext(config: Config, opts: ContextOptions = {}): Promise<AppContext> {
  const log =
    opts.log ??
    pino({
      level: config.log.level,
      base: { pid: process.pid },
      redact: LOG_REDACT_PATHS,
    });
  const metrics = createMetrics();
  // Under overload every query is slow; ten lines a second say so, /metrics counts them all.
  const slowQueryLines = new LogBudget(10);
  const dbOpts: DbOptions = {
    slowQueryMs: config.db.slowQueryMs,
    onSlowQuery: ({ sql, ms }) => {
      metrics.slowQueries.inc();
      const held = slowQueryLines.take();
      if (held < 0) return;
      const line = { sql: sql.slice(0, 500), ms: Math.round(ms) };
      log.warn(held > 0 ? { ...line, heldBack: held } : line, 'slow query');
    },
    onQueryError: ({ sql, error }) => {
      metrics.dbErrors.inc();
      log.debug({ sql: sql.slice(0, 500), err: error }, 'query failed');
    },
  };

  const closers: (() => Promise<void>)[] = [];
  const db = opts.db ?? (await openDb(config, dbOpts, log));
  if (!opts.db) closers.push(() => db.close());
  if (!opts.skipMigrate) {
    const applied = await migrate(db);
    if (applied.length) log.info({ applied }, 'migrations applied');
  }

  let redis: Redis | undefined;
  if (config.redis.url) {
    const { Redis } = await import('ioredis');
    // Commands of the same turn (the sign-in storm's rate-limit checks) go out in one write.
    redis = new Redis(config.redis.url, { maxRetriesPerRequest: 2, enableOfflineQueue: true, lazyConnect: false, enableAutoPipelining: true });
    redis.on('error', (err) => log.warn({ err }, 'redis error'));
    closers.push(async () => {
      await redis?.quit().catch(() => redis?.disconnect());
    });
  }

  let queue: JobQueue;
  if (config.redis.url) {
    const { createBullmqQueue } = await import('./platform/queue/bullmq.ts');
    queue = createBullmqQueue({ url: config.redis.url, prefix: config.redis.prefix, onError: (err) => log.error({ err }, 'queue error') });
  } else {
    const { createSqlQueue } = await import('./platform/queue/sql.ts');
    queue = createSqlQueue(db, { onError: (err) => log.error({ err }, 'queue error') });
  }

  const blobs = await openBlobStore(config);
  closers.push(() => blobs.close());
  const generator = await openGenerator(config);
  closers.push(() => generator.close());
  let pdfPool: PdfExtractor | undefined;
  const { createPdfPool } = await import('./platform/pdf/pool.ts');
  const pdf = (): PdfExtractor => {
    pdfPool ??= createPdfPool({
      workers: config.pdf.workers,
      timeoutMs: config.pdf.timeoutMs,
      maxMemoryMb: config.pdf.maxMemoryMb,
    });
    return pdfPool;
  };
  closers.push(async () => {
    await pdfPool?.close();
  });

  const pubsub = await openPubSub(config, log);
  closers.push(() => pubsub.close());
  const budget = await openBudget(config, log);
  closers.push(() => budget.close());

  const tokens = createTokenService(await jwtSecret(config, db), config.auth.accessTokenTtlS);
  const k = db.kysely;
  const auth = createAuthService({ db: k, tokens, refreshTtlS: config.auth.refreshTokenTtlS, reuseGraceS: config.auth.refreshReuseGraceS });
  const questions = createQuestionService({ db: k });
  const assessments = createAssessmentService({ db: k });
  const sessions = createSessionService({ db: k });
  // Whether gradings are held now, for a submit's answer: in a process that
  // grades beside its HTTP server, its own gate says; an API process watches
  // the cores as the (niced, separate) job process's gate does.
  let gradingGate: LoadGate | undefined;
  const attempts = createAttemptService({
    db: k,
    queue,
    metrics,
    log,
    graceS: config.exam.graceS,
    flushMs: config.exam.autosaveFlushMs,
    maxBatch: config.exam.autosaveMaxBatch,
    gradingsHeld: opts.gradingsHeld ?? (() => {
      if (!gradingGate) {
        const watch = (gradingGate = machineGate());
        closers.push(async () => watch.close());
      }
      return gradingGate.state === 'busy';
    }),
  });

  const materials = createMaterialService({
    db: k,
    queue,
    blobs,
    pdf,
    generator,
    budget,
    pubsub,
    metrics,
    log,
    slots: createUploadSlots(redis, config.redis.prefix),
    maxBytes: config.pdf.maxBytes,
    maxPages: config.pdf.maxPages,
    retentionHours: config.retentionHours,
    breaker: config.ai.breaker,
  });

  const users = createUserService({ db: k, auth, purgeFiles: (id) => materials.purgeOwner(id) });

  const reports = createReportService({ db: k });
  const operations = createOperationsService({
    db: k,
    queue,
    queues: QUEUES,
    budget,
    limits: config.ai.budget,
    breakerState: () => materials.breakerState(),
    httpDuration: metrics.httpDuration,
  });

  // A full listing of the store, so sampled at most once a minute however often Prometheus scrapes.
  let storage: { at: number; value: Promise<{ objects: number; bytes: number }> } | undefined;
  metrics.gauge('examday_blob_storage', 'Object storage in use (sampled at most every 60 s)', ['unit'], async (g) => {
    if (!storage || Date.now() - storage.at > 60_000) storage = { at: Date.now(), value: blobs.usage() };
    const u = await storage.value.catch(() => undefined);
    if (!u) return;
    g.set({ unit: 'bytes' }, u.bytes);
    g.set({ unit: 'objects' }, u.objects);
  });

  metrics.gauge('examday_db_pool_connections', 'Database pool connections by state', ['state'], (g) => {
    const s = db.poolStats();
    g.set({ state: 'total' }, s.total);
    g.set({ state: 'in_use' }, s.inUse);
    g.set({ state: 'waiting' }, s.waiting);
  });
  metrics.gauge('examday_queue_jobs', 'Jobs by queue and state', ['queue', 'state'], async (g) => {
    for (const name of ['grading', 'attempt-deadline', 'pipeline']) {
      const counts = await queue.counts(name).catch(() => undefined);
      if (!counts) continue;
      for (const [state, n] of Object.entries(counts) as [string, number][]) g.set({ queue: name, state }, n);
    }
  });

  const workers: { close(): Promise<void> }[] = [];
  let closed = false;

  const ctx: AppContext = {
    config,
    log,
    metrics,
    db,
    queue,
    redis,
    blobs,
    generator,
    pdf,
    pubsub,
    budget,
    tokens,
    auth,
    users,
    questions,
    assessments,
    sessions,
    attempts,
    materials,
    reports,
    operations,
    demoAccounts: [],
    async readiness() {
      const checks: Record<string, string> = {};
      await Promise.all([
        k
          .selectFrom('settings')
          .select('key')
          .limit(1)
          .execute()
          .then(
            () => (checks.database = 'ok'),
            (e: unknown) => (checks.database = errorText(e)),
          ),
        queue.counts('grading').then(
          () => (checks.queue = 'ok'),
          (e: unknown) => (checks.queue = errorText(e)),
        ),
        redis
          ? redis.ping().then(
              () => (checks.redis = 'ok'),
              (e: unknown) => (checks.redis = errorText(e)),
            )
          : Promise.resolve(),
      ]);
      return checks;
    },
    startWorkers(opts = {}) {
      // Gradings wait while candidates' requests need the CPU: those of this
      // process's own HTTP server, or — in a niced job process — whatever runs
      // at normal priority on the machine (API processes, the database).
      const gate = opts.besideHttp ? new LoadGate({ maxWaitMs: GRADING_MAX_HOLD_MS }) : opts.niced ? machineGate() : undefined;
      if (gate) workers.push({ close: async () => gate.close() });
      if (opts.besideHttp) gradingGate = gate;
      workers.push(...registerJobHandlers(ctx, config.worker, gate));
      // One keeper per worker process; several analyzing the same table at once is harmless.
      workers.push(keepPlannerStats(k, { everyMs: PLANNER_STATS_EVERY_MS, log }));
    },
    async close() {
      if (closed) return;
      closed = true;
      await attempts.close();
      await Promise.all(workers.map((w) => w.close()));
      await queue.close();
      for (const c of closers.reverse()) await c();
      metrics.close();
    },
  };
  return ctx;
}

async function openDb(config: Config, opts: DbOptions, log: Logger): Promise<Db> {
  if (config.db.url) {
    const { openPostgres } = await import('./platform/db/postgres.ts');
    return openPostgres({
      ...opts,
      url: config.db.url,
      poolMax: config.db.poolMax,
      poolMin: config.db.poolMin,
      statementTimeoutMs: config.db.statementTimeoutMs,
      preparedStatements: config.db.preparedStatements,
      onNamedStatementsLost: (err) =>
        log.warn(
          { err },
          'named statements do not survive between transactions here (PgBouncer before 1.21 in transaction mode?): ' +
            'every query is now sent unnamed; set DATABASE_PREPARED_STATEMENTS=false to say so at start',
        ),
    });
  }
  const { openPglite } = await import('./platform/db/pglite.ts');
  const dir = path.join(config.dataDir, 'pgdata');
  await mkdir(dir, { recursive: true });
  return openPglite({ ...opts, dataDir: dir, preparedStatements: config.db.preparedStatements });
}

async function openBlobStore(config: Config): Promise<BlobStore> {
  const s3 = config.s3;
  if (s3.bucket) {
    const { createS3BlobStore } = await import('./platform/blobs/s3.ts');
    return createS3BlobStore({
      region: s3.region,
      bucket: s3.bucket,
      forcePathStyle: s3.forcePathStyle,
      ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
      ...(s3.publicEndpoint ? { publicEndpoint: s3.publicEndpoint } : {}),
      ...(s3.accessKeyId && s3.secretAccessKey ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } : {}),
    });
  }
  const { createDiskBlobStore } = await import('./platform/blobs/disk.ts');
  return createDiskBlobStore({ root: path.join(config.dataDir, 'blobs') });
}

async function openPubSub(config: Config, log: Logger): Promise<PubSub> {
  if (config.redis.url) {
    const { createRedisPubSub } = await import('./platform/pubsub/redis.ts');
    return createRedisPubSub({ url: config.redis.url, prefix: config.redis.prefix, onError: (err) => log.warn({ err }, 'pubsub error') });
  }
  const { createMemoryPubSub } = await import('./platform/pubsub/memory.ts');
  return createMemoryPubSub({ onError: (err) => log.warn({ err }, 'pubsub handler failed') });
}

async function openBudget(config: Config, log: Logger): Promise<ProviderBudget> {
  if (config.redis.url) {
    const { createRedisBudget } = await import('./platform/budget/redis.ts');
    return createRedisBudget({ url: config.redis.url, prefix: config.redis.prefix, limits: config.ai.budget, onError: (err) => log.warn({ err }, 'budget redis error') });
  }
  const { createMemoryBudget } = await import('./platform/budget/memory.ts');
  return createMemoryBudget(config.ai.budget);
}

async function openGenerator(config: Config): Promise<QuestionGenerator> {
  if (config.ai.baseUrl) {
    const { createOpenAiGenerator } = await import('./platform/generator/openai.ts');
    return createOpenAiGenerator({
      baseURL: config.ai.baseUrl,
      model: config.ai.model,
      timeoutMs: config.ai.timeoutMs,
      ...(config.ai.apiKey ? { apiKey: config.ai.apiKey } : {}),
    });
  }
  const { createOfflineGenerator } = await import('./platform/generator/offline.ts');
  return createOfflineGenerator();
}

/** JWT_SECRET, or a random one generated once and kept in the database so every process shares it. */
async function jwtSecret(config: Config, db: Db): Promise<string> {
  if (config.auth.jwtSecret) return config.auth.jwtSecret;
  await db.kysely
    .insertInto('settings')
    .values({ key: 'jwt_secret', value: randomBytes(48).toString('base64url') })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const row = await db.kysely.selectFrom('settings').select('value').where('key', '=', 'jwt_secret').executeTakeFirstOrThrow();
  return row.value;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
