/**
 * Job queue on Redis through BullMQ (chosen when REDIS_URL is set).
 *
 * The port maps onto BullMQ like this:
 * - priority → `priority` (0 = none, BullMQ runs those first, as the port says);
 *   delayMs / runAt → `delay`; maxAttempts → `attempts`; backoffMs → a custom
 *   backoff strategy that is the port's `backoffDelay` (full jitter).
 * - idempotencyKey → a custom `jobId` (BullMQ adds nothing when the id exists).
 * - dead → BullMQ "failed" after the last attempt; failed jobs are kept until
 *   revived, completed ones are trimmed to the newest 1000.
 * - lease → the job lock (`lockDuration`), renewed by BullMQ while the handler
 *   runs; a lost lock is found by the stalled-job check every `leaseMs`.
 * - RetryLaterError → `moveToDelayed` (which does not count an attempt) and
 *   BullMQ's `DelayedError`, which tells the worker the job was moved on purpose.
 *
 * Where it differs from the SQL adapter, within the port's contract:
 * - A crashed worker's job (stalled, in BullMQ's words) runs again without
 *   spending an attempt, so the re-run sees the same `attempt` number; a job
 *   that stalls more than once is dead-lettered with "job stalled more than
 *   allowable limit". The SQL adapter instead spends an attempt on each claim.
 * - A stalled job is noticed between `leaseMs` and about `3 × leaseMs` after
 *   the crash (lock expiry, then two stalled-check passes).
 * - Completed jobs are trimmed, so `counts().completed` stops near 1000 and an
 *   idempotency key becomes reusable once its completed job has been trimmed.
 * - A RetryLaterError's message is not recorded as `lastError`.
 */
import { DelayedError, Queue, Worker, type BackoffStrategy, type Job as BullJob, type JobState as BullState } from 'bullmq';
import { Redis } from 'ioredis';
import {
  DEFAULT_BACKOFF_MS,
  RetryLaterError,
  backoffDelay,
  resolveEnqueueOptions,
  resolveWorkerOptions,
  type BulkJob,
  type EnqueueOptions,
  type Job,
  type JobHandler,
  type JobInfo,
  type JobQueue,
  type JobState,
  type JsonValue,
  type QueueCounts,
  type QueueWorker,
  type WorkerOptions,
} from './index.ts';

export interface BullmqQueueOptions {
  url: string;
  /** Redis key prefix (default `examday`); tests use a random one so runs never share keys. */
  prefix?: string;
  /** Errors that have no caller to reject (connections, workers, lock renewal). */
  onError?: (err: unknown) => void;
}

const BACKOFF_TYPE = 'examday-full-jitter';
const KEEP_COMPLETED = { count: 1000 };
const MAX_DELAY_MS = 2 ** 31 - 1;

/** BullMQ forbids ':' in queue names and custom job ids (it is its key separator); percent-encode it reversibly. */
const redisSafe = (s: string): string => s.replaceAll('%', '%25').replaceAll(':', '%3A');
/** The `key-` prefix also keeps a numeric key from being taken for one of BullMQ's own integer ids, which it rejects. */
const idempotentJobId = (key: string): string => `key-${redisSafe(key)}`;

const backoffStrategy: BackoffStrategy = (attemptsMade, _type, _err, job) => {
  const backoff = job?.opts.backoff;
  const base = typeof backoff === 'number' ? backoff : (backoff?.delay ?? DEFAULT_BACKOFF_MS);
  return backoffDelay(base, attemptsMade);
};

const STATES: Partial<Record<BullState | 'unknown', JobState>> = {
  waiting: 'waiting',
  prioritized: 'waiting',
  'waiting-children': 'waiting',
  delayed: 'delayed',
  active: 'active',
  completed: 'completed',
  failed: 'dead',
};

