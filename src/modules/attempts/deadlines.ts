/**
 * Deadline jobs: one per session and five-second window of deadlines, not one
 * per attempt. At 09:00 a whole session starts within a minute, so its
 * deadlines fall into a dozen windows; each process queues a window's job once
 * (the job's idempotency key makes the other processes' copies no-ops) and
 * every later start in the same window only waits for that job to be stored.
 * A start storm of 40,000 candidates thus queues a few hundred delayed jobs
 * instead of 40,000, and the end of the exam runs as many, each closing a
 * window's attempts in batches. The worker's sweep (`sweepExpired`) remains
 * the safety net for anything a job missed.
 */
import type { EnqueueBatcher } from '../../platform/queue/batcher.ts';

/** Deadlines are grouped into windows this long; a window's job runs at its end + grace. */
export const DEADLINE_WINDOW_MS = 5_000;

/** Close the session's attempts still open whose deadline is at or before `dueBy`. */
export interface WindowJob {
  sessionId: string;
  /** ISO timestamp: the window's end. */
  dueBy: string;
}

/** One attempt (jobs queued before windows existed; still honoured). */
export interface AttemptJob {
  attemptId: string;
}

export function parseDeadlineJob(data: unknown): WindowJob | AttemptJob {
  const d = (data ?? {}) as Partial<WindowJob & AttemptJob>;
  if (typeof d.sessionId === 'string' && typeof d.dueBy === 'string' && !Number.isNaN(Date.parse(d.dueBy))) {
    return { sessionId: d.sessionId, dueBy: d.dueBy };
  }
  if (typeof d.attemptId === 'string') return { attemptId: d.attemptId };
  throw new Error('deadline job has neither sessionId and dueBy nor attemptId');
}

export class DeadlineScheduler {
  /** Windows this process has queued (or is queuing), in insertion order; dropped once past. */
  readonly #queued = new Map<string, { runAtMs: number; stored: Promise<void> }>();

  constructor(
    private readonly jobs: EnqueueBatcher,
    private readonly graceS: number,
  ) {}

  /** Resolves once a job that will close this attempt at its deadline + grace is stored. */
  schedule(sessionId: string, deadline: Date): Promise<void> {
    const dueByMs = Math.ceil(deadline.getTime() / DEADLINE_WINDOW_MS) * DEADLINE_WINDOW_MS;
    const key = `deadline-${sessionId}-${dueByMs}`;
    const known = this.#queued.get(key);
    if (known) return known.stored;
    this.#forgetPast();
    const runAtMs = dueByMs + this.graceS * 1000;
    const stored = this.jobs.add({
      name: 'auto-submit-due',
      data: { sessionId, dueBy: new Date(dueByMs).toISOString() } satisfies WindowJob,
      opts: { runAt: new Date(runAtMs), idempotencyKey: key, priority: 1 },
    });
    this.#queued.set(key, { runAtMs, stored });
    // A failed enqueue fails the starts waiting on it; the next start tries again.
    stored.catch(() => this.#queued.delete(key));
    return stored;
  }

  #forgetPast(): void {
    const now = Date.now();
    for (const [key, w] of this.#queued) {
      if (w.runAtMs > now) continue;
      this.#queued.delete(key);
    }
  }
}
