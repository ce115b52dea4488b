/**
 * Background job handlers, started in the `worker` and `all` roles.
 * Every handler is idempotent: the queue delivers at least once.
 */
import type { AppContext } from '../context.ts';
import type { QueueWorker } from '../platform/queue/index.ts';
import { DEADLINE_QUEUE, GRADING_QUEUE } from './attempts/service.ts';

interface AttemptJob {
  attemptId: string;
}

function attemptId(data: unknown): string {
  const id = (data as Partial<AttemptJob> | null)?.attemptId;
  if (typeof id !== 'string') throw new Error('job data has no attemptId');
  return id;
}

export function registerJobHandlers(ctx: AppContext, opts: { concurrency: number; leaseMs: number }): QueueWorker[] {
  return [
    ctx.queue.work(
      GRADING_QUEUE,
      async (job) => {
        await ctx.attempts.grade(attemptId(job.data));
      },
      opts,
    ),
    ctx.queue.work(
      DEADLINE_QUEUE,
      async (job) => {
        await ctx.attempts.autoSubmit(attemptId(job.data));
      },
      opts,
    ),
  ];
}
