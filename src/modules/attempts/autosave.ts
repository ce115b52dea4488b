/**
 * Group commit for autosave and submit. Answers from many candidates are
 * collected for a few milliseconds and written in one multi-row upsert; each
 * caller's promise
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
 *
 * Submits go through the same queue, so at the end of an exam thousands of
 * them share a few statements instead of a commit each. A submit is written
 * after every answer queued before it: its batch upserts its answers first,
 * then waits for the batches already in flight, then closes its attempts in
 * one UPDATE that also returns their saved answers, serialised. Attempt
 * rows are locked in id order by both statements, so batches from several
 * processes wait for each other but never deadlock.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../platform/db/schema.ts';
import { answersJson } from './answers-json.ts';

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

export type SubmitReason = 'candidate' | 'deadline';

/** An attempt as the submit that closed it left it, with every saved answer. */
export interface SubmittedAttempt {
  id: string;
  booking_id: string;
  session_id: string;
  started_at: Date;
  deadline_at: Date;
  submitted_at: Date;
  /** Its saved answers as a JSON array (answers-json.ts). */
  answers_json: string;
}

type Pending =
  | { kind: 'answers'; rows: AnswerRow[]; resolve: (o: SaveOutcome) => void; reject: (e: unknown) => void }
  | {
      kind: 'submit';
      attemptId: string;
      reason: SubmitReason;
      /** The closed attempt, or null when it was no longer in progress. */
      resolve: (a: SubmittedAttempt | null) => void;
      reject: (e: unknown) => void;
    };

const sizeOf = (p: Pending): number => (p.kind === 'answers' ? p.rows.length : 1);

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
      this.#enqueue({ kind: 'answers', rows, resolve, reject });
    });
  }

  /**
   * Close an attempt once everything queued before this call is written.
   * Resolves with the closed attempt, or null when it was not in progress
   * (already submitted by another request or process).
   */
  submit(attemptId: string, reason: SubmitReason): Promise<SubmittedAttempt | null> {
    if (this.#closed) return Promise.reject(new Error('autosave writer is closed'));
    return new Promise<SubmittedAttempt | null>((resolve, reject) => {
      this.#enqueue({ kind: 'submit', attemptId, reason, resolve, reject });
    });
  }

  #enqueue(p: Pending): void {
    this.#queue.push(p);
    this.#queuedRows += sizeOf(p);
    this.#schedule();
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
    while (this.#queue.length > 0 && (n === 0 || n + sizeOf(this.#queue[0]!) <= this.opts.maxBatch)) {
      const p = this.#queue.shift()!;
      batch.push(p);
      n += sizeOf(p);
    }
    this.#queuedRows -= n;
    const before = [...this.#flushing];
    const done: Promise<void> = this.#writeBatch(batch, before).catch((err: unknown) => {
      for (const p of batch) p.reject(err);
    });
    const tracked = done.finally(() => {
      this.#flushing.delete(tracked);
      this.#schedule();
    });
    this.#flushing.add(tracked);
    // More than a batch waiting: use the other slots now.
    if (this.#queuedRows >= this.opts.maxBatch) this.#schedule();
  }

  async #writeBatch(batch: Pending[], before: Promise<void>[]): Promise<void> {
    const rows: AnswerRow[] = [];
    const submits: Extract<Pending, { kind: 'submit' }>[] = [];
    for (const p of batch) {
      if (p.kind === 'answers') rows.push(...p.rows);
      else submits.push(p);
    }
    if (rows.length > 0) {
      const refused = await this.#writeAnswers(rows);
      this.opts.onBatch?.(rows.length);
      for (const p of batch) if (p.kind === 'answers') p.resolve({ refused });
    }
    if (submits.length > 0) {
      // Answers queued before these submits may sit in a batch still in flight.
      await Promise.all(before);
      const closed = await this.#writeSubmits(submits);
      for (const p of submits) p.resolve(closed.get(p.attemptId.toLowerCase()) ?? null);
    }
  }

  async #writeSubmits(submits: { attemptId: string; reason: SubmitReason }[]): Promise<Map<string, SubmittedAttempt>> {
    const reasons = new Map<string, SubmitReason>();
    for (const s of submits) reasons.set(s.attemptId.toLowerCase(), s.reason);
    const ids = [...reasons.keys()];
    const rows = await sql<SubmittedAttempt>`
      WITH input AS (
        SELECT * FROM unnest(${ids}::uuid[], ${[...reasons.values()]}::text[]) AS u(id, reason)
      ), locked AS (
        SELECT a.id FROM attempts a
        WHERE a.id IN (SELECT id FROM input) AND a.status = 'in_progress'
        ORDER BY a.id
        FOR UPDATE
      ), closed AS (
        UPDATE attempts a SET status = 'submitted', submitted_at = now(), submit_reason = i.reason
        FROM input i
        WHERE a.id = i.id AND a.id IN (SELECT id FROM locked)
        RETURNING a.id, a.booking_id, a.session_id, a.started_at, a.deadline_at, a.submitted_at
      )
      SELECT c.id::text AS id, c.booking_id::text AS booking_id, c.session_id::text AS session_id,
             c.started_at, c.deadline_at, c.submitted_at, ${answersJson('c.id')} AS answers_json
      FROM closed c`.execute(this.db);
    return new Map(rows.rows.map((r) => [r.id, r]));
  }

  async #writeAnswers(rows: AnswerRow[]): Promise<Set<string>> {
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
        ORDER BY a.id
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
