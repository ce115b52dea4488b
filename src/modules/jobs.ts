/**
 * Background job handlers, started in the `worker` and `all` roles.
 * Every handler is idempotent: the queue delivers at least once.
 */
import type { LoadGate } from '../lib/load-gate.ts';
import type { JobQueue, QueueWorker } from '../platform/queue/index.ts';
import { parseDeadlineJob } from './attempts/deadlines.ts';
import { DEADLINE_QUEUE, GRADING_QUEUE, type AttemptService } from './attempts/service.ts';
import { PIPELINE_QUEUE } from './materials/pipeline.ts';
import type { MaterialService } from './materials/service.ts';

/** A grading job's attempts: `{ attemptIds }`, or `{ attemptId }` as jobs queued before batches carried. */
function gradingAttempts(data: unknown): string[] {
  const d = data as { attemptId?: unknown; attemptIds?: unknown } | null;
  if (Array.isArray(d?.attemptIds) && d.attemptIds.every((id) => typeof id === 'string')) return d.attemptIds;
  if (typeof d?.attemptId === 'string') return [d.attemptId];
  throw new Error('job data has no attemptIds');
}

const SWEEP_EVERY_MS = 60_000;

export function registerJobHandlers(
  ctx: { queue: JobQueue; attempts: AttemptService; materials: MaterialService; log: { error(o: object, msg: string): void } },
  opts: { concurrency: number; leaseMs: number },
  /** In a process that also answers requests: gradings wait while it is busy (submits come first). */
  gate?: LoadGate,
): QueueWorker[] {
  // Every worker sweeps now and then; closing an attempt is idempotent, so
  // several workers sweeping at once only repeat a cheap query.
  const sweeper = setInterval(() => {
    ctx.attempts.sweepExpired().catch((err: unknown) => ctx.log.error({ err }, 'deadline sweep failed'));
  }, SWEEP_EVERY_MS);
  sweeper.unref();
  return [
    { close: async () => clearInterval(sweeper) },
    ctx.queue.work(
      GRADING_QUEUE,
      async (job) => {
        await gate?.whenCalm();
        await ctx.attempts.grade(gradingAttempts(job.data));
      },
      opts,
    ),
    ctx.queue.work(
      DEADLINE_QUEUE,
      async (job) => {
        const d = parseDeadlineJob(job.data);
        if ('attemptId' in d) await ctx.attempts.autoSubmit(d.attemptId);
        else await ctx.attempts.autoSubmitDue(d.sessionId, d.dueBy);
      },
      opts,
    ),
    // PDF extraction, question generation, finalize and retention (materials/pipeline.ts).
    ctx.queue.work(PIPELINE_QUEUE, (job) => ctx.materials.runJob(job), opts),
  ];
}
