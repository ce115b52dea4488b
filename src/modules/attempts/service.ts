/**
 * Timed attempts: start inside the session window, paper, autosave, resume,
 * submit, auto-submit at the deadline, results by release policy. The parts
 * live beside it: the start storm's insert (start.ts), the hot path's cache
 * of attempt facts (facts.ts), the group-commit writer (autosave.ts), the
 * attempt's JSON view (views.ts), results (results.ts) and the grading job
 * (grading.ts).
 */
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../../platform/db/schema.ts';
import { EnqueueBatcher } from '../../platform/queue/batcher.ts';
import type { JobQueue } from '../../platform/queue/index.ts';
import type { Metrics } from '../../platform/metrics.ts';
import { AppError, notFound } from '../../http/errors.ts';
import { TurnBatcher } from '../../lib/turn-batcher.ts';
import { isUuid } from '../../lib/uuid.ts';
import type { Principal } from '../auth/tokens.ts';
import { parseResponse } from '../questions/model.ts';
import { AutosaveWriter, answerKey, type AnswerRow, type SubmitReason, type SubmittedAttempt } from './autosave.ts';
import { DeadlineScheduler } from './deadlines.ts';
import { AttemptFactsCache, type AttemptFacts } from './facts.ts';
import { gradeAttempts } from './grading.ts';
import { PaperCache, renderPaper, type Paper } from './papers.ts';
import { createResultReader, firstResultAskS } from './results.ts';
import { insertAttempts, type StartInput, type StartedRow } from './start.ts';
import { createViewReader, viewJson, withPaper } from './views.ts';

export const GRADING_QUEUE = 'grading';
/** Most attempts one grading job carries. */
export const GRADE_BATCH = 100;
/** Longest a closed attempt waits for its grading job to be queued. */
const GRADE_FLUSH_MS = 200;
export const DEADLINE_QUEUE = 'attempt-deadline';

export interface AttemptServiceDeps {
  db: Kysely<Database>;
  queue: JobQueue;
  metrics: Metrics;
  log: Logger;
  graceS: number;
  flushMs: number;
  maxBatch: number;
  /**
   * Whether gradings are being held back right now (the job worker's
   * LoadGate is busy): a submit then tells the result page to ask only after
   * the hold. Without it, gradings are taken to run at once.
   */
  gradingsHeld?: () => boolean;
}

export interface AnswerInput {
  questionId: string;
  value: unknown;
  seq: number;
}

/** A started (or already started) attempt: its id, and its AttemptView as JSON text. */
interface StartedView {
  id: string;
  json: string;
}

/** A submitted attempt still ungraded after this gets its grading job queued again. */
const STRANDED_GRADING_MS = 10 * 60_000;

