/**
 * The admin's operations view: queue depths and dead letters, the AI
 * provider's budget and circuit breaker, attempts in flight, and this
 * process's HTTP latency. Everything is read on request; nothing is cached,
 * so two admins polling see the same live numbers.
 */
import { sql, type Kysely } from 'kysely';
import type { Histogram } from 'prom-client';
import { AppError } from '../../http/errors.ts';
import type { BudgetLimits, ProviderBudget } from '../../platform/budget/index.ts';
import type { Database } from '../../platform/db/schema.ts';
import type { JobInfo, JobQueue } from '../../platform/queue/index.ts';
import type { BreakerState } from '../materials/breaker.ts';
import { latencySummary } from './latency.ts';
import type { BreakerStateName, OperationsView } from './schema.ts';

export interface OperationsDeps {
  db: Kysely<Database>;
  queue: JobQueue;
  queues: readonly string[];
  budget: ProviderBudget;
  limits: BudgetLimits;
  /** This process's breaker (it lives in the content pipeline, one per process). */
  breakerState: () => BreakerState;
  httpDuration: Histogram<string>;
}

const DEAD_LETTERS_SHOWN = 50;

const BREAKER_NAMES: { readonly [S in BreakerState]: BreakerStateName } = { closed: 'closed', open: 'open', half_open: 'half-open' };

export function createOperationsService(deps: OperationsDeps) {
  const { db, queue } = deps;

  async function deadLetters(): Promise<OperationsView['deadLetters']> {
    const perQueue = await Promise.all(deps.queues.map((name) => queue.listDead(name, DEAD_LETTERS_SHOWN)));
    return mergeNewestFirst(perQueue, DEAD_LETTERS_SHOWN).map((job) => ({
      queue: job.queue,
      id: job.id,
      name: job.name,
      attempts: job.attempts,
      error: job.lastError,
      failedAt: job.finishedAt?.toISOString() ?? null,
      createdAt: job.createdAt.toISOString(),
    }));
  }

  async function attempts(): Promise<OperationsView['attempts']> {
    const { rows } = await sql<{ active: number; submitted_last_hour: number }>`
      SELECT count(*) FILTER (WHERE status = 'in_progress')::int AS active,
             count(*) FILTER (WHERE submitted_at > now() - interval '1 hour')::int AS submitted_last_hour
      FROM attempts`.execute(db);
    const r = rows[0];
    return { active: r?.active ?? 0, submittedLastHour: r?.submitted_last_hour ?? 0 };
  }

  return {
    async overview(): Promise<OperationsView> {
      const [queues, dead, usage, attemptCounts, http] = await Promise.all([
        Promise.all(deps.queues.map(async (name) => ({ queue: name, ...(await queue.counts(name)) }))),
        deadLetters(),
        deps.budget.usage(),
        attempts(),
        latencySummary(deps.httpDuration),
      ]);
      return {
        queues: queues.map((q) => ({ queue: q.queue, waiting: q.waiting, active: q.active, delayed: q.delayed, dead: q.dead, completed: q.completed })),
        deadLetters: dead,
        ai: {
          ...usage,
          limits: { ...deps.limits },
          breaker: BREAKER_NAMES[deps.breakerState()],
        },
        attempts: attemptCounts,
        http,
      };
    },

    /** Put a dead job back in its queue with a fresh attempt budget. */
    async retryDeadLetter(queueName: string, id: string): Promise<void> {
      if (!deps.queues.includes(queueName)) throw new AppError('validation_failed', `unknown queue "${queueName}"; use one of ${deps.queues.join(', ')}`);
      if (!(await queue.retryDead(queueName, id))) throw new AppError('not_found', `queue ${queueName} has no dead job ${id}`);
    },
  };
}

/**
 * Each queue lists its dead jobs newest failure first, so the newest `limit`
 * overall are among each list's first `limit`. The port dates a job by its
 * creation only, so the merge keeps each queue's own order and interleaves
 * the queues by creation time.
 */
const failedTime = (job: JobInfo): number => (job.finishedAt ?? job.createdAt).getTime();

function mergeNewestFirst(lists: JobInfo[][], limit: number): JobInfo[] {
  const cursors = lists.map((jobs) => ({ jobs, at: 0 }));
  const out: JobInfo[] = [];
  while (out.length < limit) {
    let next: { job: JobInfo; cursor: (typeof cursors)[number] } | undefined;
    for (const cursor of cursors) {
      const job = cursor.jobs[cursor.at];
      if (job && (!next || failedTime(job) > failedTime(next.job))) next = { job, cursor };
    }
    if (!next) break;
    out.push(next.job);
    next.cursor.at++;
  }
  return out;
}

export type OperationsService = ReturnType<typeof createOperationsService>;
