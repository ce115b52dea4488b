/**
 * Timed attempts: start inside the session window, paper, autosave, resume,
 * submit, auto-submit at the deadline, results by release policy; the
 * grading job itself is grading.ts.
 */
import { randomInt } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from '../../platform/db/schema.ts';
import { EnqueueBatcher } from '../../platform/queue/batcher.ts';
import type { JobQueue } from '../../platform/queue/index.ts';
import type { Metrics } from '../../platform/metrics.ts';
import { AppError, notFound } from '../../http/errors.ts';
import { TurnBatcher } from '../../lib/turn-batcher.ts';
import { isUuid } from '../../lib/uuid.ts';
import { compiledOnce } from '../../platform/db/compiled-once.ts';
import type { Principal } from '../auth/tokens.ts';
import { parseResponse } from '../questions/model.ts';
import { answersJson, type AnswerView } from './answers-json.ts';
import { AutosaveWriter, answerKey, type AnswerRow, type SubmitReason, type SubmittedAttempt } from './autosave.ts';
import { BatchLoader } from './batch-loader.ts';
import { DeadlineScheduler } from './deadlines.ts';
import { gradeAttempts } from './grading.ts';
import { PaperCache, layoutFor, renderPaper, type Layout, type Paper } from './papers.ts';

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

/** What the hot path needs to know about an attempt; immutable except status. */
interface AttemptFacts {
  id: string;
  candidateId: string;
  sessionId: string;
  versionId: string;
  seed: number;
  deadlineMs: number;
  status: 'in_progress' | 'submitted' | 'graded';
  layout: Layout;
  questionIds: Set<string>;
  /** Drop from the cache after this (deadline + grace + a margin). */
  keepUntilMs: number;
}

export interface AttemptView {
  id: string;
  bookingId: string;
  sessionId: string;
  status: 'in_progress' | 'submitted' | 'graded';
  startedAt: string;
  deadline: string;
  /** Seconds left by the server's clock (0 once past the deadline). */
  remainingS: number;
  serverTime: string;
  submittedAt: string | null;
  /** On the submit's answer: when to ask for the result first (marking should be done by then). */
  askResultInS?: number;
  answers: AnswerView[];
}

/**
 * Longest a job process holds a grading back while the machine is busy with
 * candidates' requests (its LoadGate): a result asked for while ungraded is
 * told to come back when that hold is over, not every few seconds.
 */
export const GRADING_MAX_HOLD_MS = 30_000;
/** A result page is never told to wait longer than this. */
const ASK_AGAIN_MAX_S = 30;
/** When to ask for a result first after a submit: marking usually takes a second or two. */
const FIRST_RESULT_ASK_S = 3;
/** …and while gradings are held: after the longest hold. */
const HELD_RESULT_ASK_S = Math.ceil(GRADING_MAX_HOLD_MS / 1000) + 1;

/** A submitted attempt still ungraded after this gets its grading job queued again. */
const STRANDED_GRADING_MS = 10 * 60_000;
/** Attempts whose facts one process keeps (~1 KB each); the oldest go first. */
const FACTS_MAX = 200_000;
/** Facts of closed attempts (results, late reads) are re-read after this. */
const CLOSED_FACTS_TTL_MS = 60_000;