function toInfo(queue: string, job: BullJob<JsonValue>, state: JobState): JobInfo {
  return {
    id: String(job.id),
    queue,
    name: job.name,
    data: job.data,
    state,
    // The port counts tries spent, including the one running; BullMQ bumps attemptsMade only when a try ends.
    attempts: job.attemptsMade + (state === 'active' ? 1 : 0),
    lastError: job.failedReason || null,
    createdAt: new Date(job.timestamp),
    finishedAt: job.finishedOn ? new Date(job.finishedOn) : null,
  };
}

const defaultOnError = (err: unknown): void => {
  console.error('[examday queue]', err);
};

class BullWorker implements QueueWorker {
  #closing: Promise<void> | undefined;
  constructor(
    private readonly worker: Worker<JsonValue>,
    private readonly connection: Redis,
    private readonly onStopped: () => void,
  ) {}

  close(): Promise<void> {
    this.#closing ??= this.#stop(false);
    return this.#closing;
  }

  /** `close(true)` drops BullMQ's lock renewal without waiting, so the locks expire as after a crash. */
  kill(): Promise<void> {
    this.#closing ??= this.#stop(true);
    return this.#closing;
  }

  async #stop(force: boolean): Promise<void> {
    try {
      await this.worker.close(force);
    } finally {
      if (force) this.connection.disconnect();
      else await this.connection.quit().catch(() => this.connection.disconnect());
      this.onStopped();
    }
  }
}

