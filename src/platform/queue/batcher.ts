/**
 * Jobs enqueued in the same turn of the event loop go to the queue in one
 * `enqueueMany` call (one Redis MULTI or one INSERT). At exam start and end
 * thousands of deadline and grading jobs arrive within seconds; batching them
 * turns a round trip per request into a few per second. Each `add` resolves
 * once its batch is stored, so callers keep the queue's durability promise.
 */
import { TurnBuffer } from '../../lib/turn-buffer.ts';
import type { BulkJob, JobQueue } from './index.ts';

export class EnqueueBatcher {
  readonly #jobs: TurnBuffer<{ job: BulkJob; resolve: () => void; reject: (e: unknown) => void }>;

  constructor(queue: JobQueue, queueName: string, maxBatch = 1000) {
    this.#jobs = new TurnBuffer((chunk) => {
      queue
        .enqueueMany(
          queueName,
          chunk.map((p) => p.job),
        )
        .then(
          () => {
            for (const p of chunk) p.resolve();
          },
          (err: unknown) => {
            for (const p of chunk) p.reject(err);
          },
        );
    }, maxBatch);
  }

  add(job: BulkJob): Promise<void> {
    return new Promise((resolve, reject) => this.#jobs.push({ job, resolve, reject }));
  }
}