export function createAttemptService(deps: AttemptServiceDeps) {
  const { db, queue, graceS, log } = deps;
  const papers = new PaperCache(db);
  const writer = new AutosaveWriter(db, {
    flushMs: deps.flushMs,
    maxBatch: deps.maxBatch,
    graceS,
    onBatch: (n) => deps.metrics.autosaveBatch.observe(n),
  });
  const facts = new AttemptFactsCache(db, papers, graceS);
  const view = createViewReader(db);
  const resultOf = createResultReader(db);

  /** The attempt if this principal may see it: its candidate, the session's author, or an admin. */
  async function authorize(p: Principal, attemptId: string): Promise<AttemptFacts> {
    if (!isUuid(attemptId)) throw notFound('attempt');
    const f = await facts.get(attemptId);
    if (!f) throw notFound('attempt');
    if (p.role === 'admin' || f.candidateId === p.id) return f;
    if (p.role === 'author') {
      const own = await db
        .selectFrom('exam_sessions')
        .select('id')
        .where('id', '=', f.sessionId)
        .where('owner_id', '=', p.id)
        .executeTakeFirst();
      if (own) return f;
    }
    throw notFound('attempt');
  }

  function requireCandidate(p: Principal, f: AttemptFacts): void {
    if (f.candidateId !== p.id) throw new AppError('forbidden', 'only the candidate can change their attempt');
  }

  const isOpen = (f: AttemptFacts): boolean => f.status === 'in_progress' && Date.now() <= f.deadlineMs + graceS * 1000;

  /** Validated rows for the writer; throws before anything is queued. */
  function answerRows(f: AttemptFacts, paper: Paper, answers: AnswerInput[]): AnswerRow[] {
    return answers.map((a) => {
      if (!f.questionIds.has(a.questionId)) {
        throw new AppError('validation_failed', `question ${a.questionId} is not part of this attempt`);
      }
      const q = paper.content.questions[a.questionId]!;
      const parsed = a.value === null ? { ok: true as const, value: null } : parseResponse(q, a.value);
      if (!parsed.ok) throw new AppError('validation_failed', `answer to ${a.questionId}: ${parsed.error}`);
      return { attemptId: f.id, questionId: a.questionId, value: parsed.value, seq: a.seq };
    });
  }

  /** Queue rows for the next group commit; resolves once committed, or throws attempt_closed if refused. */
  async function writeAnswers(f: AttemptFacts, rows: AnswerRow[]): Promise<{ questionId: string; seq: number }[]> {
    const { refused } = await writer.save(rows);
    if (rows.some((r) => refused.has(answerKey(r.attemptId, r.questionId)))) {
      facts.forget(f.id);
      throw new AppError('attempt_closed', 'the attempt was submitted or its time ran out; these answers were not saved');
    }
    return rows.map((r) => ({ questionId: r.questionId, seq: r.seq }));
  }

  // Deadline and grading jobs of requests finishing in the same turn go to the queue together.
  const deadlines = new DeadlineScheduler(new EnqueueBatcher(queue, DEADLINE_QUEUE), graceS);
  /**
   * Gradings are queued in the background, up to GRADE_BATCH attempts per job
   * and at most GRADE_FLUSH_MS after the first: a submit is acknowledged once
   * the attempt is closed in the database, without waiting for the queue. A
   * grading lost to a crash or a queue outage is queued again by the sweep
   * (STRANDED_GRADING_MS).
   */
  const pendingGrades: string[] = [];
  let gradeTimer: NodeJS.Timeout | undefined;
  async function flushGrades(): Promise<void> {
    clearTimeout(gradeTimer);
    gradeTimer = undefined;
    while (pendingGrades.length > 0) {
      const attemptIds = pendingGrades.splice(0, GRADE_BATCH);
      try {
        await queue.enqueue(GRADING_QUEUE, 'grade', { attemptIds }, { priority: 1 });
      } catch (err) {
        log.error({ err, attempts: attemptIds.length }, 'gradings not queued; the sweep queues them again');
      }
    }
  }
  function queueGrading(attemptId: string): void {
    pendingGrades.push(attemptId);
    if (pendingGrades.length >= GRADE_BATCH) void flushGrades();
    else gradeTimer ??= setTimeout(() => void flushGrades(), GRADE_FLUSH_MS).unref();
  }

  /**
   * Close an attempt after every answer this process acknowledged or queued
   * for it, and queue its grading. Returns the closed attempt, or null when
   * it was not in progress any more.
   */
  async function closeAttempt(attemptId: string, reason: SubmitReason): Promise<SubmittedAttempt | null> {
    const closed = await writer.submit(attemptId, reason);
    // Closed here, the new status is known; closed elsewhere, it is read again (facts.ts).
    if (closed) facts.markSubmitted(attemptId);
    else facts.forget(attemptId);
    if (closed) queueGrading(closed.id);
    return closed;
  }

  /** Make sure the deadline's auto-submit is queued and remember a new attempt's facts; the view to answer with. */
  async function started(row: StartedRow): Promise<StartedView> {
    await deadlines.schedule(row.session_id, row.deadline_at);
    const full = { ...row, status: 'in_progress' as const, submitted_at: null };
    // The paper and the first autosaves usually follow on this process.
    await facts.remember(full);
    return { id: row.id, json: viewJson(full, '[]') };
  }

  /**
   * The common case in one statement: the candidate's own active booking, its
   * session open now, no attempt yet. The attempt is inserted straight from
   * the booking, its session and the paper's time limit, holding the booking
   * FOR SHARE so a concurrent cancel either waits for this attempt (and is
   * refused) or wins first (and no attempt is created). Undefined when any of
   * that does not hold; `startChecked` then says which. At 09:00 every
   * candidate starts within a minute: one round trip instead of two.
   */
  async function startAtOnce(p: Principal, bookingId: string): Promise<StartedView | undefined> {
    const a = await starts.run({ bookingId: bookingId.toLowerCase(), candidateId: p.id });
    return a && started(a);
  }

  /** `startAtOnce` for the starts of one turn, in one statement (start.ts). */
  const starts = new TurnBatcher((inputs: StartInput[]) => insertAttempts(db, inputs));

  /** Start with every check spelled out: the path of a repeat, a cancelled booking or a closed session, each with its answer. */
  async function startChecked(p: Principal, bookingId: string): Promise<StartedView> {
    const b = await db
      .selectFrom('bookings as b')
      .innerJoin('exam_sessions as s', 's.id', 'b.session_id')
      .leftJoin('attempts as a', 'a.booking_id', 'b.id')
      .select([
        'b.id',
        'b.candidate_id',
        'b.status',
        's.starts_at',
        's.ends_at',
        'a.id as attempt_id',
      ])
      .where('b.id', '=', bookingId)
      .executeTakeFirst();
    if (!b || b.candidate_id !== p.id) throw notFound('booking');
    if (b.attempt_id) return { id: b.attempt_id, json: await view(b.attempt_id) };
    if (b.status !== 'active') throw new AppError('conflict', 'this booking was cancelled');
    const now = Date.now();
    if (now < b.starts_at.getTime() || now >= b.ends_at.getTime()) {
      throw new AppError(
        'session_not_open',
        `the session is open from ${b.starts_at.toISOString()} to ${b.ends_at.toISOString()}`,
      );
    }
    const a = await startAtOnce(p, bookingId);
    if (a) return a;
    // Another request started it a moment ago, or the booking was cancelled, or the session just closed.
    const raced = await db.selectFrom('attempts').select('id').where('booking_id', '=', bookingId).executeTakeFirst();
    if (!raced) throw new AppError('conflict', 'this booking was cancelled or its session closed a moment ago');
    return { id: raced.id, json: await view(raced.id) };
  }

  /** The candidate's paper for an attempt they may see, as JSON text. */
  async function paperOf(p: Principal, attemptId: string): Promise<string> {
    const f = await authorize(p, attemptId);
    const paper = await papers.get(f.versionId);
    return renderPaper(paper, f.layout, {
      attemptId: f.id,
      deadline: new Date(f.deadlineMs).toISOString(),
    });
  }

  return {
    papers,

    /**
     * Start (or resume) the attempt of a booking. Idempotent: a second call
     * returns the same attempt. Start, get and submit answer with the
     * AttemptView as JSON text, ready to send. With `withPaper` the view
     * also carries the paper, as `paper` would answer: at 09:00 every
     * candidate starts within a minute, and the exam page then needs no
     * request of its own.
     */
    async start(p: Principal, bookingId: string, opts: { withPaper?: boolean } = {}): Promise<string> {
      if (!isUuid(bookingId)) throw notFound('booking');
      const a = (await startAtOnce(p, bookingId)) ?? (await startChecked(p, bookingId));
      return opts.withPaper ? withPaper(a.json, await paperOf(p, a.id)) : a.json;
    },

    /** The AttemptView as JSON text; with `withPaper` carrying the paper too (a reloaded exam page). */
    async get(p: Principal, attemptId: string, opts: { withPaper?: boolean } = {}): Promise<string> {
      const f = await authorize(p, attemptId);
      const json = await view(f.id);
      return opts.withPaper ? withPaper(json, await paperOf(p, f.id)) : json;
    },

    /** The candidate's paper as pre-serialised JSON. */
    paper: paperOf,

    async save(p: Principal, attemptId: string, answers: AnswerInput[]) {
      const f = await authorize(p, attemptId);
      requireCandidate(p, f);
      if (!isOpen(f)) throw new AppError('attempt_closed', 'this attempt no longer accepts answers');
      const acked = await writeAnswers(f, answerRows(f, await papers.get(f.versionId), answers));
      return { acked, serverTime: new Date().toISOString() };
    },

    /** Submit (idempotent): optional last answers are saved first. */
    async submit(p: Principal, attemptId: string, answers: AnswerInput[] = []): Promise<string> {
      const f = await authorize(p, attemptId);
      requireCandidate(p, f);
      // The last answers and the submit are queued in the same turn, so they
      // usually share one batch; the writer writes the answers first.
      const rows = answers.length > 0 && isOpen(f) ? answerRows(f, await papers.get(f.versionId), answers) : [];
      const saving = rows.length > 0 ? writeAnswers(f, rows).catch(ignoreClosed) : undefined;
      const closing = closeAttempt(f.id, Date.now() > f.deadlineMs + graceS * 1000 ? 'deadline' : 'candidate');
      const [, closed] = await Promise.all([saving, closing]);
      if (!closed) return view(f.id);
      const askResultInS = firstResultAskS(deps.gradingsHeld?.() ?? false);
      return viewJson({ ...closed, status: 'submitted' }, closed.answers_json, askResultInS);
    },

    /** Job: submit an attempt still open after deadline + grace, with its saved answers. */
    async autoSubmit(attemptId: string): Promise<boolean> {
      const a = await db.selectFrom('attempts').select(['deadline_at', 'status']).where('id', '=', attemptId).executeTakeFirst();
      if (!a || a.status !== 'in_progress') return false;
      if (Date.now() < a.deadline_at.getTime() + graceS * 1000) {
        throw new Error('deadline not reached yet'); // retried later by the queue
      }
      return (await closeAttempt(attemptId, 'deadline')) !== null;
    },

    /**
     * Job: submit the session's attempts still open whose deadline is at or
     * before `dueBy` (deadlines.ts), a thousand at a time so they share the
     * writer's batches. Throws (the queue retries) while some of them are
     * still inside their grace window. Returns how many it closed.
     */
    async autoSubmitDue(sessionId: string, dueBy: string): Promise<number> {
      const due = new Date(Math.min(Date.parse(dueBy), Date.now() - graceS * 1000));
      const open = (before: Date) =>
        db
          .selectFrom('attempts')
          .select('id')
          .where('session_id', '=', sessionId)
          .where('status', '=', 'in_progress')
          .where('deadline_at', '<=', before)
          .limit(1000)
          .execute();
      let closed = 0;
      for (let rows = await open(due); rows.length > 0; rows = await open(due)) {
        const done = (await Promise.all(rows.map((r) => closeAttempt(r.id, 'deadline')))).filter((a) => a !== null).length;
        closed += done;
        if (done === 0) break; // closed meanwhile by their candidates or another worker
      }
      if ((await open(new Date(dueBy))).length > 0) throw new Error('deadline not reached yet'); // retried later by the queue
      return closed;
    },

    /**
     * Safety net for the deadline jobs: submit attempts still open past
     * deadline + grace (e.g. a process died between creating the attempt and
     * enqueuing its job), and queue grading again for attempts submitted long
     * ago but still ungraded (a process died between the submit's commit and
     * its enqueue; the idempotency key makes a repeat harmless). Returns how
     * many it closed.
     */
    async sweepExpired(limit = 500): Promise<number> {
      const rows = await db
        .selectFrom('attempts')
        .select('id')
        .where('status', '=', 'in_progress')
        .where('deadline_at', '<', new Date(Date.now() - graceS * 1000))
        .limit(limit)
        .execute();
      // All at once, so they share the writer's batches.
      const closed = await Promise.all(rows.map((r) => closeAttempt(r.id, 'deadline')));
      const stranded = await db
        .selectFrom('attempts')
        .select('id')
        .where('status', '=', 'submitted')
        .where('submitted_at', '<', new Date(Date.now() - STRANDED_GRADING_MS))
        .limit(limit)
        .execute();
      for (const r of stranded) queueGrading(r.id);
      await flushGrades();
      return closed.filter((a) => a !== null).length;
    },

    /** Job: grade submitted attempts (grading.ts). Returns how many it graded. */
    grade: (attemptIds: readonly string[]): Promise<number> => gradeAttempts(db, papers, attemptIds),

    /** The result, when the assessment's release policy allows it. */
    async result(p: Principal, attemptId: string) {
      const f = await authorize(p, attemptId);
      const r = await resultOf(f.id, p.role !== 'candidate');
      if (!r) throw notFound('attempt');
      return r;
    },

    /** Attempts visible to this principal: a candidate's own, an author's sessions', or all for admin. */
    async list(p: Principal, filter: { sessionId?: string | undefined; limit: number }) {
      let q = db
        .selectFrom('attempts as a')
        .innerJoin('exam_sessions as s', 's.id', 'a.session_id')
        .innerJoin('users as u', 'u.id', 'a.candidate_id')
        .select([
          'a.id',
          'a.booking_id',
          'a.session_id',
          'a.candidate_id',
          'u.name as candidate_name',
          'u.district',
          'a.status',
          'a.started_at',
          'a.deadline_at',
          'a.submitted_at',
          'a.score',
          'a.max_score',
        ])
        .orderBy('a.started_at', 'desc')
        .limit(filter.limit);
      if (p.role === 'candidate') q = q.where('a.candidate_id', '=', p.id);
      if (p.role === 'author') q = q.where('s.owner_id', '=', p.id);
      if (filter.sessionId) q = q.where('a.session_id', '=', filter.sessionId);
      const rows = await q.execute();
      return rows.map((r) => ({
        id: r.id,
        bookingId: r.booking_id,
        sessionId: r.session_id,
        candidateId: r.candidate_id,
        candidateName: r.candidate_name,
        district: r.district,
        status: r.status,
        startedAt: r.started_at.toISOString(),
        deadline: r.deadline_at.toISOString(),
        submittedAt: r.submitted_at?.toISOString() ?? null,
        score: r.score === null || p.role === 'candidate' ? null : Number(r.score),
        maxScore: r.max_score === null ? null : Number(r.max_score),
      }));
    },

    /** Count of attempts in progress (for the metrics gauge and operations). */
    async activeCount(): Promise<number> {
      const r = await sql<{ n: string }>`SELECT count(*)::text AS n FROM attempts WHERE status = 'in_progress'`.execute(db);
      return Number(r.rows[0]?.n ?? 0);
    },

    flush: () => writer.flush(),
    async close() {
      await writer.close();
      await flushGrades();
    },
  };
}

export type AttemptService = ReturnType<typeof createAttemptService>;

function ignoreClosed(err: unknown): void {
  if (err instanceof AppError && err.code === 'attempt_closed') return;
  throw err;
}