export function createBullmqQueue(opts: BullmqQueueOptions): JobQueue {
  const prefix = opts.prefix ?? 'examday';
  const onError = opts.onError ?? defaultOnError;
  // Producers share one connection and fail fast when Redis is gone (ioredis default retries);
  // each worker gets its own, as BullMQ's blocking reads need `maxRetriesPerRequest: null`.
  const shared = new Redis(opts.url);
  shared.on('error', onError);
  const queues = new Map<string, Queue<JsonValue>>();
  const workers = new Set<BullWorker>();
  let closed = false;
  let lastTimestamp = 0;

  const queueFor = (name: string): Queue<JsonValue> => {
    let q = queues.get(name);
    if (!q) {
      if (closed) throw new Error('queue is closed');
      q = new Queue<JsonValue>(redisSafe(name), { connection: shared, prefix });
      q.on('error', onError);
      queues.set(name, q);
    }
    return q;
  };

  return {
    kind: 'bullmq',

    async enqueue(queue: string, name: string, data: JsonValue, options?: EnqueueOptions) {
      const o = resolveEnqueueOptions(options);
      const q = queueFor(queue);
      const delay = Math.min(MAX_DELAY_MS, Math.max(o.delayMs, o.runAt ? o.runAt.getTime() - Date.now() : 0));
      const jobId = o.idempotencyKey === undefined ? undefined : idempotentJobId(o.idempotencyKey);
      // BullMQ returns the same thing whether it added the job or found its id taken; a creation
      // timestamp unique within this process tells us afterwards whose job is stored.
      const timestamp = (lastTimestamp = Math.max(Date.now(), lastTimestamp + 1));
      const added = await q.add(name, data, {
        ...(jobId === undefined ? {} : { jobId }),
        ...(o.priority > 0 ? { priority: o.priority } : {}),
        ...(delay > 0 ? { delay } : {}),
        timestamp,
        attempts: o.maxAttempts,
        backoff: { type: BACKOFF_TYPE, delay: o.backoffMs },
        removeOnComplete: KEEP_COMPLETED,
        removeOnFail: false,
      });
      if (jobId === undefined) return { id: String(added.id), created: true };
      const stored = await q.getJob(jobId);
      return { id: jobId, created: stored?.timestamp === timestamp };
    },

    async enqueueMany(queue: string, jobs: readonly BulkJob[]) {
      if (jobs.length === 0) return;
      const q = queueFor(queue);
      // One MULTI for all jobs; BullMQ keeps the stored job when a jobId is taken.
      await q.addBulk(
        jobs.map((j) => {
          const o = resolveEnqueueOptions(j.opts);
          const delay = Math.min(MAX_DELAY_MS, Math.max(o.delayMs, o.runAt ? o.runAt.getTime() - Date.now() : 0));
          return {
            name: j.name,
            data: j.data,
            opts: {
              ...(o.idempotencyKey === undefined ? {} : { jobId: idempotentJobId(o.idempotencyKey) }),
              ...(o.priority > 0 ? { priority: o.priority } : {}),
              ...(delay > 0 ? { delay } : {}),
              attempts: o.maxAttempts,
              backoff: { type: BACKOFF_TYPE, delay: o.backoffMs },
              removeOnComplete: KEEP_COMPLETED,
              removeOnFail: false,
            },
          };
        }),
      );
    },

    work(queue: string, handler: JobHandler, options: WorkerOptions = {}): QueueWorker {
      if (closed) throw new Error('queue is closed');
      const { concurrency, leaseMs } = resolveWorkerOptions(options);
      const connection = new Redis(opts.url, { maxRetriesPerRequest: null });
      connection.on('error', onError);
      const processor = async (bjob: BullJob<JsonValue>, token?: string): Promise<void> => {
        const job: Job = {
          id: String(bjob.id),
          queue,
          name: bjob.name,
          data: bjob.data,
          attempt: bjob.attemptsMade + 1,
          maxAttempts: bjob.opts.attempts ?? 1,
        };
        try {
          await handler(job);
        } catch (err) {
          if (err instanceof RetryLaterError && token !== undefined) {
            const delay = Math.min(MAX_DELAY_MS, Math.max(0, err.delayMs || 0));
            await bjob.moveToDelayed(Date.now() + delay, token);
            throw new DelayedError(err.message);
          }
          // BullMQ records `err.message`; a thrown string or object would leave lastError empty.
          throw err instanceof Error ? err : new Error(String(err));
        }
      };
      const worker = new Worker<JsonValue>(redisSafe(queue), processor, {
        connection,
        prefix,
        concurrency,
        lockDuration: leaseMs,
        stalledInterval: leaseMs,
        // BullMQ's default, stated because the adapter's doc comment promises it: a second stall is fatal.
        maxStalledCount: 1,
        settings: { backoffStrategy },
      });
      worker.on('error', onError);
      const wrapper: BullWorker = new BullWorker(worker, connection, () => workers.delete(wrapper));
      workers.add(wrapper);
      return wrapper;
    },

    async getJob(queue: string, id: string) {
      let job = await queueFor(queue).getJob(id);
      if (!job) return null;
      const raw = await job.getState();
      // A try that ended between the two reads: the job hash predates its finish, so read it again.
      if ((raw === 'completed' || raw === 'failed') && !job.finishedOn) job = (await queueFor(queue).getJob(id)) ?? job;
      const state = STATES[raw];
      return state ? toInfo(queue, job, state) : null;
    },

    async counts(queue: string): Promise<QueueCounts> {
      const c = await queueFor(queue).getJobCounts(
        'waiting',
        'prioritized',
        'waiting-children',
        'delayed',
        'active',
        'completed',
        'failed',
      );
      const n = (k: string): number => c[k] ?? 0;
      return {
        waiting: n('waiting') + n('prioritized') + n('waiting-children'),
        delayed: n('delayed'),
        active: n('active'),
        completed: n('completed'),
        dead: n('failed'),
      };
    },

    async listDead(queue: string, limit = 100) {
      if (limit <= 0) return [];
      const jobs = await queueFor(queue).getFailed(0, limit - 1);
      return jobs.filter((j) => j !== undefined).map((j) => toInfo(queue, j, 'dead'));
    },

    async retryDead(queue: string, id: string) {
      const job = await queueFor(queue).getJob(id);
      if (!job || (await job.getState()) !== 'failed') return false;
      try {
        await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        return true;
      } catch (err) {
        // Someone else revived or removed it first: not dead any more, which is what false means.
        if ((await job.getState()) !== 'failed') return false;
        throw err;
      }
    },

    async close() {
      closed = true;
      await Promise.all([...workers].map((w) => w.close()));
      await Promise.all([...queues.values()].map((q) => q.close()));
      queues.clear();
      await shared.quit().catch(() => shared.disconnect());
    },
  };
}
