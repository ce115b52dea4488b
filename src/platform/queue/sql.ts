/**
 * Job queue on the application database: the `jobs` table (the embedded
 * default, and the fallback whenever REDIS_URL is not set). It relies only on
 * PostgreSQL semantics, so PGlite and PostgreSQL behave the same.
 *
 * How the port's guarantees are kept:
 * - A claim is a single `UPDATE … WHERE id IN (… FOR UPDATE SKIP LOCKED)`, so
 *   any number of workers in any number of processes claim without blocking
 *   each other and never take the same job twice.
 * - A claim spends the attempt up front. A worker that dies mid-run has used
 *   its try, so a job that crashes every worker it touches is dead-lettered
 *   after `maxAttempts` instead of taking workers down forever.
 * - A running handler's lease is renewed every `leaseMs / 3`; expired leases
 *   are reclaimed by whichever worker of that queue polls next.
 * - Writes that finish a job require `locked_by` and the attempt number the
 *   worker claimed with, so a worker that lost its lease (a long GC pause, a
 *   partition) cannot overwrite what the worker that took over recorded.
 * - All times come from the database clock (`now()`), so application nodes
 *   with skewed clocks still agree on what is due and which lease expired.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { sql, type Kysely, type UpdateObject } from 'kysely';
import type { Database, Db } from '../db/index.ts';
import type { JobStatus } from '../db/schema.ts';
import {
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
  type JsonValue,
  type QueueCounts,
  type QueueWorker,
  type WorkerOptions,
} from './index.ts';

export interface SqlQueueOptions {
  /** Prefix of `locked_by` (default host:pid:random), so operators can tell which process holds a job. */
  workerId?: string;
  /** How long an idle worker waits before looking for due jobs again (default 200 ms). */
  pollMs?: number;
  /** Errors that have no caller to reject (worker loop, heartbeat, result writes). */
  onError?: (err: unknown) => void;
}

/** Reclaiming expired leases is a sweep over other workers' jobs; once a second per worker is plenty. */
const RECLAIM_EVERY_MS = 1000;
/** After a database error, back off instead of hammering a database that is down. */
const ERROR_PAUSE_MS = 1000;
const MAX_ERROR_CHARS = 4000;
/** A job row binds 9 parameters; PostgreSQL allows 65,535 per statement. */
const MAX_ROWS_PER_INSERT = 5000;
const MAX_DELAY_MS = 2 ** 31 - 1;
const JOB_ID = /^\d{1,18}$/;

type Wake = () => void;
/** Workers in this process by database and queue, so `enqueue` can wake them instead of leaving the job to the next poll. */
const localWorkers = new WeakMap<Db, Map<string, Set<Wake>>>();

interface ClaimedRow {
  id: string;
  name: string;
  data: JsonValue;
  attempts: number;
  max_attempts: number;
  backoff_ms: number;
}

/** `now() + ms` on the database clock. */
const fromNow = (ms: number) => sql<Date>`now() + ${Math.round(ms)}::integer * interval '1 millisecond'`;

