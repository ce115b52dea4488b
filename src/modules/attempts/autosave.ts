/**
 * Group commit for autosave. Answers from many candidates are collected for a
 * few milliseconds and written in one multi-row upsert; each caller's promise
 * resolves only after the transaction that holds its answers has committed, so
 * an acknowledged answer is durable whatever happens to this process next.
 *
 * The upsert keeps the highest `seq` per (attempt, question): a retried or
 * reordered request can never overwrite a newer answer. Rows whose attempt is
 * no longer in progress (submitted, or past deadline + grace) are refused in
 * the same statement; `FOR SHARE` on the attempt row orders each batch against
 * a concurrent submit, so nothing is accepted after the attempt was closed.
 *
 * Up to `concurrency` batches are written at once, so answers that arrive
 * while one batch waits for its commit (an fsync) go out in the next batch
 * straight away instead of waiting for it. Two batches holding the same
 * answer are safe in either order: the row lock orders them and the higher
 * `seq` wins.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.ts';

export interface AnswerRow {
  attemptId: string;
  questionId: string;
  /** JSON-serialisable answer value. */
  value: unknown;
  seq: number;
}

export interface SaveOutcome {
  /** Keys `${attemptId}/${questionId}` of rows the attempt no longer accepts. */
  refused: Set<string>;
}

interface Pending {
  rows: AnswerRow[];
  resolve: (o: SaveOutcome) => void;
  reject: (e: unknown) => void;
}

export interface AutosaveWriterOptions {
  flushMs: number;
  maxBatch: number;
  graceS: number;
  /** Batches written at the same time (default 2). */
  concurrency?: number;
  onBatch?: (rows: number) => void;
}

export const answerKey = (attemptId: string, questionId: string): string => `${attemptId}/${questionId}`;

export class AutosaveWriter {
  #queue: Pending[] = [];
  #queuedRows = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #flushing = new Set<Promise<void>>();
  readonly #concurrency: number;
  #closed = false;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly opts: AutosaveWriterOptions,
  ) {
    this.#concurrency = Math.max(1, opts.concurrency ?? 2);
  }

  /** Resolves once every row is committed (or refused because its attempt is closed). */
  save(rows: AnswerRow[]): Promise<SaveOutcome> {
    if (this.#closed) return Promise.reject(new Error('autosave writer is closed'));
    return new Promise<SaveOutcome>((resolve, reject) => {
      this.#queue.push({ rows, resolve, reject });
      this.#queuedRows += rows.length;
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#queue.length === 0 || this.#flushing.size >= this.#concurrency) return; // a finishing batch re-schedules
    if (this.#queuedRows >= this.opts.maxBatch || this.opts.flushMs === 0) {
      this.#start();
    } else {
      // Wait a few milliseconds so the answers of many candidates share one commit.
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        if (this.#queue.length > 0 && this.#flushing.size < this.#concurrency) this.#start();
      }, this.opts.flushMs);
    }
  }

  #start(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch: Pending[] = [];
    let n = 0;
    while (this.#queue.length > 0 && (n === 0 || n + this.#queue[0]!.rows.length <= this.opts.maxBatch)) {
      const p = this.#queue.shift()!;
      batch.push(p);
      n += p.rows.length;
    }
    this.#queuedRows -= n;
    const done: Promise<void> = this.#write(batch.flatMap((p) => p.rows)).then(
      (refused) => {
        this.opts.onBatch?.(n);
        for (const p of batch) p.resolve({ refused });
      },
      (err: unknown) => {
        for (const p of batch) p.reject(err);
      },
    );
    const tracked = done.finally(() => {
      this.#flushing.delete(tracked);
      this.#schedule();
    });
    this.#flushing.add(tracked);
    // More than a batch waiting: use the other slots now.
    if (this.#queuedRows >= this.opts.maxBatch) this.#schedule();
  }

  async #write(rows: AnswerRow[]): Promise<Set<string>> {
    // Within one batch keep only the highest seq per key: a multi-row upsert
    // may not touch the same row twice.
    const latest = new Map<string, AnswerRow>();
    for (const r of rows) {
      const k = answerKey(r.attemptId, r.questionId);
      const prev = latest.get(k);
      if (!prev || prev.seq < r.seq) latest.set(k, r);
    }
    const list = [...latest.values()];
    const attemptIds = list.map((r) => r.attemptId);
    const questionIds = list.map((r) => r.questionId);
    const values = list.map((r) => JSON.stringify(r.value ?? null));
    const seqs = list.map((r) => r.seq);
    const accepted = await sql<{ attempt_id: string; question_id: string }>`
      WITH input AS (
        SELECT * FROM unnest(${attemptIds}::uuid[], ${questionIds}::text[], ${values}::jsonb[], ${seqs}::int[])
          AS u(attempt_id, question_id, value, seq)
      ), open_attempts AS (
        SELECT a.id FROM attempts a
        WHERE a.id IN (SELECT DISTINCT attempt_id FROM input)
          AND a.status = 'in_progress'
          AND now() <= a.deadline_at + make_interval(secs => ${this.opts.graceS})
        FOR SHARE
      ), valid AS (
        SELECT i.* FROM input i JOIN open_attempts o ON o.id = i.attempt_id
      ), written AS (
        INSERT INTO responses (attempt_id, question_id, value, seq, saved_at)
        SELECT attempt_id, question_id, value, seq, now() FROM valid
        -- One lock order for every batch (in this process and in others), so
        -- two batches touching the same answers wait for each other, never deadlock.
        ORDER BY attempt_id, question_id
        ON CONFLICT (attempt_id, question_id) DO UPDATE
          SET value = excluded.value, seq = excluded.seq, saved_at = excluded.saved_at
          WHERE responses.seq < excluded.seq
        RETURNING 1
      )
      SELECT attempt_id::text, question_id FROM valid`.execute(this.db);
    const ok = new Set(accepted.rows.map((r) => answerKey(r.attempt_id, r.question_id)));
    const refused = new Set<string>();
    for (const k of latest.keys()) if (!ok.has(k)) refused.add(k);
    return refused;
  }

  /** Write everything queued so far. */
  async flush(): Promise<void> {
    while (this.#queue.length > 0 || this.#flushing.size > 0) {
      if (this.#queue.length > 0 && this.#flushing.size < this.#concurrency) {
        this.#start();
        continue;
      }
      await Promise.race(this.#flushing);
    }
  }

  /** Flush pending writes, then refuse new ones (graceful shutdown). */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }
}
