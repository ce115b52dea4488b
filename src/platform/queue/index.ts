/**
 * Job queue port. Two adapters: a table in the application database (the
 * default; `sql.ts`) and BullMQ on Redis (`bullmq.ts`, when REDIS_URL is set).
 * One conformance suite (`conformance.test.ts`) runs against both.
 *
 * Guarantees:
 * - Durable: `enqueue` resolves only after the job is stored.
 * - At-least-once: a job whose worker crashes (lease expires) runs again, so
 *   handlers must be idempotent. Whether that re-run spends an attempt is the
 *   adapter's choice: the SQL queue spends one per claim, so a job that keeps
 *   killing its worker dies after `maxAttempts`; BullMQ does not count it, and
 *   dead-letters a job whose worker is lost a second time.
 * - A handler that throws is retried up to `maxAttempts` with exponential
 *   backoff and full jitter; after that the job is dead-lettered with its last
 *   error, visible through `listDead` and revivable with `retryDead`.
 *   Throwing `RetryLaterError` reschedules without spending an attempt count on
 *   a fixed delay (used to honour a provider's Retry-After).
 * - Lower `priority` numbers run first; jobs without a priority run before
 *   prioritised ones (BullMQ's rule, kept by both adapters).
 * - `delayMs`/`runAt` hold a job back until then.
 * - `idempotencyKey` (per queue): enqueuing the same key again returns the
 *   existing job instead of adding one, while that job is known to the queue.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface EnqueueOptions {
  /** 1 = most urgent. Omit for "no priority" (runs before prioritised jobs). */
  priority?: number;
  delayMs?: number;
  runAt?: Date;
  idempotencyKey?: string;
  /** Total tries including the first (default 5). */
  maxAttempts?: number;
  /** Base for exponential backoff: base * 2^(attempt-1), full jitter (default 1000 ms). */
  backoffMs?: number;
}

export interface BulkJob {
  name: string;
  data: JsonValue;
  opts?: EnqueueOptions;
}

export interface Job<T = JsonValue> {
  id: string;
  queue: string;
  name: string;
  data: T;
  /** 1 on the first run. */
  attempt: number;
  maxAttempts: number;
}

export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'dead';

export interface JobInfo {
  id: string;
  queue: string;
  name: string;
  data: JsonValue;
  state: JobState;
  attempts: number;
  lastError: string | null;
  createdAt: Date;
  /** When the job completed or was dead-lettered; null while it may still run. */
  finishedAt: Date | null;
}

export interface QueueCounts {
  waiting: number;
  delayed: number;
  active: number;
  completed: number;
  dead: number;
}

export type JobHandler = (job: Job) => Promise<void>;

export interface WorkerOptions {
  /** Handlers running at once in this worker (default 1). */
  concurrency?: number;
  /**
   * How long a claimed job is leased before another worker may take it over
   * (default 30 s). A live worker renews the lease while its handler runs, so
   * this bounds how long a crashed worker's jobs wait, not how long a job may take.
   */
  leaseMs?: number;
}

export interface QueueWorker {
  /** Stop claiming jobs and wait for running handlers to finish. */
  close(): Promise<void>;
  /**
   * Behave as if the process died: stop claiming and stop renewing leases at
   * once, without waiting for running handlers and without writing anything
   * for their jobs, which another worker takes over once the leases expire.
   * A handler that settles afterwards is ignored. For crash tests and drills;
   * production code calls `close()`.
   */
  kill?(): Promise<void>;
}

export class RetryLaterError extends Error {
  constructor(
    readonly delayMs: number,
    message = `retry in ${delayMs} ms`,
  ) {
    super(message);
    this.name = 'RetryLaterError';
  }
}

export interface JobQueue {
  readonly kind: 'sql' | 'bullmq';
  enqueue(queue: string, name: string, data: JsonValue, opts?: EnqueueOptions): Promise<{ id: string; created: boolean }>;
  /**
   * Store many jobs in one round trip (e.g. grading for a wave of submits).
   * Resolves once all are stored; a job whose idempotency key is already known
   * to the queue, or repeats one earlier in the list, is skipped.
   */
  enqueueMany(queue: string, jobs: readonly BulkJob[]): Promise<void>;
  work(queue: string, handler: JobHandler, opts?: WorkerOptions): QueueWorker;
  getJob(queue: string, id: string): Promise<JobInfo | null>;
  counts(queue: string): Promise<QueueCounts>;
  listDead(queue: string, limit?: number): Promise<JobInfo[]>;
  /** Put a dead job back in the queue with a fresh attempt budget. Returns false when it is not dead. */
  retryDead(queue: string, id: string): Promise<boolean>;
  /** Stop all workers started by this instance and release connections. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_ATTEMPTS = 5;
export const DEFAULT_BACKOFF_MS = 1000;
export const DEFAULT_LEASE_MS = 30_000;
/** BullMQ's ceiling for priorities; the SQL adapter enforces it too so both accept the same input. */
export const MAX_PRIORITY = 2_097_151;

export interface ResolvedEnqueueOptions {
  /** 0 = no priority. */
  priority: number;
  /** Hold the job back this long from now (0 = ready at once); `runAt` and `delayMs` together mean the later of the two. */
  delayMs: number;
  runAt: Date | undefined;
  idempotencyKey: string | undefined;
  maxAttempts: number;
  backoffMs: number;
}

/**
 * Defaults and validation shared by the adapters, so a bad option fails the
 * same way on both instead of being coerced differently by each backend.
 */
export function resolveEnqueueOptions(opts: EnqueueOptions = {}): ResolvedEnqueueOptions {
  const int = (name: string, v: number, min: number, max: number): number => {
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
    return v;
  };
  if (opts.runAt !== undefined && Number.isNaN(opts.runAt.getTime())) throw new RangeError('runAt is an invalid Date');
  if (opts.idempotencyKey === '') throw new RangeError('idempotencyKey must not be empty');
  return {
    priority: int('priority', opts.priority ?? 0, 0, MAX_PRIORITY),
    delayMs: int('delayMs', opts.delayMs ?? 0, 0, 2 ** 31 - 1),
    runAt: opts.runAt,
    idempotencyKey: opts.idempotencyKey,
    maxAttempts: int('maxAttempts', opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, 1, 1000),
    backoffMs: int('backoffMs', opts.backoffMs ?? DEFAULT_BACKOFF_MS, 0, 3_600_000),
  };
}

/** Worker defaults and validation, shared by the adapters like `resolveEnqueueOptions`. */
export function resolveWorkerOptions(opts: WorkerOptions = {}): Required<WorkerOptions> {
  const concurrency = opts.concurrency ?? 1;
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  // Leases are renewed every leaseMs / 3 (SQL) or / 2 (BullMQ); below 100 ms renewal is mostly noise.
  if (!Number.isInteger(leaseMs) || leaseMs < 100) throw new RangeError(`leaseMs must be an integer ≥ 100, got ${leaseMs}`);
  return { concurrency, leaseMs };
}

/** Delay before the next try: full jitter over base * 2^(attempt-1), capped at one hour. */
export function backoffDelay(baseMs: number, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(3_600_000, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}