/** The message alone, as BullMQ records it, so `lastError` reads the same on both adapters. */
function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS)}…` : text;
}

const defaultOnError = (err: unknown): void => {
  console.error('[examday queue]', err);
};

/** The queue's SQL, one method per statement; the worker below only sequences them. */
class JobStore {
  constructor(private readonly k: Kysely<Database>) {}

  async claim(queue: string, lockedBy: string, limit: number, leaseMs: number): Promise<ClaimedRow[]> {
    // "No priority" is stored as 0 and runs first (BullMQ's rule); run_at then id keep FIFO within a
    // priority. jobs_claim_idx (0002) has exactly this order, so a claim reads a few index entries
    // instead of sorting the whole ready backlog. The limit is written into the SQL, not bound:
    // a named statement's generic plan cannot see a bound LIMIT, assumes a tenth of the
    // backlog, and hash-joins a scan of every job (measured: 19 ms instead of 0.5 ms per
    // claim with 8,900 jobs on PGlite, run on the event loop).
    const { rows } = await sql<ClaimedRow>`
      UPDATE jobs
         SET status = 'active', attempts = attempts + 1, locked_by = ${lockedBy}, locked_until = ${fromNow(leaseMs)}
       WHERE id IN (
         SELECT id FROM jobs
          WHERE queue = ${queue} AND status = 'waiting' AND run_at <= now()
          ORDER BY (priority = 0) DESC, priority, run_at, id
          LIMIT ${sql.lit(Math.max(1, Math.floor(limit)))}
          FOR UPDATE SKIP LOCKED)
      RETURNING id, name, data, attempts, max_attempts, backoff_ms`.execute(this.k);
    return rows;
  }

  /**
   * A cheap "is anything due?" for idle workers: led by run_at, it stays
   * instant however many delayed jobs wait (`ORDER BY` keeps the planner on
   * that index rather than a sequential scan past finished jobs).
   */
  async anyDue(queue: string): Promise<boolean> {
    const { rows } = await sql`
      SELECT run_at FROM jobs WHERE queue = ${queue} AND status = 'waiting' AND run_at <= now()
       ORDER BY run_at LIMIT 1`.execute(this.k);
    return rows.length > 0;
  }

  /** Jobs whose worker stopped renewing the lease go back to waiting, or to dead when that was their last try. */
  async reclaimExpired(queue: string): Promise<void> {
    await sql`
      UPDATE jobs
         SET status = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'waiting' END,
             finished_at = CASE WHEN attempts >= max_attempts THEN now() END,
             run_at = now(),
             last_error = 'lease expired: worker ' || coalesce(locked_by, '?') || ' stopped renewing it (crashed or stalled)',
             locked_by = NULL,
             locked_until = NULL
       WHERE queue = ${queue} AND status = 'active' AND locked_until < now()`.execute(this.k);
  }

  async extendLeases(ids: string[], lockedBy: string, leaseMs: number): Promise<void> {
    await this.k
      .updateTable('jobs')
      .set({ locked_until: fromNow(leaseMs) })
      .where('id', 'in', ids)
      .where('status', '=', 'active')
      .where('locked_by', '=', lockedBy)
      .execute();
  }

  /** Each method below returns false when this worker no longer holds the job's lease. */
  async complete(id: string, lockedBy: string, attempt: number): Promise<boolean> {
    const row = await this.#ownedUpdate(id, lockedBy, attempt, {
      status: 'completed',
      finished_at: sql<Date>`now()`,
    });
    return row !== undefined;
  }

  async fail(id: string, lockedBy: string, attempt: number, error: string, retryInMs: number): Promise<boolean> {
    const row = await this.#ownedUpdate(id, lockedBy, attempt, {
      status: sql<JobStatus>`CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'waiting' END`,
      finished_at: sql<Date | null>`CASE WHEN attempts >= max_attempts THEN now() END`,
      run_at: fromNow(retryInMs),
      last_error: error,
    });
    return row !== undefined;
  }

  /** Gives the attempt back: a Retry-After is the provider's doing, not the job failing. */
  async retryLater(id: string, lockedBy: string, attempt: number, error: string, delayMs: number): Promise<boolean> {
    const row = await this.#ownedUpdate(id, lockedBy, attempt, {
      status: 'waiting',
      attempts: sql<number>`attempts - 1`,
      run_at: fromNow(delayMs),
      last_error: error,
    });
    return row !== undefined;
  }

  #ownedUpdate(
    id: string,
    lockedBy: string,
    attempt: number,
    changes: UpdateObject<Database, 'jobs'>,
  ): Promise<{ id: string } | undefined> {
    return this.k
      .updateTable('jobs')
      .set(changes)
      .set({ locked_by: null, locked_until: null })
      .where('id', '=', id)
      .where('status', '=', 'active')
      .where('locked_by', '=', lockedBy)
      .where('attempts', '=', attempt)
      .returning('id')
      .executeTakeFirst();
  }
}

interface WorkerSettings {
  store: JobStore;
  queue: string;
  handler: JobHandler;
  lockedBy: string;
  concurrency: number;
  leaseMs: number;
  pollMs: number;
  onError: (err: unknown) => void;
  /** Called once the worker has stopped (closed or killed). */
  onStopped: () => void;
}

class SqlWorker implements QueueWorker {
  readonly #s: WorkerSettings;
  readonly #running = new Map<string, Promise<void>>();
  #state: 'running' | 'closing' | 'killed' = 'running';
  #sleeper: Wake | undefined;
  /** A wake-up that arrived while the loop was busy; the next sleep returns at once instead of missing it. */
  #woken = false;
  #renewing = false;
  #lastReclaim = 0;
  /** The last claim found nothing due. */
  #drained = false;
  readonly #loop: Promise<void>;
  readonly #heartbeat: NodeJS.Timeout;
  #closing: Promise<void> | undefined;

  constructor(settings: WorkerSettings) {
    this.#s = settings;
    this.#heartbeat = setInterval(() => void this.#renewLeases(), Math.max(20, Math.floor(settings.leaseMs / 3)));
    this.#loop = this.#pollLoop().catch(settings.onError);
  }

  /** Look for work now: a job was enqueued locally or a slot was freed. */
  wake = (): void => {
    if (this.#sleeper) this.#sleeper();
    else this.#woken = true;
  };

  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#state === 'running') this.#state = 'closing';
      this.wake();
      await this.#loop;
      // Keep renewing leases until the last handler is done, or another worker would take its job over.
      await Promise.all(this.#running.values());
      clearInterval(this.#heartbeat);
      this.#s.onStopped();
    })();
    return this.#closing;
  }

  async kill(): Promise<void> {
    this.#state = 'killed';
    clearInterval(this.#heartbeat);
    this.wake();
    await this.#loop;
    this.#s.onStopped();
  }

  /** A method, not an inline check, because the state changes across awaits and TypeScript keeps the narrowed type. */
  #killed(): boolean {
    return this.#state === 'killed';
  }

  async #pollLoop(): Promise<void> {
    const s = this.#s;
    while (this.#state === 'running') {
      const free = s.concurrency - this.#running.size;
      if (free <= 0) {
        await this.#sleep(undefined); // a finishing handler wakes us
        continue;
      }
      let pauseMs = s.pollMs;
      try {
        if (Date.now() - this.#lastReclaim >= RECLAIM_EVERY_MS) {
          this.#lastReclaim = Date.now();
          await s.store.reclaimExpired(s.queue);
        }
        // While the queue is busy, claim straight away; once it ran dry, probe before paying for a claim.
        if (!this.#drained || (await s.store.anyDue(s.queue))) {
          const rows = await s.store.claim(s.queue, s.lockedBy, free, s.leaseMs);
          // Claimed while being killed: leave them; their leases expire like a crashed worker's would.
          if (this.#killed()) return;
          for (const row of rows) this.#start(row);
          this.#drained = rows.length === 0;
          if (rows.length > 0) continue;
        }
      } catch (err) {
        s.onError(err);
        pauseMs = Math.max(s.pollMs, ERROR_PAUSE_MS);
      }
      await this.#sleep(pauseMs);
    }
  }

  #sleep(ms: number | undefined): Promise<void> {
    if (this.#woken || this.#state !== 'running') {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.#sleeper = undefined;
        this.#woken = false;
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(done, ms);
      this.#sleeper = done;
    });
  }

  #start(row: ClaimedRow): void {
    const job: Job = {
      id: row.id,
      queue: this.#s.queue,
      name: row.name,
      data: row.data,
      attempt: row.attempts,
      maxAttempts: row.max_attempts,
    };
    const done = this.#execute(job, row.backoff_ms).finally(() => {
      this.#running.delete(row.id);
      this.wake();
    });
    this.#running.set(row.id, done);
  }

  /** Never rejects: a failure to record the result is reported, and the expiring lease makes the job run again. */
  async #execute(job: Job, backoffMs: number): Promise<void> {
    const { store, lockedBy, onError, handler } = this.#s;
    let failure: { err: unknown } | undefined;
    try {
      await handler(job);
    } catch (err) {
      failure = { err };
    }
    if (this.#killed()) return;
    try {
      let recorded: boolean;
      if (!failure) {
        recorded = await store.complete(job.id, lockedBy, job.attempt);
      } else if (failure.err instanceof RetryLaterError) {
        const delay = Math.min(MAX_DELAY_MS, Math.max(0, failure.err.delayMs || 0));
        recorded = await store.retryLater(job.id, lockedBy, job.attempt, errorText(failure.err), delay);
      } else {
        const delay = backoffDelay(backoffMs, job.attempt);
        recorded = await store.fail(job.id, lockedBy, job.attempt, errorText(failure.err), delay);
      }
      if (!recorded) {
        onError(
          new Error(
            `job ${job.id} (queue ${job.queue}) lost its lease before its result was recorded; ` +
              'another worker has taken it over (is leaseMs shorter than event-loop stalls?)',
          ),
        );
      }
    } catch (err) {
      onError(err);
    }
  }

  async #renewLeases(): Promise<void> {
    if (this.#renewing || this.#running.size === 0 || this.#state === 'killed') return;
    this.#renewing = true;
    try {
      await this.#s.store.extendLeases([...this.#running.keys()], this.#s.lockedBy, this.#s.leaseMs);
    } catch (err) {
      this.#s.onError(err);
    } finally {
      this.#renewing = false;
    }
  }
}

interface JobRow {
  id: string;
  queue: string;
  name: string;
  data: JsonValue;
  status: JobStatus;
  attempts: number;
  last_error: string | null;
  created_at: Date;
  finished_at: Date | null;
  in_future: boolean;
}

function toInfo(row: JobRow): JobInfo {
  return {
    id: row.id,
    queue: row.queue,
    name: row.name,
    data: row.data,
    state: row.status === 'waiting' && row.in_future ? 'delayed' : row.status,
    attempts: row.attempts,
    lastError: row.last_error,
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}

/**
 * The queue instance does not own `db`: `close()` stops this instance's
 * workers and leaves the database to whoever opened it.
 */
export function createSqlQueue(db: Db, opts: SqlQueueOptions = {}): JobQueue {
  const k = db.kysely;
  const store = new JobStore(k);
  const instanceId = opts.workerId ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const pollMs = opts.pollMs ?? 200;
  const onError = opts.onError ?? defaultOnError;
  const workers = new Set<SqlWorker>();
  let workerSeq = 0;
  let closed = false;

  const registry = (): Map<string, Set<Wake>> => {
    let byQueue = localWorkers.get(db);
    if (!byQueue) localWorkers.set(db, (byQueue = new Map<string, Set<Wake>>()));
    return byQueue;
  };
  const nudge = (queue: string): void => {
    for (const wake of localWorkers.get(db)?.get(queue) ?? []) wake();
  };
  const selectInfo = () =>
    k
      .selectFrom('jobs')
      .select(['id', 'queue', 'name', 'status', 'attempts', 'last_error', 'created_at', 'finished_at'])
      .select((eb) => [eb.ref('data').$castTo<JsonValue>().as('data'), sql<boolean>`run_at > now()`.as('in_future')]);

  return {
    kind: 'sql',

    async enqueue(queue: string, name: string, data: JsonValue, options?: EnqueueOptions) {
      if (closed) throw new Error('queue is closed');
      const o = resolveEnqueueOptions(options);
      // Later of the two holds; GREATEST ignores the NULL when runAt is absent.
      const runAt = sql<Date>`GREATEST(${fromNow(o.delayMs)}, ${o.runAt?.toISOString() ?? null}::timestamptz)`;
      // Should the conflicting job be deleted between the two statements (a cleanup), the next round inserts.
      for (let round = 0; round < 3; round++) {
        const inserted = await k
          .insertInto('jobs')
          .values({
            queue,
            name,
            data: JSON.stringify(data),
            priority: o.priority,
            run_at: runAt,
            max_attempts: o.maxAttempts,
            backoff_ms: o.backoffMs,
            idempotency_key: o.idempotencyKey ?? null,
          })
          .onConflict((oc) => oc.columns(['queue', 'idempotency_key']).where('idempotency_key', 'is not', null).doNothing())
          .returning('id')
          .executeTakeFirst();
        if (inserted) {
          nudge(queue);
          return { id: inserted.id, created: true };
        }
        if (o.idempotencyKey === undefined) throw new Error(`enqueue on ${queue}: insert returned no row`);
        const existing = await k
          .selectFrom('jobs')
          .select('id')
          .where('queue', '=', queue)
          .where('idempotency_key', '=', o.idempotencyKey)
          .executeTakeFirst();
        if (existing) return { id: existing.id, created: false };
      }
      throw new Error(`enqueue on ${queue}: idempotency key ${o.idempotencyKey} kept conflicting with a vanishing job`);
    },

    async enqueueMany(queue: string, jobs: readonly BulkJob[]) {
      if (closed) throw new Error('queue is closed');
      if (jobs.length === 0) return;
      const rows = jobs.map((j) => {
        const o = resolveEnqueueOptions(j.opts);
        return {
          queue,
          name: j.name,
          data: JSON.stringify(j.data),
          priority: o.priority,
          run_at: sql<Date>`GREATEST(${fromNow(o.delayMs)}, ${o.runAt?.toISOString() ?? null}::timestamptz)`,
          max_attempts: o.maxAttempts,
          backoff_ms: o.backoffMs,
          idempotency_key: o.idempotencyKey ?? null,
        };
      });
      // ON CONFLICT DO NOTHING also skips a key repeated within one statement, or in an
      // earlier statement of the same transaction.
      const insert = (db: Kysely<Database>, chunk: typeof rows) =>
        db
          .insertInto('jobs')
          .values(chunk)
          .onConflict((oc) => oc.columns(['queue', 'idempotency_key']).where('idempotency_key', 'is not', null).doNothing())
          .execute();
      if (rows.length <= MAX_ROWS_PER_INSERT) {
        await insert(k, rows);
      } else {
        // One statement binds at most 65,535 parameters: a very large batch is several, all or none.
        await k.transaction().execute(async (tx) => {
          for (let i = 0; i < rows.length; i += MAX_ROWS_PER_INSERT) await insert(tx, rows.slice(i, i + MAX_ROWS_PER_INSERT));
        });
      }
      nudge(queue);
    },

    work(queue: string, handler: JobHandler, options: WorkerOptions = {}): QueueWorker {
      if (closed) throw new Error('queue is closed');
      const { concurrency, leaseMs } = resolveWorkerOptions(options);
      const wakers = registry().get(queue) ?? new Set<Wake>();
      registry().set(queue, wakers);
      const worker: SqlWorker = new SqlWorker({
        store,
        queue,
        handler,
        lockedBy: `${instanceId}#${++workerSeq}`,
        concurrency,
        leaseMs,
        pollMs,
        onError,
        onStopped: () => {
          wakers.delete(worker.wake);
          if (wakers.size === 0 && registry().get(queue) === wakers) registry().delete(queue);
          workers.delete(worker);
        },
      });
      wakers.add(worker.wake);
      workers.add(worker);
      return worker;
    },

    async getJob(queue: string, id: string) {
      if (!JOB_ID.test(id)) return null;
      const row = await selectInfo().where('queue', '=', queue).where('id', '=', id).executeTakeFirst();
      return row ? toInfo(row) : null;
    },

    async counts(queue: string): Promise<QueueCounts> {
      const { rows } = await sql<{ status: JobStatus; due: boolean; n: number }>`
        SELECT status, run_at <= now() AS due, count(*)::integer AS n
          FROM jobs WHERE queue = ${queue} GROUP BY 1, 2`.execute(k);
      const counts: QueueCounts = { waiting: 0, delayed: 0, active: 0, completed: 0, dead: 0 };
      for (const r of rows) counts[r.status === 'waiting' && !r.due ? 'delayed' : r.status] += r.n;
      return counts;
    },

    async listDead(queue: string, limit = 100) {
      const rows = await selectInfo()
        .where('queue', '=', queue)
        .where('status', '=', 'dead')
        .orderBy('finished_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute();
      return rows.map(toInfo);
    },

    async retryDead(queue: string, id: string) {
      if (!JOB_ID.test(id)) return false;
      const row = await k
        .updateTable('jobs')
        .set({ status: 'waiting', attempts: 0, run_at: sql<Date>`now()`, finished_at: null, locked_by: null, locked_until: null })
        .where('queue', '=', queue)
        .where('id', '=', id)
        .where('status', '=', 'dead')
        .returning('id')
        .executeTakeFirst();
      if (row) nudge(queue);
      return row !== undefined;
    },

    async close() {
      closed = true;
      await Promise.all([...workers].map((w) => w.close()));
    },
  };
}