export function createAttemptService(deps: AttemptServiceDeps) {
  const { db, queue, graceS, log } = deps;
  const papers = new PaperCache(db);
  const writer = new AutosaveWriter(db, {
    flushMs: deps.flushMs,
    maxBatch: deps.maxBatch,
    graceS,
    onBatch: (n) => deps.metrics.autosaveBatch.observe(n),
  });
  // Hot-path cache of attempt facts, so autosave, paper and resume read no
  // attempt row: ownership, deadline, seed and the drawn question set never
  // change, so an open attempt's facts are kept until its deadline has passed.
  // Status only moves forward (in_progress → submitted → graded). A stale
  // "in_progress" here is harmless — whichever process submitted, the
  // group-commit upsert re-checks status and deadline under FOR SHARE and
  // refuses the write, and that refusal drops the entry — so the cache only
  // ever skips reads, never the guard. A submit through this process marks
  // the entry submitted at once.
  const facts = new Map<string, AttemptFacts>();

  function remember(f: AttemptFacts): void {
    if (facts.size >= FACTS_MAX) {
      // Maps iterate in insertion order: drop the oldest tenth in one go.
      let n = FACTS_MAX / 10;
      for (const k of facts.keys()) {
        facts.delete(k);
        if (--n <= 0) break;
      }
    }
    facts.set(f.id, f);
  }

  async function factsFrom(row: {
    id: string;
    candidate_id: string;
    session_id: string;
    assessment_version_id: string;
    seed: number;
    deadline_at: Date;
    status: AttemptFacts['status'];
  }): Promise<AttemptFacts> {
    const paper = await papers.get(row.assessment_version_id);
    const layout = layoutFor(paper, row.seed);
    const deadlineMs = row.deadline_at.getTime();
    return {
      id: row.id,
      candidateId: row.candidate_id,
      sessionId: row.session_id,
      versionId: row.assessment_version_id,
      seed: row.seed,
      deadlineMs,
      status: row.status,
      layout,
      questionIds: new Set(layout.questionIds),
      keepUntilMs:
        row.status === 'in_progress'
          ? Math.max(deadlineMs + graceS * 1000, Date.now()) + CLOSED_FACTS_TTL_MS
          : Date.now() + CLOSED_FACTS_TTL_MS,
    };
  }

  // Misses in the same turn of the event loop are read in one query.
  const rows = new BatchLoader(async (ids: string[]) => {
    const found = await db
      .selectFrom('attempts')
      .select(['id', 'candidate_id', 'session_id', 'assessment_version_id', 'seed', 'deadline_at', 'status'])
      .where('id', 'in', ids)
      .execute();
    return new Map(found.map((r) => [r.id, r]));
  });

  /**
   * Result reads of one turn in one statement: after the submit wave every
   * candidate's result page asks until its attempt is graded.
   */
  const results = new BatchLoader(async (ids: string[]) => {
    const found = await db
      .selectFrom('attempts as a')
      .innerJoin('exam_sessions as s', 's.id', 'a.session_id')
      .innerJoin('assessments as asm', 'asm.id', 's.assessment_id')
      .select([
        'a.id',
        'a.status',
        'a.score',
        'a.max_score',
        'a.grading',
        'a.graded_at',
        'a.submitted_at',
        's.ends_at',
        'asm.release_policy',
        'asm.results_released_at',
      ])
      .where('a.id', 'in', ids)
      .execute();
    return new Map(found.map((r) => [r.id, r]));
  });

  async function loadFacts(attemptId: string): Promise<AttemptFacts | undefined> {
    const id = attemptId.toLowerCase(); // PostgreSQL prints uuids in lower case
    const hit = facts.get(id);
    if (hit && Date.now() < hit.keepUntilMs) return hit;
    const row = await rows.load(id);
    if (!row) return undefined;
    const f = await factsFrom(row);
    remember(f);
    return f;
  }

  /** The attempt if this principal may see it: its candidate, the session's author, or an admin. */
  async function authorize(p: Principal, attemptId: string): Promise<AttemptFacts> {
    if (!isUuid(attemptId)) throw notFound('attempt');
    const f = await loadFacts(attemptId);
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

  /** The attempt with its saved answers, in one round trip. */
  /** The attempt's view as JSON text, answers included. */
  // Compiled once: a reloaded exam page runs it.
  const viewQuery = compiledOnce(1, (attemptId: string) =>
    db
      .selectFrom('attempts as a')
      .select([
        'a.id',
        'a.booking_id',
        'a.session_id',
        'a.status',
        'a.started_at',
        'a.deadline_at',
        'a.submitted_at',
        answersJson('a.id').as('answers_json'),
      ])
      .where('a.id', '=', attemptId),
  );

  async function view(attemptId: string): Promise<string> {
    const [a] = await viewQuery.execute(db, attemptId);
    if (!a) throw notFound('attempt');
    return viewJson(a, a.answers_json);
  }

  /** An AttemptView as JSON text, with `answers` already serialised (answers-json.ts). */
  function viewJson(
    a: {
      id: string;
      booking_id: string;
      session_id: string;
      status: AttemptView['status'];
      started_at: Date;
      deadline_at: Date;
      submitted_at: Date | null;
    },
    answers: string,
    askResultInS?: number,
  ): string {
    const now = Date.now();
    const head: Omit<AttemptView, 'answers'> = {
      id: a.id,
      bookingId: a.booking_id,
      sessionId: a.session_id,
      status: a.status,
      startedAt: a.started_at.toISOString(),
      deadline: a.deadline_at.toISOString(),
      remainingS: a.status === 'in_progress' ? Math.max(0, Math.floor((a.deadline_at.getTime() - now) / 1000)) : 0,
      serverTime: new Date(now).toISOString(),
      submittedAt: a.submitted_at?.toISOString() ?? null,
      ...(askResultInS === undefined ? {} : { askResultInS }),
    };
    // The head's JSON ends with its closing brace; the answers go in before it.
    return `${JSON.stringify(head).slice(0, -1)},"answers":${answers}}`;
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
      facts.delete(f.id);
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
    const id = attemptId.toLowerCase();
    const f = facts.get(id);
    // This process closed it, so it knows the new status: the result page that
    // follows every submit need not read the attempt again. Closed elsewhere,
    // the status is not known here (submitted or already graded): read it again.
    if (closed && f) remember({ ...f, status: 'submitted', keepUntilMs: Date.now() + CLOSED_FACTS_TTL_MS });
    else facts.delete(id);
    if (closed) queueGrading(closed.id);
    return closed;
  }

  /** Make sure the deadline's auto-submit is queued and remember a new attempt's facts; the view to answer with. */
  async function started(row: {
    id: string;
    booking_id: string;
    candidate_id: string;
    session_id: string;
    assessment_version_id: string;
    seed: number;
    started_at: Date;
    deadline_at: Date;
  }): Promise<StartedView> {
    await deadlines.schedule(row.session_id, row.deadline_at);
    const full = { ...row, status: 'in_progress' as const, submitted_at: null };
    // The paper and the first autosaves usually follow on this process.
    remember(await factsFrom(full));
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

  type StartedRow = Parameters<typeof started>[0];

  /**
   * `startAtOnce` for the starts of one turn, in one statement. Rows are
   * inserted in booking order, so two batches that share bookings (a
   * candidate's double click landing on two processes) wait for each other
   * in the same order and never deadlock.
   */
  async function startMany(inputs: { bookingId: string; candidateId: string }[]): Promise<(StartedRow | undefined)[]> {
    const now = new Date();
    const r = await sql<StartedRow>`
      INSERT INTO attempts (booking_id, candidate_id, session_id, assessment_version_id, seed, deadline_at)
      SELECT b.id, b.candidate_id, b.session_id, s.assessment_version_id, i.seed,
             LEAST(${now}::timestamptz + make_interval(secs => (v.content->>'timeLimitS')::int), s.ends_at)
      FROM unnest(${inputs.map((i) => i.bookingId)}::uuid[], ${inputs.map((i) => i.candidateId)}::uuid[],
                  ${inputs.map(() => randomInt(0, 2 ** 31 - 1))}::int[]) AS i(booking_id, candidate_id, seed)
      JOIN bookings b ON b.id = i.booking_id AND b.candidate_id = i.candidate_id
      JOIN exam_sessions s ON s.id = b.session_id
      JOIN assessment_versions v ON v.id = s.assessment_version_id
      WHERE b.status = 'active' AND s.starts_at <= ${now}::timestamptz AND s.ends_at > ${now}::timestamptz
      ORDER BY b.id
      FOR SHARE OF b
      ON CONFLICT (booking_id) DO NOTHING
      RETURNING id::text, booking_id::text, candidate_id::text, session_id::text, assessment_version_id::text, seed, started_at, deadline_at`.execute(db);
    // A booking asked for twice in one batch is inserted once; both callers get it.
    const byBooking = new Map(r.rows.map((row) => [`${row.booking_id}/${row.candidate_id}`, row]));
    return inputs.map((i) => byBooking.get(`${i.bookingId}/${i.candidateId}`));
  }
  const starts = new TurnBatcher(startMany);

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

  /** An AttemptView's JSON text with the paper's added: the view ends with its closing brace, the paper goes in before it. */
  const withPaper = (view: string, paper: string): string => `${view.slice(0, -1)},"paper":${paper}}`;

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
      // At the end of an exam the result pages of thousands of candidates ask
      // together; while gradings are held, an ask before the hold ends is wasted.
      const askResultInS = deps.gradingsHeld?.() ? HELD_RESULT_ASK_S : FIRST_RESULT_ASK_S;
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
      const a = await results.load(f.id);
      if (!a) throw notFound('attempt');
      if (a.status !== 'graded') {
        // Marking is queued at the submit and may be held while the machine is busy.
        const dueMs = a.submitted_at ? a.submitted_at.getTime() + GRADING_MAX_HOLD_MS + 1000 - Date.now() : 0;
        const askAgainInS = Math.min(ASK_AGAIN_MAX_S, Math.max(1, Math.ceil(dueMs / 1000)));
        return { status: a.status, released: false, reason: 'the attempt is not graded yet', askAgainInS };
      }
      const staff = p.role !== 'candidate';
      const released =
        staff ||
        a.release_policy === 'on_submit' ||
        (a.release_policy === 'after_session' && Date.now() >= a.ends_at.getTime()) ||
        (a.release_policy === 'manual' && a.results_released_at !== null);
      if (!released) {
        const reason =
          a.release_policy === 'after_session'
            ? `results are released when the session ends at ${a.ends_at.toISOString()}`
            : 'results are released by the author';
        return { status: a.status, released: false, reason };
      }
      return {
        status: a.status,
        released: true,
        score: Number(a.score),
        maxScore: Number(a.max_score),
        gradedAt: a.graded_at?.toISOString() ?? null,
        grading: a.grading,
      };
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

